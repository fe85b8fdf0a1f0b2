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

// cpuSlices is how many slices a full-handshake CPU run is cut into: the
// four ops (offloaded, crypto/tls, their controls) take turns slice by
// slice, so the load of the shared machine falls on all of them alike and
// each TLS-only difference subtracts a control measured at the same time.
const cpuSlices = 6

// cpuHandshakes is the number of full handshakes per op and run: three
// times the allocation runs' count, because TLS-only is a difference of two
// noisy figures.
func cpuHandshakes(o *options) int { return 3 * o.handshakes }

// cpuInterleaved runs each op n times, in slices of n/slices with the ops
// in turn (the first op rotating from slice to slice), and returns each
// op's CPU per op in microseconds.
func cpuInterleaved(n, slices int, ops []func() error) ([]float64, error) {
	per := max(n/slices, 1)
	us := make([]float64, len(ops))
	for s := 0; s < slices; s++ {
		for k := range ops {
			i := (k + s) % len(ops)
			v, err := cpuPerOp(per, ops[i])
			if err != nil {
				return nil, err
			}
			us[i] += v / float64(slices)
		}
	}
	return us, nil
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
		title: fmt.Sprintf("Full handshake: device CPU per handshake, µs (getrusage user+sys of the device process, %d sequential handshakes per client and run, in %d slices taking turns with the controls)", cpuSlices*max(cpuHandshakes(o)/cpuSlices, 1), cpuSlices),
		header: []string{"case", "offloaded", "crypto/tls", "offloaded's control", "crypto/tls's control",
			"offloaded TLS-only", "crypto/tls TLS-only", "ratio offloaded / crypto/tls (TLS-only)"},
	}
	var planNotes []string
	buf := make([]byte, 1<<16)
	for _, c := range hsCases {
		dev := e.deviceConfig(c, e.offload)
		gocfg := e.goTLSConfig(c)
		addr := e.tlsAddr(c)
		plans, err := e.fullPlans(c)
		if err != nil {
			return err
		}
		ops := []func() error{
			dialClose(func() (net.Conn, error) { return dialDevice(dev, addr) }),
			dialClose(func() (net.Conn, error) { return dialGoTLS(gocfg, addr) }),
			func() error { return plans.dev.run(e, buf) },
			func() error { return plans.gotls.run(e, buf) },
		}
		planNotes = append(planNotes, fmt.Sprintf("Control plan, %s: offloaded %s (the client made %d writes, %d reads to the server and %d writes, %d reads on the channel); crypto/tls %s (%d writes, %d reads).",
			c.name, plans.dev, plans.dev.writes, plans.dev.reads, plans.dev.offWrites, plans.dev.offR, plans.gotls, plans.gotls.writes, plans.gotls.reads))
		res := make([]samples, len(ops))
		for i, op := range ops { // warm up: the channel, the Start cache, the pools
			for j := 0; j < 3; j++ {
				if err := op(); err != nil {
					return fmt.Errorf("%s: warm-up %d: %w", c.name, i, err)
				}
			}
		}
		for r := 0; r < o.runs; r++ {
			us, err := cpuInterleaved(cpuHandshakes(o), cpuSlices, ops)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			for i := range ops {
				res[i] = append(res[i], us[i])
			}
		}
		offOnly, tlsOnly := res[0].minus(res[2]), res[1].minus(res[3])
		t.rows = append(t.rows, []string{c.name, res[0].fmt(1), res[1].fmt(1), res[2].fmt(1), res[3].fmt(1),
			offOnly.fmt(1), tlsOnly.fmt(1), offOnly.ratio(tlsOnly).pct()})
		rep.goal(goalCPU, c.name, offOnly.ratio(tlsOnly))
	}
	t.notes = []string{
		"Offloaded: `tlsclient.Dialer` with the offloader in another process over its sealed PSK channel (Start cached, Auth+KeyGen+Key in one pipelined flight); crypto/tls: `tls.Dialer`, verifying the same chain against the same root. Same suite (AES-128-GCM), group and certificate; the TLS server is crypto/tls in another process. Each handshake is dial, handshake, Close (close_notify).",
		"Control (one per client, like for like): the network work of that client's own handshake and none of its TLS work. Its plan (listed below) is recorded once per case on a warm handshake whose connections count every byte read and written. The control makes the same TCP connect (net.DialTimeout) to a plain ping-pong listener in the TLS server's process, writes each client flight with the recorded byte count in one write and reads the server's answering flight whole with the recorded byte count (the listener writes it in one write, as crypto/tls's server writes a flight), the listener first staying busy for the real server's think time so that the control waits as long as the handshake waited (think = the median over 7 recorded handshakes of the wait from the client's last write to its first read of the answer, less the control's own median wait with no think time; a client blocked longer costs more CPU in wake-ups, which is network waiting, not TLS work), and ends with a write of the close_notify's bytes and Close. The offloaded control also makes the offloader round trip where the handshake makes it (after the server's first flight), with the recorded request and answer sizes (the sealed channel frames as sent) and the offloader's think time, as plain bytes on a standing connection to an echo service in the offloader process: the channel's AEAD and framing are TLS-side work of the offload and stay in its TLS-only figure. TLS-only = measured − that client's control.",
	}
	t.notes = append(t.notes, "Control plans below, in bytes: →n written to the TLS server (one write per flight in the control), ←m read from it, [offloader →request ←answer] on the channel, (think t µs) the server's think time before that answer; the last →31 is the close_notify. A client's own extra system calls (more writes or reads than flights) are part of its TLS-only figure.")
	t.notes = append(t.notes, planNotes...)
	t.notes = append(t.notes, "Goal (issue 4): offloaded TLS-only ≤ 10 % of crypto/tls's.")
	rep.table(t)
	return measureResumedCPU(e, o, rep, buf)
}
