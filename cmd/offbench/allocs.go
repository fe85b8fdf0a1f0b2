package main

import (
	"fmt"
	"net"
	"runtime"
)

// allocsPerOp runs op n times and returns the heap allocations per op:
// count (MemStats.Mallocs) and bytes (MemStats.TotalAlloc), process-wide
// (the device's offloader client goroutines included).
func allocsPerOp(n int, op func() error) (count, bytes float64, err error) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		if err := op(); err != nil {
			return 0, 0, err
		}
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(n), float64(after.TotalAlloc-before.TotalAlloc) / float64(n), nil
}

// retainedPerConn opens k connections with dial and keeps them idle after
// their handshake; it returns the live heap they hold, per connection, after
// a GC.
func retainedPerConn(k int, dial func() (net.Conn, error)) (float64, error) {
	var before, after runtime.MemStats
	conns := make([]net.Conn, 0, k)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < k; i++ {
		c, err := dial()
		if err != nil {
			return 0, err
		}
		conns = append(conns, c)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(conns)
	return (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(k), nil
}

// measureAllocs: device allocations per full handshake and retained heap
// per idle connection, offloaded vs crypto/tls, with plain TCP for scale.
func measureAllocs(e *env, o *options, rep *report) error {
	rep.section("Device memory")
	at := &table{
		title:  fmt.Sprintf("Allocations per full handshake (runtime.MemStats deltas over %d handshakes)", o.handshakes),
		header: []string{"case", "offloaded bytes", "crypto/tls bytes", "ratio (bytes)", "offloaded count", "crypto/tls count", "ratio (count)", "control bytes / count"},
	}
	rt := &table{
		title:  fmt.Sprintf("Retained heap per idle connection after the handshake, bytes (K = %d connections, HeapAlloc delta after GC / K)", o.idleConns),
		header: []string{"case", "offloaded", "crypto/tls", "ratio", "plain TCP conn"},
	}
	buf := make([]byte, 1<<16)
	for _, c := range hsCases {
		dev := e.deviceConfig(c, e.offload)
		gocfg := e.goTLSConfig(c)
		addr := e.tlsAddr(c)
		devDial := func() (net.Conn, error) { return dialDevice(dev, addr) }
		goDial := func() (net.Conn, error) { return dialGoTLS(gocfg, addr) }
		tcpDial := func() (net.Conn, error) { return net.DialTimeout("tcp", e.tlsSrv.vals["ctl"], dialLimit) }
		plans, err := e.fullPlans(c)
		if err != nil {
			return err
		}
		ctl := func() error { return plans.dev.run(e, buf) }
		for _, op := range []func() error{dialClose(devDial), dialClose(goDial), ctl} { // warm up
			if err := op(); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
		}
		var offN, offB, goN, goB, ctlN, ctlB, offR, goR, tcpR samples
		for r := 0; r < o.runs; r++ {
			for _, m := range []struct {
				op   func() error
				n, b *samples
			}{{dialClose(devDial), &offN, &offB}, {dialClose(goDial), &goN, &goB}, {ctl, &ctlN, &ctlB}} {
				n, b, err := allocsPerOp(o.handshakes, m.op)
				if err != nil {
					return fmt.Errorf("%s: %w", c.name, err)
				}
				*m.n, *m.b = append(*m.n, n), append(*m.b, b)
			}
			for _, m := range []struct {
				dial func() (net.Conn, error)
				s    *samples
			}{{devDial, &offR}, {goDial, &goR}, {tcpDial, &tcpR}} {
				v, err := retainedPerConn(o.idleConns, m.dial)
				if err != nil {
					return fmt.Errorf("%s: idle connections: %w", c.name, err)
				}
				*m.s = append(*m.s, v)
			}
		}
		at.rows = append(at.rows, []string{c.name, offB.fmt(0), goB.fmt(0), offB.ratio(goB).pct(),
			offN.fmt(1), goN.fmt(1), offN.ratio(goN).pct(), ctlB.fmt(0) + " / " + ctlN.fmt(1)})
		rt.rows = append(rt.rows, []string{c.name, offR.fmt(0), goR.fmt(0), offR.ratio(goR).pct(), tcpR.fmt(0)})
		rep.goal(goalAllocs, c.name, offB.ratio(goB))
		rep.goal(goalRetained, c.name, offR.ratio(goR))
	}
	at.notes = []string{
		"Every allocation of the device process during dial + handshake + Close, its offloader client's goroutines included. Control: the offloaded handshake's plain-TCP control, offloader round trip included (its allocations are the net package's and the echo's). Goal: offloaded ≤ 20 % of crypto/tls's bytes.",
	}
	rt.notes = []string{
		"Heap only (not goroutine stacks or kernel socket buffers), including the net.Conn's own share, shown alone as \"plain TCP conn\". Goal: offloaded ≤ 50 % of crypto/tls's.",
	}
	rep.table(at)
	rep.table(rt)
	return nil
}
