package server

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// serveUnix serves fx on a unix socket in a temporary directory, declared
// secure.
func serveUnix(t *testing.T, fx *fixture) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "o.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- fx.srv.Serve(l, true) }()
	t.Cleanup(func() {
		fx.srv.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return path
}

func openOn(t *testing.T, network, addr string, cfg wire.ChannelConfig) (*wire.Channel, error) {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return wire.ClientOpen(c, cfg)
}

// TestPlaintextPeerUID: with PlaintextUIDs, a plaintext channel opens only
// for a unix-socket peer whose uid is listed; sealed channels are not
// affected.
func TestPlaintextPeerUID(t *testing.T) {
	me := uint32(os.Getuid())
	plain := wire.ChannelConfig{DeviceID: testDevice, Plaintext: true}
	sealed := wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK}

	fx := newFixture(t, func(c *Config) { c.PlaintextUIDs = []uint32{me} })
	ch, err := openOn(t, "unix", serveUnix(t, fx), plain)
	if err != nil {
		t.Fatalf("plaintext from an allowed uid: %v", err)
	}
	checkOK(t, roundTrip(t, ch, startFlight(1)))

	fx = newFixture(t, func(c *Config) { c.PlaintextUIDs = []uint32{me + 1} })
	path := serveUnix(t, fx)
	if _, err := openOn(t, "unix", path, plain); !errors.Is(err, wire.StatusPlaintextRefused) {
		t.Fatalf("plaintext from uid %d, allowed %d: %v, want refused", me, me+1, err)
	}
	ch, err = openOn(t, "unix", path, sealed)
	if err != nil {
		t.Fatal(err)
	}
	checkOK(t, roundTrip(t, ch, startFlight(2)))

	// A TCP peer has no uid: refused plaintext even on a listener
	// declared secure.
	fx = newFixture(t, func(c *Config) { c.PlaintextUIDs = []uint32{me} })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go fx.srv.Serve(l, true)
	if _, err := openOn(t, "tcp", l.Addr().String(), plain); !errors.Is(err, wire.StatusPlaintextRefused) {
		t.Fatalf("plaintext over TCP with PlaintextUIDs: %v, want refused", err)
	}
}

// TestPlaintextNeverForClientKey: a device the offloader signs for gets no
// plaintext channel, even from a path declared secure.
func TestPlaintextNeverForClientKey(t *testing.T) {
	fx := newFixture(t, nil)
	withClientCert(t, fx, clientLeaf(t, testpki.ECDSAP256))
	ch, done, err := dial(t, fx, wire.ChannelConfig{DeviceID: testDevice, Plaintext: true}, true)
	if err == nil {
		<-done
		if _, err := ch.ReadFrame(); err == nil {
			t.Fatal("a plaintext channel was served for a device with a client key")
		}
	}
	if got := refused(fx.srv, "plaintext_client_key"); got != 1 {
		t.Errorf("refused{plaintext_client_key} = %d, want 1", got)
	}
	ch, _, err = dial(t, fx, wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK}, true)
	if err != nil {
		t.Fatal(err)
	}
	checkOK(t, roundTrip(t, ch, startFlight(1)))
}
