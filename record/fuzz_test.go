package record

import (
	"bytes"
	"testing"
)

// fuzzCiphers are the read ciphers FuzzReadMessage can install: none,
// AES-128-GCM and ChaCha20-Poly1305, all with key seed 1.
func fuzzCipher(t testing.TB, mode byte) Cipher {
	switch mode % 3 {
	case 1:
		return suites[0].cipher(t, 1)
	case 2:
		return suites[2].cipher(t, 1)
	}
	return nil
}

// FuzzReadMessage feeds arbitrary transport bytes to ReadMessage, in
// plaintext or with an AEAD installed, and checks it never panics, returns
// only well-formed units, and keeps its first error.
func FuzzReadMessage(f *testing.F) {
	// Seeds: real plaintext flights and records sealed with each cipher.
	plain := bytes.Join([][]byte{
		rec(TypeHandshake, 0x0303, append(hsMsg(2, 70), hsMsg(11, 20)...)),
		rec(TypeHandshake, 0x0303, hsMsg(12, 300)[:100]),
		rec(TypeHandshake, 0x0303, hsMsg(12, 300)[100:]),
		rec(TypeHandshake, 0x0303, hsMsg(14, 0)),
		rec(TypeChangeCipherSpec, 0x0303, []byte{1}),
	}, nil)
	f.Add(plain, byte(0), uint16(0))
	f.Add(rec(TypeAlert, 0x0301, []byte{2, 40}), byte(0), uint16(0))
	f.Add(rec(TypeAlert, 0x0303, []byte{1, 0}), byte(0), uint16(0))
	f.Add(rec(TypeHandshake, 0x0303, []byte{11, 1, 0, 1}), byte(0), uint16(0))
	f.Add(plain, byte(0), uint16(512))
	for mode := byte(1); mode < 3; mode++ {
		w := fuzzCipher(f, mode)
		in := sealed(f, w, func(c *Conn) error {
			if err := c.WriteRecords(TypeHandshake, hsMsg(20, 12)); err != nil {
				return err
			}
			if err := c.WriteRecords(TypeApplicationData, []byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
				return err
			}
			if err := c.WriteRecords(TypeApplicationData, make([]byte, 2000)); err != nil {
				return err
			}
			c.out.alert = [2]byte{1, 0}
			return c.WriteRecords(TypeAlert, c.out.alert[:])
		})
		f.Add(in, mode, uint16(0))
		f.Add(append(rec(TypeChangeCipherSpec, 0x0303, []byte{1}), in...), mode+3, uint16(0))
	}

	f.Fuzz(func(t *testing.T, data []byte, mode byte, maxFrag uint16) {
		mc := newMemConn(data)
		mc.chunk = int(mode>>4) * 7 // sometimes short transport reads
		c := NewConn(mc)
		if mode&8 != 0 {
			c.SetVersion(0x0303)
		}
		c.SetMaxFragment(int(maxFrag))
		if mode%6 >= 3 {
			c.PrepareRead(fuzzCipher(t, mode)) // seeds start with a plaintext CCS
		} else {
			c.setCiphers(fuzzCipher(t, mode), nil)
		}
		var first error
		for i := 0; i < 1000; i++ {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				first = err
				break
			}
			switch typ {
			case TypeHandshake:
				if len(msg) < 4 || len(msg)-4 != int(msg[1])<<16|int(msg[2])<<8|int(msg[3]) || len(msg)-4 > MaxHandshake {
					t.Fatalf("malformed handshake message of %d bytes", len(msg))
				}
			case TypeChangeCipherSpec:
				if !bytes.Equal(msg, []byte{1}) {
					t.Fatalf("CCS body %x", msg)
				}
			case TypeApplicationData:
				if len(msg) > c.in.maxFrag {
					t.Fatalf("application data of %d bytes over the cap %d", len(msg), c.in.maxFrag)
				}
			default:
				t.Fatalf("type %v returned", typ)
			}
		}
		if first == nil {
			return
		}
		if ae, ok := first.(*AlertError); ok && ae.Warning {
			return
		}
		if _, _, again := c.ReadMessage(); again != first {
			t.Fatalf("error not sticky: %v then %v", first, again)
		}
	})
}
