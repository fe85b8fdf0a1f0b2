package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// holdSlot takes a flight slot for device id, as one of its flights would.
func holdSlot(t *testing.T, s *Server, id string) *deviceState {
	t.Helper()
	s.lmu.Lock()
	ds := s.deviceLocked(id, DeviceLimits{})
	s.lmu.Unlock()
	if err := s.acquireFlight(context.Background(), ds); err != nil {
		t.Fatalf("acquireFlight(%s): %v", id, err)
	}
	return ds
}

// waitFor polls cond for up to 10 s: the server counts some events just
// after the peer sees their effect.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still not %s after 10s", what)
		}
	}
}

func refused(s *Server, reason string) uint64 { return s.Stats().Refused[reason] }

// TestFairFlightSlots: with every slot held by device A and three more of
// A's flights waiting, device B's flight, queued last, gets the second
// slot freed, not the fourth: slots go round-robin across devices.
func TestFairFlightSlots(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.MaxInFlight = 2; c.FlightWait = time.Minute })
	s := fx.srv
	a1, a2 := holdSlot(t, s, "A"), holdSlot(t, s, "A")
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	queue := func(ds *deviceState, name string, waiting int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.acquireFlight(context.Background(), ds); err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
		}()
		waitFor(t, fmt.Sprintf("%d waiting", waiting), func() bool {
			s.lmu.Lock()
			defer s.lmu.Unlock()
			return len(ds.waiters) == waiting
		})
	}
	for i := range 3 {
		queue(a1, fmt.Sprintf("A%d", i), i+1)
	}
	s.lmu.Lock()
	b := s.deviceLocked("B", DeviceLimits{})
	s.lmu.Unlock()
	queue(b, "B", 1)

	granted := func(n int) []string {
		waitFor(t, fmt.Sprintf("%d granted", n), func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == n })
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), order...)
	}
	s.releaseFlight(a1)
	granted(1)
	s.releaseFlight(a2)
	if got := granted(2); got[1] != "B" {
		t.Fatalf("grants %v: B, queued last, should have had the second slot freed", got)
	}
	s.releaseFlight(a1)
	s.releaseFlight(b)
	s.releaseFlight(a1)
	s.releaseFlight(a1)
	granted(4)
	wg.Wait()
	if s.running != 0 || a1.running != 0 || b.running != 0 || len(s.ring) != 0 {
		t.Fatalf("after every release: running %d (A %d, B %d), ring %d", s.running, a1.running, b.running, len(s.ring))
	}
}

// TestDeviceMaxInFlight: a device at its own cap waits even with slots
// free, while another device goes through at once.
func TestDeviceMaxInFlight(t *testing.T) {
	fx := newFixture(t, func(c *Config) {
		c.MaxInFlight = 8
		c.FlightWait = 10 * time.Millisecond
		c.DeviceLimits = DeviceLimits{MaxInFlight: 1}
	})
	a := holdSlot(t, fx.srv, "A")
	err := fx.srv.acquireFlight(context.Background(), a)
	if !errors.Is(err, errBusy) {
		t.Fatalf("a second flight of A: %v, want busy", err)
	}
	// The slots stayed taken for the whole FlightWait: the device is told
	// to wait that long.
	if got := retryAfterOf(err); got != 10*time.Millisecond {
		t.Errorf("busy refusal's retry-after hint %v, want the flight wait 10ms", got)
	}
	b := holdSlot(t, fx.srv, "B")
	fx.srv.releaseFlight(a)
	fx.srv.releaseFlight(b)
	if got := refused(fx.srv, "busy"); got != 1 {
		t.Errorf("refused{busy} = %d, want 1", got)
	}
}

