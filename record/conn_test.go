package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestRoundTrip sends application data and handshake messages from one Conn
// to another over net.Pipe with each AEAD, after a real CCS exchange.
func TestRoundTrip(t *testing.T) {
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			a, b := pipePair(t, s)
			for _, n := range []int{1, 100, MaxPlaintext, MaxPlaintext + 1, 70000} {
				data := make([]byte, n)
				for i := range data {
					data[i] = byte(i * 13)
				}
				errc := make(chan error, 1)
				go func() {
					m, err := a.Write(data)
					if err == nil && m != n {
						err = errors.New("short write")
					}
					errc <- err
				}()
				var got []byte
				for len(got) < n {
					typ, p, err := b.ReadMessage()
					if err != nil || typ != TypeApplicationData {
						t.Fatalf("ReadMessage = %v, %v", typ, err)
					}
					if len(p) > MaxPlaintext {
						t.Fatalf("record of %d bytes", len(p))
					}
					got = append(got, p...)
				}
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("n=%d: data differs", n)
				}
			}
			// Handshake messages the other way, two in one WriteRecords.
			m1, m2 := hsMsg(20, 12), hsMsg(4, 20000)
			go func() {
				_ = b.WriteRecords(TypeHandshake, append(bytes.Clone(m1), m2...))
				_ = b.Flush()
			}()
			for _, want := range [][]byte{m1, m2} {
				typ, got, err := a.ReadMessage()
				if err != nil || typ != TypeHandshake || !bytes.Equal(got, want) {
					t.Fatalf("ReadMessage = %v %d bytes %v", typ, len(got), err)
				}
			}
			if a.in.getSeq() != 2 || b.out.getSeq() != 2 {
				t.Fatalf("sequence numbers %d/%d after two records, want 2", a.in.getSeq(), b.out.getSeq())
			}
		})
	}
}

// TestTamper flips every byte of a sealed record's body (explicit nonce,
// ciphertext, tag) and the header's type and version: each is the one
// bad_record_mac failure, which the peer then receives, sealed.
func TestTamper(t *testing.T) {
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			orig := sealed(t, s.cipher(t, 1), func(c *Conn) error {
				return c.WriteRecords(TypeApplicationData, []byte("attack at dawn"))
			})
			positions := []int{0, 2} // type 23 -> 22, version 0303 -> 0302 (reader has no version yet)
			for i := HeaderLen; i < len(orig); i++ {
				positions = append(positions, i)
			}
			for _, i := range positions {
				in := bytes.Clone(orig)
				switch i {
				case 0:
					in[0] = byte(TypeHandshake)
				case 2:
					in[2] = 2
				default:
					in[i] ^= 0x40
				}
				c, mc := reader(in, 0, s.cipher(t, 1), s.cipher(t, 2))
				_, _, err := c.ReadMessage()
				var ae *AlertError
				if !errors.As(err, &ae) || ae.Alert != AlertBadRecordMAC || ae.Remote {
					t.Fatalf("byte %d: err = %v, want local bad_record_mac", i, err)
				}
				if err.Error() != "record: local error: tls: bad record MAC" {
					t.Fatalf("byte %d: message %q", i, err)
				}
				// The peer, holding the reader's write key, gets the alert.
				peer, _ := reader(mc.written(), 0, s.cipher(t, 2), nil)
				_, _, err = peer.ReadMessage()
				if !errors.As(err, &ae) || ae.Alert != AlertBadRecordMAC || !ae.Remote {
					t.Fatalf("byte %d: peer got %v, want remote bad_record_mac", i, err)
				}
			}
			// Untampered, the same record opens.
			c, _ := reader(orig, 0x0303, s.cipher(t, 1), nil)
			if _, p, err := c.ReadMessage(); err != nil || string(p) != "attack at dawn" {
				t.Fatalf("untampered: %q %v", p, err)
			}
			// A body shorter than the cipher's overhead: same failure.
			c, mc := reader(rec(TypeApplicationData, 0x0303, []byte{1, 2, 3}), 0x0303, s.cipher(t, 1), nil)
			_, _, err := c.ReadMessage()
			wantLocalAlert(t, err, AlertBadRecordMAC, mc)
		})
	}
}

