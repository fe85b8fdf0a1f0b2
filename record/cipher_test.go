package record

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

// handAD builds RFC 5246 §6.2.3.3's additional data independently of buildAD.
func handAD(seq uint64, typ ContentType, vers uint16, n int) []byte {
	ad := binary.BigEndian.AppendUint64(nil, seq)
	ad = append(ad, byte(typ))
	ad = binary.BigEndian.AppendUint16(ad, vers)
	return binary.BigEndian.AppendUint16(ad, uint16(n))
}

// TestGCMLayout checks RFC 5288 §3 on the wire: the explicit nonce is the
// sequence number, the nonce is salt || explicit, and the sealed body equals
// a hand-built crypto/cipher seal over the RFC 5246 additional data.
func TestGCMLayout(t *testing.T) {
	for _, s := range suites[:2] {
		t.Run(s.name, func(t *testing.T) {
			key, salt := s.keys(1)
			w, err := NewAESGCM(key, salt)
			if err != nil {
				t.Fatal(err)
			}
			const seq0 = 0x0102030405060708
			pts := [][]byte{[]byte("hello, RFC 5288"), {}, bytes.Repeat([]byte{0xaa}, 300)}
			out := sealed(t, w, func(c *Conn) error {
				c.out.setSeq(seq0)
				for _, pt := range pts {
					if len(pt) == 0 {
						continue // an empty WriteRecords writes nothing
					}
					if err := c.WriteRecords(TypeApplicationData, pt); err != nil {
						return err
					}
				}
				return nil
			})
			block, _ := aes.NewCipher(key)
			gcm, _ := cipher.NewGCM(block)
			seq := uint64(seq0)
			for _, pt := range pts {
				if len(pt) == 0 {
					continue
				}
				n := int(binary.BigEndian.Uint16(out[3:5]))
				if out[0] != byte(TypeApplicationData) || out[1] != 3 || out[2] != 3 || n != 8+len(pt)+16 {
					t.Fatalf("header %x, want 17 0303 %04x", out[:5], 8+len(pt)+16)
				}
				body := out[5 : 5+n]
				if got := binary.BigEndian.Uint64(body[:8]); got != seq {
					t.Fatalf("explicit nonce %x, want the sequence number %x", got, seq)
				}
				nonce := append(bytes.Clone(salt), body[:8]...)
				want := gcm.Seal(nil, nonce, pt, handAD(seq, TypeApplicationData, 0x0303, len(pt)))
				if !bytes.Equal(body[8:], want) {
					t.Fatalf("sealed body differs from the hand-built seal")
				}
				out = out[5+n:]
				seq++
			}
			if len(out) != 0 {
				t.Fatalf("%d bytes left over", len(out))
			}
		})
	}
}

// TestChaChaLayout checks RFC 7905 §2: no explicit nonce, nonce = IV XOR
// the left-padded sequence number, same additional data.
func TestChaChaLayout(t *testing.T) {
	s := suites[2]
	key, iv := s.keys(1)
	w, err := NewChaCha20Poly1305(key, iv)
	if err != nil {
		t.Fatal(err)
	}
	const seq = 0xfedcba9876543210
	pt := []byte("hello, RFC 7905")
	out := sealed(t, w, func(c *Conn) error {
		c.out.setSeq(seq)
		return c.WriteRecords(TypeHandshake, pt)
	})
	if len(out) != 5+len(pt)+16 || binary.BigEndian.Uint16(out[3:5]) != uint16(len(pt)+16) {
		t.Fatalf("record %x: want no explicit nonce", out)
	}
	nonce := bytes.Clone(iv)
	var padded [12]byte
	binary.BigEndian.PutUint64(padded[4:], seq)
	for i := range nonce {
		nonce[i] ^= padded[i]
	}
	aead, _ := chacha20poly1305.New(key)
	want := aead.Seal(nil, nonce, pt, handAD(seq, TypeHandshake, 0x0303, len(pt)))
	if !bytes.Equal(out[5:], want) {
		t.Fatal("sealed body differs from the hand-built seal")
	}
}

// TestOpenHandBuilt reads records sealed by crypto/cipher directly, so the
// open path is checked against an independent implementation too; the
// peer's explicit GCM nonce need not equal the sequence number.
func TestOpenHandBuilt(t *testing.T) {
	key, salt := suites[0].keys(3)
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	var in []byte
	for seq, pt := range []string{"first", "second"} {
		explicit := []byte{9, 9, 9, 9, 9, 9, 9, byte(seq)} // not the sequence number
		nonce := append(bytes.Clone(salt), explicit...)
		body := append(explicit, gcm.Seal(nil, nonce, []byte(pt), handAD(uint64(seq), TypeApplicationData, 0x0303, len(pt)))...)
		in = append(in, rec(TypeApplicationData, 0x0303, body)...)
	}
	r, err := NewAESGCM(key, salt)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := reader(in, 0x0303, r, nil)
	for _, want := range []string{"first", "second"} {
		typ, got, err := c.ReadMessage()
		if err != nil || typ != TypeApplicationData || string(got) != want {
			t.Fatalf("ReadMessage = %v %q %v, want %q", typ, got, err, want)
		}
	}
}

func TestNewCipherRejectsBadSizes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		f       func(key, iv []byte) (Cipher, error)
		key, iv int
	}{
		{"gcm key 24", NewAESGCM, 24, 4},
		{"gcm key 15", NewAESGCM, 15, 4},
		{"gcm iv 12", NewAESGCM, 16, 12},
		{"chacha key 16", NewChaCha20Poly1305, 16, 12},
		{"chacha iv 4", NewChaCha20Poly1305, 32, 4},
	} {
		if c, err := tc.f(make([]byte, tc.key), make([]byte, tc.iv)); err == nil || c != nil {
			t.Errorf("%s: got %v, %v; want an error", tc.name, c, err)
		}
	}
	for _, s := range suites {
		if c := s.cipher(t, 0); c.Overhead() != map[int]int{4: 24, 12: 16}[s.ivLen] {
			t.Errorf("%s: Overhead() = %d", s.name, c.Overhead())
		}
	}
}

// TestOpenShortBody: a body shorter than the overhead is the same generic
// failure as a wrong tag.
func TestOpenShortBody(t *testing.T) {
	for _, s := range suites {
		c := s.cipher(t, 1)
		hdr := []byte{23, 3, 3, 0, 0}
		for n := 0; n < c.Overhead(); n++ {
			if _, err := c.open(0, hdr, make([]byte, n)); err != errBadRecordMAC {
				t.Fatalf("%s: open(%d bytes) = %v, want errBadRecordMAC", s.name, n, err)
			}
		}
	}
}
