package handshake

import (
	"bytes"
	"testing"
)

func addSeeds(f *testing.F) {
	for _, msgs := range readTestdata(f) {
		for _, b := range msgs {
			f.Add(b)
		}
	}
	for _, tc := range sampleMessages() {
		if b := tc.msg.Marshal(); len(b) < 4096 {
			f.Add(b)
		}
	}
}

// FuzzParseMessage: no input panics; what parses marshals back to the same
// fields; SplitMessages gives back its input.
func FuzzParseMessage(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if msgs, err := SplitMessages(b); err == nil {
			if !bytes.Equal(bytes.Join(msgs, nil), b) {
				t.Fatal("SplitMessages lost bytes")
			}
		}
		m, err := parseMessage(b)
		if err != nil {
			return
		}
		if raw := m.(message); raw == nil {
			t.Fatal("nil message without an error")
		}
		reparse(t, m)
	})
}

// FuzzParseECDHEParams: no input panics; what parses marshals back to the
// same body, and SignedParams is its prefix.
func FuzzParseECDHEParams(f *testing.F) {
	for _, msgs := range readTestdata(f) {
		for _, b := range msgs {
			if b[0] == TypeServerKeyExchange {
				f.Add(b[4:])
			}
		}
	}
	f.Add((&ECDHEParams{Group: GroupP256, PublicKey: seq(65, 4), SignatureAlgorithm: SigECDSAP256SHA256, Signature: seq(70, 1)}).Marshal(VersionTLS12))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParseECDHEParams(body, VersionTLS12)
		if err != nil {
			return
		}
		if !bytes.Equal(p.Marshal(VersionTLS12), body) || !bytes.HasPrefix(body, p.SignedParams) {
			t.Fatal("ECDHE params do not marshal back to the body")
		}
	})
}

// FuzzLegacyForms fuzzes the TLS 1.0/1.1 parsers (ServerKeyExchange ECDHE
// params, CertificateRequest, CertificateVerify): no input panics, and what
// parses marshals back to the same bytes. Seeds are real TLS 1.0 bodies
// written by crypto/tls (see TestCryptoTLSLegacyKeySchedule) and our own
// marshalled messages.
func FuzzLegacyForms(f *testing.F) {
	// A TLS 1.0 ECDHE_ECDSA ServerKeyExchange body from crypto/tls (X25519).
	f.Add(unhex(f, "03001d20e235f8f170fa269d1be996a49215350f4dac17ad181b12e261e919bda1537f1c"+
		"0047304502205c077f38d1f742117d063a63569b0dab0e41249ffd6e3b00ff9c30a67e746652"+
		"022100aa9e920e6a0dd30c3abde0dd87d3076d5d1ecc5e54ac1fb41584f6e8ecffb85a"))
	f.Add((&CertificateRequest{Version: VersionTLS10, CertificateTypes: []uint8{1, 64}, CertificateAuthorities: [][]byte{[]byte("dn")}}).Marshal())
	f.Add((&CertificateVerify{Version: VersionTLS11, Signature: []byte("signature")}).Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := ParseECDHEParams(b, VersionTLS10); err == nil {
			if !bytes.Equal(p.Marshal(VersionTLS10), b) {
				t.Fatal("ECDHE params do not marshal back")
			}
		}
		cr := CertificateRequest{Version: VersionTLS11}
		if err := cr.Unmarshal(b); err == nil {
			if !bytes.Equal(cr.Marshal(), b) {
				t.Fatal("CertificateRequest does not marshal back")
			}
		}
		cv := CertificateVerify{Version: VersionTLS10}
		if err := cv.Unmarshal(b); err == nil {
			if !bytes.Equal(cv.Marshal(), b) {
				t.Fatal("CertificateVerify does not marshal back")
			}
		}
	})
}