// TestSequenceNumbers: each record advances the sequence number, CCS
// restarts it at zero, and a reader out of step fails.
func TestSequenceNumbers(t *testing.T) {
	s := suites[0]
	out := sealed(t, s.cipher(t, 1), func(c *Conn) error {
		for i := 0; i < 3; i++ {
			if err := c.WriteRecords(TypeHandshake, hsMsg(byte(i), 1)); err != nil {
				return err
			}
		}
		c.PrepareWrite(s.cipher(t, 5))
		if err := c.WriteChangeCipherSpec(); err != nil {
			return err
		}
		if c.out.getSeq() != 0 {
			t.Errorf("write seq after CCS = %d", c.out.getSeq())
		}
		return c.WriteRecords(TypeHandshake, hsMsg(20, 12))
	})
	var nonces []uint64
	for p := out; len(p) > 0; {
		n := int(binary.BigEndian.Uint16(p[3:5]))
		nonces = append(nonces, binary.BigEndian.Uint64(p[5:13]))
		p = p[5+n:]
	}
	if want := []uint64{0, 1, 2, 3, 0}; !slices.Equal(nonces, want) {
		t.Fatalf("explicit nonces %v, want %v", nonces, want)
	}

	c, _ := reader(out, 0x0303, s.cipher(t, 1), nil)
	c.PrepareRead(s.cipher(t, 5))
	for i := 0; i < 3; i++ {
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
		if c.in.getSeq() != uint64(i+1) {
			t.Fatalf("read seq %d after %d records", c.in.getSeq(), i+1)
		}
	}
	if typ, _, err := c.ReadMessage(); err != nil || typ != TypeChangeCipherSpec || c.in.getSeq() != 0 {
		t.Fatalf("CCS: %v %v seq %d", typ, err, c.in.getSeq())
	}
	if typ, _, err := c.ReadMessage(); err != nil || typ != TypeHandshake || c.in.getSeq() != 1 {
		t.Fatalf("after CCS: %v %v seq %d", typ, err, c.in.getSeq())
	}

	// Skipping a record (reading the second with seq 0) fails the MAC.
	first := int(binary.BigEndian.Uint16(out[3:5])) + 5
	c, mc := reader(out[first:], 0x0303, s.cipher(t, 1), nil)
	_, _, err := c.ReadMessage()
	wantLocalAlert(t, err, AlertBadRecordMAC, mc)
}

// TestSequenceNoWrap: 2^64-2 is the last sequence number used; the record
// after it is refused on both sides, before any sealing or opening.
func TestSequenceNoWrap(t *testing.T) {
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			mc := newMemConn(nil)
			w := NewConn(mc)
			w.SetVersion(0x0303)
			w.setCiphers(nil, s.cipher(t, 1))
			w.out.setSeq(math.MaxUint64 - 1)
			if err := w.WriteRecords(TypeApplicationData, []byte("last")); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			last := mc.written()
			if err := w.WriteRecords(TypeApplicationData, []byte("wrapped")); err != errWriteSeqExhaust {
				t.Fatalf("write at 2^64-1: %v", err)
			}
			if _, err := w.Write([]byte("x")); err != errWriteSeqExhaust {
				t.Fatalf("write after exhaustion not sticky: %v", err)
			}
			if !bytes.Equal(mc.written(), last) {
				t.Fatal("a record was sent after exhaustion")
			}

			// The reader opens the last record, then refuses the next
			// one (the same bytes again) with internal_error rather
			// than trying it.
			c, rmc := reader(append(bytes.Clone(last), last...), 0x0303, s.cipher(t, 1), nil)
			c.in.setSeq(math.MaxUint64 - 1)
			if _, p, err := c.ReadMessage(); err != nil || string(p) != "last" {
				t.Fatalf("last record: %q %v", p, err)
			}
			_, _, err := c.ReadMessage()
			wantLocalAlert(t, err, AlertInternalError, rmc)
		})
	}
}

// readAll reads handshake messages from in until EOF.
func readAll(t *testing.T, c *Conn) [][]byte {
	t.Helper()
	var msgs [][]byte
	for {
		typ, m, err := c.ReadMessage()
		if err == io.EOF {
			return msgs
		}
		if err != nil {
			t.Fatalf("ReadMessage: %v", err)
		}
		if typ != TypeHandshake {
			t.Fatalf("type %v", typ)
		}
		msgs = append(msgs, bytes.Clone(m))
	}
}

