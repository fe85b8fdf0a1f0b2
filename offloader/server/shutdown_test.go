package server

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// TestShutdown: Shutdown stops the accept loop; an idle channel is sent
// close(shutting_down) at once, while a flight elsewhere still runs; a
// channel with a flight waiting for a slot gets its answer, then the close;
// Shutdown returns once both are done.
func TestShutdown(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.MaxInFlight = 1; c.FlightWait = time.Minute })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- fx.srv.Serve(l, false) }()
	open := func() *wire.Channel {
		ch, err := wire.ClientOpen(dialFrom(t, "127.0.0.1", l.Addr().String()), wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK})
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
	idle, busy := open(), open()
	checkOK(t, roundTrip(t, idle, startFlight(1)))

	inFlight := holdSlot(t, fx.srv, "other") // the only slot, taken
	b, err := startFlight(2).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := busy.WriteFrame(b); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a flight waiting for a slot", func() bool {
		fx.srv.lmu.Lock()
		defer fx.srv.lmu.Unlock()
		return len(fx.srv.ring) == 1
	})

	shut := make(chan error, 1)
	go func() { shut <- fx.srv.Shutdown(context.Background()) }()
	if err := <-served; err != nil {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
	if _, err := idle.ReadFrame(); !closedFor(err, wire.CloseShuttingDown) {
		t.Fatalf("idle channel at shutdown: %v, want close(shutting_down)", err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) with a flight in flight", err)
	default:
	}
	fx.srv.releaseFlight(inFlight) // the waiting flight now runs
	resp, err := busy.ReadFrame()
	if err != nil {
		t.Fatalf("the flight read before shutdown was not answered: %v", err)
	}
	var fr wire.FlightResponse
	if err := fr.Unmarshal(resp); err != nil || fr.ID != 2 {
		t.Fatalf("answer: %v, id %d", err, fr.ID)
	}
	checkOK(t, &fr)
	if _, err := busy.ReadFrame(); !closedFor(err, wire.CloseShuttingDown) {
		t.Fatalf("after its answer: %v, want close(shutting_down)", err)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := fx.srv.Stats().Channels.Closed["shutting_down"]; got != 2 {
		t.Errorf("Channels.Closed[shutting_down] = %d, want 2", got)
	}
}

// TestShutdownDeadline: a flight still running when ctx ends does not hold
// Shutdown; it reports ctx's error and closes everything.
func TestShutdownDeadline(t *testing.T) {
	fx := newFixture(t, nil)
	holdSlot(t, fx.srv, "other") // never released
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := fx.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the deadline", err)
	}
	if !fx.srv.isClosed() {
		t.Fatal("not closed after Shutdown")
	}
}

// closedFor reports whether err is the peer's close with reason r.
func closedFor(err error, r wire.CloseReason) bool {
	ce, ok := errors.AsType[*wire.CloseError](err)
	return ok && ce.Reason == r
}
