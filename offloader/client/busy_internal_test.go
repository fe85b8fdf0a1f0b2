package client

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// rateLimitedAnswer answers f rate limited: every request (whole), or the
// first only with the rest aborted as if it had run in part.
func rateLimitedAnswer(f *wire.Flight, whole bool) *wire.FlightResponse {
	r := &wire.FlightResponse{ID: f.ID}
	for i, q := range f.Requests {
		st := wire.StatusRateLimited
		if i > 0 && !whole {
			st = wire.StatusAborted
		}
		r.Results = append(r.Results, wire.Result{Err: &wire.Error{Op: q.Op(), Status: st}})
	}
	return r
}

// Only a flight refused as a whole is resent, and only by Start and
// KeyExchange: Do never retries, and a flight answered rate limited in
// part (it may have run in part) fails at once with the offloader's error.
func TestBusyOnlyWholeRefusalsResent(t *testing.T) {
	s := newFakeServer(t)
	seen := flightsSeen(s)
	var partial atomic.Bool
	s.handle = func(f *wire.Flight) *wire.FlightResponse { return rateLimitedAnswer(f, !partial.Load()) }
	c, err := New(Config{Addrs: []string{s.addr()}, DeviceID: testDevice, PSK: testPSK, BusyAttempts: 3, BusyBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	resp, err := c.Do(ctx, startFlight("raw"))
	if err != nil || len(*seen) != 1 || resp.Results[0].Err.Status != wire.StatusRateLimited {
		t.Fatalf("Do: %v, %d flights sent; want the rate limited answer, once", err, len(*seen))
	}
	if _, err := c.Start(ctx, "example.com", testOffer); !errors.Is(err, ErrBusy) || len(*seen) != 4 {
		t.Fatalf("Start: %v after %d flights; want ErrBusy after 1+3", err, len(*seen))
	}
	if _, err := c.KeyExchange(ctx, keyExchangeFlight()); !errors.Is(err, ErrBusy) || len(*seen) != 7 {
		t.Fatalf("KeyExchange: %v after %d flights; want ErrBusy after 4+3", err, len(*seen))
	}
	partial.Store(true)
	_, err = c.KeyExchange(ctx, keyExchangeFlight())
	if errors.Is(err, ErrBusy) || !errors.Is(err, wire.StatusRateLimited) || len(*seen) != 8 {
		t.Fatalf("KeyExchange refused in part: %v after %d flights; want the offloader's error, not resent", err, len(*seen))
	}
}

// The waits double from BusyBackoff up to BusyBackoffMax, each between
// half and all of its step.
func TestBusyWait(t *testing.T) {
	c, err := New(Config{Addrs: []string{"x:1"}, DeviceID: testDevice, PSK: testPSK, BusyBackoff: 10 * time.Millisecond, BusyBackoffMax: 80 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for attempt, step := range []time.Duration{1: 10, 2: 20, 3: 40, 4: 80, 5: 80, 60: 80} {
		if step == 0 {
			continue
		}
		step *= time.Millisecond
		for range 50 {
			if d := c.busyWait(attempt, 0); d < step/2 || d > step {
				t.Fatalf("wait after attempt %d: %v, want %v..%v", attempt, d, step/2, step)
			}
		}
	}
	// A retry-after hint lengthens the wait to itself, never past
	// BusyBackoffMax; a shorter one changes nothing.
	for _, hint := range []time.Duration{time.Millisecond, 30 * time.Millisecond, 80 * time.Millisecond, time.Minute} {
		for range 50 {
			d := c.busyWait(1, hint)
			if want := min(hint, 80*time.Millisecond); d < want || d > max(want, 10*time.Millisecond) {
				t.Fatalf("wait after attempt 1 with hint %v: %v, want %v..%v", hint, d, want, max(want, 10*time.Millisecond))
			}
		}
	}
	for _, cfg := range []Config{{BusyAttempts: -1}, {BusyBackoff: -1}, {BusyBackoff: time.Second, BusyBackoffMax: time.Millisecond}} {
		cfg.Addrs, cfg.DeviceID, cfg.PSK = []string{"x:1"}, testDevice, testPSK
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}
