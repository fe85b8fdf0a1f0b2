package certs_test

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

func crlPEM(ders ...[]byte) []byte {
	var out []byte
	for _, d := range ders {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: d})...)
	}
	return out
}

func TestParseCRLs(t *testing.T) {
	c := ecCase(t, nil)
	a, err := c.CRL(now.Add(-time.Hour), now.Add(time.Hour), big.NewInt(5))
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.CRL(now.Add(-2*time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{
		"one DER": a, "two DER": append(append([]byte{}, a...), b...),
		"one PEM": crlPEM(a), "two PEM": crlPEM(a, b), "PEM with spaces": append([]byte("\n  "), crlPEM(a, b)...),
	} {
		s, err := certs.ParseCRLs(in)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if want := 1 + strings.Count(name, "two"); s.Len() != want {
			t.Errorf("%s: %d CRLs, want %d", name, s.Len(), want)
		}
	}
	delta := func() []byte {
		tmpl := &x509.RevocationList{Number: big.NewInt(9), ThisUpdate: now, NextUpdate: now.Add(time.Hour),
			ExtraExtensions: []pkix.Extension{{Id: []int{2, 5, 29, 27}, Critical: true, Value: []byte{2, 1, 8}}}}
		der, err := x509.CreateRevocationList(rand.Reader, tmpl, c.Issuer, c.IssuerKey)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}()
	for name, in := range map[string][]byte{
		"empty":          nil,
		"spaces":         []byte("   \n"),
		"garbage":        []byte("not a CRL"),
		"certificate":    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Leaf.Raw}),
		"trailing bytes": append(crlPEM(a), "junk"...),
		"truncated DER":  a[:len(a)-3],
		"DER not a CRL":  c.Leaf.Raw,
		"delta CRL":      delta,
	} {
		if _, err := certs.ParseCRLs(in); err == nil || !strings.HasPrefix(err.Error(), "certs: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestLoadCRLFile(t *testing.T) {
	c := ecCase(t, nil)
	der, err := c.CRL(now.Add(-time.Hour), now.Add(time.Hour), c.Leaf.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "crls.pem")
	if err := os.WriteFile(good, crlPEM(der), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := certs.LoadCRLFile(good)
	if err != nil || s.Len() != 1 {
		t.Fatalf("%v", err)
	}
	if _, err := certs.LoadCRLFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file accepted")
	}
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := certs.LoadCRLFile(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad file: %v (should name the file)", err)
	}
}

func TestCRLSetCheck(t *testing.T) {
	c := ecCase(t, nil)
	path := []*x509.Certificate{c.Leaf, c.Issuer, c.RootCerts[0]}
	set := func(t *testing.T, ders ...[]byte) *certs.CRLSet {
		t.Helper()
		s, err := certs.ParseCRLs(crlPEM(ders...))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	crl := func(this, next time.Duration, serials ...*big.Int) []byte {
		der, err := c.CRL(now.Add(this), now.Add(next), serials...)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	// A CRL with the issuer's name signed by another key: a forgery.
	forged := func() []byte {
		other := ecCase(t, nil)
		tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: now.Add(-time.Hour), NextUpdate: now.Add(time.Hour),
			RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: c.Leaf.SerialNumber, RevocationTime: now}}}
		fake := *c.Issuer
		fake.PublicKey = other.Issuer.PublicKey
		fake.PublicKeyAlgorithm = other.Issuer.PublicKeyAlgorithm
		der, err := x509.CreateRevocationList(rand.Reader, tmpl, &fake, other.IssuerKey)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}()

	cases := []struct {
		name   string
		set    *certs.CRLSet
		reason certs.Reason
		rule   certs.Rule
	}{
		{"listed", set(t, crl(-time.Hour, time.Hour, big.NewInt(3), c.Leaf.SerialNumber)), certs.ReasonRevoked, certs.RuleCRLRevoked},
		{"not listed", set(t, crl(-time.Hour, time.Hour, big.NewInt(3))), 0, 0},
		{"listed in an old CRL", set(t, crl(-72*time.Hour, -48*time.Hour, c.Leaf.SerialNumber), crl(-time.Hour, time.Hour)), certs.ReasonRevoked, certs.RuleCRLRevoked},
		{"stale", set(t, crl(-72*time.Hour, -48*time.Hour)), certs.ReasonRevocationUnknown, certs.RuleCRLStale},
		{"stale within the skew", set(t, crl(-72*time.Hour, -certs.RevocationSkew+time.Second)), 0, 0},
		{"forged", set(t, forged), certs.ReasonRevocationUnknown, certs.RuleCRLSignature},
		{"forged beside a genuine one", set(t, forged, crl(-time.Hour, time.Hour)), 0, 0},
		{"another issuer's", set(t, func() []byte {
			o := ecCase(t, nil)
			der, err := o.CRL(now.Add(-time.Hour), now.Add(time.Hour), c.Leaf.SerialNumber)
			if err != nil {
				t.Fatal(err)
			}
			return der
		}()), 0, 0},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			for round := 0; round < 2; round++ { // the second from the remembered signature verdicts
				err := tt.set.Check(path, now)
				if tt.reason == certs.ReasonNone {
					if err != nil {
						t.Fatalf("round %d: %v", round, err)
					}
					continue
				}
				var ce *certs.Error
				if !errors.As(err, &ce) || ce.Reason != tt.reason || ce.Rule != tt.rule {
					t.Fatalf("round %d: %v, want %v by %v", round, err, tt.reason, tt.rule)
				}
				if ce.Depth != 0 || !strings.HasPrefix(ce.Detail, "leaf ") {
					t.Errorf("detail %q at depth %d does not name the leaf", ce.Detail, ce.Depth)
				}
			}
		})
	}
	var none *certs.CRLSet
	if err := none.Check(path, now); err != nil || none.Len() != 0 {
		t.Error("nil set")
	}
}

