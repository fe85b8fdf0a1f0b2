package handshake

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The TLS 1.2 PRF test vectors published on the IETF TLS list (Joseph
// Birr-Pixton, 2012), used by many implementations' test suites.
var prfVectors = []struct {
	hash         crypto.Hash
	secret, seed string
	label        string
	out          string
}{
	{
		hash:   crypto.SHA256,
		secret: "9bbe436ba940f017b17652849a71db35",
		seed:   "a0ba9f936cda311827a6f796ffd5198c",
		label:  "test label",
		out: "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a" +
			"6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab" +
			"4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701" +
			"87347b66",
	},
	{
		hash:   crypto.SHA384,
		secret: "b80b733d6ceefcdc71566ea48e5567df",
		seed:   "cd665cf6a8447dd6ff8b27555edb7465",
		label:  "test label",
		out: "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cd" +
			"e9ca0faa60be9fe34f82b1233c9146a0e534cb400fed2700884f9dc236f80edd" +
			"8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d918425" +
			"9b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee6" +
			"91c8f3a26854308d5eaa3be85e0990703d73e56f",
	},
}

func TestPRF12Vectors(t *testing.T) {
	for _, v := range prfVectors {
		prf := prf12(v.hash)
		want := unhex(t, v.out)
		got := make([]byte, len(want))
		prf(got, unhex(t, v.secret), v.label, unhex(t, v.seed))
		if !bytes.Equal(got, want) {
			t.Errorf("%v: prf12 =\n%x\nwant\n%x", v.hash, got, want)
		}
		// Every output length is a prefix of the longer output.
		for _, n := range []int{0, 1, 31, 32, 33, 48} {
			short := make([]byte, n)
			prf(short, unhex(t, v.secret), v.label, unhex(t, v.seed))
			if !bytes.Equal(short, want[:n]) {
				t.Errorf("%v: %d-byte output is not a prefix", v.hash, n)
			}
		}
	}
}

// refPRF is the PRF of RFC 5246 §5 written out independently: A(i) chain
// and HMAC(secret, A(i) || label || seed) blocks.
func refPRF(h func() hash.Hash, secret []byte, label string, seed []byte, n int) []byte {
	ls := append([]byte(label), seed...)
	hm := func(data ...[]byte) []byte {
		m := hmac.New(h, secret)
		for _, d := range data {
			m.Write(d)
		}
		return m.Sum(nil)
	}
	var out []byte
	for a := hm(ls); len(out) < n; a = hm(a) {
		out = append(out, hm(a, ls)...)
	}
	return out[:n]
}

// MasterSecret, ExtendedMasterSecret, KeyBlock and FinishedVerifyData use the
// right labels, seeds (and seed order) and lengths in TLS 1.2 (the TLS
// 1.0/1.1 PRF: TestPRFForVersion, TestCryptoTLSLegacyKeySchedule).
func TestDerivations(t *testing.T) {
	pre := seq(48, 3)
	cr, sr := seq(32, 1), seq(32, 101)
	master := seq(48, 200)
	th := seq(32, 77)
	for _, s := range Suites {
		h := s.Hash.New
		if got, want := s.MasterSecret(VersionTLS12, pre, cr, sr), refPRF(h, pre, "master secret", append(append([]byte(nil), cr...), sr...), 48); !bytes.Equal(got, want) {
			t.Errorf("%s: MasterSecret", s.Name)
		}
		if got, want := s.ExtendedMasterSecret(VersionTLS12, pre, th), refPRF(h, pre, "extended master secret", th, 48); !bytes.Equal(got, want) {
			t.Errorf("%s: ExtendedMasterSecret", s.Name)
		}
		kb := s.KeyBlock(VersionTLS12, master, cr, sr)
		if want := refPRF(h, master, "key expansion", append(append([]byte(nil), sr...), cr...), s.KeyBlockLen()); !bytes.Equal(kb, want) {
			t.Errorf("%s: KeyBlock", s.Name)
		}
		if got, want := s.FinishedVerifyData(VersionTLS12, master, true, th), refPRF(h, master, "client finished", th, 12); !bytes.Equal(got, want) {
			t.Errorf("%s: client Finished", s.Name)
		}
		if got, want := s.FinishedVerifyData(VersionTLS12, master, false, th), refPRF(h, master, "server finished", th, 12); !bytes.Equal(got, want) {
			t.Errorf("%s: server Finished", s.Name)
		}
	}
}

func TestTranscript(t *testing.T) {
	msgs := [][]byte{seq(100, 1), seq(7, 2), seq(300, 3), seq(1, 4)}
	var all []byte
	for _, m := range msgs {
		all = append(all, m...)
	}
	for _, s := range []*Suite{SuiteByID(TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256), SuiteByID(TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384)} {
		var tr Transcript
		if tr.Sum() != nil {
			t.Error("Sum before SetSuite is not nil")
		}
		tr.Write(msgs[0])
		tr.Write(msgs[1])
		tr.SetSuite(s, VersionTLS12)
		h := s.Hash.New()
		h.Write(all[:107])
		if got := tr.Sum(); !bytes.Equal(got, h.Sum(nil)) {
			t.Errorf("%s: Sum after SetSuite", s.Name)
		}
		// Sum twice does not disturb the state.
		tr.Sum()
		tr.Write(msgs[2])
		tr.SetSuite(SuiteByID(TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256), VersionTLS12) // ignored
		tr.Write(msgs[3])
		h = s.Hash.New()
		h.Write(all)
		if got := tr.Sum(); !bytes.Equal(got, h.Sum(nil)) {
			t.Errorf("%s: Sum at the end", s.Name)
		}
	}
}

func TestTranscriptSHA256Known(t *testing.T) {
	var tr Transcript
	tr.Write([]byte("abc"))
	tr.SetSuite(SuiteByID(TLS_RSA_WITH_AES_128_GCM_SHA256), VersionTLS12)
	want := sha256.Sum256([]byte("abc"))
	if !bytes.Equal(tr.Sum(), want[:]) {
		t.Error("transcript of \"abc\" is not SHA-256(\"abc\")")
	}
}

// The stack PRF (pHashStack) agrees with HMAC's P_hash (refPRF) for
// SHA-256 and SHA-384 at every secret length around the block (the longest
// take crypto/hmac's path) and input lengths up to its limit and beyond.
func TestPRF12StackAgreesWithHMAC(t *testing.T) {
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384} {
		block := h.New().BlockSize()
		for _, sl := range []int{0, 1, 32, 48, block - 1, block, block + 1, 2*block + 3} {
			for _, seedLen := range []int{0, 12, 32, 64, maxStackPRFInput - h.Size() - 22, maxStackPRFInput} {
				secret, seed := seq(sl, byte(sl)), seq(seedLen, 9)
				for _, n := range []int{0, 12, 48, 104, 200} {
					got := make([]byte, n)
					prf12(h)(got, secret, "extended master secret", seed)
					if want := refPRF(h.New, secret, "extended master secret", seed, n); !bytes.Equal(got, want) {
						t.Fatalf("%v secret %d seed %d out %d:\n%x\nwant\n%x", h, sl, seedLen, n, got, want)
					}
				}
			}
		}
	}
}

