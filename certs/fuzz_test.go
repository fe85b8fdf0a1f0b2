package certs_test

import (
	"crypto/x509"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

// FuzzVerify feeds Verify arbitrary DER: it must never panic, and must
// answer either a chain or a *certs.Error.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	for _, d := range []testpki.Defect{testpki.Good, testpki.Expired, testpki.WrongName, testpki.SelfSigned, testpki.SHA1Signed} {
		for _, kt := range []testpki.KeyType{testpki.RSA2048, testpki.ECDSAP256} {
			l, err := fx.p.Issue([]string{"a.example", "192.0.2.1"}, kt, d)
			if err != nil {
				f.Fatal(err)
			}
			inter := []byte{}
			if len(l.Chain) > 1 {
				inter = l.Chain[1]
			}
			f.Add(l.Chain[0], inter, "a.example")
			f.Add(l.Chain[0][:len(l.Chain[0])/2], inter, "192.0.2.1")
		}
	}
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00}, []byte{}, "")
	// A few chains the profiles disagree on (ECDSA only: each fuzzing
	// worker runs this setup again).
	for _, edit := range []func(*testpki.Spec){
		func(s *testpki.Spec) { s.Leaf = func(c *x509.Certificate) { c.ExtKeyUsage = nil; c.IsCA = true } },
		func(s *testpki.Spec) { s.Names = []string{"a.example", "*.co.uk", "x_y.example"} },
		func(s *testpki.Spec) {
			s.Intermediate = func(c *x509.Certificate) { c.ExcludedDNSDomains = []string{"b.example"} }
		},
	} {
		c := ecCase(f, edit)
		f.Add(c.Chain[0], c.Chain[1], c.ServerName)
	}
	f.Fuzz(func(t *testing.T, leaf, inter []byte, name string) {
		chain := [][]byte{leaf}
		if len(inter) > 0 {
			chain = append(chain, inter)
		}
		for _, p := range profiles {
			v := fx.verifier()
			v.Profile = p
			verified, err := v.Verify(chain, name)
			if err == nil {
				if len(verified) == 0 {
					t.Fatalf("%v: accepted with an empty chain", p)
				}
				continue
			}
			var ce *certs.Error
			if !errors.As(err, &ce) || ce.Reason == certs.ReasonNone || len(ce.Detail) > certs.MaxDetailLen {
				t.Fatalf("%v: error %v is not a *certs.Error with a reason and a bounded detail", p, err)
			}
			_ = err.Error()
		}
	})
}

// FuzzCheckOCSP feeds CheckOCSP arbitrary staples for a fixed leaf and
// issuer: never a panic; an answer that is nil or a *certs.Error; and an
// accepted staple is one x/crypto/ocsp verifies under the issuer (or its
// responder) for this very certificate.
func FuzzCheckOCSP(f *testing.F) {
	c := ecCase(f, nil)
	delegate, delegateKey, err := c.Responder(now, true)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []staple{
		{status: ocsp.Good, thisUpdate: -time.Hour, next: time.Hour},
		{status: ocsp.Revoked, thisUpdate: -time.Hour, next: time.Hour},
		{status: ocsp.Unknown, thisUpdate: -time.Hour},
		{status: ocsp.Good, thisUpdate: -time.Hour, next: time.Hour, signer: delegateKey, responder: delegate},
		{status: ocsp.Good, thisUpdate: -time.Hour, next: time.Hour, serial: big.NewInt(9)},
	} {
		f.Add(makeStaple(f, c, s))
	}
	f.Add(ocsp.TryLaterErrorResponse)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		err := certs.CheckOCSP(data, c.Leaf, c.Issuer, now)
		if err == nil {
			if len(data) == 0 {
				return
			}
			resp, perr := ocsp.ParseResponseForCert(data, c.Leaf, c.Issuer)
			if perr != nil || resp.Status != ocsp.Good || resp.SerialNumber.Cmp(c.Leaf.SerialNumber) != 0 {
				t.Fatalf("accepted a staple x/crypto/ocsp refuses under the issuer: %v", perr)
			}
			return
		}
		var ce *certs.Error
		if !errors.As(err, &ce) || len(ce.Detail) > certs.MaxDetailLen {
			t.Fatalf("%v is not a *certs.Error with a bounded detail", err)
		}
		switch ce.Reason {
		case certs.ReasonRevoked, certs.ReasonRevocationUnknown:
		default:
			t.Fatalf("reason %v for a staple", ce.Reason)
		}
	})
}

// FuzzParseCRLs feeds ParseCRLs arbitrary files: never a panic, a set of 1
// to MaxCRLs lists or a "certs: " error, and a set that checks a path
// without a panic.
func FuzzParseCRLs(f *testing.F) {
	c := ecCase(f, nil)
	a, err := c.CRL(now.Add(-time.Hour), now.Add(time.Hour), c.Leaf.SerialNumber, big.NewInt(3))
	if err != nil {
		f.Fatal(err)
	}
	b, err := c.CRL(now.Add(-2*time.Hour), now.Add(2*time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	v1, err := testpki.MakeCRLv1(c.Issuer, c.IssuerKey, now.Add(-time.Hour), now.Add(time.Hour), c.Leaf.SerialNumber)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(a)
	f.Add(append(append([]byte{}, a...), b...))
	f.Add(crlPEM(a, b))
	f.Add(v1) // version 1: re-encoded before crypto/x509 parses it
	f.Add([]byte("-----BEGIN X509 CRL-----\n-----END X509 CRL-----\n"))
	path := []*x509.Certificate{c.Leaf, c.Issuer, c.RootCerts[0]}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := certs.ParseCRLs(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "certs: ") {
				t.Fatalf("error %q", err)
			}
			return
		}
		if s.Len() < 1 || s.Len() > certs.MaxCRLs {
			t.Fatalf("%d CRLs", s.Len())
		}
		_ = s.Check(path, now)
	})
}

// FuzzParsePin: never a panic; a pin that parses prints back as given.
func FuzzParsePin(f *testing.F) {
	f.Add("sha256/" + strings.Repeat("A", 43) + "=")
	f.Add("sha256/" + strings.Repeat("A", 43) + "B")
	f.Add("sha256/")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := certs.ParsePin(s)
		if err != nil {
			return
		}
		if p.String() != s {
			t.Fatalf("%q parses to %q", s, p.String())
		}
	})
}
