package handshake

import (
	"bytes"
	"testing"
)

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
	f.Add((&CertificateRequest{CertificateTypes: []uint8{1, 64}, CertificateAuthorities: [][]byte{[]byte("dn")}}).MarshalVersion(VersionTLS10))
	f.Add((&CertificateVerify{Signature: []byte("signature")}).MarshalVersion(VersionTLS11))
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := ParseECDHEParamsVersion(b, VersionTLS10); err == nil {
			if !bytes.Equal(p.MarshalVersion(VersionTLS10), b) {
				t.Fatal("ECDHE params do not marshal back")
			}
		}
		var cr CertificateRequest
		if err := cr.UnmarshalVersion(b, VersionTLS11); err == nil {
			if !bytes.Equal(cr.MarshalVersion(VersionTLS11), b) {
				t.Fatal("CertificateRequest does not marshal back")
			}
		}
		var cv CertificateVerify
		if err := cv.UnmarshalVersion(b, VersionTLS10); err == nil {
			if !bytes.Equal(cv.MarshalVersion(VersionTLS10), b) {
				t.Fatal("CertificateVerify does not marshal back")
			}
		}
	})
}