func TestHandshakeReassembly(t *testing.T) {
	m1, m2, m3 := hsMsg(2, 70), hsMsg(14, 0), hsMsg(11, 300)
	all := bytes.Join([][]byte{m1, m2, m3}, nil)
	for _, tc := range []struct {
		name  string
		cuts  []int // record boundaries in all
		chunk int
	}{
		{"one record", nil, 0},
		{"one record, byte-at-a-time transport", nil, 1},
		{"m3 across 3 records", []int{74 + 4, 74 + 4 + 100, 74 + 4 + 200}, 0},
		{"split inside headers", []int{2, 76, 77, 79, 80}, 0},
		{"every byte its own record", seq(1, len(all)), 0},
		{"every byte its own record, 1-byte reads", seq(1, len(all)), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in []byte
			prev := 0
			for _, cut := range append(tc.cuts, len(all)) {
				in = append(in, rec(TypeHandshake, 0x0303, all[prev:cut])...)
				prev = cut
			}
			c, mc := reader(in, 0, nil, nil)
			mc.chunk = tc.chunk
			msgs := readAll(t, c)
			if len(msgs) != 3 || !bytes.Equal(msgs[0], m1) || !bytes.Equal(msgs[1], m2) || !bytes.Equal(msgs[2], m3) {
				t.Fatalf("got %d messages, want m1 m2 m3", len(msgs))
			}
		})
	}
}

func seq(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

// TestHandshakeTooLarge: a message longer than MaxHandshake is refused on
// its header, before its body is buffered.
func TestHandshakeTooLarge(t *testing.T) {
	big := []byte{11, 0x01, 0x00, 0x01} // 65537 bytes
	for name, in := range map[string][]byte{
		"whole header": rec(TypeHandshake, 0x0303, append(bytes.Clone(big), 1, 2, 3)),
		"split header": append(rec(TypeHandshake, 0x0303, big[:2]), rec(TypeHandshake, 0x0303, big[2:])...),
	} {
		t.Run(name, func(t *testing.T) {
			c, mc := reader(in, 0, nil, nil)
			_, _, err := c.ReadMessage()
			wantLocalAlert(t, err, AlertDecodeError, mc)
			if cap(c.in.hs) > 16 {
				t.Fatalf("reassembly buffer grew to %d", cap(c.in.hs))
			}
		})
	}
	// MaxHandshake itself is accepted.
	m := hsMsg(11, MaxHandshake)
	var in []byte
	for p := m; len(p) > 0; p = p[min(len(p), MaxPlaintext):] {
		in = append(in, rec(TypeHandshake, 0x0303, p[:min(len(p), MaxPlaintext)])...)
	}
	c, _ := reader(in, 0, nil, nil)
	if msgs := readAll(t, c); len(msgs) != 1 || !bytes.Equal(msgs[0], m) {
		t.Fatal("MaxHandshake message not reassembled")
	}
}

// TestInterleaved: anything but handshake inside a partial handshake
// message is unexpected_message.
func TestInterleaved(t *testing.T) {
	s := suites[0]
	partial := rec(TypeHandshake, 0x0303, hsMsg(20, 12)[:6])
	for name, next := range map[string][]byte{
		"ccs":     rec(TypeChangeCipherSpec, 0x0303, []byte{1}),
		"warning": rec(TypeAlert, 0x0303, []byte{1, byte(AlertUserCanceled)}),
	} {
		t.Run(name, func(t *testing.T) {
			c, mc := reader(append(bytes.Clone(partial), next...), 0, nil, nil)
			c.PrepareRead(s.cipher(t, 1))
			_, _, err := c.ReadMessage()
			wantLocalAlert(t, err, AlertUnexpectedMessage, mc)
		})
	}
	t.Run("application data", func(t *testing.T) {
		in := sealed(t, s.cipher(t, 1), func(c *Conn) error {
			if err := c.WriteRecords(TypeHandshake, hsMsg(20, 12)[:6]); err != nil {
				return err
			}
			return c.WriteRecords(TypeApplicationData, []byte("x"))
		})
		c, mc := reader(in, 0x0303, s.cipher(t, 1), nil)
		_, _, err := c.ReadMessage()
		wantLocalAlert(t, err, AlertUnexpectedMessage, mc)
	})
}

// TestMalformedRecords covers the RFC's framing rules, each before the
// body is read where the header alone decides.
func TestMalformedRecords(t *testing.T) {
	s := suites[0]
	hdr := func(typ ContentType, vers uint16, n int) []byte {
		return []byte{byte(typ), byte(vers >> 8), byte(vers), byte(n >> 8), byte(n)}
	}
	for _, tc := range []struct {
		name     string
		in       []byte // for header-only cases, the body is not there at all
		vers     uint16
		cipher   bool
		maxFrag  int
		prepared bool
		want     Alert
	}{
		{"plaintext over MaxPlaintext", hdr(TypeHandshake, 0x0303, MaxPlaintext+1), 0, false, 0, false, AlertRecordOverflow},
		{"over MaxCiphertext", hdr(TypeApplicationData, 0x0303, MaxCiphertext+1), 0x0303, true, 0, false, AlertRecordOverflow},
		{"ciphertext over MaxPlaintext+overhead", hdr(TypeApplicationData, 0x0303, MaxPlaintext+24+1), 0x0303, true, 0, false, AlertRecordOverflow},
		{"length 0xffff", hdr(TypeHandshake, 0x0303, 0xffff), 0, false, 0, false, AlertRecordOverflow},
		{"over max fragment", hdr(TypeHandshake, 0x0303, 513), 0, false, 512, false, AlertRecordOverflow},
		{"ciphertext over max fragment", hdr(TypeApplicationData, 0x0303, 512+24+1), 0x0303, true, 512, false, AlertRecordOverflow},
		{"wrong version", hdr(TypeHandshake, 0x0302, 10), 0x0303, false, 0, false, AlertProtocolVersion},
		{"not 3.x before SetVersion", hdr(TypeHandshake, 0x0203, 10), 0, false, 0, false, AlertProtocolVersion},
		{"unknown type", hdr(24, 0x0303, 10), 0, false, 0, false, AlertUnexpectedMessage},
		{"type 0", hdr(0, 0x0303, 10), 0, false, 0, false, AlertUnexpectedMessage},
		{"empty handshake", rec(TypeHandshake, 0x0303, nil), 0, false, 0, false, AlertUnexpectedMessage},
		{"empty alert", rec(TypeAlert, 0x0303, nil), 0, false, 0, false, AlertDecodeError},
		{"1-byte alert", rec(TypeAlert, 0x0303, []byte{2}), 0, false, 0, false, AlertDecodeError},
		{"3-byte alert", rec(TypeAlert, 0x0303, []byte{2, 40, 0}), 0, false, 0, false, AlertDecodeError},
		{"alert level 3", rec(TypeAlert, 0x0303, []byte{3, 40}), 0, false, 0, false, AlertIllegalParameter},
		{"ccs not prepared", rec(TypeChangeCipherSpec, 0x0303, []byte{1}), 0, false, 0, false, AlertUnexpectedMessage},
		{"empty ccs", rec(TypeChangeCipherSpec, 0x0303, nil), 0, false, 0, true, AlertUnexpectedMessage},
		{"ccs body 2", rec(TypeChangeCipherSpec, 0x0303, []byte{2}), 0, false, 0, true, AlertUnexpectedMessage},
		{"ccs body 1 1", rec(TypeChangeCipherSpec, 0x0303, []byte{1, 1}), 0, false, 0, true, AlertUnexpectedMessage},
		{"plaintext application data", rec(TypeApplicationData, 0x0303, []byte("GET /")), 0, false, 0, false, AlertUnexpectedMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Cipher
			if tc.cipher {
				r = s.cipher(t, 1)
			}
			c, mc := reader(tc.in, tc.vers, r, nil)
			if tc.maxFrag != 0 {
				c.SetMaxFragment(tc.maxFrag)
			}
			if tc.prepared {
				c.PrepareRead(s.cipher(t, 1))
			}
			_, _, err := c.ReadMessage()
			wantLocalAlert(t, err, tc.want, mc)
			if _, _, again := c.ReadMessage(); again != err {
				t.Fatalf("second ReadMessage = %v, want the sticky %v", again, err)
			}
		})
	}
}