// Finished's verify_data costs one allocation (its 12 bytes), the
// transcript hash one (its sum): the PRF itself allocates nothing for a
// TLS 1.2 suite.
func TestFinishedAllocations(t *testing.T) {
	for _, s := range Suites {
		var tr Transcript
		tr.Write(seq(300, 1))
		tr.SetSuite(s, VersionTLS12)
		master := seq(48, 2)
		if n := testing.AllocsPerRun(50, func() { s.FinishedVerifyData(VersionTLS12, master, true, nil) }); n > 1 {
			t.Errorf("%s: FinishedVerifyData: %v allocations, want 1", s.Name, n)
		}
		if n := testing.AllocsPerRun(50, func() { tr.Sum() }); n > 1 {
			t.Errorf("%s: Transcript.Sum: %v allocations, want 1", s.Name, n)
		}
	}
}

// BenchmarkFinishedPRF: the 12-byte verify_data's PRF over SHA-256, on the
// stack path and on crypto/hmac's (the path before issue 12 item 4).
func BenchmarkFinishedPRF(b *testing.B) {
	master, th, out := seq(48, 1), seq(32, 2), make([]byte, VerifyDataLen)
	b.Run("path=stack", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			prf12(crypto.SHA256)(out, master, labelClientFinished, th)
		}
	})
	b.Run("path=hmac", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			pHash(crypto.SHA256.New, out, master, append([]byte(labelClientFinished), th...))
		}
	})
}