// TestDeviceRate: past its bucket, a device's flights are answered rate
// limited and counted; another device is not affected.
func TestDeviceRate(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.FlightWait = 10 * time.Millisecond })
	if err := fx.reg.Add(Device{ID: "slow", PSK: testPSK, AllowedNames: []string{"*.example.com"},
		Limits: DeviceLimits{Rate: 0.001, Burst: 2}}); err != nil {
		t.Fatal(err)
	}
	ch, _, err := dial(t, fx, wire.ChannelConfig{DeviceID: "slow", PSK: testPSK}, false)
	if err != nil {
		t.Fatal(err)
	}
	checkOK(t, roundTrip(t, ch, startFlight(1)))
	checkOK(t, roundTrip(t, ch, startFlight(2)))
	checkStatus(t, roundTrip(t, ch, startFlight(3)), 0, wire.StatusRateLimited)
	if got := refused(fx.srv, "rate_limited"); got != 1 {
		t.Errorf("refused{rate_limited} = %d, want 1", got)
	}
	other, _, err := dial(t, fx, wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK}, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		checkOK(t, roundTrip(t, other, startFlight(uint32(10+i))))
	}
}

// TestRateLimitedRetryAfter: a flight refused over the device's bucket is
// answered with a retry-after hint, on every request: the wait until the
// bucket would hold a token, so more than FlightWait (else the flight
// would have waited for it) and at most a token's interval; a bucket a
// token needs longer than wire.MaxRetryAfter to fill gives that maximum.
// A server shutting down gives none.
func TestRateLimitedRetryAfter(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.FlightWait = 10 * time.Millisecond })
	for _, d := range []Device{
		{ID: "half-second", PSK: testPSK, AllowedNames: []string{"*.example.com"}, Limits: DeviceLimits{Rate: 2, Burst: 1}},
		{ID: "glacial", PSK: testPSK, AllowedNames: []string{"*.example.com"}, Limits: DeviceLimits{Rate: 0.001, Burst: 1}},
	} {
		if err := fx.reg.Add(d); err != nil {
			t.Fatal(err)
		}
	}
	hints := func(id string) []time.Duration {
		t.Helper()
		ch, _, err := dial(t, fx, wire.ChannelConfig{DeviceID: id, PSK: testPSK}, false)
		if err != nil {
			t.Fatal(err)
		}
		checkOK(t, roundTrip(t, ch, startFlight(1)))
		f := pipelined(nil)
		f.ID = 2
		resp := roundTrip(t, ch, f)
		var out []time.Duration
		for i, r := range resp.Results {
			if r.Err == nil || r.Err.Status != wire.StatusRateLimited {
				t.Fatalf("%s: result %d: %+v, want rate limited", id, i, r.Err)
			}
			out = append(out, r.Err.RetryAfter)
		}
		return out
	}
	for _, h := range hints("half-second") {
		if h <= 10*time.Millisecond || h > 500*time.Millisecond || h%time.Millisecond != 0 {
			t.Errorf("half-second device: hint %v, want whole ms in (10ms, 500ms]", h)
		}
	}
	for _, h := range hints("glacial") {
		if h != wire.MaxRetryAfter {
			t.Errorf("glacial device: hint %v, want the maximum %v", h, wire.MaxRetryAfter)
		}
	}

}

func TestRetryHint(t *testing.T) {
	for d, want := range map[time.Duration]time.Duration{
		-time.Second:            0,
		0:                       0,
		1:                       time.Millisecond,
		time.Millisecond:        time.Millisecond,
		1500 * time.Microsecond: 2 * time.Millisecond,
		wire.MaxRetryAfter:      wire.MaxRetryAfter,
		time.Hour:               wire.MaxRetryAfter,
	} {
		if got := retryHint(d); got != want {
			t.Errorf("retryHint(%v) = %v, want %v", d, got, want)
		}
	}
}

