package main

import (
	"reflect"
	"testing"
	"time"
)

// TestPlanOf: consecutive reads and writes on a connection merge into
// flights, each write flight is paired with the answer read after it, the
// offloader call is placed after the TLS exchanges that completed before it,
// and a boundary makes close_notify a flight of its own.
func TestPlanOf(t *testing.T) {
	var clock time.Time // each event 1 ms after the one before
	tick := func() time.Time { clock = clock.Add(time.Millisecond); return clock }
	w := func(conn, n int) ioEvent { return ioEvent{conn: conn, write: true, n: n, at: tick()} }
	r := func(conn, n int) ioEvent { return ioEvent{conn: conn, write: false, n: n, at: tick()} }
	full := []ioEvent{
		w(connTLS, 180), r(connTLS, 5), r(connTLS, 1500), r(connTLS, 400),
		w(connOffloader, 2000), w(connOffloader, 500), r(connOffloader, 300), r(connOffloader, 20),
		w(connTLS, 75), w(connTLS, 6), w(connTLS, 45), r(connTLS, 250),
		w(connTLS, 0), w(connTLS, 31),
	}
	p, err := planOf(full)
	if err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	// Waits: from the flight's last write to the answer's first read.
	if want := []exchange{{180, 1905, 1 * ms, 0}, {126, 250, 1 * ms, 0}, {31, 0, 0, 0}}; !reflect.DeepEqual(p.tls, want) {
		t.Errorf("tls = %v, want %v", p.tls, want)
	}
	if want := []exchange{{2500, 320, 1 * ms, 0}}; !reflect.DeepEqual(p.off, want) {
		t.Errorf("off = %v, want %v", p.off, want)
	}
	if p.offAfter != 1 || p.writes != 5 || p.reads != 4 {
		t.Errorf("offAfter, writes, reads = %d, %d, %d; want 1, 5, 4", p.offAfter, p.writes, p.reads)
	}
	p.tls[0].think, p.off[0].think = 800*time.Microsecond, 250*time.Microsecond
	if got, want := p.String(), "→180 ←1905 (think 800 µs) [offloader →2500 ←320 (think 250 µs)] →126 ←250 (think 0 µs) →31"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}

	resumed := []ioEvent{w(connTLS, 200), r(connTLS, 150), w(connTLS, 51), w(connTLS, 0), w(connTLS, 31)}
	resumed[3].n = 0
	if p, err = planOf(resumed); err != nil {
		t.Fatal(err)
	}
	if want := []exchange{{200, 150, 1 * ms, 0}, {51, 0, 0, 0}, {31, 0, 0, 0}}; !reflect.DeepEqual(p.tls, want) || p.offAfter != 3 {
		t.Errorf("resumed: tls = %v, offAfter %d; want %v, 3", p.tls, p.offAfter, want)
	}

	if _, err := planOf([]ioEvent{r(connTLS, 10)}); err == nil {
		t.Error("a read before any write: no error")
	}
}