func TestVersionsBeforeSetVersion(t *testing.T) {
	for _, v := range []uint16{0x0300, 0x0301, 0x0303, 0x03ff} {
		c, _ := reader(rec(TypeHandshake, v, hsMsg(2, 3)), 0, nil, nil)
		if _, _, err := c.ReadMessage(); err != nil {
			t.Errorf("version %04x: %v", v, err)
		}
	}
	// Writes say 0x0301 until SetVersion, then the version set.
	mc := newMemConn(nil)
	c := NewConn(mc)
	_ = c.WriteRecords(TypeHandshake, hsMsg(1, 2))
	c.SetVersion(0x0303)
	_ = c.WriteRecords(TypeHandshake, hsMsg(1, 2))
	_ = c.Flush()
	w := mc.written()
	if w[1] != 3 || w[2] != 1 || w[12] != 3 || w[13] != 3 {
		t.Fatalf("record versions %x %x, want 0301 then 0303", w[1:3], w[12:14])
	}
}

// TestChangeCipherSpec: the prepared cipher takes effect for the very next
// record, whose sequence number is 0.
func TestChangeCipherSpec(t *testing.T) {
	s := suites[2]
	fin := hsMsg(20, 12)
	in := sealed(t, nil, func(c *Conn) error {
		c.PrepareWrite(s.cipher(t, 1))
		if err := c.WriteRecords(TypeHandshake, hsMsg(16, 33)); err != nil {
			return err
		}
		if err := c.WriteChangeCipherSpec(); err != nil {
			return err
		}
		return c.WriteRecords(TypeHandshake, fin)
	})
	c, _ := reader(in, 0x0303, nil, nil)
	c.PrepareRead(s.cipher(t, 1))
	for i, want := range []ContentType{TypeHandshake, TypeChangeCipherSpec, TypeHandshake} {
		typ, m, err := c.ReadMessage()
		if err != nil || typ != want {
			t.Fatalf("message %d: %v %v, want %v", i, typ, err, want)
		}
		if i == 2 && !bytes.Equal(m, fin) {
			t.Fatal("Finished differs")
		}
	}
	// A second CCS finds nothing prepared.
	c, mc := reader(append(rec(TypeChangeCipherSpec, 0x0303, []byte{1}), rec(TypeChangeCipherSpec, 0x0303, []byte{1})...), 0, nil, nil)
	c.PrepareRead(s.cipher(t, 1))
	if _, _, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.ReadMessage()
	wantLocalAlert(t, err, AlertBadRecordMAC, mc) // the second CCS is read as ciphertext now
	// Writing CCS with nothing prepared is refused, and is not sticky.
	wc := NewConn(newMemConn(nil))
	if err := wc.WriteChangeCipherSpec(); err != errNoPreparedWrite {
		t.Fatalf("WriteChangeCipherSpec = %v", err)
	}
	if err := wc.WriteRecords(TypeHandshake, hsMsg(1, 1)); err != nil {
		t.Fatal(err)
	}
}

