package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/tlsclient"
)

// delayConn holds each write 2d before sending it: on the device's side of
// its channel, where each frame is one write and the handshake waits for
// the answer before it writes again, a delay line that adds 2d to every
// round trip (not a bandwidth limit).
type delayConn struct {
	net.Conn
	d time.Duration
}

func (c delayConn) Write(b []byte) (int, error) {
	time.Sleep(2 * c.d)
	return c.Conn.Write(b)
}

// handshakeLatency returns the median wall time of n handshakes.
func handshakeLatency(n int, dial func() (net.Conn, error)) (time.Duration, error) {
	var ts samples
	for i := 0; i < n; i++ {
		start := time.Now()
		c, err := dial()
		if err != nil {
			return 0, err
		}
		ts = append(ts, float64(time.Since(start)))
		c.Close()
	}
	return time.Duration(ts.median()), nil
}

// measureRoundTrips: handshake latency with a delay on the
// device↔offloader path, in units of the round trip it adds (2D).
func measureRoundTrips(e *env, o *options, rep *report) error {
	rep.section("Round trips to the offloader")
	delayed := func(cfg *client.Config) {
		cfg.Dial = func(ctx context.Context, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			return delayConn{c, o.delay}, nil
		}
	}
	c := hsCases[0]
	addr := e.tlsAddr(c)
	rtt := 2 * o.delay
	t := &table{
		title: fmt.Sprintf("Added handshake latency with %s added each way on the device↔offloader path (added RTT %s), %s, %d handshakes per run", o.delay, rtt, c.name, o.latencyN),
		header: []string{"mode", "latency, direct (ms)", "latency, delayed (ms)", "added (ms)",
			"added / added RTT", "expected"},
	}
	modes := []struct {
		name, expected     string
		sequential, resume bool
	}{
		{"full handshake, pipelined (Auth+KeyGen+Key in one flight)", "1×", false, false},
		{"full handshake, sequential (client.Config.Sequential)", "3× (4× with Start uncached)", true, false},
		{"resumption (session ticket, Config.SessionCache)", "0×", false, true},
	}
	for _, m := range modes {
		// A client of its own per mode and path: its channel, its Start
		// cache; the first handshake opens the one and fills the other (and
		// the session cache).
		sequential := func(cfg *client.Config) { cfg.Sequential = m.sequential }
		var dials [2]func() (net.Conn, error)
		for i, opts := range [][]func(*client.Config){{sequential}, {sequential, delayed}} {
			off, err := e.newOffloadClient(e.offAddr, opts...)
			if err != nil {
				return err
			}
			defer off.Close()
			cfg := e.deviceConfig(c, off)
			if m.resume {
				cfg.SessionCache = tlsclient.NewLRUSessionCache(8)
			}
			dials[i] = func() (net.Conn, error) { return dialDevice(cfg, addr) }
			if err := dialClose(dials[i])(); err != nil {
				return err
			}
		}
		directDial, slowDial := dials[0], dials[1]
		var direct, slow, units samples
		for r := 0; r < o.runs; r++ {
			d, err := handshakeLatency(o.latencyN, directDial)
			if err != nil {
				return fmt.Errorf("%s direct: %w", m.name, err)
			}
			s, err := handshakeLatency(o.latencyN, slowDial)
			if err != nil {
				return fmt.Errorf("%s delayed: %w", m.name, err)
			}
			direct, slow = append(direct, d.Seconds()*1e3), append(slow, s.Seconds()*1e3)
			units = append(units, (s-d).Seconds()/rtt.Seconds())
		}
		t.rows = append(t.rows, []string{m.name, direct.fmt(2), slow.fmt(2), slow.minus(direct).fmt(2), units.fmt(2) + "×", m.expected})
	}
	t.notes = []string{
		"A delay line on the device's channel to the offloader process (each frame written 2D late: one frame per flight, so 2D per round trip); the channel is opened before timing. Latency = wall time of dial + handshake (median of the run); added = delayed − direct, run by run.",
		"Sequential mode: Start is answered from the cache (filled by the first handshake), so Auth, KeyGen and Key are three calls, three round trips: the patent's four requests minus the cached Start.",
		"Goal: 1 round trip per full handshake, 0 per resumption.",
	}
	rep.table(t)
	return nil
}
