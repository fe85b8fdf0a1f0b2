package main

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/tlsoffload/tlsoffload/handshake"
)

// bulkCases are the record ciphers measured, each on an ECDHE-RSA suite.
var bulkCases = []struct {
	name  string
	suite uint16
	aead  func(key []byte) (cipher.AEAD, error)
	keyN  int
}{
	{"AES-128-GCM", handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, newGCM, 16},
	{"ChaCha20-Poly1305", handshake.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, chacha20poly1305.New, 32},
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// bulk moves n bytes over an established connection, up ('U': the device
// seals) or down ('D': the device opens), in 64 KiB application writes and
// reads, and returns the device's CPU seconds for it.
func bulk(c net.Conn, dir byte, n int64, buf []byte) (float64, error) {
	var cmd [9]byte
	cmd[0] = dir
	binary.BigEndian.PutUint64(cmd[1:], uint64(n))
	runtime.GC()
	before := cpuNow()
	if _, err := c.Write(cmd[:]); err != nil {
		return 0, err
	}
	switch dir {
	case 'U':
		for left := n; left > 0; {
			k := min(left, int64(len(buf)))
			if _, err := c.Write(buf[:k]); err != nil {
				return 0, err
			}
			left -= k
		}
		if _, err := io.ReadFull(c, buf[:1]); err != nil {
			return 0, err
		}
	case 'D':
		for left := n; left > 0; {
			k, err := c.Read(buf[:min(left, int64(len(buf)))])
			left -= int64(k)
			if err != nil && left > 0 {
				return 0, err
			}
		}
	}
	return (cpuNow() - before).Seconds(), nil
}

// aeadRate seals (or opens) 16 KiB records in place for n bytes in all and
// returns MB per CPU second: the record layer's limit on one core.
func aeadRate(newAEAD func([]byte) (cipher.AEAD, error), keyN int, n int64, open bool) (float64, error) {
	aead, err := newAEAD(make([]byte, keyN))
	if err != nil {
		return 0, err
	}
	const rec = 16 << 10
	nonce := make([]byte, aead.NonceSize())
	ad := make([]byte, 13)
	buf := make([]byte, rec+aead.Overhead())
	sealed := aead.Seal(nil, nonce, buf[:rec], ad) // opened again and again
	runtime.GC()
	before := cpuNow()
	for done := int64(0); done < n; done += rec {
		if open {
			if _, err := aead.Open(buf[:0], nonce, sealed, ad); err != nil {
				return 0, err
			}
		} else {
			binary.BigEndian.PutUint64(nonce[len(nonce)-8:], uint64(done))
			binary.BigEndian.PutUint64(ad, uint64(done))
			aead.Seal(buf[:0], nonce, buf[:rec], ad)
		}
	}
	return float64(n) / 1e6 / (cpuNow() - before).Seconds(), nil
}

// measureThroughput: bulk transfer over loopback with each AEAD, MB per
// device CPU second, offloaded vs crypto/tls against the same server
// process, and the raw AEAD rate as the limit.
func measureThroughput(e *env, o *options, rep *report) error {
	rep.section("Record throughput")
	t := &table{
		title: fmt.Sprintf("Bulk transfer over loopback, %d MiB per run: MB per device CPU second (MB/s per core)", o.bulkBytes>>20),
		header: []string{"cipher", "direction", "offloaded", "crypto/tls", "ratio offloaded / crypto/tls",
			"raw AEAD, 16 KiB records (limit)"},
	}
	buf := make([]byte, 64<<10)
	for _, bc := range bulkCases {
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
			open bool
		}{{"device → server (seal)", 'U', false}, {"server → device (open)", 'D', true}} {
			for _, conn := range []net.Conn{dc, gc} { // warm up
				if _, err := bulk(conn, dir.b, 1<<20, buf); err != nil {
					return fmt.Errorf("%s: %w", bc.name, err)
				}
			}
			var off, gos, raw samples
			for r := 0; r < o.runs; r++ {
				for _, m := range []struct {
					conn net.Conn
					s    *samples
				}{{dc, &off}, {gc, &gos}} {
					secs, err := bulk(m.conn, dir.b, o.bulkBytes, buf)
					if err != nil {
						return fmt.Errorf("%s %s: %w", bc.name, dir.name, err)
					}
					*m.s = append(*m.s, float64(o.bulkBytes)/1e6/secs)
				}
				v, err := aeadRate(bc.aead, bc.keyN, o.bulkBytes, dir.open)
				if err != nil {
					return err
				}
				raw = append(raw, v)
			}
			t.rows = append(t.rows, []string{bc.name, dir.name, off.fmt(0), gos.fmt(0), off.ratio(gos).pct(), raw.fmt(0)})
			rep.goal(goalThroughput, bc.name+" "+strings.Fields(dir.name)[0]+"→"+strings.Fields(dir.name)[2], off.ratio(gos))
		}
	}
	t.notes = []string{
		"MB = 10⁶ bytes of application data; CPU = getrusage user+sys of the device process (TCP and syscalls included), so MB/s per core. The server is crypto/tls in another process, the same for both clients; 64 KiB application writes and reads.",
		"Raw AEAD: crypto/cipher AES-GCM or x/crypto chacha20poly1305 sealing (opening) 16 KiB records in place in one goroutine, no I/O: what a record layer could reach on one core.",
		"Goal: offloaded ≥ crypto/tls for both AEADs.",
	}
	rep.table(t)
	return nil
}
