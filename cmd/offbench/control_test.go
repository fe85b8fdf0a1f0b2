package main

import (
	"reflect"
	"testing"
)

// TestPlanOf: consecutive reads and writes on a connection merge into
// flights, each write flight is paired with the answer read after it, the
// offloader call is placed after the TLS exchanges that completed before it,
// and a boundary makes close_notify a flight of its own.
func TestPlanOf(t *testing.T) {
	w := func(conn, n int) ioEvent { return ioEvent{conn, true, n} }
	r := func(conn, n int) ioEvent { return ioEvent{conn, false, n} }
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
	if want := []exchange{{180, 1905}, {126, 250}, {31, 0}}; !reflect.DeepEqual(p.tls, want) {
		t.Errorf("tls = %v, want %v", p.tls, want)
	}
	if want := []exchange{{2500, 320}}; !reflect.DeepEqual(p.off, want) {
		t.Errorf("off = %v, want %v", p.off, want)
	}
	if p.offAfter != 1 || p.writes != 5 || p.reads != 4 {
		t.Errorf("offAfter, writes, reads = %d, %d, %d; want 1, 5, 4", p.offAfter, p.writes, p.reads)
	}
	if got, want := p.String(), "→180 ←1905 [offloader →2500 ←320] →126 ←250 →31"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}

	resumed := []ioEvent{w(connTLS, 200), r(connTLS, 150), w(connTLS, 51), w(connTLS, 0), w(connTLS, 31)}
	if p, err = planOf(resumed); err != nil {
		t.Fatal(err)
	}
	if want := []exchange{{200, 150}, {51, 0}, {31, 0}}; !reflect.DeepEqual(p.tls, want) || p.offAfter != 3 {
		t.Errorf("resumed: tls = %v, offAfter %d; want %v, 3", p.tls, p.offAfter, want)
	}

	if _, err := planOf([]ioEvent{r(connTLS, 10)}); err == nil {
		t.Error("a read before any write: no error")
	}
}
