package certs_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

var now = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// fixture is one testpki PKI plus helpers to build certificates testpki has
// no defect for.
type fixture struct {
	p    *testpki.PKI
	root *ca
	mid  *ca
}

type ca struct {
	cert *x509.Certificate
	key  crypto.Signer
}

var (
	fixtureOnce sync.Once
	shared      *fixture
	rsa1024Key  *rsa.PrivateKey
)

func newFixture(t testing.TB) *fixture {
	t.Helper()
	fixtureOnce.Do(func() {
		p, err := testpki.New(now)
		if err != nil {
			panic(err)
		}
		shared = &fixture{p: p, root: &ca{p.Root, p.RootKey}, mid: &ca{p.Intermediate, p.IntermediateKey}}
		if rsa1024Key, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
			panic(err)
		}
	})
	return shared
}

func (f *fixture) verifier() *certs.Verifier {
	return &certs.Verifier{Roots: f.p.Roots, Time: func() time.Time { return now }}
}

func ecKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var serial int64

func leafTemplate(names ...string) *x509.Certificate {
	serial++
	return &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
}

func caTemplate(name string) *x509.Certificate {
	serial++
	return &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: fmt.Sprintf("%s %d", name, serial)},
		NotBefore:             now.Add(-48 * time.Hour),
		NotAfter:              now.Add(48 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

// make signs tmpl for key with parent (nil: self-signed).
func mk(t testing.TB, tmpl *x509.Certificate, parent *ca, key crypto.Signer) *ca {
	t.Helper()
	pc, signer := tmpl, key
	if parent != nil {
		pc, signer = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, pc, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &ca{c, key}
}

func ders(cs ...*ca) [][]byte {
	var out [][]byte
	for _, c := range cs {
		out = append(out, c.cert.Raw)
	}
	return out
}

func reasonOf(t *testing.T, err error) certs.Reason {
	t.Helper()
	if err == nil {
		return certs.ReasonNone
	}
	var ce *certs.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a *certs.Error", err)
	}
	return ce.Reason
}

type verifyCase struct {
	name   string
	chain  func(t *testing.T, f *fixture) [][]byte
	server string // "a.example" when empty
	v      func(f *fixture) *certs.Verifier
	want   certs.Reason
}

// rfc5280 is the fixture's verifier under ProfileRFC5280, for the cases
// about path validation whose certificates webpki refuses for another
// rule first (profile_test.go's twins cover those rules).
func rfc5280(f *fixture) *certs.Verifier {
	v := f.verifier()
	v.Profile = certs.ProfileRFC5280
	return v
}

func issue(names []string, kt testpki.KeyType, d testpki.Defect) func(*testing.T, *fixture) [][]byte {
	return func(t *testing.T, f *fixture) [][]byte {
		l, err := f.p.Issue(names, kt, d)
		if err != nil {
			t.Fatal(err)
		}
		return l.Chain
	}
}

// leafWith returns a leaf for a.example issued by the fixture's
// intermediate after edit changes its template.
func leafWith(key func(t *testing.T) crypto.Signer, edit func(*x509.Certificate)) func(*testing.T, *fixture) [][]byte {
	return func(t *testing.T, f *fixture) [][]byte {
		tmpl := leafTemplate("a.example")
		if edit != nil {
			edit(tmpl)
		}
		k := crypto.Signer(ecKey(t, elliptic.P256()))
		if key != nil {
			k = key(t)
		}
		return ders(mk(t, tmpl, f.mid, k), f.mid)
	}
}

// midWith returns a leaf for a.example under an intermediate made from
// the root after edit changes the intermediate's template.
func midWith(key func(t *testing.T) crypto.Signer, edit func(*x509.Certificate)) func(*testing.T, *fixture) [][]byte {
	return func(t *testing.T, f *fixture) [][]byte {
		tmpl := caTemplate("custom intermediate")
		if edit != nil {
			edit(tmpl)
		}
		k := crypto.Signer(ecKey(t, elliptic.P256()))
		if key != nil {
			k = key(t)
		}
		mid := mk(t, tmpl, f.root, k)
		leaf := mk(t, leafTemplate("a.example"), mid, ecKey(t, elliptic.P256()))
		return ders(leaf, mid)
	}
}

// withRoot returns a verifier trusting only a root made after edit, and a
// chain for a.example under it (leaf, intermediate, and the root itself
// when sendRoot).
func withRoot(key func(t *testing.T) crypto.Signer, edit func(*x509.Certificate), sendRoot bool) (func(*testing.T, *fixture) [][]byte, func(*fixture) *certs.Verifier) {
	var roots *x509.CertPool
	chain := func(t *testing.T, f *fixture) [][]byte {
		tmpl := caTemplate("custom root")
		if edit != nil {
			edit(tmpl)
		}
		k := crypto.Signer(ecKey(t, elliptic.P256()))
		if key != nil {
			k = key(t)
		}
		root := mk(t, tmpl, nil, k)
		roots = x509.NewCertPool()
		roots.AddCert(root.cert)
		mid := mk(t, caTemplate("intermediate"), root, ecKey(t, elliptic.P256()))
		leaf := mk(t, leafTemplate("a.example"), mid, ecKey(t, elliptic.P256()))
		if sendRoot {
			return ders(leaf, mid, root)
		}
		return ders(leaf, mid)
	}
	v := func(*fixture) *certs.Verifier {
		return &certs.Verifier{Roots: roots, Time: func() time.Time { return now }}
	}
	return chain, v
}

func rsa1024(*testing.T) crypto.Signer { return rsa1024Key }
func p224(t *testing.T) crypto.Signer  { return ecKey(t, elliptic.P224()) }
func ed(t *testing.T) crypto.Signer {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
func ecP256(t *testing.T) crypto.Signer { return ecKey(t, elliptic.P256()) }

var oidUnknown = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}

func verifyCases() []verifyCase {
	sha1Root, sha1RootV := withRoot(func(*testing.T) crypto.Signer { return rsa1024Key }, func(c *x509.Certificate) {
		c.SignatureAlgorithm = x509.SHA1WithRSA // the trust store's business
	}, true)
	expiredRoot, expiredRootV := withRoot(nil, func(c *x509.Certificate) { c.NotAfter = now.Add(-time.Hour) }, false)
	futureRoot, futureRootV := withRoot(nil, func(c *x509.Certificate) { c.NotBefore = now.Add(time.Hour) }, false)
	goodRoot, goodRootV := withRoot(nil, nil, false)

	return []verifyCase{
		{name: "good/RSA2048", chain: issue([]string{"a.example"}, testpki.RSA2048, testpki.Good), want: certs.ReasonNone},
		{name: "good/ECDSAP384", chain: issue([]string{"a.example"}, testpki.ECDSAP384, testpki.Good), want: certs.ReasonNone},
		{name: "good/Ed25519", chain: leafWith(ed, nil), want: certs.ReasonNone},
		{name: "good/P521", chain: leafWith(func(t *testing.T) crypto.Signer { return ecKey(t, elliptic.P521()) }, nil), want: certs.ReasonNone},
		{name: "good/custom root", chain: goodRoot, v: goodRootV, want: certs.ReasonNone},
		{name: "good/IP literal", chain: issue([]string{"192.0.2.1"}, testpki.ECDSAP256, testpki.Good), server: "192.0.2.1"},
		{name: "good/bracketed IPv6", chain: issue([]string{"2001:db8::1"}, testpki.ECDSAP256, testpki.Good), server: "[2001:db8::1]"},
		{name: "good/upper case name", chain: issue([]string{"a.example"}, testpki.ECDSAP256, testpki.Good), server: "A.EXAMPLE"},
		{name: "good/trailing dot", chain: issue([]string{"a.example"}, testpki.ECDSAP256, testpki.Good), server: "a.example."},
		{name: "good/wildcard", chain: issue([]string{"*.example"}, testpki.ECDSAP256, testpki.Good), server: "a.example"},
		{name: "good/EKU any", chain: leafWith(nil, func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageAny} }), v: rfc5280},
		{name: "good/no EKU", chain: leafWith(nil, func(c *x509.Certificate) { c.ExtKeyUsage = nil }), v: rfc5280},
		{name: "good/root sent along, SHA-1, RSA-1024", chain: sha1Root, v: func(f *fixture) *certs.Verifier {
			v := sha1RootV(f)
			v.Profile = certs.ProfileRFC5280
			return v
		}},
		{name: "weak key/root RSA-1024 under webpki", chain: sha1Root, v: sha1RootV, want: certs.ReasonWeakKey},
		{name: "good/RSA1024 with MinRSABits 1024", chain: issue([]string{"a.example"}, testpki.RSA1024, testpki.Good),
			v: func(f *fixture) *certs.Verifier { v := rfc5280(f); v.MinRSABits = 1024; return v }},
		{name: "weak key/MinRSABits 1024 does not lower webpki", chain: issue([]string{"a.example"}, testpki.RSA1024, testpki.Good),
			v: func(f *fixture) *certs.Verifier { v := f.verifier(); v.MinRSABits = 1024; return v }, want: certs.ReasonWeakKey},

		{name: "good/needless extra certificates ignored", chain: func(t *testing.T, f *fixture) [][]byte {
			good := issue([]string{"a.example"}, testpki.ECDSAP256, testpki.Good)(t, f)
			// An expired RSA-1024 SHA-1 certificate from another
			// hierarchy, as a careless server might send along.
			other, err := testpki.New(now.Add(-100 * 24 * time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			stale, err := other.Issue([]string{"stale.example"}, testpki.RSA1024, testpki.SHA1Signed)
			if err != nil {
				t.Fatal(err)
			}
			return append(good, stale.Chain...)
		}},
		// An expired copy of the intermediate sent along: the path uses
		// the valid one, so the copy is never held against the chain.
		{name: "good/expired second copy of the intermediate unused", chain: func(t *testing.T, f *fixture) [][]byte {
			good := issue([]string{"a.example"}, testpki.ECDSAP256, testpki.Good)(t, f)
			tmpl := *f.mid.cert
			tmpl.NotAfter = now.Add(-time.Hour)
			old := mk(t, &tmpl, f.root, f.mid.key)
			return append(good, old.cert.Raw)
		}},
		{name: "no certificate/nil", chain: func(*testing.T, *fixture) [][]byte { return nil }, want: certs.ReasonNoCertificate},
		{name: "no certificate/empty", chain: func(*testing.T, *fixture) [][]byte { return [][]byte{} }, want: certs.ReasonNoCertificate},

		{name: "malformed/garbage", chain: func(*testing.T, *fixture) [][]byte { return [][]byte{[]byte("not a certificate")} }, want: certs.ReasonMalformed},
		{name: "malformed/empty DER", chain: func(*testing.T, *fixture) [][]byte { return [][]byte{{}} }, want: certs.ReasonMalformed},
		{name: "malformed/truncated", chain: func(t *testing.T, f *fixture) [][]byte {
			c := issue([]string{"a.example"}, testpki.ECDSAP256, testpki.Good)(t, f)
			return [][]byte{c[0][:len(c[0])-1], c[1]}
		}, want: certs.ReasonMalformed},
		{name: "malformed/bad intermediate after weak leaf", chain: func(t *testing.T, f *fixture) [][]byte {
			c := issue([]string{"a.example"}, testpki.RSA1024, testpki.Good)(t, f)
			return [][]byte{c[0], {0x30, 0x00}}
		}, want: certs.ReasonMalformed},
		{name: "malformed/11 certificates", chain: func(t *testing.T, f *fixture) [][]byte {
			c := issue([]string{"a.example"}, testpki.ECDSAP256, testpki.Good)(t, f)
			out := [][]byte{c[0]}
			for range 10 {
				out = append(out, c[1])
			}
			return out
		}, want: certs.ReasonMalformed},
		{name: "malformed/unhandled critical extension", chain: leafWith(nil, func(c *x509.Certificate) {
			c.ExtraExtensions = []pkix.Extension{{Id: oidUnknown, Critical: true, Value: []byte{5, 0}}}
		}), want: certs.ReasonMalformed},

		{name: "weak key/RSA1024 leaf", chain: issue([]string{"a.example"}, testpki.RSA1024, testpki.Good), want: certs.ReasonWeakKey},
		{name: "weak key/RSA2048 intermediate under MinRSABits 3072", chain: issue([]string{"a.example"}, testpki.ECDSAP256, testpki.Good),
			v: func(f *fixture) *certs.Verifier { v := f.verifier(); v.MinRSABits = 3072; return v }, want: certs.ReasonWeakKey},
		{name: "weak key/P-224 leaf", chain: leafWith(p224, nil), want: certs.ReasonWeakKey},
		{name: "weak key/RSA1024 intermediate", chain: midWith(rsa1024, nil), want: certs.ReasonWeakKey},
		{name: "weak key/before everything else", chain: leafWith(rsa1024, func(c *x509.Certificate) {
			c.SignatureAlgorithm = x509.SHA1WithRSA
			c.IsCA = true
			c.NotAfter = now.Add(-time.Minute)
			c.DNSNames = []string{"b.example"}
		}), want: certs.ReasonWeakKey},

		{name: "weak signature/SHA-1 leaf", chain: issue([]string{"a.example"}, testpki.ECDSAP256, testpki.SHA1Signed), want: certs.ReasonWeakSignature},
		{name: "weak signature/SHA-1 intermediate", chain: midWith(nil, func(c *x509.Certificate) { c.SignatureAlgorithm = x509.SHA1WithRSA }), want: certs.ReasonWeakSignature},
		{name: "weak signature/ECDSA-SHA1 leaf", chain: func(t *testing.T, f *fixture) [][]byte {
			mid := mk(t, caTemplate("ecdsa intermediate"), f.root, ecKey(t, elliptic.P256()))
			tmpl := leafTemplate("a.example")
			tmpl.SignatureAlgorithm = x509.ECDSAWithSHA1
			return ders(mk(t, tmpl, mid, ecKey(t, elliptic.P256())), mid)
		}, want: certs.ReasonWeakSignature},
		{name: "weak signature/before key usage and expiry", chain: leafWith(nil, func(c *x509.Certificate) {
			c.SignatureAlgorithm = x509.SHA1WithRSA
			c.IsCA = true
			c.NotAfter = now.Add(-time.Minute)
		}), want: certs.ReasonWeakSignature},

		{name: "key usage/CA as leaf", chain: issue([]string{"a.example"}, testpki.ECDSAP256, testpki.CAAsLeaf), want: certs.ReasonKeyUsage},
		{name: "key usage/clientAuth only", chain: issue([]string{"a.example"}, testpki.RSA2048, testpki.NoServerAuth), want: certs.ReasonKeyUsage},
		{name: "key usage/unknown EKU only", chain: leafWith(nil, func(c *x509.Certificate) {
			c.ExtKeyUsage = nil
			c.UnknownExtKeyUsage = []asn1.ObjectIdentifier{oidUnknown}
		}), want: certs.ReasonKeyUsage},
		{name: "key usage/intermediate restricted to clientAuth", chain: midWith(nil, func(c *x509.Certificate) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		}), want: certs.ReasonKeyUsage},
		{name: "key usage/before expiry", chain: leafWith(nil, func(c *x509.Certificate) {
			c.IsCA = true
			c.NotAfter = now.Add(-time.Minute)
		}), want: certs.ReasonKeyUsage},

		{name: "expired/leaf", chain: issue([]string{"a.example"}, testpki.RSA2048, testpki.Expired), want: certs.ReasonExpired},
		{name: "expired/intermediate", chain: midWith(nil, func(c *x509.Certificate) { c.NotAfter = now.Add(-time.Second) }), want: certs.ReasonExpired},
		{name: "expired/root", chain: expiredRoot, v: expiredRootV, want: certs.ReasonExpired},
		{name: "expired/before unknown authority and name", chain: func(t *testing.T, f *fixture) [][]byte {
			other, err := testpki.New(now)
			if err != nil {
				t.Fatal(err)
			}
			l, err := other.Issue([]string{"b.example"}, testpki.ECDSAP256, testpki.Expired)
			if err != nil {
				t.Fatal(err)
			}
			return l.Chain
		}, want: certs.ReasonExpired},
		{name: "not yet valid/leaf", chain: issue([]string{"a.example"}, testpki.ECDSAP256, testpki.NotYetValid), want: certs.ReasonNotYetValid},
		{name: "not yet valid/intermediate", chain: midWith(nil, func(c *x509.Certificate) { c.NotBefore = now.Add(time.Second) }), want: certs.ReasonNotYetValid},
		{name: "not yet valid/root", chain: futureRoot, v: futureRootV, want: certs.ReasonNotYetValid},

		{name: "unknown authority/other root", chain: issue([]string{"a.example"}, testpki.ECDSAP256, testpki.UnknownRoot), want: certs.ReasonUnknownAuthority},
		{name: "unknown authority/self-signed", chain: issue([]string{"a.example"}, testpki.ECDSAP256, testpki.SelfSigned), want: certs.ReasonUnknownAuthority},
		{name: "unknown authority/missing intermediate", chain: issue([]string{"a.example"}, testpki.RSA2048, testpki.MissingIntermediate), want: certs.ReasonUnknownAuthority},
		{name: "unknown authority/before name", chain: issue([]string{"b.example"}, testpki.ECDSAP256, testpki.UnknownRoot), want: certs.ReasonUnknownAuthority},
		{name: "unknown authority/path length", chain: func(t *testing.T, f *fixture) [][]byte {
			sub := mk(t, caTemplate("sub intermediate"), f.mid, ecKey(t, elliptic.P256()))
			return ders(mk(t, leafTemplate("a.example"), sub, ecKey(t, elliptic.P256())), sub, f.mid)
		}, want: certs.ReasonUnknownAuthority},
		{name: "unknown authority/intermediate not a CA", chain: midWith(nil, func(c *x509.Certificate) { c.IsCA = false }), v: rfc5280, want: certs.ReasonUnknownAuthority},
		{name: "unknown authority/system roots", chain: issue([]string{"a.example"}, testpki.ECDSAP256, testpki.Good),
			v: func(*fixture) *certs.Verifier { return &certs.Verifier{Time: func() time.Time { return now }} }, want: certs.ReasonUnknownAuthority},

		{name: "name/wrong name", chain: issue([]string{"a.example"}, testpki.ECDSAP256, testpki.WrongName), want: certs.ReasonNameMismatch},
		{name: "name/empty server name", chain: issue([]string{"a.example"}, testpki.ECDSAP256, testpki.Good), server: "-", want: certs.ReasonNameMismatch},
		{name: "name/wildcard is one label", chain: issue([]string{"*.example"}, testpki.ECDSAP256, testpki.Good), server: "a.b.example", want: certs.ReasonNameMismatch},
		{name: "name/IP not in SAN", chain: issue([]string{"192.0.2.1", "a.example"}, testpki.ECDSAP256, testpki.Good), server: "192.0.2.2", want: certs.ReasonNameMismatch},
		{name: "name/odd bytes in the name", chain: issue([]string{"a.example"}, testpki.ECDSAP256, testpki.Good), server: "a.example/", want: certs.ReasonNameMismatch},
		{name: "name/excluded by name constraints", chain: midWith(nil, func(c *x509.Certificate) {
			c.PermittedDNSDomains = []string{"allowed.example"}
		}), v: rfc5280, want: certs.ReasonNameMismatch},
	}
}

