package certs_test

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

// An expired cross-signed copy of the root, sent along but needed by no
// path, never fails the chain (it did when validity ran on every presented
// certificate whose name matched).
func TestPathUnusedExpiredCrossSignedRoot(t *testing.T) {
	c, err := testpki.CrossSignedExpiredRoot(now)
	if err != nil {
		t.Fatal(err)
	}
	if err := x509Verify(c); err != nil {
		t.Fatalf("crypto/x509: %v", err)
	}
	for _, p := range profiles {
		path, err := verifyTwin(c, p)
		if err != nil {
			t.Errorf("%v: %v", p, err)
			continue
		}
		if len(path) != 3 || !path[2].Equal(c.RootCerts[0]) {
			t.Errorf("%v: path of %d ending at %q, want the trusted root", p, len(path), path[len(path)-1].Subject.CommonName)
		}
	}
}

// Among several valid paths the first that passes every rule wins: the
// intermediate certified by an RSA-1024 root and by a P-256 root verifies
// under webpki through the second; pins choose the path that holds them.
func TestPathFirstThatPassesWins(t *testing.T) {
	c, err := testpki.TwoPaths(now)
	if err != nil {
		t.Fatal(err)
	}
	weakRoot, goodRoot := c.RootCerts[0], c.RootCerts[1]
	verify := func(p certs.Profile, pins ...certs.Pin) (string, error) {
		v := &certs.Verifier{Roots: c.Roots, Time: func() time.Time { return now }, Profile: p, Pins: pins}
		path, err := v.Verify(c.Chain, c.ServerName)
		if err != nil {
			return "", err
		}
		switch last := path[len(path)-1]; {
		case last.Equal(weakRoot):
			return "A", nil
		case last.Equal(goodRoot):
			return "B", nil
		}
		return "?", nil
	}
	if got, err := verify(certs.ProfileWebPKI); got != "B" {
		t.Errorf("webpki: path to %q (%v), want B", got, err)
	}
	if got, err := verify(certs.ProfileRFC5280); got == "" || got == "?" {
		t.Errorf("rfc5280: %q (%v)", got, err)
	}
	if got, err := verify(certs.ProfileRFC5280, certs.PinOf(weakRoot)); got != "A" {
		t.Errorf("rfc5280 pinned to A: path to %q (%v)", got, err)
	}
	if got, err := verify(certs.ProfileRFC5280, certs.PinOf(goodRoot)); got != "B" {
		t.Errorf("rfc5280 pinned to B: path to %q (%v)", got, err)
	}
	if got, err := verify(certs.ProfileWebPKI, certs.PinOf(goodRoot)); got != "B" {
		t.Errorf("webpki pinned to B: path to %q (%v)", got, err)
	}
	// Only the weak root trusted: webpki has no path left.
	only := *c
	only.Roots = x509.NewCertPool()
	only.Roots.AddCert(weakRoot)
	if _, err := verifyTwin(&only, certs.ProfileWebPKI); reasonOf(t, err) != certs.ReasonWeakKey {
		t.Errorf("webpki with the RSA-1024 root alone: %v, want weak key", err)
	}
	if _, err := verifyTwin(&only, certs.ProfileRFC5280); err != nil {
		t.Errorf("rfc5280 with the RSA-1024 root alone: %v", err)
	}
}

// A name-constraint violation names the forbidden name, not the server
// name being verified.
func TestNameConstraintViolationNamesTheForbiddenName(t *testing.T) {
	var tw builtTwin
	for _, x := range builtTwins(t) {
		if x.Rule == "nc/violated" {
			tw = x
		}
	}
	for _, p := range profiles {
		_, err := verifyTwin(tw.bad, p)
		var ce *certs.Error
		if !errors.As(err, &ce) || ce.Rule != certs.RuleNameConstraints {
			t.Fatalf("%v: %v", p, err)
		}
		msg := err.Error()
		if !strings.Contains(ce.Detail, `"forbidden.example"`) || strings.Contains(msg, `not valid for name "permitted.example"`) {
			t.Errorf("%v: %q does not name the forbidden name", p, msg)
		}
		if ce.Cert == nil || !ce.Cert.Equal(tw.bad.Leaf) || ce.Depth != 0 {
			t.Errorf("%v: the certificate at fault is not the leaf holding the name", p)
		}
	}
}

// A root used as the leaf (openssl req -x509, CA:TRUE) is accepted in every
// profile, and the path is the certificate alone; its key is still held
// to the weak-key rule.
func TestAnchorAsLeaf(t *testing.T) {
	c, err := testpki.AnchorLeaf(now, testpki.ECDSAP256, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range profiles {
		path, err := verifyTwin(c, p)
		if err != nil || len(path) != 1 || !path[0].Equal(c.Leaf) {
			t.Errorf("%v: %d certificates, %v", p, len(path), err)
		}
		// Sent with another certificate after it, as some servers do.
		extra := *c
		extra.Chain = append(append([][]byte{}, c.Chain...), c.Chain[0])
		if _, err := verifyTwin(&extra, p); err != nil {
			t.Errorf("%v with a copy sent along: %v", p, err)
		}
	}
	weak, err := testpki.AnchorLeaf(now, testpki.RSA1024, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range profiles {
		if _, err := verifyTwin(weak, p); reasonOf(t, err) != certs.ReasonWeakKey {
			t.Errorf("%v: RSA-1024 root as the leaf: %v, want weak key", p, err)
		}
	}
}

// The reason order on a path: a chain with several defects gives the
// reason that comes first, in every profile.
func TestReasonOrderOnThePath(t *testing.T) {
	c, err := testpki.Build(now, testpki.Spec{
		LeafKey: testpki.RSA1024, IntermediateKey: testpki.ECDSAP256, RootKey: testpki.ECDSAP256,
		ServerName: "b.example",
		Leaf:       func(x *x509.Certificate) { x.ExtKeyUsage = nil; x.IsCA = true },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range profiles {
		if _, err := verifyTwin(c, p); reasonOf(t, err) != certs.ReasonWeakKey {
			t.Errorf("%v: %v, want weak key first", p, err)
		}
	}
}
