package certs_test

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

func leafWithUsage(t *testing.T, kt testpki.KeyType, ku x509.KeyUsage) *x509.Certificate {
	t.Helper()
	c, err := testpki.Build(now, testpki.Spec{LeafKey: kt, IntermediateKey: testpki.ECDSAP256, RootKey: testpki.ECDSAP256,
		Leaf: func(x *x509.Certificate) { x.KeyUsage = ku }})
	if err != nil {
		t.Fatal(err)
	}
	return c.Leaf
}

// The key usage a leaf allows is bound to what its key does: signing the
// ServerKeyExchange needs digitalSignature, RSA key exchange
// keyEncipherment.
func TestCheckKeyUsage(t *testing.T) {
	const (
		ds = x509.KeyUsageDigitalSignature
		ke = x509.KeyUsageKeyEncipherment
		nr = x509.KeyUsageContentCommitment // nonRepudiation
		ka = x509.KeyUsageKeyAgreement
	)
	cases := []struct {
		name string
		kt   testpki.KeyType
		ku   x509.KeyUsage
		kx   certs.KeyExchange
		want certs.Rule // RuleNone: accepted
	}{
		{"RSA digitalSignature+keyEncipherment, ECDHE", testpki.RSA2048, ds | ke, certs.KeyExchangeSigned, certs.RuleNone},
		{"RSA digitalSignature+keyEncipherment, RSA kx", testpki.RSA2048, ds | ke, certs.KeyExchangeRSA, certs.RuleNone},
		{"RSA no keyUsage, ECDHE", testpki.RSA2048, 0, certs.KeyExchangeSigned, certs.RuleNone},
		{"RSA no keyUsage, RSA kx", testpki.RSA2048, 0, certs.KeyExchangeRSA, certs.RuleNone},
		{"RSA keyEncipherment only, ECDHE", testpki.RSA2048, ke, certs.KeyExchangeSigned, certs.RuleDigitalSignature},
		{"RSA keyEncipherment only, RSA kx", testpki.RSA2048, ke, certs.KeyExchangeRSA, certs.RuleNone},
		{"RSA digitalSignature only, RSA kx", testpki.RSA2048, ds, certs.KeyExchangeRSA, certs.RuleKeyEncipherment},
		{"RSA digitalSignature only, ECDHE", testpki.RSA2048, ds, certs.KeyExchangeSigned, certs.RuleNone},
		{"RSA nonRepudiation only, ECDHE", testpki.RSA2048, nr, certs.KeyExchangeSigned, certs.RuleDigitalSignature},
		{"RSA nonRepudiation only, RSA kx", testpki.RSA2048, nr, certs.KeyExchangeRSA, certs.RuleKeyEncipherment},
		{"ECDSA digitalSignature, ECDHE", testpki.ECDSAP256, ds, certs.KeyExchangeSigned, certs.RuleNone},
		{"ECDSA keyAgreement only, ECDHE", testpki.ECDSAP256, ka, certs.KeyExchangeSigned, certs.RuleDigitalSignature},
		{"ECDSA no keyUsage, ECDHE", testpki.ECDSAP256, 0, certs.KeyExchangeSigned, certs.RuleNone},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			err := certs.CheckKeyUsage(leafWithUsage(t, tt.kt, tt.ku), tt.kx)
			if tt.want == certs.RuleNone {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ce *certs.Error
			if !errors.As(err, &ce) || ce.Reason != certs.ReasonKeyUsage || ce.Rule != tt.want {
				t.Fatalf("%v, want key usage refusal by %v", err, tt.want)
			}
			usage := "digitalSignature"
			if tt.want == certs.RuleKeyEncipherment {
				usage = "keyEncipherment"
			}
			if !strings.Contains(err.Error(), usage) || !strings.HasPrefix(ce.Detail, "leaf ") || ce.Cert == nil {
				t.Errorf("%q does not name the leaf and the usage %s", err, usage)
			}
		})
	}
	if err := certs.CheckKeyUsage(nil, certs.KeyExchangeRSA); err == nil {
		t.Error("nil leaf accepted")
	}
	if err := certs.CheckKeyUsage(leafWithUsage(t, testpki.ECDSAP256, ds), 0); err == nil {
		t.Error("unknown key exchange accepted")
	}
}

// An ECDSA leaf's curve must be one the client offered.
func TestCheckCurve(t *testing.T) {
	p256 := leafWithUsage(t, testpki.ECDSAP256, x509.KeyUsageDigitalSignature)
	p384 := leafWithUsage(t, testpki.ECDSAP384, x509.KeyUsageDigitalSignature)
	rsaLeaf := leafWithUsage(t, testpki.RSA2048, x509.KeyUsageDigitalSignature)
	cases := []struct {
		name    string
		leaf    *x509.Certificate
		offered []uint16
		ok      bool
	}{
		{"P-256 offered", p256, []uint16{29, certs.GroupP256}, true},
		{"P-256 not offered", p256, []uint16{29, certs.GroupP384}, false},
		{"P-384 offered", p384, []uint16{certs.GroupP256, certs.GroupP384}, true},
		{"P-384 not offered", p384, []uint16{29, certs.GroupP256}, false},
		{"no supported_groups", p256, nil, true},
		{"RSA leaf", rsaLeaf, []uint16{29}, true},
	}
	for _, tt := range cases {
		err := certs.CheckCurve(tt.leaf, tt.offered)
		var ce *certs.Error
		switch {
		case tt.ok && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case !tt.ok && (!errors.As(err, &ce) || ce.Reason != certs.ReasonKeyUsage || ce.Rule != certs.RuleCurveNotOffered):
			t.Errorf("%s: %v, want curve_not_offered", tt.name, err)
		}
	}
	if certs.CurveGroup(p384.PublicKey) != certs.GroupP384 || certs.CurveGroup(rsaLeaf.PublicKey) != 0 {
		t.Error("CurveGroup")
	}
}