func TestVerifyReasons(t *testing.T) {
	f := newFixture(t)
	for _, tt := range verifyCases() {
		t.Run(tt.name, func(t *testing.T) {
			chain := tt.chain(t, f)
			v := f.verifier()
			if tt.v != nil {
				v = tt.v(f)
			}
			server := tt.server
			switch server {
			case "":
				server = "a.example"
			case "-":
				server = ""
			}
			verified, err := v.Verify(chain, server)
			if got := reasonOf(t, err); got != tt.want {
				t.Fatalf("reason %v (%v), want %v", got, err, tt.want)
			}
			if err != nil {
				if verified != nil {
					t.Error("refused chain returned with the error")
				}
				return
			}
			if len(verified) < 2 || !v.Roots.Equal(v.Roots) || verified[0].Raw == nil {
				t.Fatalf("verified chain of %d", len(verified))
			}
			if string(verified[0].Raw) != string(chain[0]) {
				t.Error("verified chain does not start with the leaf")
			}
			if last := verified[len(verified)-1]; string(last.RawIssuer) != string(last.RawSubject) {
				t.Error("verified chain does not end at a root")
			}
		})
	}
}

func TestDetailIsBounded(t *testing.T) {
	f := newFixture(t)
	var names []string
	for i := range 12 {
		names = append(names, fmt.Sprintf("%d-%s.example", i, strings.Repeat("x", 60)))
	}
	l, err := f.p.Issue(names, testpki.ECDSAP256, testpki.Good)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.verifier().Verify(l.Chain, "other.example")
	var ce *certs.Error
	if !errors.As(err, &ce) || ce.Reason != certs.ReasonNameMismatch {
		t.Fatalf("%v", err)
	}
	if len(ce.Detail) > certs.MaxDetailLen || !utf8.ValidString(ce.Detail) || !strings.HasSuffix(ce.Detail, "...") {
		t.Errorf("detail of %d bytes (valid UTF-8: %v): %q", len(ce.Detail), utf8.ValidString(ce.Detail), ce.Detail)
	}
}