// A CRL of the root revoking the intermediate refuses the path, naming the
// intermediate; the CRL of the intermediate checks the leaf at the same
// time.
func TestCRLSetRevokesIntermediate(t *testing.T) {
	c := ecCase(t, nil)
	path := []*x509.Certificate{c.Leaf, c.Issuer, c.RootCerts[0]}
	byRoot, err := testpki.MakeCRL(c.RootCerts[0], c.RootKey, now.Add(-time.Hour), now.Add(time.Hour), c.Issuer.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	byIssuer, err := c.CRL(now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	s, err := certs.ParseCRLs(crlPEM(byIssuer, byRoot))
	if err != nil {
		t.Fatal(err)
	}
	err = s.Check(path, now)
	var ce *certs.Error
	if !errors.As(err, &ce) || ce.Reason != certs.ReasonRevoked {
		t.Fatalf("%v, want revoked", err)
	}
	if ce.Depth != 1 || !strings.HasPrefix(ce.Detail, "path[1] ") {
		t.Errorf("%v at depth %d, want the intermediate", err, ce.Depth)
	}
	unrevoked, err := testpki.MakeCRL(c.RootCerts[0], c.RootKey, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if s, err = certs.ParseCRLs(crlPEM(byIssuer, unrevoked)); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(path, now); err != nil {
		t.Fatal(err)
	}
}

// A version 1 CRL (no version field, no extensions: what `openssl ca
// -gencrl` makes by default) is taken as a version 2 one is, its
// signature checked over the bytes the issuer signed.
func TestCRLVersion1(t *testing.T) {
	for _, kt := range []testpki.KeyType{testpki.ECDSAP256, testpki.RSA2048} {
		c, err := testpki.Build(now, testpki.Spec{Names: []string{"v1.example"}, LeafKey: testpki.ECDSAP256, IntermediateKey: kt, RootKey: testpki.ECDSAP256})
		if err != nil {
			t.Fatal(err)
		}
		path := []*x509.Certificate{c.Leaf, c.Issuer, c.RootCerts[0]}
		v1 := func(serials ...*big.Int) []byte {
			der, err := testpki.MakeCRLv1(c.Issuer, c.IssuerKey, now.Add(-time.Hour), now.Add(time.Hour), serials...)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := x509.ParseRevocationList(der); err == nil {
				t.Fatal("crypto/x509 parses the version 1 CRL itself: the test would test nothing")
			}
			return der
		}
		listed, unlisted, empty := v1(big.NewInt(3), c.Leaf.SerialNumber), v1(big.NewInt(3)), v1()
		// The same CRL with a serial changed: its signature no longer holds.
		tampered := bytes.Clone(listed)
		at := bytes.Index(tampered, []byte{0x02, 0x01, 0x03})
		if at < 0 {
			t.Fatal("serial 3 not found in the CRL")
		}
		tampered[at+2] = 4
		for _, tt := range []struct {
			name   string
			der    []byte
			reason certs.Reason
		}{
			{"listed", listed, certs.ReasonRevoked},
			{"not listed", unlisted, certs.ReasonNone},
			{"no entries", empty, certs.ReasonNone},
			{"tampered", tampered, certs.ReasonRevocationUnknown},
		} {
			s, err := certs.ParseCRLs(crlPEM(tt.der))
			if err != nil {
				t.Fatalf("%v %s: %v", kt, tt.name, err)
			}
			err = s.Check(path, now)
			var ce *certs.Error
			switch {
			case tt.reason == certs.ReasonNone && err != nil:
				t.Errorf("%v %s: %v", kt, tt.name, err)
			case tt.reason != certs.ReasonNone && (!errors.As(err, &ce) || ce.Reason != tt.reason):
				t.Errorf("%v %s: %v, want %v", kt, tt.name, err, tt.reason)
			}
		}
	}
	// A CRL without a version field but with extensions is malformed.
	c := ecCase(t, nil)
	v2, err := c.CRL(now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := certs.ParseCRLs(withoutVersion(t, v2)); err == nil || !strings.Contains(err.Error(), "version 1 CRL with extensions") {
		t.Errorf("a version 1 CRL with extensions: %v", err)
	}
}

// withoutVersion re-encodes a version 2 CRL without its version field.
func withoutVersion(t *testing.T, der []byte) []byte {
	t.Helper()
	in := cryptobyte.String(der)
	var list, tbs, rest cryptobyte.String
	var version int64
	if !in.ReadASN1(&list, cbasn1.SEQUENCE) || !list.ReadASN1(&tbs, cbasn1.SEQUENCE) || !tbs.ReadASN1Integer(&version) {
		t.Fatal("not a version 2 CRL")
	}
	rest = list
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(tbs) })
		b.AddBytes(rest)
	})
	return b.BytesOrPanic()
}