// TestDeviceChannelCap: a device's channels past MaxChannels are closed
// at once and counted; closing one makes room.
func TestDeviceChannelCap(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.DeviceLimits.MaxChannels = 2 })
	cfg := wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK}
	ch1, done1, err := dial(t, fx, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	ch2, _, err := dial(t, fx, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	checkOK(t, roundTrip(t, ch1, startFlight(1)))
	checkOK(t, roundTrip(t, ch2, startFlight(1)))
	ch3, done3, err := dial(t, fx, cfg, false)
	if err == nil { // opened, then closed by the server
		<-done3
		if _, err := ch3.ReadFrame(); err == nil {
			t.Fatal("a third channel was served")
		}
	}
	if got := refused(fx.srv, "device_channels"); got != 1 {
		t.Errorf("refused{device_channels} = %d, want 1", got)
	}
	// The dashboard sees it as a handshake failed over a cap, on the device's row.
	if got := fx.srv.Stats().Handshakes.Failed["over_cap"]; got != 1 {
		t.Errorf("handshakes failed over_cap = %d, want 1", got)
	}
	if d := deviceRow(t, fx.srv, testDevice); d.LastReason != "over_cap" {
		t.Errorf("device row %+v, want last reason over_cap", d)
	}
	ch1.Close()
	<-done1
	ch4, _, err := dial(t, fx, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	checkOK(t, roundTrip(t, ch4, startFlight(2)))
}

// serveTCP serves fx on a loopback listener until the test ends.
func serveTCP(t *testing.T, fx *fixture) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- fx.srv.Serve(l, false) }()
	t.Cleanup(func() {
		fx.srv.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return l.Addr().String()
}

// dialFrom connects to addr from the loopback address src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByPeer reports whether the server closed c (EOF or reset) rather
// than leaving it open.
func closedByPeer(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return err != nil
}

// TestSourceOpeningCap: past MaxOpeningPerSource connections still opening
// from one address, the next one from it is closed at once; another
// address is served; an opened channel no longer counts.
func TestSourceOpeningCap(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.MaxOpeningPerSource = 2; c.OpenTimeout = time.Minute })
	addr := serveTCP(t, fx)
	dialFrom(t, "127.0.0.2", addr)
	dialFrom(t, "127.0.0.2", addr)
	waitFor(t, "two openings counted", func() bool {
		fx.srv.lmu.Lock()
		defer fx.srv.lmu.Unlock()
		return fx.srv.opening["127.0.0.2"] == 2
	})
	if !closedByPeer(t, dialFrom(t, "127.0.0.2", addr)) {
		t.Fatal("a third opening from one address was kept")
	}
	waitFor(t, "refusal counted", func() bool { return refused(fx.srv, "source_opening") == 1 })
	// Another source opens a real channel.
	conn := dialFrom(t, "127.0.0.3", addr)
	ch, err := wire.ClientOpen(conn, wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK})
	if err != nil {
		t.Fatal(err)
	}
	checkOK(t, roundTrip(t, ch, startFlight(1)))
}

// TestMaxConns: past MaxConns connections, the next is closed at once.
func TestMaxConns(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.MaxConns = 2; c.OpenTimeout = time.Minute })
	addr := serveTCP(t, fx)
	dialFrom(t, "127.0.0.4", addr)
	dialFrom(t, "127.0.0.5", addr)
	waitFor(t, "two connections counted", func() bool {
		fx.srv.lmu.Lock()
		defer fx.srv.lmu.Unlock()
		return fx.srv.served == 2
	})
	if !closedByPeer(t, dialFrom(t, "127.0.0.6", addr)) {
		t.Fatal("a connection past MaxConns was kept")
	}
	waitFor(t, "refusal counted", func() bool { return refused(fx.srv, "max_conns") == 1 })
}

// TestOpenTimeout: a connection that never says hello is closed after
// OpenTimeout and counted.
func TestOpenTimeout(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.OpenTimeout = 50 * time.Millisecond })
	addr := serveTCP(t, fx)
	if !closedByPeer(t, dialFrom(t, "127.0.0.1", addr)) {
		t.Fatal("a silent opening was kept")
	}
	waitFor(t, "refusal counted", func() bool { return refused(fx.srv, "open_timeout") == 1 })
}

// errListener fails Accept with each of errs in turn, then accepts from l.
type errListener struct {
	net.Listener
	mu   sync.Mutex
	errs []error
}

func (l *errListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		l.mu.Unlock()
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", err)}
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

// TestAcceptBacksOff: out of descriptors or memory, Serve waits and goes on
// (cmd/offloader's TestServeFDExhaustion does it with a real limit); any
// other accept error ends it.
func TestAcceptBacksOff(t *testing.T) {
	var logged bytes.Buffer
	var lmu sync.Mutex
	fx := newFixture(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(lockedWriter{&lmu, &logged}, nil))
	})
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &errListener{Listener: inner, errs: []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED}}
	served := make(chan error, 1)
	go func() { served <- fx.srv.Serve(l, false) }()
	conn := dialFrom(t, "127.0.0.1", inner.Addr().String())
	ch, err := wire.ClientOpen(conn, wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK})
	if err != nil {
		t.Fatal(err)
	}
	checkOK(t, roundTrip(t, ch, startFlight(1)))
	lmu.Lock()
	n := strings.Count(logged.String(), "offloader: accept")
	lmu.Unlock()
	if n != 5 {
		t.Errorf("%d accept warnings logged, want 5", n)
	}
	fx.srv.Close()
	if err := <-served; err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}

	// Another error is the listener's end.
	fx2 := newFixture(t, nil)
	l2 := &errListener{Listener: inner, errs: []error{syscall.EBADF}}
	if err := fx2.srv.Serve(l2, false); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("Serve with EBADF: %v", err)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// TestRevokedChannels: removing a device, or changing its PSK, closes its
