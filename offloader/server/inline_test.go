package server

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// holdConn keeps what is written while hold is set, then writes it all at
// once: the server then finds several frames in one read.
type holdConn struct {
	net.Conn
	mu   sync.Mutex
	hold bool
	buf  []byte
}

func (h *holdConn) Write(p []byte) (int, error) {
	h.mu.Lock()
	if h.hold {
		h.buf = append(h.buf, p...)
		h.mu.Unlock()
		return len(p), nil
	}
	h.mu.Unlock()
	return h.Conn.Write(p)
}

func (h *holdConn) flush() error {
	h.mu.Lock()
	b := h.buf
	h.hold, h.buf = false, nil
	h.mu.Unlock()
	_, err := h.Conn.Write(b)
	return err
}

// Flights that arrive together are each answered once, whether served in
// the read loop or in a goroutine of their own, and the in-flight slots
// are all given back.
func TestQueuedFlights(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.MaxInFlight = 4 })
	c1, c2 := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fx.srv.ServeConn(context.Background(), c2, false)
	}()
	t.Cleanup(func() { c1.Close(); <-done })
	hc := &holdConn{Conn: c1}
	ch, err := wire.ClientOpen(hc, wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3
	hc.mu.Lock()
	hc.hold = true
	hc.mu.Unlock()
	for id := uint32(1); id <= n; id++ {
		b, err := startFlight(id).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.WriteFrame(b); err != nil {
			t.Fatal(err)
		}
	}
	flushed := make(chan error, 1)
	go func() { flushed <- hc.flush() }()
	seen := map[uint32]bool{}
	for i := 0; i < n; i++ {
		b, err := ch.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		var resp wire.FlightResponse
		if err := resp.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		checkOK(t, &resp)
		if seen[resp.ID] || resp.ID < 1 || resp.ID > n {
			t.Fatalf("response id %d (seen %v)", resp.ID, seen)
		}
		seen[resp.ID] = true
	}
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	// Every slot is freed (just after its response is written).
	waitFor(t, "every slot free", func() bool {
		fx.srv.lmu.Lock()
		defer fx.srv.lmu.Unlock()
		return fx.srv.running == 0
	})
	checkOK(t, roundTrip(t, ch, startFlight(9)))
}
