package handshake

import (
	"bytes"
	"crypto"
	"slices"
	"strings"
	"testing"
)

func TestSuiteTable(t *testing.T) {
	wantOrder := []uint16{
		TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		TLS_RSA_WITH_AES_128_GCM_SHA256,
		TLS_RSA_WITH_AES_256_GCM_SHA384,
	}
	// The AEAD suites come first, then the CBC ones (TestCBCSuiteTable).
	wantOrder = append(wantOrder,
		TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
		TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
		TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
		TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
		TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
		TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
		TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384,
		TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384,
		TLS_RSA_WITH_AES_128_CBC_SHA,
		TLS_RSA_WITH_AES_256_CBC_SHA,
		TLS_RSA_WITH_AES_128_CBC_SHA256,
		TLS_RSA_WITH_AES_256_CBC_SHA256,
	)
	if got := SuiteIDs(Suites); !slices.Equal(got, wantOrder) {
		t.Fatalf("order = %04x", got)
	}
	aead := Suites[:8]
	if len(cbcSuites()) != 12 || Suites[8].MACLen == 0 {
		t.Fatal("not 8 AEAD suites then 12 CBC ones")
	}
	names := map[uint16]string{
		TLS_RSA_WITH_AES_128_GCM_SHA256:               "TLS_RSA_WITH_AES_128_GCM_SHA256",
		TLS_RSA_WITH_AES_256_GCM_SHA384:               "TLS_RSA_WITH_AES_256_GCM_SHA384",
		TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:       "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
		TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:       "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
		TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:         "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
		TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:         "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
		TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:   "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
		TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	}
	for _, s := range aead {
		if SuiteByID(s.ID) != s {
			t.Errorf("SuiteByID(%04x)", s.ID)
		}
		if s.Name != names[s.ID] {
			t.Errorf("%04x: name %q", s.ID, s.Name)
		}
		wantHash := crypto.SHA256
		if strings.HasSuffix(s.Name, "SHA384") {
			wantHash = crypto.SHA384
		}
		if s.Hash != wantHash || s.MACLen != 0 || s.NewCipher == nil {
			t.Errorf("%s: hash %v mac %d", s.Name, s.Hash, s.MACLen)
		}
		chacha := strings.Contains(s.Name, "CHACHA20")
		switch {
		case chacha && (s.KeyLen != 32 || s.IVLen != 12),
			!chacha && s.IVLen != 4,
			strings.Contains(s.Name, "AES_128") && s.KeyLen != 16,
			strings.Contains(s.Name, "AES_256") && s.KeyLen != 32:
			t.Errorf("%s: key %d iv %d", s.Name, s.KeyLen, s.IVLen)
		}
		wantKX := KeyExchangeRSA
		if strings.Contains(s.Name, "ECDHE_RSA") {
			wantKX = KeyExchangeECDHERSA
		} else if strings.Contains(s.Name, "ECDHE_ECDSA") {
			wantKX = KeyExchangeECDHEECDSA
		}
		if s.KeyExchange != wantKX {
			t.Errorf("%s: key exchange %d", s.Name, s.KeyExchange)
		}
	}
	if SuiteByID(TLS_EMPTY_RENEGOTIATION_INFO_SCSV) != nil || SuiteByID(TLS_FALLBACK_SCSV) != nil || SuiteByID(0x000a) != nil {
		t.Error("SuiteByID found a suite not in the table")
	}
}

func TestKeys(t *testing.T) {
	// A CBC-shaped row checks the MAC keys come first (RFC 5246 §6.3).
	s := &Suite{MACLen: 20, KeyLen: 16, IVLen: 16}
	kb := seq(s.KeyBlockLen(), 0)
	cm, sm, ck, sk, ci, si := s.Keys(kb)
	parts := [][]byte{cm, sm, ck, sk, ci, si}
	if !bytes.Equal(bytes.Join(parts, nil), kb) {
		t.Fatal("the six keys do not tile the key block in order")
	}
	for i, want := range []int{20, 20, 16, 16, 16, 16} {
		if len(parts[i]) != want {
			t.Errorf("part %d is %d bytes", i, len(parts[i]))
		}
	}
	// AEAD: no MAC keys.
	g := SuiteByID(TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256)
	cm, sm, ck, sk, ci, si = g.Keys(seq(g.KeyBlockLen(), 0))
	if cm != nil || sm != nil || len(ck) != 32 || len(sk) != 32 || len(ci) != 12 || len(si) != 12 || ck[0] != 0 || si[0] != 76 {
		t.Errorf("chacha keys: %d %d %d %d %d %d", len(cm), len(sm), len(ck), len(sk), len(ci), len(si))
	}
	// Short key block: nothing.
	if a, b, c, d, e, f := g.Keys(seq(g.KeyBlockLen()-1, 0)); a != nil || b != nil || c != nil || d != nil || e != nil || f != nil {
		t.Error("short key block split")
	}
	// Appending to a key must not overwrite the next one.
	kb = seq(g.KeyBlockLen(), 0)
	_, _, ck, _, _, _ = g.Keys(kb)
	_ = append(ck, 0xff)
	if kb[32] != 32 {
		t.Error("append to the client key overwrote the server key")
	}
}

func TestDefaults(t *testing.T) {
	if !slices.Equal(DefaultGroups, []uint16{GroupX25519, GroupP256, GroupP384}) {
		t.Errorf("DefaultGroups = %v", DefaultGroups)
	}
	n := len(DefaultSignatureAlgorithms)
	if n != 11 || DefaultSignatureAlgorithms[0] != SigECDSAP256SHA256 ||
		DefaultSignatureAlgorithms[n-2] != SigRSAPKCS1SHA1 || DefaultSignatureAlgorithms[n-1] != SigECDSASHA1 {
		t.Errorf("DefaultSignatureAlgorithms = %04x", DefaultSignatureAlgorithms)
	}
	for _, a := range DefaultSignatureAlgorithms {
		if !SupportedSignatureAlgorithm(a) {
			t.Errorf("%04x not supported", a)
		}
	}
	if SupportedSignatureAlgorithm(SigEd25519) || SupportedSignatureAlgorithm(0) {
		t.Error("unsupported algorithm reported supported")
	}
}

// cbcSuites are the CBC rows of the table, in order.
func cbcSuites() []*Suite {
	var out []*Suite
	for _, s := range Suites {
		if s.MACLen > 0 {
			out = append(out, s)
		}
	}
	return out
}