func TestAlertsReceived(t *testing.T) {
	s := suites[0]
	alert := func(level byte, a Alert) []byte { return rec(TypeAlert, 0x0303, []byte{level, byte(a)}) }

	t.Run("close_notify", func(t *testing.T) {
		c, mc := reader(append(alert(1, AlertCloseNotify), rec(TypeHandshake, 0x0303, hsMsg(1, 1))...), 0, nil, nil)
		for i := 0; i < 2; i++ {
			if _, _, err := c.ReadMessage(); err != io.EOF {
				t.Fatalf("call %d: %v, want io.EOF", i, err)
			}
		}
		if len(mc.written()) != 0 {
			t.Fatal("an alert was sent back")
		}
	})
	t.Run("fatal", func(t *testing.T) {
		c, mc := reader(alert(2, AlertHandshakeFailure), 0, nil, nil)
		_, _, err := c.ReadMessage()
		var ae *AlertError
		if !errors.As(err, &ae) || !ae.Remote || ae.Warning || ae.Alert != AlertHandshakeFailure {
			t.Fatalf("err = %#v", err)
		}
		if err.Error() != "record: remote error: tls: handshake failure" {
			t.Fatalf("message %q", err)
		}
		if _, _, again := c.ReadMessage(); again != err {
			t.Fatal("remote fatal alert not sticky")
		}
		if len(mc.written()) != 0 {
			t.Fatal("an alert was sent back")
		}
	})
	t.Run("warnings", func(t *testing.T) {
		in := bytes.Join([][]byte{
			alert(1, AlertUserCanceled),
			alert(1, AlertNoRenegotiation),
			rec(TypeHandshake, 0x0303, hsMsg(2, 5)),
		}, nil)
		c, _ := reader(in, 0, nil, nil)
		_, _, err := c.ReadMessage()
		var ae *AlertError
		if !errors.As(err, &ae) || !ae.Remote || !ae.Warning || ae.Alert != AlertNoRenegotiation {
			t.Fatalf("err = %v, want the no_renegotiation warning", err)
		}
		if typ, _, err := c.ReadMessage(); err != nil || typ != TypeHandshake {
			t.Fatalf("after the warning: %v %v", typ, err)
		}
	})
	t.Run("too many warnings", func(t *testing.T) {
		var in []byte
		for i := 0; i < maxUselessRecords; i++ {
			in = append(in, alert(1, AlertUserCanceled)...)
		}
		c, _ := reader(append(bytes.Clone(in), rec(TypeHandshake, 0x0303, hsMsg(2, 5))...), 0, nil, nil)
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatalf("%d warnings then a message: %v", maxUselessRecords, err)
		}
		c, mc := reader(append(in, alert(1, AlertUserCanceled)...), 0, nil, nil)
		_, _, err := c.ReadMessage()
		wantLocalAlert(t, err, AlertUnexpectedMessage, mc)
	})
	t.Run("too many empty records", func(t *testing.T) {
		in := sealed(t, s.cipher(t, 1), func(c *Conn) error {
			for i := 0; i <= maxUselessRecords; i++ {
				c.out.buf = append(c.out.buf, 23, 3, 3, 0, 0)
				c.out.buf = c.out.cipher.seal(c.out.buf, c.out.seq, c.out.buf[len(c.out.buf)-5:], nil)
				binary.BigEndian.PutUint16(c.out.buf[len(c.out.buf)-24-2:], 24)
				c.out.seq++
			}
			return nil
		})
		c, _ := reader(in, 0x0303, s.cipher(t, 1), nil)
		for i := 0; i < maxUselessRecords; i++ {
			if typ, p, err := c.ReadMessage(); err != nil || typ != TypeApplicationData || len(p) != 0 {
				t.Fatalf("empty record %d: %v %d %v", i, typ, len(p), err)
			}
		}
		_, _, err := c.ReadMessage()
		var ae *AlertError
		if !errors.As(err, &ae) || ae.Alert != AlertUnexpectedMessage || ae.Remote {
			t.Fatalf("record %d: %v", maxUselessRecords+1, err)
		}
	})
}

