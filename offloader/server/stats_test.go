package server

import (
	"context"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

func TestHistogramBuckets(t *testing.T) {
	// The bounds double from 50µs to 102.4ms, then 250ms, 500ms, 1s.
	for i := 1; i < 12; i++ {
		if durationBounds[i] != 2*durationBounds[i-1] {
			t.Fatalf("bound %d is %v, want twice %v", i, durationBounds[i], durationBounds[i-1])
		}
	}
	if durationBounds[0] != 50*time.Microsecond || durationBounds[11] != 102400*time.Microsecond || len(durationBounds) != 15 {
		t.Fatalf("bounds %v", durationBounds)
	}
	var h histogram
	for _, d := range []time.Duration{
		0,                                // first bucket
		50 * time.Microsecond,            // a bound is inclusive: first bucket
		50*time.Microsecond + 1,          // second
		time.Second,                      // last bucket
		time.Second + 1, 3 * time.Second, // overflow
	} {
		h.observe(d)
	}
	s := h.snapshot()
	want := make([]uint64, len(durationBounds)+1)
	want[0], want[1], want[len(durationBounds)-1], want[len(durationBounds)] = 2, 1, 1, 2
	for i := range want {
		if s.Counts[i] != want[i] {
			t.Fatalf("counts %v, want %v", s.Counts, want)
		}
	}
	if s.Count() != 6 || s.Sum != 50*time.Microsecond+50*time.Microsecond+1+time.Second+time.Second+1+3*time.Second {
		t.Fatalf("count %d, sum %v", s.Count(), s.Sum)
	}
}

func TestStatsCountsOperations(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	checkOK(t, fx.srv.Do(ctx, testDevice, startFlight(1)))
	checkOK(t, fx.srv.Do(ctx, testDevice, startFlight(2)))
	denied := startFlight(3)
	denied.Requests[0].(*wire.StartRequest).ServerName = "elsewhere.test"
	checkStatus(t, fx.srv.Do(ctx, testDevice, denied), 0, wire.StatusPolicyDenied)
	// A request of no known op (a nil one: the wire cannot carry an
	// unknown op), then a request aborted behind it: two flights' worth of
	// labels a device cannot grow.
	checkStatus(t, fx.srv.Do(ctx, testDevice, &wire.Flight{ID: 4, Requests: []wire.Request{nil, keyReq()}}), 0, wire.StatusMalformed)

	st := fx.srv.Stats()
	if len(st.Ops) != 5 {
		t.Fatalf("%d ops", len(st.Ops))
	}
	byOp := map[string]OpStats{}
	for _, o := range st.Ops {
		byOp[o.Op] = o
	}
	start := byOp["start"]
	if start.Results["ok"] != 2 || start.Results["policy_denied"] != 1 || len(start.Results) != 2 || start.Duration.Count() != 3 {
		t.Errorf("start: %+v", start)
	}
	if u := byOp["unknown"]; u.Results["malformed"] != 1 || u.Duration.Count() != 1 {
		t.Errorf("unknown: %+v", u)
	}
	if k := byOp["key"]; k.Results["aborted"] != 1 || len(k.Results) != 1 {
		t.Errorf("key: %+v", k)
	}
	if a := byOp["auth"]; len(a.Results) != 0 || a.Duration.Count() != 0 {
		t.Errorf("auth, never run: %+v", a)
	}
	if st.Flights != (FlightStats{Sequential: 3, Pipelined: 1}) {
		t.Errorf("flights %+v", st.Flights)
	}
	if len(st.Channels.Results) != 0 || st.Channels.Open != 0 {
		t.Errorf("channels %+v without any", st.Channels)
	}
}

func TestStatusLabels(t *testing.T) {
	// Every status the protocol defines has its own label.
	seen := map[string]bool{}
	for s := wire.StatusOK; s <= wire.StatusIllegalParameter; s++ {
		l := resultLabel(statusIndex(s))
		if l == "" || l == unknownLabel || seen[l] {
			t.Errorf("status %d: label %q", s, l)
		}
		seen[l] = true
	}
	if l := resultLabel(statusIndex(wire.StatusIllegalParameter + 1)); l != unknownLabel {
		t.Errorf("a status past the table: %q", l)
	}
}
