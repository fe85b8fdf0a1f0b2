package server

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// TestShutdown: Shutdown stops the accept loop, answers new flights rate
// limited, waits for the flight in flight, then closes the channels.
func TestShutdown(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.FlightWait = 10 * time.Millisecond })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- fx.srv.Serve(l, false) }()
	conn := dialFrom(t, "127.0.0.1", l.Addr().String())
	ch, err := wire.ClientOpen(conn, wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK})
	if err != nil {
		t.Fatal(err)
	}
	checkOK(t, roundTrip(t, ch, startFlight(1)))

	inFlight := holdSlot(t, fx.srv, "other") // a flight being processed
	shut := make(chan error, 1)
	go func() { shut <- fx.srv.Shutdown(context.Background()) }()
	if err := <-served; err != nil {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
	waitFor(t, "draining", func() bool { fx.srv.lmu.Lock(); defer fx.srv.lmu.Unlock(); return fx.srv.draining })
	checkStatus(t, roundTrip(t, ch, startFlight(2)), 0, wire.StatusRateLimited)
	if got := refused(fx.srv, "shutting_down"); got != 1 {
		t.Errorf("refused{shutting_down} = %d, want 1", got)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) with a flight in flight", err)
	default:
	}
	fx.srv.releaseFlight(inFlight)
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := ch.ReadFrame(); err == nil {
		t.Fatal("a channel outlived Shutdown")
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