func TestTransportEOF(t *testing.T) {
	c, _ := reader(nil, 0, nil, nil)
	if _, _, err := c.ReadMessage(); err != io.EOF {
		t.Fatalf("empty transport: %v", err)
	}
	c, _ = reader(rec(TypeHandshake, 0x0303, hsMsg(1, 10))[:9], 0, nil, nil)
	if _, _, err := c.ReadMessage(); err != io.ErrUnexpectedEOF {
		t.Fatalf("truncated record: %v", err)
	}
}

// TestStickyRead: after a failure nothing more is read or returned.
func TestStickyRead(t *testing.T) {
	s := suites[0]
	good := sealed(t, s.cipher(t, 1), func(c *Conn) error {
		return c.WriteRecords(TypeApplicationData, []byte("ok"))
	})
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 1
	c, mc := reader(append(bad, good...), 0x0303, s.cipher(t, 1), nil)
	_, _, err := c.ReadMessage()
	wantLocalAlert(t, err, AlertBadRecordMAC, mc)
	for i := 0; i < 3; i++ {
		if _, _, again := c.ReadMessage(); again != err {
			t.Fatalf("call %d: %v", i, again)
		}
	}
	if len(mc.written()) != HeaderLen+2 {
		t.Fatal("alert sent more than once")
	}
}

// TestStickyWrite: a fatal alert or a transport failure ends the write side.
func TestStickyWrite(t *testing.T) {
	s := suites[0]
	t.Run("fatal alert", func(t *testing.T) {
		mc := newMemConn(nil)
		c := NewConn(mc)
		c.setCiphers(nil, s.cipher(t, 1))
		if err := c.SendAlert(AlertHandshakeFailure); err != nil {
			t.Fatal(err)
		}
		w := mc.written()
		if len(w) != 5+8+2+16 || w[0] != byte(TypeAlert) {
			t.Fatalf("alert record %x", w)
		}
		_, werr := c.Write([]byte("x"))
		var ae *AlertError
		if !errors.As(werr, &ae) || ae.Remote || ae.Alert != AlertHandshakeFailure {
			t.Fatalf("Write after fatal alert: %v", werr)
		}
		for _, err := range []error{c.WriteRecords(TypeHandshake, []byte{1}), c.Flush(), c.SendAlert(AlertCloseNotify), c.WriteChangeCipherSpec()} {
			if err != werr {
				t.Fatalf("got %v, want the sticky %v", err, werr)
			}
		}
		if !bytes.Equal(mc.written(), w) {
			t.Fatal("bytes written after the fatal alert")
		}
	})
	t.Run("close_notify", func(t *testing.T) {
		mc := newMemConn(nil)
		c := NewConn(mc)
		c.setCiphers(nil, s.cipher(t, 1))
		if err := c.SendAlert(AlertCloseNotify); err != nil {
			t.Fatal(err)
		}
		// The peer reads it as a warning-level close_notify: io.EOF.
		peer, _ := reader(mc.written(), 0, s.cipher(t, 1), nil)
		if _, _, err := peer.ReadMessage(); err != io.EOF {
			t.Fatalf("peer: %v", err)
		}
		if _, err := c.Write([]byte("x")); err != errCloseNotifySent {
			t.Fatalf("Write after close_notify: %v", err)
		}
	})
	t.Run("transport", func(t *testing.T) {
		mc := newMemConn(nil)
		boom := errors.New("boom")
		mc.writeErr = boom
		c := NewConn(mc)
		c.setCiphers(nil, s.cipher(t, 1))
		n, err := c.Write([]byte("hello"))
		if n != 0 || !errors.Is(err, boom) {
			t.Fatalf("Write = %d, %v", n, err)
		}
		mc.writeErr = nil
		if _, again := c.Write([]byte("hello")); again != err {
			t.Fatalf("second Write: %v", again)
		}
		if mc.writes != 1 || len(mc.written()) != 0 {
			t.Fatalf("transport written %d times after failing", mc.writes)
		}
	})
	t.Run("plaintext application data", func(t *testing.T) {
		mc := newMemConn(nil)
		c := NewConn(mc)
		if _, err := c.Write([]byte("secret")); err != errPlaintextAppData {
			t.Fatalf("Write without cipher: %v", err)
		}
		if err := c.WriteRecords(TypeApplicationData, []byte("secret")); err != errPlaintextAppData {
			t.Fatalf("WriteRecords without cipher: %v", err)
		}
		if err := c.WriteRecords(99, []byte("x")); err != errBadContentType {
			t.Fatalf("WriteRecords(99): %v", err)
		}
		if err := c.Flush(); err != nil || len(mc.written()) != 0 {
			t.Fatalf("Flush: %v, %d bytes", err, len(mc.written()))
		}
	})
}

