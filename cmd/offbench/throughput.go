package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"runtime"

	"github.com/tlsoffload/tlsoffload/handshake"
)

// bulk moves n bytes over an established connection, up ('U': the device
// seals) or down ('D': the device opens), in 64 KiB application writes and
// reads, and returns the device's CPU seconds for it (see serveBulk).
func bulk(c net.Conn, dir byte, n int64, buf []byte) (float64, error) {
	var cmd [9]byte
	cmd[0] = dir
	binary.BigEndian.PutUint64(cmd[1:], uint64(n))
	runtime.GC()
	before := rusageCPU()
	if _, err := c.Write(cmd[:]); err != nil {
		return 0, err
	}
	for left := n; left > 0; {
		k := int(min(left, int64(len(buf))))
		var err error
		if dir == 'U' {
			k, err = c.Write(buf[:k])
		} else {
			k, err = c.Read(buf[:k])
		}
		if left -= int64(k); err != nil && left > 0 {
			return 0, err
		}
	}
	if dir == 'U' { // the server's byte once it has read everything
		if _, err := io.ReadFull(c, buf[:1]); err != nil {
			return 0, err
		}
	}
	return (rusageCPU() - before).Seconds(), nil
}

// measureThroughput: bulk transfer over loopback with each AEAD, MB per
// device CPU second, offloaded vs crypto/tls against the same server
// process.
func measureThroughput(e *env, o *options, rep *report) error {
	rep.section("Record throughput")
	t := &table{
		title:  fmt.Sprintf("Bulk transfer over loopback, %d MiB per run: MB per device CPU second (MB/s per core)", o.bulkBytes>>20),
		header: []string{"cipher", "direction", "offloaded", "crypto/tls", "ratio offloaded / crypto/tls"},
	}
	buf := make([]byte, 64<<10)
	for _, bc := range aeadSuites {
		c := hsCase{name: bc.name, suite: bc.suite, group: handshake.GroupX25519, cert: "rsa"}
		dc, err := dialDevice(e.deviceConfig(c, e.offload), e.tlsAddr(c))
		if err != nil {
			return fmt.Errorf("%s: %w", bc.name, err)
		}
		defer dc.Close()
		gc, err := dialGoTLS(e.goTLSConfig(c), e.tlsAddr(c))
		if err != nil {
			return fmt.Errorf("%s: %w", bc.name, err)
		}
		defer gc.Close()
		for _, dir := range []struct {
			name string
			b    byte
		}{{"device → server (seal)", 'U'}, {"server → device (open)", 'D'}} {
			conns := []net.Conn{dc, gc}
			for _, conn := range conns { // warm up
				if _, err := bulk(conn, dir.b, 1<<20, buf); err != nil {
					return fmt.Errorf("%s: %w", bc.name, err)
				}
			}
			rates := make([]samples, len(conns))
			for r := 0; r < o.runs; r++ {
				for i, conn := range conns {
					secs, err := bulk(conn, dir.b, o.bulkBytes, buf)
					if err != nil {
						return fmt.Errorf("%s %s: %w", bc.name, dir.name, err)
					}
					rates[i] = append(rates[i], float64(o.bulkBytes)/1e6/secs)
				}
			}
			t.rows = append(t.rows, []string{bc.name, dir.name, rates[0].fmt(0), rates[1].fmt(0), rates[0].ratio(rates[1]).pct()})
		}
	}
	t.notes = []string{
		"MB = 10⁶ bytes of application data; CPU = getrusage user+sys of the device process (TCP and syscalls included), so MB/s per core. The server is crypto/tls in another process, the same for both clients; 64 KiB application writes and reads. The record layer's own limit, with no I/O: `go test -bench SealOpen ./record/`.",
		"Goal: offloaded ≥ crypto/tls for both AEADs.",
	}
	rep.table(t)
	return nil
}
