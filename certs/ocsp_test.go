package certs_test

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

func ecCase(t testing.TB, edit func(*testpki.Spec)) *testpki.Case {
	t.Helper()
	s := testpki.Spec{LeafKey: testpki.ECDSAP256, IntermediateKey: testpki.ECDSAP256, RootKey: testpki.ECDSAP256}
	if edit != nil {
		edit(&s)
	}
	c, err := testpki.Build(now, s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// staple is an OCSP response for c's leaf: status at now, signed by the
// issuer unless signer is given (then responder, if not nil, is embedded).
type staple struct {
	status               int
	thisUpdate, next     time.Duration // from now; next 0: no nextUpdate
	serial               *big.Int      // nil: the leaf's
	hashIssuer           *x509.Certificate
	signer               crypto.Signer
	responder            *x509.Certificate
	sigAlg               x509.SignatureAlgorithm
	singleCriticalUnknow bool
}

func makeStaple(t testing.TB, c *testpki.Case, s staple) []byte {
	t.Helper()
	tmpl := ocsp.Response{
		Status:       s.status,
		SerialNumber: c.Leaf.SerialNumber,
		ThisUpdate:   now.Add(s.thisUpdate),
		RevokedAt:    now.Add(-48 * time.Hour),
		Certificate:  s.responder,
		IssuerHash:   crypto.SHA256,
	}
	if s.next != 0 {
		tmpl.NextUpdate = now.Add(s.next)
	}
	if s.serial != nil {
		tmpl.SerialNumber = s.serial
	}
	tmpl.SignatureAlgorithm = s.sigAlg
	if s.singleCriticalUnknow {
		tmpl.ExtraExtensions = []pkix.Extension{{Id: []int{1, 3, 6, 1, 4, 1, 99999, 7}, Critical: true, Value: []byte{5, 0}}}
	}
	issuer, signer, id := c.Issuer, crypto.Signer(c.IssuerKey), c.Issuer
	if s.hashIssuer != nil {
		issuer = s.hashIssuer
	}
	if s.signer != nil {
		signer = s.signer
	}
	if s.responder != nil {
		id = s.responder
	}
	der, err := ocsp.CreateResponse(issuer, id, tmpl, signer)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

type ocspCase struct {
	name   string
	c      *testpki.Case
	staple []byte
	reason certs.Reason
	rule   certs.Rule
}

func ocspCases(t *testing.T) []ocspCase {
	c := ecCase(t, nil)
	other := ecCase(t, nil)
	rsaCase := ecCase(t, func(s *testpki.Spec) { s.IntermediateKey = testpki.RSA2048 })
	delegate, delegateKey, err := c.Responder(now, true)
	if err != nil {
		t.Fatal(err)
	}
	notOCSP, notOCSPKey, err := c.Responder(now, false)
	if err != nil {
		t.Fatal(err)
	}
	foreign, foreignKey, err := other.Responder(now, true)
	if err != nil {
		t.Fatal(err)
	}
	expiredDelegate, expiredDelegateKey, err := c.Responder(now.Add(-72*time.Hour), true)
	if err != nil {
		t.Fatal(err)
	}
	mustStaple := ecCase(t, func(s *testpki.Spec) {
		s.Leaf = func(x *x509.Certificate) {
			x.ExtraExtensions = append(x.ExtraExtensions, testpki.MustStapleExtension())
		}
	})
	fresh := staple{status: ocsp.Good, thisUpdate: -time.Hour, next: 3 * 24 * time.Hour}

	return []ocspCase{
		{"good, signed by the issuer", c, makeStaple(t, c, fresh), 0, 0},
		{"good, delegated responder", c, makeStaple(t, c, staple{status: ocsp.Good, thisUpdate: -time.Hour, next: time.Hour, signer: delegateKey, responder: delegate}), 0, 0},
		{"good, RSA issuer", rsaCase, makeStaple(t, rsaCase, fresh), 0, 0},
		{"no staple", c, nil, 0, 0},
		{"revoked", c, makeStaple(t, c, staple{status: ocsp.Revoked, thisUpdate: -time.Hour, next: time.Hour}), certs.ReasonRevoked, certs.RuleOCSPRevoked},
		{"revoked and stale", c, makeStaple(t, c, staple{status: ocsp.Revoked, thisUpdate: -72 * time.Hour, next: -48 * time.Hour}), certs.ReasonRevoked, certs.RuleOCSPRevoked},
		{"unknown", c, makeStaple(t, c, staple{status: ocsp.Unknown, thisUpdate: -time.Hour, next: time.Hour}), certs.ReasonRevocationUnknown, certs.RuleOCSPStatus},
		{"expired", c, makeStaple(t, c, staple{status: ocsp.Good, thisUpdate: -72 * time.Hour, next: -time.Hour}), certs.ReasonRevocationUnknown, certs.RuleOCSPStale},
		{"expired within the skew", c, makeStaple(t, c, staple{status: ocsp.Good, thisUpdate: -72 * time.Hour, next: -certs.RevocationSkew + time.Second}), 0, 0},
		{"from the future", c, makeStaple(t, c, staple{status: ocsp.Good, thisUpdate: time.Hour, next: 48 * time.Hour}), certs.ReasonRevocationUnknown, certs.RuleOCSPStale},
		{"no nextUpdate, recent", c, makeStaple(t, c, staple{status: ocsp.Good, thisUpdate: -time.Hour}), 0, 0},
		{"no nextUpdate, old", c, makeStaple(t, c, staple{status: ocsp.Good, thisUpdate: -certs.OCSPMaxAge - time.Hour}), certs.ReasonRevocationUnknown, certs.RuleOCSPStale},
		{"another serial", c, makeStaple(t, c, staple{status: ocsp.Good, thisUpdate: -time.Hour, next: time.Hour, serial: big.NewInt(7)}), certs.ReasonRevocationUnknown, certs.RuleOCSPCertID},
		{"wrong issuer (CertID of another CA, signed by it)", c, makeStaple(t, c, staple{status: ocsp.Good, thisUpdate: -time.Hour, next: time.Hour, hashIssuer: other.Issuer, signer: other.IssuerKey, responder: other.Issuer}), certs.ReasonRevocationUnknown, certs.RuleOCSPCertID},
		{"signed by another key", c, makeStaple(t, c, staple{status: ocsp.Good, thisUpdate: -time.Hour, next: time.Hour, signer: other.IssuerKey}), certs.ReasonRevocationUnknown, certs.RuleOCSPSignature},
		{"responder without OCSP signing", c, makeStaple(t, c, staple{status: ocsp.Good, thisUpdate: -time.Hour, next: time.Hour, signer: notOCSPKey, responder: notOCSP}), certs.ReasonRevocationUnknown, certs.RuleOCSPResponder},
		{"responder of another CA", c, makeStaple(t, c, staple{status: ocsp.Good, thisUpdate: -time.Hour, next: time.Hour, signer: foreignKey, responder: foreign}), certs.ReasonRevocationUnknown, certs.RuleOCSPResponder},
		{"responder expired", c, makeStaple(t, c, staple{status: ocsp.Good, thisUpdate: -time.Hour, next: time.Hour, signer: expiredDelegateKey, responder: expiredDelegate}), certs.ReasonRevocationUnknown, certs.RuleOCSPResponder},
		{"SHA-1 signature", rsaCase, makeStaple(t, rsaCase, staple{status: ocsp.Good, thisUpdate: -time.Hour, next: time.Hour, sigAlg: x509.SHA1WithRSA}), certs.ReasonRevocationUnknown, certs.RuleOCSPSignature},
		{"unknown critical single extension", c, makeStaple(t, c, staple{status: ocsp.Good, thisUpdate: -time.Hour, next: time.Hour, singleCriticalUnknow: true}), certs.ReasonRevocationUnknown, certs.RuleOCSPMalformed},
		{"tryLater", c, ocsp.TryLaterErrorResponse, certs.ReasonRevocationUnknown, certs.RuleOCSPMalformed},
		{"garbage", c, []byte("not an OCSP response"), certs.ReasonRevocationUnknown, certs.RuleOCSPMalformed},
		{"truncated", c, makeStaple(t, c, fresh)[:100], certs.ReasonRevocationUnknown, certs.RuleOCSPMalformed},
		{"too large", c, make([]byte, certs.MaxOCSPResponseBytes+1), certs.ReasonRevocationUnknown, certs.RuleOCSPMalformed},
		{"must-staple without a staple", mustStaple, nil, certs.ReasonRevocationUnknown, certs.RuleMustStaple},
		{"must-staple with a staple", mustStaple, makeStaple(t, mustStaple, fresh), 0, 0},
	}
}

func TestCheckOCSP(t *testing.T) {
	c := ecCase(t, nil)
	for _, tt := range ocspCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			err := certs.CheckOCSP(tt.staple, tt.c.Leaf, tt.c.Issuer, now)
			if tt.reason == certs.ReasonNone {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ce *certs.Error
			if !errors.As(err, &ce) || ce.Reason != tt.reason || ce.Rule != tt.rule {
				t.Fatalf("%v, want %v by %v", err, tt.reason, tt.rule)
			}
			if ce.Cert == nil || !strings.HasPrefix(ce.Detail, "leaf ") {
				t.Errorf("detail %q does not name the leaf", ce.Detail)
			}
		})
	}
	if err := certs.CheckOCSP(nil, c.Leaf, nil, now); err == nil {
		t.Error("no issuer accepted")
	}
}

// CheckRevocation: OCSP and CRLs together, "revoked" first, nothing for a
// root used as the leaf.
func TestCheckRevocation(t *testing.T) {
	c := ecCase(t, nil)
	path := []*x509.Certificate{c.Leaf, c.Issuer}
	stale := makeStaple(t, c, staple{status: ocsp.Good, thisUpdate: -72 * time.Hour, next: -48 * time.Hour})
	good := makeStaple(t, c, staple{status: ocsp.Good, thisUpdate: -time.Hour, next: time.Hour})
	crlDER, err := c.CRL(now.Add(-time.Hour), now.Add(time.Hour), c.Leaf.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	revoking, err := certs.ParseCRLs(crlDER)
	if err != nil {
		t.Fatal(err)
	}
	if err := certs.CheckRevocation(path, good, nil, now); err != nil {
		t.Errorf("good staple: %v", err)
	}
	if err := certs.CheckRevocation(path, stale, revoking, now); reasonOf(t, err) != certs.ReasonRevoked {
		t.Errorf("stale staple and a CRL revoking: %v, want revoked", err)
	}
	if err := certs.CheckRevocation(path, stale, nil, now); reasonOf(t, err) != certs.ReasonRevocationUnknown {
		t.Errorf("stale staple: %v", err)
	}
	anchor, err := testpki.AnchorLeaf(now, testpki.ECDSAP256, func(x *x509.Certificate) {
		x.ExtraExtensions = append(x.ExtraExtensions, testpki.MustStapleExtension())
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := certs.CheckRevocation([]*x509.Certificate{anchor.Leaf}, nil, revoking, now); err != nil {
		t.Errorf("a root as the leaf: %v", err)
	}
}

func TestMustStaple(t *testing.T) {
	plain := ecCase(t, nil)
	if must, err := certs.MustStaple(plain.Leaf); must || err != nil {
		t.Errorf("plain leaf: %v %v", must, err)
	}
	for _, tt := range []struct {
		value []byte
		must  bool
		bad   bool
	}{
		{[]byte{0x30, 0x03, 0x02, 0x01, 0x05}, true, false},
		{[]byte{0x30, 0x06, 0x02, 0x01, 0x11, 0x02, 0x01, 0x05}, true, false},
		{[]byte{0x30, 0x03, 0x02, 0x01, 0x11}, false, false}, // status_request_v2 only
		{[]byte{0x30, 0x00}, false, false},
		{[]byte{0x30, 0x03, 0x04, 0x01, 0x05}, false, true},
		{[]byte{0x30, 0x03, 0x02, 0x01}, false, true},
		{[]byte{0x30, 0x03, 0x02, 0x01, 0x05, 0x00}, false, true},
	} {
		c := ecCase(t, func(s *testpki.Spec) {
			s.Leaf = func(x *x509.Certificate) {
				x.ExtraExtensions = append(x.ExtraExtensions, pkix.Extension{Id: testpki.OIDTLSFeature, Value: tt.value})
			}
		})
		must, err := certs.MustStaple(c.Leaf)
		if must != tt.must || (err != nil) != tt.bad {
			t.Errorf("%x: must %v err %v", tt.value, must, err)
		}
		if tt.bad {
			if err := certs.CheckOCSP(nil, c.Leaf, c.Issuer, now); reasonOf(t, err) != certs.ReasonMalformed {
				t.Errorf("%x: CheckOCSP: %v, want malformed", tt.value, err)
			}
		}
	}
}

// Responses made by `openssl ocsp` (the responder side, from an index
// file) check as they should: good and revoked, signed by the issuer and by
// a delegated responder.
func TestCheckOCSPOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	wall := time.Now()
	c, err := testpki.Build(wall, testpki.Spec{LeafKey: testpki.ECDSAP256, IntermediateKey: testpki.ECDSAP256, RootKey: testpki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	delegate, delegateKey, err := c.Responder(wall, true)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, blocks ...*pem.Block) string {
		t.Helper()
		var out []byte
		for _, b := range blocks {
			out = append(out, pem.EncodeToMemory(b)...)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, out, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	keyBlock := func(k crypto.Signer) *pem.Block {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	cert := func(c *x509.Certificate) *pem.Block { return &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw} }
	issuerPEM := write("issuer.pem", cert(c.Issuer))
	issuerKey := write("issuer.key", keyBlock(c.IssuerKey))
	delegatePEM := write("delegate.pem", cert(delegate))
	delegateKeyPEM := write("delegate.key", keyBlock(delegateKey))
	leafPEM := write("leaf.pem", cert(c.Leaf))

	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command(openssl, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	req := filepath.Join(dir, "req.der")
	run("ocsp", "-issuer", issuerPEM, "-cert", leafPEM, "-no_nonce", "-reqout", req)
	serial := strings.ToUpper(fmt.Sprintf("%x", c.Leaf.SerialNumber))
	if len(serial)%2 == 1 {
		serial = "0" + serial
	}
	expiry := c.Leaf.NotAfter.UTC().Format("060102150405Z")
	for _, tt := range []struct {
		name, index       string
		signer, signerKey string
		want              certs.Reason
	}{
		{"good by the issuer", "V\t" + expiry + "\t\t" + serial + "\tunknown\t/CN=a.example\n", issuerPEM, issuerKey, 0},
		{"good by a delegate", "V\t" + expiry + "\t\t" + serial + "\tunknown\t/CN=a.example\n", delegatePEM, delegateKeyPEM, 0},
		{"revoked", "R\t" + expiry + "\t" + wall.Add(-time.Hour).UTC().Format("060102150405Z") + "\t" + serial + "\tunknown\t/CN=a.example\n", issuerPEM, issuerKey, certs.ReasonRevoked},
		{"not in the index", "V\t" + expiry + "\t\t01\tunknown\t/CN=other\n", issuerPEM, issuerKey, certs.ReasonRevocationUnknown},
	} {
		index := filepath.Join(dir, "index.txt")
		if err := os.WriteFile(index, []byte(tt.index), 0o600); err != nil {
			t.Fatal(err)
		}
		resp := filepath.Join(dir, "resp.der")
		run("ocsp", "-index", index, "-CA", issuerPEM, "-rsigner", tt.signer, "-rkey", tt.signerKey,
			"-reqin", req, "-respout", resp, "-ndays", "1")
		der, err := os.ReadFile(resp)
		if err != nil {
			t.Fatal(err)
		}
		err = certs.CheckOCSP(der, c.Leaf, c.Issuer, wall)
		if got := reasonOf(t, err); got != tt.want {
			t.Errorf("%s: %v (%v), want %v", tt.name, got, err, tt.want)
		}
	}
}

// A StapleCache answers as CheckOCSP does, verifies a signature once per
// staple, and judges freshness afresh at every call.
func TestStapleCache(t *testing.T) {
	cache := certs.NewStapleCache(0)
	for _, tt := range ocspCases(t) {
		for round := 0; round < 2; round++ {
			err := cache.CheckOCSP(tt.staple, tt.c.Leaf, tt.c.Issuer, now)
			plain := certs.CheckOCSP(tt.staple, tt.c.Leaf, tt.c.Issuer, now)
			if reasonOf(t, err) != reasonOf(t, plain) {
				t.Fatalf("%s round %d: %v, uncached %v", tt.name, round, err, plain)
			}
		}
	}
	if cache.Hits() == 0 {
		t.Fatal("no hit")
	}

	c := ecCase(t, nil)
	good := makeStaple(t, c, staple{status: ocsp.Good, thisUpdate: -time.Hour, next: time.Hour})
	cache = certs.NewStapleCache(1)
	if err := cache.CheckOCSP(good, c.Leaf, c.Issuer, now); err != nil {
		t.Fatal(err)
	}
	if err := cache.CheckOCSP(good, c.Leaf, c.Issuer, now.Add(3*time.Hour)); reasonOf(t, err) != certs.ReasonRevocationUnknown {
		t.Errorf("a cached staple three hours on: %v, want stale", err)
	}
	if cache.Hits() != 1 {
		t.Errorf("hits %d, want 1", cache.Hits())
	}
	// Another leaf, same staple bytes: not a hit, and refused.
	other := ecCase(t, nil)
	if err := cache.CheckOCSP(good, other.Leaf, other.Issuer, now); err == nil || cache.Hits() != 1 {
		t.Errorf("another leaf: %v, hits %d", err, cache.Hits())
	}
	// A delegated responder's entry is used only while the responder is
	// valid.
	delegate, key, err := c.Responder(now, true)
	if err != nil {
		t.Fatal(err)
	}
	byDelegate := makeStaple(t, c, staple{status: ocsp.Good, thisUpdate: -time.Hour, next: 30 * 24 * time.Hour, signer: key, responder: delegate})
	if err := cache.CheckOCSP(byDelegate, c.Leaf, c.Issuer, now); err != nil {
		t.Fatal(err)
	}
	hits := cache.Hits()
	if err := cache.CheckOCSP(byDelegate, c.Leaf, c.Issuer, delegate.NotAfter.Add(time.Hour)); reasonOf(t, err) != certs.ReasonRevocationUnknown || cache.Hits() != hits {
		t.Errorf("after the responder expired: %v, hits %d -> %d", err, hits, cache.Hits())
	}
	if cache.Len() > 1 {
		t.Errorf("cache of 1 holds %d", cache.Len())
	}
	if certs.NewStapleCache(-1) != nil {
		t.Error("negative size")
	}
}