func TestVerifyTimeDefault(t *testing.T) {
	p, err := testpki.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	l, err := p.Issue([]string{"a.example"}, testpki.ECDSAP256, testpki.Good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&certs.Verifier{Roots: p.Roots}).Verify(l.Chain, "a.example"); err != nil {
		t.Errorf("nil Time: %v", err)
	}
	late := func() time.Time { return time.Now().Add(48 * time.Hour) }
	if _, err := (&certs.Verifier{Roots: p.Roots, Time: late}).Verify(l.Chain, "a.example"); reasonOf(t, err) != certs.ReasonExpired {
		t.Errorf("Time two days on: %v, want expired", err)
	}
}

func TestErrorText(t *testing.T) {
	f := newFixture(t)
	v := f.verifier()
	check := func(d testpki.Defect, kt testpki.KeyType, server, prefix string, x509Err any) {
		t.Helper()
		l, err := f.p.Issue([]string{"a.example"}, kt, d)
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(l.Chain, server)
		var ce *certs.Error
		if !errors.As(err, &ce) {
			t.Fatalf("%v: %v", d, err)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, prefix) || len(msg) <= len(prefix) || strings.Contains(msg, "\n") {
			t.Errorf("%v: %q, want %q and a detail", d, msg, prefix)
		}
		if len(ce.Chain) == 0 || !ce.Chain[0].Equal(l.Cert) {
			t.Errorf("%v: Error.Chain does not hold the presented leaf", d)
		}
		if x509Err != nil && !errors.As(err, x509Err) {
			t.Errorf("%v: %v does not unwrap to %T", d, err, x509Err)
		}
		// No key material: not the leaf's public key, let alone its
		// private key, in any encoding the message could use.
		if pub, ok := l.Cert.PublicKey.(*rsa.PublicKey); ok {
			for _, enc := range []string{fmt.Sprintf("%x", pub.N.Bytes()[:6]), pub.N.String()[:12]} {
				if strings.Contains(msg, enc) {
					t.Errorf("%v: message holds key material: %q", d, msg)
				}
			}
		}
	}
	check(testpki.Good, testpki.RSA2048, "b.example", `certs: certificate is not valid for name "b.example": `, new(x509.HostnameError))
	check(testpki.Expired, testpki.RSA2048, "a.example", "certs: certificate expired: ", nil)
	check(testpki.NotYetValid, testpki.RSA2048, "a.example", "certs: certificate not yet valid: ", nil)
	check(testpki.UnknownRoot, testpki.RSA2048, "a.example", "certs: certificate signed by unknown authority: ", new(x509.UnknownAuthorityError))
	check(testpki.Good, testpki.RSA1024, "a.example", "certs: certificate has a weak or unsupported key: ", nil)
	check(testpki.SHA1Signed, testpki.RSA2048, "a.example", "certs: certificate has a weak or unsupported signature: ", nil)
	check(testpki.CAAsLeaf, testpki.RSA2048, "a.example", "certs: certificate not allowed for TLS server authentication: ", nil)

	if got := (&certs.Error{Reason: certs.ReasonRevoked}).Error(); got != "certs: certificate revoked" {
		t.Errorf("no detail: %q", got)
	}
	if got := (&certs.Error{Reason: 200, Detail: "x"}).Error(); !strings.HasPrefix(got, "certs: ") {
		t.Errorf("unknown reason: %q", got)
	}
	inner := errors.New("inner")
	if !errors.Is(&certs.Error{Reason: certs.ReasonMalformed, Err: inner}, inner) {
		t.Error("Unwrap does not reach Err")
	}
}

