package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// dial opens a channel to fx's server over a pipe; done closes when
// ServeConn returns.
func dial(t *testing.T, fx *fixture, cfg wire.ChannelConfig, plaintextOK bool) (*wire.Channel, <-chan struct{}, error) {
	t.Helper()
	c1, c2 := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fx.srv.ServeConn(context.Background(), c2, plaintextOK)
	}()
	t.Cleanup(func() { c1.Close(); <-done })
	ch, err := wire.ClientOpen(c1, cfg)
	if err != nil {
		c1.Close()
	}
	return ch, done, err
}

func roundTrip(t *testing.T, ch *wire.Channel, f *wire.Flight) *wire.FlightResponse {
	t.Helper()
	b, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.WriteFrame(b); err != nil {
		t.Fatal(err)
	}
	b, err = ch.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	var resp wire.FlightResponse
	if err := resp.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	if resp.ID != f.ID {
		t.Fatalf("response id %d to flight %d", resp.ID, f.ID)
	}
	return &resp
}

func startFlight(id uint32) *wire.Flight {
	return &wire.Flight{ID: id, Requests: []wire.Request{&wire.StartRequest{
		ServerName: testHost, Versions: []uint16{handshake.VersionTLS12}, CipherSuites: []uint16{handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
	}}}
}

func TestServeConnHandshake(t *testing.T) {
	fx := newFixture(t, nil)
	ch, done, err := dial(t, fx, wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK}, false)
	if err != nil {
		t.Fatal(err)
	}
	checkOK(t, roundTrip(t, ch, startFlight(1)))

	p := startHandshake(t, hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ems: true, sni: testHost, leaf: testLeaf(t, testpki.RSA2048, testpki.Good)})
	resp := roundTrip(t, ch, pipelined(p.transcript))
	checkOK(t, resp)
	p.finish(t, resp.Results[1].Body.(*wire.KeyGenResponse).ClientKeyExchange, resp.Results[2].Body.(*wire.KeyResponse))

	if got := fx.srv.Stats().Channels.Results["ok"]; got != 1 {
		t.Errorf("channels_total{ok} = %v", got)
	}
	if got := fx.srv.Stats().Channels.Open; got != 1 {
		t.Errorf("channels_open = %v while open", got)
	}
	// A device removed while its channel is open runs nothing more: the
	// removal closes the channel (TestRevokedChannels), and a flight that
	// raced it would be refused by Do (TestDoRemovedDevice).
	fx.reg.Remove(testDevice)
	<-done
	if _, err := ch.ReadFrame(); err == nil {
		t.Fatal("the removed device's channel is still served")
	}
	ch.Close()
	if got := fx.srv.Stats().Channels.Open; got != 0 {
		t.Errorf("channels_open = %v after close", got)
	}
}

func TestServeConnRefusals(t *testing.T) {
	fx := newFixture(t, nil)
	if err := fx.reg.Add(Device{ID: "lost", PSK: testPSK, AllowedNames: []string{"*"}}); err != nil {
		t.Fatal(err)
	}
	fx.reg.Remove("lost")
	cases := []struct {
		name        string
		cfg         wire.ChannelConfig
		plaintextOK bool
		status      wire.Status
		label       string
	}{
		{"wrong PSK", wire.ChannelConfig{DeviceID: testDevice, PSK: bytes.Repeat([]byte{1}, 32)}, false, wire.StatusAuthFailed, "auth_failed"},
		{"unknown device", wire.ChannelConfig{DeviceID: "nobody", PSK: testPSK}, false, wire.StatusAuthFailed, "auth_failed"},
		{"removed device", wire.ChannelConfig{DeviceID: "lost", PSK: testPSK}, false, wire.StatusAuthFailed, "auth_failed"},
		{"plaintext on an open path", wire.ChannelConfig{DeviceID: testDevice, Plaintext: true}, false, wire.StatusPlaintextRefused, "plaintext_refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, done, err := dial(t, fx, c.cfg, c.plaintextOK)
			if !errors.Is(err, c.status) {
				t.Fatalf("ClientOpen: %v, want status %d", err, c.status)
			}
			<-done // the server has counted the refusal
		})
	}
	if got := fx.srv.Stats().Channels.Results["auth_failed"]; got != 3 {
		t.Errorf("channels_total{auth_failed} = %v, want 3", got)
	}
	if got := fx.srv.Stats().Channels.Results["plaintext_refused"]; got != 1 {
		t.Errorf("channels_total{plaintext_refused} = %v, want 1", got)
	}

	// Plaintext is fine on a path declared secure.
	ch, _, err := dial(t, fx, wire.ChannelConfig{DeviceID: testDevice, Plaintext: true}, true)
	if err != nil {
		t.Fatal(err)
	}
	checkOK(t, roundTrip(t, ch, startFlight(3)))
}

