package record

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// pipeDeadline bounds the net.Pipe tests, which deadlock rather than fail
// when a cipher is broken.
const pipeDeadline = 10 * time.Second

// cbcConfig is one AES-CBC + HMAC cipher under test.
type cbcConfig struct {
	version uint16
	hash    crypto.Hash
	keyLen  int
}

func (cc cbcConfig) String() string {
	return fmt.Sprintf("TLS1.%d-AES%d-%v", cc.version-0x0301, cc.keyLen*8, cc.hash)
}

// cbcConfigs: TLS 1.0, 1.1, 1.2 × SHA-1, SHA-256, SHA-384 × AES-128, AES-256.
var cbcConfigs = func() []cbcConfig {
	var cs []cbcConfig
	for _, v := range []uint16{0x0301, 0x0302, 0x0303} {
		for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384} {
			for _, k := range []int{16, 32} {
				cs = append(cs, cbcConfig{v, h, k})
			}
		}
	}
	return cs
}()

// cbcOnePerVersion: one configuration per version, SHA-1 and AES-128 (the
// suites every peer has), plus TLS 1.2 with SHA-384 and AES-256.
var cbcOnePerVersion = []cbcConfig{
	{0x0301, crypto.SHA1, 16}, {0x0302, crypto.SHA1, 16}, {0x0303, crypto.SHA1, 16},
	{0x0303, crypto.SHA384, 32},
}

// keys returns a deterministic MAC key, key and IV for seed.
func (cc cbcConfig) keys(seed byte) (macKey, key, iv []byte) {
	macKey = make([]byte, cc.hash.Size())
	for i := range macKey {
		macKey[i] = seed*13 + byte(i)
	}
	key = make([]byte, cc.keyLen)
	for i := range key {
		key[i] = seed*31 + byte(i)
	}
	iv = make([]byte, 16)
	for i := range iv {
		iv[i] = seed*17 + 0x80 + byte(i)
	}
	return macKey, key, iv
}

func (cc cbcConfig) cipher(t testing.TB, seed byte, rand io.Reader) Cipher {
	t.Helper()
	macKey, key, iv := cc.keys(seed)
	c, err := NewCBC(cc.version, cc.hash, macKey, key, iv, rand)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// cbcSealed returns what a writer Conn at cc's version with write cipher w
// sends when f drives it.
func cbcSealed(t testing.TB, vers uint16, w Cipher, f func(c *Conn) error) []byte {
	t.Helper()
	mc := newMemConn(nil)
	c := NewConn(mc)
	c.SetVersion(vers)
	c.setCiphers(nil, w)
	if err := f(c); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	return mc.written()
}

// refBody builds a GenericBlockCipher body independently of cbc.go, with
// crypto/hmac and crypto/cipher: MAC over handAD || plaintext, then the
// given padding bytes (normally padLen+1 copies of padLen), CBC under iv,
// with iv sent first when explicit. It also returns the last ciphertext
// block, the next TLS 1.0 record's IV.
func refBody(cc cbcConfig, macKey, key, iv []byte, seq uint64, typ ContentType, pt, padding []byte) (body, next []byte) {
	m := hmac.New(cc.hash.New, macKey)
	m.Write(handAD(seq, typ, cc.version, len(pt)))
	m.Write(pt)
	plain := append(append(bytes.Clone(pt), m.Sum(nil)...), padding...)
	block, _ := aes.NewCipher(key)
	ct := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, plain)
	next = ct[len(ct)-16:]
	if cc.version >= 0x0302 {
		return append(bytes.Clone(iv), ct...), next
	}
	return ct, next
}

// padding returns RFC 5246 padding of padding_length n.
func padding(n int) []byte { return bytes.Repeat([]byte{byte(n)}, n+1) }

