package hmac

import (
	"bytes"
	stdhkdf "crypto/hkdf"
	stdhmac "crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"math/rand/v2"
	"testing"
)

var hashes = []struct {
	name string
	new  func() hash.Hash
}{
	{"MD5", md5.New},
	{"SHA-1", sha1.New},
	{"SHA-256", sha256.New},
	{"SHA-384", sha512.New384},
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The test cases of RFC 2202 (HMAC-MD5, HMAC-SHA-1) and RFC 4231
// (HMAC-SHA-256, HMAC-SHA-384) for a short key, a key shorter than the
// hash, and a key longer than the block (hashed first).
func TestRFCVectors(t *testing.T) {
	const large = "Test Using Larger Than Block-Size Key - Hash Key First"
	for _, c := range []struct {
		name      string
		h         func() hash.Hash
		key, data []byte
		want      string
	}{
		{"RFC 2202 MD5 1", md5.New, bytes.Repeat([]byte{0x0b}, 16), []byte("Hi There"), "9294727a3638bb1c13f48ef8158bfc9d"},
		{"RFC 2202 MD5 2", md5.New, []byte("Jefe"), []byte("what do ya want for nothing?"), "750c783e6ab0b503eaa86e310a5db738"},
		{"RFC 2202 MD5 6", md5.New, bytes.Repeat([]byte{0xaa}, 80), []byte(large), "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"},
		{"RFC 2202 SHA-1 1", sha1.New, bytes.Repeat([]byte{0x0b}, 20), []byte("Hi There"), "b617318655057264e28bc0b6fb378c8ef146be00"},
		{"RFC 2202 SHA-1 2", sha1.New, []byte("Jefe"), []byte("what do ya want for nothing?"), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
		{"RFC 2202 SHA-1 6", sha1.New, bytes.Repeat([]byte{0xaa}, 80), []byte(large), "aa4ae5e15272d00e95705637ce8a3b55ed402112"},
		{"RFC 4231 SHA-256 1", sha256.New, bytes.Repeat([]byte{0x0b}, 20), []byte("Hi There"), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
		{"RFC 4231 SHA-256 2", sha256.New, []byte("Jefe"), []byte("what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{"RFC 4231 SHA-256 6", sha256.New, bytes.Repeat([]byte{0xaa}, 131), []byte(large), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
		{"RFC 4231 SHA-384 1", sha512.New384, bytes.Repeat([]byte{0x0b}, 20), []byte("Hi There"), "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6"},
		{"RFC 4231 SHA-384 2", sha512.New384, []byte("Jefe"), []byte("what do ya want for nothing?"), "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"},
		{"RFC 4231 SHA-384 6", sha512.New384, bytes.Repeat([]byte{0xaa}, 131), []byte(large), "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952"},
	} {
		m := New(c.h, c.key)
		m.Write(c.data)
		if got := hex.EncodeToString(m.Sum(nil)); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
		// The same after a Reset (which saves the padded states) and
		// again after a second one (which restores them).
		for i := range 2 {
			m.Reset()
			m.Write(c.data)
			if got := hex.EncodeToString(m.Sum(nil)); got != c.want {
				t.Errorf("%s after %d Resets: got %s, want %s", c.name, i+1, got, c.want)
			}
		}
	}
}

// TestLikeCryptoHMAC runs this HMAC and crypto/hmac side by side over
// random keys (empty, short, a block, longer) and messages, through the
// calls the device makes: Write in pieces, Sum appending to a prefix, Write
// after Sum (record's CBC filler), Reset.
func TestLikeCryptoHMAC(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	bytesOf := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		return b
	}
	for _, h := range hashes {
		for _, keyLen := range []int{0, 1, 16, 20, 32, 48, 63, 64, 65, 127, 128, 129, 300} {
			key := bytesOf(keyLen)
			ours, theirs := New(h.new, key), stdhmac.New(h.new, key)
			if ours.Size() != theirs.Size() || ours.BlockSize() != theirs.BlockSize() {
				t.Fatalf("%s: sizes %d/%d, crypto/hmac's %d/%d", h.name, ours.Size(), ours.BlockSize(), theirs.Size(), theirs.BlockSize())
			}
			for round := range 4 {
				for range 1 + rnd.IntN(3) {
					p := bytesOf(rnd.IntN(200))
					ours.Write(p)
					theirs.Write(p)
				}
				prefix := bytesOf(rnd.IntN(5))
				got, want := ours.Sum(bytes.Clone(prefix)), theirs.Sum(bytes.Clone(prefix))
				if !bytes.Equal(got, want) {
					t.Fatalf("%s key %d round %d: got %x, crypto/hmac %x", h.name, keyLen, round, got, want)
				}
				if round%2 == 0 {
					ours.Reset()
					theirs.Reset()
				}
			}
		}
	}
}

// The test cases of RFC 5869 appendix A for SHA-256 (1: salt and info; 3:
// neither), and this HKDF against crypto/hkdf for other lengths.
func TestHKDF(t *testing.T) {
	for _, c := range []struct {
		name             string
		ikm, salt, info  string
		length           int
		wantPRK, wantOKM string
	}{
		{"RFC 5869 A.1", "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "000102030405060708090a0b0c", "f0f1f2f3f4f5f6f7f8f9", 42,
			"077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
			"3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
		{"RFC 5869 A.3", "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", "", 42,
			"19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
			"8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
	} {
		prk := Extract(sha256.New, unhex(t, c.ikm), unhex(t, c.salt))
		if got := hex.EncodeToString(prk); got != c.wantPRK {
			t.Errorf("%s: PRK %s, want %s", c.name, got, c.wantPRK)
		}
		okm := make([]byte, c.length)
		if err := Expand(sha256.New, prk, unhex(t, c.info), okm); err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(okm); got != c.wantOKM {
			t.Errorf("%s: OKM %s, want %s", c.name, got, c.wantOKM)
		}
	}
	for _, n := range []int{1, 12, 31, 32, 33, 64, 100, 255 * 32} {
		secret, salt, info := []byte("secret"), []byte("salt"), []byte("info")
		prk := Extract(sha256.New, secret, salt)
		wantPRK, err := stdhkdf.Extract(sha256.New, secret, salt)
		if err != nil || !bytes.Equal(prk, wantPRK) {
			t.Fatalf("Extract %x, crypto/hkdf %x (%v)", prk, wantPRK, err)
		}
		got := make([]byte, n)
		if err := Expand(sha256.New, prk, info, got); err != nil {
			t.Fatal(err)
		}
		want, err := stdhkdf.Expand(sha256.New, prk, string(info), n)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("Expand %d bytes differs from crypto/hkdf's (%v)", n, err)
		}
	}
}

// More than 255 hash lengths is refused, nothing written.
func TestHKDFTooLong(t *testing.T) {
	out := make([]byte, 255*32+1)
	if err := Expand(sha256.New, make([]byte, 32), nil, out); err == nil {
		t.Fatal("Expand of 255 SHA-256 lengths + 1 byte succeeded")
	}
	if !bytes.Equal(out, make([]byte, len(out))) {
		t.Error("Expand wrote into out before refusing")
	}
}

func TestEqual(t *testing.T) {
	if !Equal([]byte("abc"), []byte("abc")) || Equal([]byte("abc"), []byte("abd")) || Equal([]byte("abc"), []byte("ab")) {
		t.Error("Equal is wrong")
	}
}

// BenchmarkPHash is P_SHA256 for a 48-byte output (the PRF's shape: one
// key, a Reset per block), side by side with crypto/hmac.
func BenchmarkPHash(b *testing.B) {
	key, seed := make([]byte, 48), make([]byte, 77)
	for _, impl := range []struct {
		name string
		new  func(func() hash.Hash, []byte) hash.Hash
	}{
		{"internal", func(h func() hash.Hash, k []byte) hash.Hash { return New(h, k) }},
		{"crypto-hmac", stdhmac.New},
	} {
		b.Run(impl.name, func(b *testing.B) {
			b.ReportAllocs()
			out := make([]byte, 48)
			for b.Loop() {
				m := impl.new(sha256.New, key)
				m.Write(seed)
				a := m.Sum(nil)
				for n := 0; n < len(out); {
					m.Reset()
					m.Write(a)
					m.Write(seed)
					n += copy(out[n:], m.Sum(nil))
					m.Reset()
					m.Write(a)
					a = m.Sum(a[:0])
				}
			}
		})
	}
}