func TestReasonString(t *testing.T) {
	seen := map[string]certs.Reason{}
	for r := certs.ReasonNone; r <= certs.ReasonRevocationUnknown; r++ {
		s := r.String()
		if s == "" || strings.ContainsAny(s, " ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			t.Errorf("%d: %q is not a snake_case label", r, s)
		}
		if prev, dup := seen[s]; dup {
			t.Errorf("%d and %d both read %q", prev, r, s)
		}
		seen[s] = r
	}
	if certs.ReasonExpired.String() != "expired" || certs.ReasonUnknownAuthority.String() != "unknown_authority" {
		t.Error("unexpected names")
	}
	if got := certs.Reason(200).String(); got != "reason(200)" {
		t.Errorf("unknown reason reads %q", got)
	}
}

// TestReasonsMatchWire: the offloader sends certs reasons as wire reasons
// by conversion, so the numbers must agree.
func TestReasonsMatchWire(t *testing.T) {
	pairs := []struct {
		c certs.Reason
		w wire.Reason
	}{
		{certs.ReasonNone, wire.ReasonNone},
		{certs.ReasonExpired, wire.ReasonExpired},
		{certs.ReasonNotYetValid, wire.ReasonNotYetValid},
		{certs.ReasonUnknownAuthority, wire.ReasonUnknownAuthority},
		{certs.ReasonNameMismatch, wire.ReasonNameMismatch},
		{certs.ReasonKeyUsage, wire.ReasonKeyUsage},
		{certs.ReasonWeakKey, wire.ReasonWeakKey},
		{certs.ReasonWeakSignature, wire.ReasonWeakSignature},
		{certs.ReasonMalformed, wire.ReasonMalformed},
		{certs.ReasonRevoked, wire.ReasonRevoked},
		{certs.ReasonPinMismatch, wire.ReasonPinMismatch},
		{certs.ReasonNoCertificate, wire.ReasonNoCertificate},
		{certs.ReasonNonConforming, wire.ReasonNonConforming},
		{certs.ReasonRevocationUnknown, wire.ReasonRevocationUnknown},
	}
	for _, p := range pairs {
		if uint8(p.c) != uint8(p.w) {
			t.Errorf("certs %v = %d, wire = %d", p.c, p.c, p.w)
		}
	}
}
