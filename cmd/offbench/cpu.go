package main

import (
	"fmt"
	"net"
	"runtime"
)

// cpuPerOp runs op n times in sequence and returns this process's CPU
// (user+system, every thread) per op, in microseconds.
func cpuPerOp(n int, op func() error) (float64, error) {
	runtime.GC() // start each measurement from a clean heap
	before := cpuNow()
	for i := 0; i < n; i++ {
		if err := op(); err != nil {
			return 0, err
		}
	}
	return float64(cpuNow()-before) / 1e3 / float64(n), nil
}

// dialClose is one handshake and close, the unit every handshake figure
// measures.
func dialClose(dial func() (net.Conn, error)) func() error {
	return func() error {
		c, err := dial()
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// measureHandshakeCPU: device CPU per full handshake, offloaded vs
// crypto/tls, each minus a plain-TCP control that makes the same connects
// and round trips; then resumed handshakes.
func measureHandshakeCPU(e *env, o *options, rep *report) error {
	rep.section("Device CPU per handshake")
	t := &table{
		title: fmt.Sprintf("Full handshake: device CPU per handshake, µs (getrusage user+sys of the device process, %d sequential handshakes per run)", o.handshakes),
		header: []string{"case", "offloaded", "crypto/tls", "control + offloader RT", "control",
			"offloaded TLS-only", "crypto/tls TLS-only", "ratio offloaded / crypto/tls (TLS-only)"},
	}
	buf := make([]byte, 1<<16)
	for _, c := range hsCases {
		dev := e.deviceConfig(c, e.offload)
		gocfg := e.goTLSConfig(c)
		addr := e.tlsAddr(c)
		ops := []func() error{
			dialClose(func() (net.Conn, error) { return dialDevice(dev, addr) }),
			dialClose(func() (net.Conn, error) { return dialGoTLS(gocfg, addr) }),
			func() error { return e.controlFull(c, buf, true) },
			func() error { return e.controlFull(c, buf, false) },
		}
		res := make([]samples, len(ops))
		for i, op := range ops { // warm up: the channel, the Start cache, the pools
			for j := 0; j < 3; j++ {
				if err := op(); err != nil {
					return fmt.Errorf("%s: warm-up %d: %w", c.name, i, err)
				}
			}
		}
		for r := 0; r < o.runs; r++ {
			for i, op := range ops {
				us, err := cpuPerOp(o.handshakes, op)
				if err != nil {
					return fmt.Errorf("%s: %w", c.name, err)
				}
				res[i] = append(res[i], us)
			}
		}
		offOnly, tlsOnly := res[0].minus(res[2]), res[1].minus(res[3])
		t.rows = append(t.rows, []string{c.name, res[0].fmt(1), res[1].fmt(1), res[2].fmt(1), res[3].fmt(1),
			offOnly.fmt(1), tlsOnly.fmt(1), offOnly.ratio(tlsOnly).pct()})
		rep.goal(goalCPU, c.name, offOnly.ratio(tlsOnly))
	}
	t.notes = []string{
		"Offloaded: `tlsclient.Dialer` with the offloader in another process over its sealed PSK channel (Start cached, Auth+KeyGen+Key in one pipelined flight); crypto/tls: `tls.Dialer`, verifying the same chain against the same root. Same suite (AES-128-GCM), group and certificate; the TLS server is crypto/tls in another process. Each handshake is dial, handshake, Close (close_notify).",
		"Control: the same TCP connect and the same flights as ping-pongs of about the same sizes with no TLS; \"control + offloader RT\" adds one round trip of a transcript-sized message on a standing connection to an echo service in the offloader process, standing in for the offloader call. TLS-only = measured − its control.",
		"Goal (issue 4): offloaded TLS-only ≤ 10 % of crypto/tls's.",
	}
	rep.table(t)
	return measureResumedCPU(e, o, rep, buf)
}