// records splits a byte stream into record bodies.
func records(t *testing.T, p []byte) (types []ContentType, bodies [][]byte) {
	t.Helper()
	for len(p) > 0 {
		if len(p) < HeaderLen {
			t.Fatalf("%d trailing bytes", len(p))
		}
		n := int(binary.BigEndian.Uint16(p[3:5]))
		types = append(types, ContentType(p[0]))
		bodies = append(bodies, p[HeaderLen:HeaderLen+n])
		p = p[HeaderLen+n:]
	}
	return types, bodies
}

func TestLargeWriteFragmented(t *testing.T) {
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			data := bytes.Repeat([]byte("0123456789abcdef"), (3*MaxPlaintext+100)/16+1)[:3*MaxPlaintext+100]
			mc := newMemConn(nil)
			c := NewConn(mc)
			c.SetVersion(0x0303)
			c.setCiphers(nil, s.cipher(t, 1))
			if n, err := c.Write(data); n != len(data) || err != nil {
				t.Fatalf("Write = %d, %v", n, err)
			}
			if mc.writes != 1 {
				t.Fatalf("%d transport writes, want 1", mc.writes)
			}
			oh := c.out.cipher.Overhead()
			_, bodies := records(t, mc.written())
			var sizes []int
			for _, b := range bodies {
				sizes = append(sizes, len(b)-oh)
			}
			if len(sizes) != 4 || sizes[0] != MaxPlaintext || sizes[1] != MaxPlaintext || sizes[2] != MaxPlaintext || sizes[3] != 100 {
				t.Fatalf("record plaintext sizes %v", sizes)
			}
			r, _ := reader(mc.written(), 0x0303, s.cipher(t, 1), nil)
			var got []byte
			for range sizes {
				_, p, err := r.ReadMessage()
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, p...)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("data differs")
			}
		})
	}
	// A Write far larger than a flight is sent in bounded pieces.
	mc := newMemConn(nil)
	c := NewConn(mc)
	c.setCiphers(nil, suites[0].cipher(t, 1))
	data := make([]byte, 10*MaxPlaintext)
	if n, err := c.Write(data); n != len(data) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if _, bodies := records(t, mc.written()); len(bodies) != 10 || mc.writes != 3 {
		t.Fatalf("%d records in %d writes, want 10 in 3", len(bodies), mc.writes)
	}
}