func TestRateLimited(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.MaxInFlight = 1; c.FlightWait = 10 * time.Millisecond })
	ch, _, err := dial(t, fx, wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK}, false)
	if err != nil {
		t.Fatal(err)
	}
	other := holdSlot(t, fx.srv, "other") // another device's flight holds the only slot
	f := startFlight(4)
	f.Requests = append(f.Requests, f.Requests[0])
	resp := roundTrip(t, ch, f)
	if len(resp.Results) != 2 {
		t.Fatalf("%d results", len(resp.Results))
	}
	for i, r := range resp.Results {
		if r.Err == nil || r.Err.Status != wire.StatusRateLimited {
			t.Fatalf("result %d: %+v, want rate limited", i, r.Err)
		}
	}
	if got := fx.srv.Stats().Refused["busy"]; got != 1 {
		t.Errorf("refused{busy} = %d, want 1", got)
	}
	fx.srv.releaseFlight(other)
	checkOK(t, roundTrip(t, ch, startFlight(5)))
}

func TestMalformedFlightClosesChannel(t *testing.T) {
	fx := newFixture(t, nil)
	ch, done, err := dial(t, fx, wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.WriteFrame([]byte("not a flight")); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.ReadFrame(); err == nil {
		t.Fatal("the channel answered a malformed flight")
	}
	<-done
}

func TestIdleChannelIsClosed(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.IdleTimeout = 20 * time.Millisecond })
	ch, done, err := dial(t, fx, wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK}, false)
	if err != nil {
		t.Fatal(err)
	}
	<-done // the server gives up on the silent channel
	if _, err := ch.ReadFrame(); err == nil {
		t.Fatal("read on a channel the server closed")
	}
}

func TestServeAndClose(t *testing.T) {
	fx := newFixture(t, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- fx.srv.Serve(l, true) }()

	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := wire.ClientOpen(conn, wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK})
	if err != nil {
		t.Fatal(err)
	}
	checkOK(t, roundTrip(t, ch, startFlight(1)))

	if err := fx.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}
	if _, err := ch.ReadFrame(); err == nil {
		t.Fatal("channel still open after Close")
	}
	if _, err := net.Dial("tcp", l.Addr().String()); err == nil {
		t.Error("listener still accepting after Close")
	}
	if err := fx.srv.Serve(l, true); err != nil {
		t.Errorf("Serve on a closed server: %v", err)
	}
}

func TestNewConfig(t *testing.T) {
	reg := NewRegistry()
	bad := []Config{
		{},
		{Registry: reg, MaxInFlight: -1},
		{Registry: reg, FrameTimeout: -time.Second},
		{Registry: reg, TokenKey: []byte("short")},
		{Registry: reg, StartTTL: 1500 * time.Millisecond},
	}
	for i, c := range bad {
		if _, err := New(c); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
	s, err := New(Config{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.cfg.MaxInFlight != defaultMaxInFlight || s.cfg.FrameTimeout != defaultFrameTimeout || s.cfg.IdleTimeout != defaultIdleTimeout ||
		s.cfg.TokenTTL != defaultTokenTTL || s.cfg.StartTTL != defaultStartTTL || len(s.cfg.TokenKey) != TokenKeyLen {
		t.Errorf("defaults not filled: %+v", s.cfg)
	}
}

// syncBuffer is a log sink for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogsHoldNoSecrets(t *testing.T) {
	var logs syncBuffer
	fx := newFixture(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ch, done, err := dial(t, fx, wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK}, false)
	if err != nil {
		t.Fatal(err)
	}
	p := startHandshake(t, hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ems: true, leaf: testLeaf(t, testpki.RSA2048, testpki.Good)})
	resp := roundTrip(t, ch, pipelined(p.transcript))
	checkOK(t, resp)
	key := resp.Results[2].Body.(*wire.KeyResponse)
	if err := ch.WriteFrame([]byte("garbage")); err != nil { // logged as malformed
		t.Fatal(err)
	}
	<-done
	_, done, err = dial(t, fx, wire.ChannelConfig{DeviceID: testDevice, PSK: bytes.Repeat([]byte{3}, 32)}, false)
	if err == nil {
		t.Fatal("wrong PSK accepted")
	}
	<-done

	out := logs.String()
	for _, want := range []string{"channel open", "device=" + testDevice, "malformed flight", "channel refused", "reason=wrong_psk"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
	for name, secret := range map[string][]byte{"PSK": testPSK, "master secret": key.MasterSecret, "key block": key.KeyBlock} {
		for _, enc := range []string{string(secret), hex.EncodeToString(secret), base64.StdEncoding.EncodeToString(secret), fmt.Sprint(secret)} {
			if strings.Contains(out, enc) {
				t.Errorf("logs hold the %s", name)
			}
		}
	}
}

// TestDoRemovedDevice: a flight of a device removed meanwhile is refused.
func TestDoRemovedDevice(t *testing.T) {
	fx := newFixture(t, nil)
	fx.reg.Remove(testDevice)
	checkStatus(t, fx.srv.Do(context.Background(), testDevice, startFlight(1)), 0, wire.StatusAuthFailed)
}