// cbcPipePair returns two Conns at cc's version over net.Pipe that switched
// to CBC ciphers through a real ChangeCipherSpec exchange: a writes with key
// seed 1 and b with seed 2.
func cbcPipePair(t *testing.T, cc cbcConfig) (a, b *Conn) {
	t.Helper()
	p1, p2 := net.Pipe()
	t.Cleanup(func() { p1.Close(); p2.Close() })
	// A broken cipher makes one side send an alert the other, blocked in
	// a write, never reads: the deadline turns that into a failure.
	p1.SetDeadline(time.Now().Add(pipeDeadline))
	p2.SetDeadline(time.Now().Add(pipeDeadline))
	a, b = NewConn(p1), NewConn(p2)
	a.SetVersion(cc.version)
	b.SetVersion(cc.version)
	a.PrepareWrite(cc.cipher(t, 1, nil))
	b.PrepareRead(cc.cipher(t, 1, nil))
	b.PrepareWrite(cc.cipher(t, 2, nil))
	a.PrepareRead(cc.cipher(t, 2, nil))
	for _, dir := range [][2]*Conn{{a, b}, {b, a}} {
		w, r := dir[0], dir[1]
		errc := make(chan error, 1)
		go func() {
			if err := w.WriteChangeCipherSpec(); err != nil {
				errc <- err
				return
			}
			errc <- w.Flush()
		}()
		typ, body, err := r.ReadMessage()
		if err != nil || typ != TypeChangeCipherSpec || !bytes.Equal(body, []byte{1}) {
			t.Fatalf("ReadMessage = %v %x %v, want ChangeCipherSpec", typ, body, err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	return a, b
}

// TestCBCRoundTrip sends application data one way and handshake messages
// the other over net.Pipe for every version, MAC hash and key size.
func TestCBCRoundTrip(t *testing.T) {
	for _, cc := range cbcConfigs {
		t.Run(cc.String(), func(t *testing.T) {
			a, b := cbcPipePair(t, cc)
			for _, n := range []int{1, 2, 15, 16, 100, MaxPlaintext, MaxPlaintext + 1, 70000} {
				data := make([]byte, n)
				for i := range data {
					data[i] = byte(i*13 + n)
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
						t.Fatalf("n=%d: ReadMessage = %v, %v", n, typ, err)
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
		})
	}
}

// TestCBCLayout compares two sealed records with hand-built ones: TLS 1.1+
// sends the IV read from Rand before each record, TLS 1.0 sends none and
// chains the second record's IV from the first's last ciphertext block;
// padding is minimal; the MAC covers the sequence number, type, version
// and plaintext length.
func TestCBCLayout(t *testing.T) {
	for _, cc := range cbcOnePerVersion {
		t.Run(cc.String(), func(t *testing.T) {
			macKey, key, iv := cc.keys(1)
			rnd := make([]byte, 64)
			for i := range rnd {
				rnd[i] = byte(0xc0 + i)
			}
			w, err := NewCBC(cc.version, cc.hash, macKey, key, iv, bytes.NewReader(rnd))
			if err != nil {
				t.Fatal(err)
			}
			const seq0 = 0x0102030405060708
			pts := []struct {
				typ ContentType
				pt  []byte
			}{
				{TypeHandshake, []byte("hello, RFC 5246 section 6.2.3.2")},
				{TypeAlert, []byte{1, 0}},
				{TypeHandshake, bytes.Repeat([]byte{0xaa}, 300)},
			}
			out := cbcSealed(t, cc.version, w, func(c *Conn) error {
				c.out.setSeq(seq0)
				for _, p := range pts {
					if err := c.WriteRecords(p.typ, p.pt); err != nil {
						return err
					}
				}
				return nil
			})
			types, bodies := records(t, out)
			if len(bodies) != len(pts) {
				t.Fatalf("%d records, want %d", len(bodies), len(pts))
			}
			for i, p := range pts {
				if types[i] != p.typ || binary.BigEndian.Uint16(out[1:3]) != cc.version {
					t.Fatalf("record %d: type %v version %x", i, types[i], out[1:3])
				}
				if cc.version >= 0x0302 {
					iv = rnd[16*i : 16*i+16]
				}
				padLen := 15 - (len(p.pt)+cc.hash.Size())%16 // minimal
				want, next := refBody(cc, macKey, key, iv, seq0+uint64(i), p.typ, p.pt, padding(padLen))
				if !bytes.Equal(bodies[i], want) {
					t.Fatalf("record %d differs from the hand-built one:\n got %x\nwant %x", i, bodies[i], want)
				}
				iv = next
			}
		})
	}
}

// TestCBCOpenEveryPadding reads hand-built records with every padding
// length 0..255 (not only the minimal one a sender chooses), one after
// another, so TLS 1.0's IV chains across all of them and every record's
// MAC has its own sequence number.
func TestCBCOpenEveryPadding(t *testing.T) {
	for _, cc := range cbcOnePerVersion {
		t.Run(cc.String(), func(t *testing.T) {
			macKey, key, iv := cc.keys(2)
			var in []byte
			var want [][]byte
			for padLen := 0; padLen < 256; padLen++ {
				n := 7 + (32-(7+cc.hash.Size()+padLen+1)%16)%16 // whole blocks
				pt := bytes.Repeat([]byte{byte(padLen)}, n)
				if cc.version >= 0x0302 {
					iv = bytes.Repeat([]byte{byte(padLen), 0x5a}, 8)
				}
				body, next := refBody(cc, macKey, key, iv, uint64(padLen), TypeApplicationData, pt, padding(padLen))
				iv = next
				in = append(in, rec(TypeApplicationData, cc.version, body)...)
				want = append(want, pt)
			}
			c, _ := reader(in, cc.version, cc.cipher(t, 2, nil), nil)
			for padLen, w := range want {
				_, got, err := c.ReadMessage()
				if err != nil || !bytes.Equal(got, w) {
					t.Fatalf("padding %d: got %d bytes, %v; want %d bytes", padLen, len(got), err, len(w))
				}
			}
		})
	}
}

// cbcOpenFresh opens body (sealed at seq) with a fresh read cipher, so a
// TLS 1.0 cipher starts from the key block's IV.
func cbcOpenFresh(t *testing.T, cc cbcConfig, seed byte, seq uint64, hdr, body []byte) ([]byte, error) {
	t.Helper()
	return cc.cipher(t, seed, nil).open(seq, hdr, bytes.Clone(body))
}

// TestCBCTamper: flipping any bit position of any byte of the body (IV,
// ciphertext, MAC, padding) gives the one errBadRecordMAC value; so do bad
// padding under a good MAC, padding longer than the record, a MAC computed
// for another sequence number, and bodies of the wrong length. Through a
// Conn each is the same local bad_record_mac alert.
func TestCBCTamper(t *testing.T) {
	for _, cc := range cbcOnePerVersion {
		t.Run(cc.String(), func(t *testing.T) {
			pt := []byte("attack at dawn")
			orig := cbcSealed(t, cc.version, cc.cipher(t, 1, nil), func(c *Conn) error {
				return c.WriteRecords(TypeHandshake, pt)
			})
			hdr, body := orig[:HeaderLen], orig[HeaderLen:]
			if got, err := cbcOpenFresh(t, cc, 1, 0, hdr, body); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("untampered: %q %v", got, err)
			}
			for i := range body {
				for _, bit := range []byte{0x01, 0x80} {
					b := bytes.Clone(body)
					b[i] ^= bit
					if _, err := cbcOpenFresh(t, cc, 1, 0, hdr, b); err != errBadRecordMAC {
						t.Fatalf("byte %d bit %x: err = %v, want errBadRecordMAC", i, bit, err)
					}
				}
			}
			// The header's type and version are in the MAC.
			for _, h := range [][]byte{{23, hdr[1], hdr[2]}, {22, 3, hdr[2] ^ 1}} {
				if _, err := cbcOpenFresh(t, cc, 1, 0, append(h, hdr[3:]...), body); err != errBadRecordMAC {
					t.Fatalf("header %x: err = %v", h, err)
				}
			}

			macKey, key, iv := cc.keys(1)
			ref := func(seq uint64, pt, pad []byte) []byte {
				b, _ := refBody(cc, macKey, key, iv, seq, TypeHandshake, pt, pad)
				return b
			}
			macLen := cc.hash.Size()
			fit := func(n int) []byte { return make([]byte, 16*4-macLen-n) } // plaintext filling 4 blocks with n padding bytes
			bad := map[string][]byte{
				"bad padding byte":           ref(0, fit(4), []byte{3, 7, 3, 3}),
				"bad first padding byte":     ref(0, fit(16), append([]byte{14}, padding(15)[1:]...)),
				"padding longer than body":   ref(0, fit(1), []byte{255}),
				"padding into the MAC":       ref(0, fit(1), []byte{byte(16*4 - 1 - 10)}),
				"padding eats the MAC":       ref(0, fit(1), []byte{byte(16*4 - macLen)}),
				"wrong sequence number":      ref(1, fit(4), padding(3)),
				"bad padding, good MAC":      ref(0, fit(2), []byte{0, 1}),
				"empty":                      {},
				"one byte":                   {0},
				"not whole blocks":           append(ref(0, fit(4), padding(3)), 0),
				"short by a block":           ref(0, fit(4), padding(3))[16:],
				"a block short of the least": make([]byte, 16*cc.explicit()+(macLen+1+15)/16*16-16),
			}
			if got, err := cbcOpenFresh(t, cc, 1, 0, hdr, ref(0, fit(4), padding(3))); err != nil || len(got) != len(fit(4)) {
				t.Fatalf("the reference record itself: %d bytes, %v", len(got), err)
			}
			for name, b := range bad {
				if _, err := cbcOpenFresh(t, cc, 1, 0, hdr, b); err != errBadRecordMAC {
					t.Errorf("%s: err = %v, want errBadRecordMAC", name, err)
				}
				c, mc := reader(rec(TypeHandshake, cc.version, b), cc.version, cc.cipher(t, 1, nil), nil)
				_, _, err := c.ReadMessage()
				wantLocalAlert(t, err, AlertBadRecordMAC, mc)
			}
		})
	}
}

// explicit is 1 when the version sends an explicit IV.
func (cc cbcConfig) explicit() int {
	if cc.version >= 0x0302 {
		return 1
	}
	return 0
}

// TestCBCSplit: a TLS 1.0 CBC writer sends application data 1/n−1, once
// per Write or WriteRecords, visible on the wire as an extra short first
// record; TLS 1.1 and 1.2 do not, nor does any other content type.
func TestCBCSplit(t *testing.T) {
	for _, cc := range cbcOnePerVersion[:3] {
		t.Run(cc.String(), func(t *testing.T) {
			split := cc.version == 0x0301
			short := (1 + cc.hash.Size() + 1 + 15) / 16 * 16 // the 1-byte record's body
			big := make([]byte, 10*MaxPlaintext)
			for i := range big {
				big[i] = byte(i)
			}
			M := MaxPlaintext
			for _, tc := range []struct {
				name   string
				write  func(c *Conn) error
				sizes  []int // record plaintext sizes
				split  []int // the same in TLS 1.0
				appDat bool
			}{
				{"write 100", func(c *Conn) error { _, err := c.Write(big[:100]); return err },
					[]int{100}, []int{1, 99}, true},
				{"write 1", func(c *Conn) error { _, err := c.Write(big[:1]); return err },
					[]int{1}, []int{1}, true},
				// Write sends 4 records per transport write; only the
				// first record of the Write is split.
				{"write 10 records", func(c *Conn) error { _, err := c.Write(big); return err },
					[]int{M, M, M, M, M, M, M, M, M, M}, []int{1, M, M, M, M - 1, M, M, M, M, M, M}, true},
				{"WriteRecords", func(c *Conn) error { return c.WriteRecords(TypeApplicationData, big[:50]) },
					[]int{50}, []int{1, 49}, true},
				{"handshake", func(c *Conn) error { return c.WriteRecords(TypeHandshake, hsMsg(20, 30)) },
					[]int{34}, []int{34}, false},
			} {
				out := cbcSealed(t, cc.version, cc.cipher(t, 1, nil), tc.write)
				_, bodies := records(t, out)
				want := tc.sizes
				if split {
					want = tc.split
				}
				if len(bodies) != len(want) {
					t.Fatalf("%s: %d records, want %d", tc.name, len(bodies), len(want))
				}
				if split && want[0] == 1 && len(bodies[0]) != short {
					t.Fatalf("%s: first record body %d bytes, want %d", tc.name, len(bodies[0]), short)
				}
				r, _ := reader(out, cc.version, cc.cipher(t, 1, nil), nil)
				var got []byte
				for i, n := range want {
					_, p, err := r.ReadMessage()
					if err != nil || len(p) != n {
						t.Fatalf("%s: record %d: %d bytes, %v; want %d", tc.name, i, len(p), err, n)
					}
					got = append(got, p...)
				}
				if tc.appDat && !bytes.Equal(got, big[:len(got)]) {
					t.Fatalf("%s: data differs", tc.name)
				}
			}
		})
	}
}

// TestCBCSequenceNumbers: the MAC covers the sequence number, so a record
// opens only at the number it was sealed with.
func TestCBCSequenceNumbers(t *testing.T) {
	for _, cc := range cbcOnePerVersion {
		out := cbcSealed(t, cc.version, cc.cipher(t, 1, nil), func(c *Conn) error {
			c.out.setSeq(7)
			return c.WriteRecords(TypeHandshake, []byte("seven"))
		})
		for seq, ok := range map[uint64]bool{6: false, 7: true, 8: false, 7 | 1<<32: false} {
			_, err := cbcOpenFresh(t, cc, 1, seq, out[:HeaderLen], out[HeaderLen:])
			if (err == nil) != ok {
				t.Errorf("%v: open at %d: %v", cc, seq, err)
			}
		}
	}
}

// TestCBCRandFailure: with a Rand that fails, TLS 1.1+ records still go
// out, with distinct unpredictable IVs (the sequence number encrypted
// under the record key), and open.
func TestCBCRandFailure(t *testing.T) {
	cc := cbcConfig{0x0302, crypto.SHA1, 16}
	out := cbcSealed(t, cc.version, cc.cipher(t, 1, iotestErrReader{}), func(c *Conn) error {
		for i := 0; i < 3; i++ {
			if err := c.WriteRecords(TypeApplicationData, []byte("no randomness")); err != nil {
				return err
			}
		}
		return nil
	})
	_, bodies := records(t, out)
	_, key, _ := cc.keys(1)
	block, _ := aes.NewCipher(key)
	for i, b := range bodies {
		want := make([]byte, 16)
		binary.BigEndian.PutUint64(want[8:], uint64(i))
		block.Encrypt(want, want)
		if !bytes.Equal(b[:16], want) {
			t.Fatalf("record %d: IV %x, want E_K(seq) %x", i, b[:16], want)
		}
	}
	r, _ := reader(out, cc.version, cc.cipher(t, 1, nil), nil)
	for range bodies {
		if _, p, err := r.ReadMessage(); err != nil || string(p) != "no randomness" {
			t.Fatalf("ReadMessage = %q, %v", p, err)
		}
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestNewCBCRejects(t *testing.T) {
	ok := cbcConfig{0x0301, crypto.SHA1, 16}
	macKey, key, iv := ok.keys(1)
	for _, tc := range []struct {
		name            string
		version         uint16
		h               crypto.Hash
		macKey, key, iv []byte
	}{
		{"SSL 3.0", 0x0300, crypto.SHA1, macKey, key, iv},
		{"TLS 1.3", 0x0304, crypto.SHA1, macKey, key, iv},
		{"MD5", 0x0301, crypto.MD5, make([]byte, 16), key, iv},
		{"SHA-512", 0x0303, crypto.SHA512, make([]byte, 64), key, iv},
		{"short MAC key", 0x0301, crypto.SHA1, macKey[:19], key, iv},
		{"SHA-256 with a SHA-1 key", 0x0303, crypto.SHA256, macKey, key, iv},
		{"AES-192", 0x0301, crypto.SHA1, macKey, make([]byte, 24), iv},
		{"no IV in TLS 1.0", 0x0301, crypto.SHA1, macKey, key, nil},
		{"short IV", 0x0301, crypto.SHA1, macKey, key, iv[:8]},
		{"short IV in TLS 1.2", 0x0303, crypto.SHA1, macKey, key, iv[:8]},
	} {
		if c, err := NewCBC(tc.version, tc.h, tc.macKey, tc.key, tc.iv, nil); err == nil || c != nil {
			t.Errorf("%s: got %v, %v; want an error", tc.name, c, err)
		}
	}
	// TLS 1.1+ ignores the key block IV, present or not.
	for _, iv := range [][]byte{nil, iv} {
		if _, err := NewCBC(0x0302, crypto.SHA1, macKey, key, iv, nil); err != nil {
			t.Errorf("TLS 1.1 with IV %x: %v", iv, err)
		}
	}
	for _, cc := range cbcConfigs {
		if got, want := cc.cipher(t, 1, nil).Overhead(), 16*cc.explicit()+cc.hash.Size()+256; got != want {
			t.Errorf("%v: Overhead() = %d, want %d", cc, got, want)
		}
	}
}

// TestCBCPaddingCheck compares cbcPadding with the obvious branching
// check for every padding length byte in records of many lengths.
func TestCBCPaddingCheck(t *testing.T) {
	for _, macLen := range []int{20, 32, 48} {
		for _, size := range []int{48, 64, 256, 272, 512} {
			for padLen := 0; padLen < 256; padLen++ {
				for _, corrupt := range []int{-1, 0, 1, padLen / 2, padLen} {
					p := make([]byte, size)
					for i := range p {
						p[i] = byte(i * 7)
					}
					fits := padLen+1+macLen <= size
					if fits {
						copy(p[size-padLen-1:], padding(padLen))
					} else {
						p[size-1] = byte(padLen)
					}
					if corrupt >= 0 && corrupt < padLen && fits {
						p[size-1-padLen+corrupt] ^= 0x10 // one padding byte wrong
					}
					wantGood := fits && !(corrupt >= 0 && corrupt < padLen)
					remove, good := cbcPadding(p, macLen)
					if (good == 1) != wantGood || wantGood && remove != padLen+1 || !wantGood && (good != 0 || remove != 1) {
						t.Fatalf("mac %d size %d pad %d corrupt %d: remove %d good %d", macLen, size, padLen, corrupt, remove, good)
					}
				}
			}
		}
	}
}

// TestCBCCopyMAC: the constant-time copy finds the MAC at every position
// it can have.
func TestCBCCopyMAC(t *testing.T) {
	for _, cc := range []cbcConfig{{0x0303, crypto.SHA1, 16}, {0x0303, crypto.SHA384, 16}} {
		c := cc.cipher(t, 1, nil).(*cbc)
		for _, size := range []int{cc.hash.Size() + 1, 64, 300, 1024} {
			p := make([]byte, size)
			for i := range p {
				p[i] = byte(i*31 + 7)
			}
			for remove := 1; remove <= min(256, size-c.macLen); remove++ {
				n := size - c.macLen - remove
				c.copyMAC(p, n)
				if !bytes.Equal(c.recvMAC[:c.macLen], p[n:n+c.macLen]) {
					t.Fatalf("%v size %d remove %d: copied %x, want %x", cc, size, remove, c.recvMAC[:c.macLen], p[n:n+c.macLen])
				}
			}
		}
	}
}

// TestCBCHashFiller: for every plaintext length a record could carry, the
// HMAC's inner hash runs as many compressions (counted here the long way,
// from how SHA-1, SHA-256 and SHA-384 pad) as for the longest.
func TestCBCHashFiller(t *testing.T) {
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384} {
		c := cbcConfig{0x0303, h, 16}.cipher(t, 1, nil).(*cbc)
		block, lenField := 64, 8
		if h == crypto.SHA384 {
			block, lenField = 128, 16
		}
		count := func(msgLen, filler int) int {
			writes := msgLen / block
			final := 1
			if msgLen%block+1+lenField > block {
				final = 2
			}
			return writes + final + (msgLen%block+filler)/block
		}
		for size := 32; size <= 16*1100; size += 16 {
			nMax := size - c.macLen - 1
			if nMax < 0 {
				continue
			}
			want := count(aeadADLen+nMax, 0)
			for n := max(0, nMax-255); n <= nMax; n++ {
				f := c.hashFiller(n, nMax)
				if f < 0 || f > len(c.zeros) {
					t.Fatalf("%v: filler %d for n=%d", h, f, n)
				}
				if got := count(aeadADLen+n, f); got != want {
					t.Fatalf("%v size %d n %d: %d compressions, want %d", h, size, n, got, want)
				}
			}
		}
	}
}

// FuzzReadMessageCBC feeds arbitrary bytes to ReadMessage with a CBC read
// cipher of each version (mode selects version, hash and key size) and
// checks it never panics, returns only well-formed units and keeps its
// first error.
func FuzzReadMessageCBC(f *testing.F) {
	for i, cc := range cbcConfigs {
		if i%2 == 1 && cc.hash != crypto.SHA384 {
			continue
		}
		in := cbcSealed(f, cc.version, cc.cipher(f, 1, nil), func(c *Conn) error {
			if err := c.WriteRecords(TypeHandshake, hsMsg(20, 12)); err != nil {
				return err
			}
			if _, err := c.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
				return err
			}
			if err := c.WriteRecords(TypeApplicationData, make([]byte, 2000)); err != nil {
				return err
			}
			c.out.alert = [2]byte{1, 0}
			return c.WriteRecords(TypeAlert, c.out.alert[:])
		})
		f.Add(in, byte(i))
	}
	f.Fuzz(func(t *testing.T, data []byte, mode byte) {
		cc := cbcConfigs[int(mode)%len(cbcConfigs)]
		mc := newMemConn(data)
		mc.chunk = int(mode>>5) * 5
		c := NewConn(mc)
		c.SetVersion(cc.version)
		c.setCiphers(cc.cipher(t, 1, nil), nil)
		var first error
		for i := 0; i < 1000; i++ {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				first = err
				break
			}
			switch typ {
			case TypeHandshake:
				if len(msg) < 4 || len(msg)-4 != int(msg[1])<<16|int(msg[2])<<8|int(msg[3]) {
					t.Fatalf("malformed handshake message of %d bytes", len(msg))
				}
			case TypeApplicationData:
				if len(msg) > MaxPlaintext {
					t.Fatalf("application data of %d bytes", len(msg))
				}
			case TypeChangeCipherSpec:
				t.Fatal("CCS with nothing prepared")
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

// BenchmarkCBCSealOpen seals a full 16 KiB record and opens it in place
// with buffers reused as the Conn does: steady state allocates nothing.
func BenchmarkCBCSealOpen(b *testing.B) {
	for _, cc := range []cbcConfig{{0x0301, crypto.SHA1, 16}, {0x0303, crypto.SHA1, 16}, {0x0303, crypto.SHA256, 16}, {0x0303, crypto.SHA384, 32}} {
		b.Run(cc.String(), func(b *testing.B) {
			w, r := cc.cipher(b, 1, nil), cc.cipher(b, 1, nil)
			pt := make([]byte, MaxPlaintext)
			buf := make([]byte, 0, HeaderLen+MaxCiphertext)
			b.SetBytes(MaxPlaintext)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				seq := uint64(i)
				buf = append(buf[:0], byte(TypeApplicationData), byte(cc.version>>8), byte(cc.version), byte(MaxPlaintext>>8), byte(MaxPlaintext&0xff))
				buf = w.seal(buf, seq, buf[:HeaderLen], pt)
				if _, err := r.open(seq, buf[:HeaderLen], buf[HeaderLen:]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCBCConnWriteRead runs 16 KiB through Write and ReadMessage of
// two Conns over an in-memory transport with CBC, TLS 1.0's 1/n−1 split
// included: steady state allocates nothing.
func BenchmarkCBCConnWriteRead(b *testing.B) {
	for _, cc := range []cbcConfig{{0x0301, crypto.SHA1, 16}, {0x0303, crypto.SHA256, 16}} {
		b.Run(cc.String(), func(b *testing.B) {
			lc := &loopConn{}
			w, r := NewConn(lc), NewConn(lc)
			w.SetVersion(cc.version)
			r.SetVersion(cc.version)
			w.setCiphers(nil, cc.cipher(b, 1, nil))
			r.setCiphers(cc.cipher(b, 1, nil), nil)
			data := make([]byte, MaxPlaintext)
			b.SetBytes(MaxPlaintext)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := w.Write(data); err != nil {
					b.Fatal(err)
				}
				for n := 0; n < len(data); {
					_, p, err := r.ReadMessage()
					if err != nil {
						b.Fatal(err)
					}
					n += len(p)
				}
			}
		})
	}
}