// TestMaxFragment: SetMaxFragment(512) caps records written and read.
func TestMaxFragment(t *testing.T) {
	s := suites[2]
	mc := newMemConn(nil)
	w := NewConn(mc)
	w.SetMaxFragment(512)
	msg := hsMsg(11, 1496)
	if err := w.WriteRecords(TypeHandshake, msg); err != nil {
		t.Fatal(err)
	}
	w.setCiphers(nil, s.cipher(t, 1))
	if _, err := w.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	types, bodies := records(t, mc.written())
	var sizes []int
	for i, b := range bodies {
		if types[i] == TypeApplicationData {
			sizes = append(sizes, len(b)-16)
		} else {
			sizes = append(sizes, len(b))
		}
	}
	if want := []int{512, 512, 476, 512, 488}; len(sizes) != len(want) || sizes[0] != 512 || sizes[2] != 476 || sizes[3] != 512 || sizes[4] != 488 {
		t.Fatalf("record sizes %v, want %v", sizes, want)
	}

	// The reader with the same cap takes those records ...
	r, _ := reader(mc.written(), 0, nil, nil)
	r.SetMaxFragment(512)
	if typ, m, err := r.ReadMessage(); err != nil || typ != TypeHandshake || !bytes.Equal(m, msg) {
		t.Fatalf("reassembly under the cap: %v %v", typ, err)
	}
	// ... and refuses one sealed with 513 bytes of plaintext.
	in := sealed(t, s.cipher(t, 1), func(c *Conn) error {
		return c.WriteRecords(TypeApplicationData, make([]byte, 513))
	})
	r, rmc := reader(in, 0x0303, s.cipher(t, 1), nil)
	r.SetMaxFragment(512)
	_, _, err := r.ReadMessage()
	wantLocalAlert(t, err, AlertRecordOverflow, rmc)
	// 0 and out-of-range values restore MaxPlaintext.
	r.SetMaxFragment(0)
	if r.in.maxFrag != MaxPlaintext || r.out.maxFrag != MaxPlaintext {
		t.Fatal("SetMaxFragment(0) did not restore MaxPlaintext")
	}
}

// TestConcurrentReadWrite runs a reader and a writer on each end at once.
func TestConcurrentReadWrite(t *testing.T) {
	a, b := pipePair(t, suites[0])
	const n = 50
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	for _, pair := range [][2]*Conn{{a, b}, {b, a}} {
		w, r := pair[0], pair[1]
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				msg := bytes.Repeat([]byte{byte(i)}, 1000+i)
				if _, err := w.Write(msg); err != nil {
					errc <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				_, p, err := r.ReadMessage()
				if err != nil {
					errc <- err
					return
				}
				if len(p) != 1000+i || p[0] != byte(i) {
					errc <- errors.New("message out of order")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

// TestReadTimeoutResumes: a read timeout is not sticky, and a record cut by
// the deadline is completed by the next call.
func TestReadTimeoutResumes(t *testing.T) {
	s := suites[0]
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	c := NewConn(p1)
	c.SetVersion(0x0303)
	c.setCiphers(s.cipher(t, 1), nil)
	in := sealed(t, s.cipher(t, 1), func(c *Conn) error {
		return c.WriteRecords(TypeApplicationData, []byte("resumed"))
	})
	more := make(chan struct{})
	go func() {
		p2.Write(in[:10])
		<-more
		p2.Write(in[10:])
	}()
	p1.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, _, err := c.ReadMessage()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a timeout", err)
	}
	p1.SetReadDeadline(time.Time{})
	close(more)
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "resumed" {
		t.Fatalf("after the timeout: %q %v", p, err)
	}
}

// TestWriteTimeoutSticky: a write that timed out may have sent part of a
// record, so the write side stays dead.
func TestWriteTimeoutSticky(t *testing.T) {
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	c := NewConn(p1)
	c.setCiphers(nil, suites[0].cipher(t, 1))
	p1.SetWriteDeadline(time.Now().Add(-time.Second))
	_, err := c.Write([]byte("x"))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("a sticky write error reports Timeout() true")
	}
	p1.SetWriteDeadline(time.Time{})
	if _, again := c.Write([]byte("x")); again != err {
		t.Fatalf("second Write: %v", again)
	}
}

// TestLocalAlertOverPipe: the alert for a local failure reaches the peer
// over a real pipe before ReadMessage returns.
func TestLocalAlertOverPipe(t *testing.T) {
	s := suites[2]
	a, b := pipePair(t, s)
	go func() {
		// Garbage in place of a sealed record, straight onto the wire.
		a.NetConn().Write(rec(TypeApplicationData, 0x0303, make([]byte, 40)))
	}()
	done := make(chan error, 1)
	go func() {
		_, _, err := a.ReadMessage()
		done <- err
	}()
	_, _, err := b.ReadMessage()
	wantLocalAlert(t, err, AlertBadRecordMAC, nil)
	err = <-done
	var ae *AlertError
	if !errors.As(err, &ae) || !ae.Remote || ae.Alert != AlertBadRecordMAC {
		t.Fatalf("peer got %v", err)
	}
}