// open channels; adding it again with the same PSK does not.
func TestRevokedChannels(t *testing.T) {
	fx := newFixture(t, nil)
	dev, _ := fx.reg.lookup(testDevice)
	cfg := wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK}
	ch, done, err := dial(t, fx, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	same := *dev
	same.PSK = bytes.Clone(testPSK)
	if err := fx.reg.Add(same); err != nil {
		t.Fatal(err)
	}
	checkOK(t, roundTrip(t, ch, startFlight(1))) // still open

	rotated := same
	rotated.PSK = bytes.Repeat([]byte{7}, 32)
	if err := fx.reg.Add(rotated); err != nil {
		t.Fatal(err)
	}
	<-done
	if _, err := ch.ReadFrame(); err == nil {
		t.Fatal("a channel under the old PSK was kept")
	}

	ch2, done2, err := dial(t, fx, wire.ChannelConfig{DeviceID: testDevice, PSK: rotated.PSK}, false)
	if err != nil {
		t.Fatal(err)
	}
	checkOK(t, roundTrip(t, ch2, startFlight(2)))
	fx.reg.Remove(testDevice)
	<-done2
	if got := refused(fx.srv, "revoked"); got != 2 {
		t.Errorf("refused{revoked} = %d, want 2", got)
	}
}

// TestRefusalLogSampled: a wrong-PSK flood is counted in full but logged
// sampled, each line naming the device id claimed and the reason.
func TestRefusalLogSampled(t *testing.T) {
	var logged bytes.Buffer
	var lmu sync.Mutex
	fx := newFixture(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(lockedWriter{&lmu, &logged}, nil))
	})
	const flood = 200
	for range flood {
		if _, _, err := dial(t, fx, wire.ChannelConfig{DeviceID: testDevice, PSK: bytes.Repeat([]byte{9}, 32)}, false); err == nil {
			t.Fatal("a wrong PSK opened a channel")
		}
	}
	if _, _, err := dial(t, fx, wire.ChannelConfig{DeviceID: "nobody", PSK: testPSK}, false); err == nil {
		t.Fatal("an unknown device opened a channel")
	}
	waitFor(t, "every refusal counted", func() bool {
		return refused(fx.srv, "wrong_psk") == flood && refused(fx.srv, "unknown_device") == 1
	})
	lmu.Lock()
	log := logged.String()
	lmu.Unlock()
	lines := strings.Count(log, `channel refused" reason=wrong_psk device=`+testDevice)
	if lines < 1 || lines > flood/4 {
		t.Errorf("%d log lines for %d wrong-PSK openings, want 1..%d", lines, flood, flood/4)
	}
	if !strings.Contains(log, "reason=unknown_device device=nobody") {
		t.Errorf("the unknown device's opening is not in the log:\n%s", log)
	}
}

func TestSampler(t *testing.T) {
	var sm sampler
	now := time.Unix(1000, 0)
	for i := range logBurst {
		if ok, _ := sm.allow("k", now); !ok {
			t.Fatalf("line %d of the burst refused", i)
		}
	}
	for range 5 {
		if ok, _ := sm.allow("k", now); ok {
			t.Fatal("a line past the burst allowed")
		}
	}
	if ok, _ := sm.allow("other", now); !ok {
		t.Fatal("another key shares the bucket")
	}
	ok, suppressed := sm.allow("k", now.Add(logEvery))
	if !ok || suppressed != 5 {
		t.Fatalf("after %v: allowed %v, suppressed %d, want true, 5", logEvery, ok, suppressed)
	}
}
