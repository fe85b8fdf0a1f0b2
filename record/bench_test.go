package record

import (
	"testing"
)

// BenchmarkSealOpen seals a full 16 KiB record and opens it in place, with
// buffers reused as the Conn does: steady state allocates nothing.
func BenchmarkSealOpen(b *testing.B) {
	for _, s := range []suite{suites[0], suites[2]} {
		b.Run(s.name, func(b *testing.B) {
			w, r := s.cipher(b, 1), s.cipher(b, 1)
			pt := make([]byte, MaxPlaintext)
			buf := make([]byte, 0, HeaderLen+MaxCiphertext)
			b.SetBytes(MaxPlaintext)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				seq := uint64(i)
				buf = append(buf[:0], byte(TypeApplicationData), 3, 3, byte(MaxPlaintext>>8), byte(MaxPlaintext&0xff))
				buf = w.seal(buf, seq, buf[:HeaderLen], pt)
				if _, err := r.open(seq, buf[:HeaderLen], buf[HeaderLen:]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConnWriteRead runs 16 KiB through Write and ReadMessage of two
// Conns over an in-memory transport: the record layer's own cost per record.
func BenchmarkConnWriteRead(b *testing.B) {
	for _, s := range []suite{suites[0], suites[2]} {
		b.Run(s.name, func(b *testing.B) {
			lc := &loopConn{}
			w, r := NewConn(lc), NewConn(lc)
			w.SetVersion(0x0303)
			r.SetVersion(0x0303)
			w.setCiphers(nil, s.cipher(b, 1))
			r.setCiphers(s.cipher(b, 1), nil)
			data := make([]byte, MaxPlaintext)
			b.SetBytes(MaxPlaintext)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := w.Write(data); err != nil {
					b.Fatal(err)
				}
				if _, p, err := r.ReadMessage(); err != nil || len(p) != MaxPlaintext {
					b.Fatal(err)
				}
			}
		})
	}
}
