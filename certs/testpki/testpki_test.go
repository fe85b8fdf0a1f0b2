package testpki_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

var now = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func newPKI(t testing.TB) *testpki.PKI {
	t.Helper()
	p, err := testpki.New(now)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func verifier(p *testpki.PKI) *certs.Verifier {
	return &certs.Verifier{Roots: p.Roots, Time: func() time.Time { return now }}
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

func TestNewHierarchy(t *testing.T) {
	p := newPKI(t)
	if !p.Root.IsCA || p.Root.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Error("root is not a signing CA")
	}
	if err := p.Root.CheckSignatureFrom(p.Root); err != nil {
		t.Errorf("root is not self-signed: %v", err)
	}
	if !p.Intermediate.IsCA || p.Intermediate.MaxPathLen != 0 || !p.Intermediate.MaxPathLenZero {
		t.Error("intermediate is not a CA with path length 0")
	}
	if err := p.Intermediate.CheckSignatureFrom(p.Root); err != nil {
		t.Errorf("intermediate not signed by root: %v", err)
	}
	for _, c := range []*x509.Certificate{p.Root, p.Intermediate} {
		k, ok := c.PublicKey.(*rsa.PublicKey)
		if !ok || k.N.BitLen() != 2048 {
			t.Errorf("%s: want an RSA-2048 key", c.Subject)
		}
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			t.Errorf("%s: not valid at Now", c.Subject)
		}
	}
	if !p.RootKey.Public().(*rsa.PublicKey).Equal(p.Root.PublicKey) ||
		!p.IntermediateKey.Public().(*rsa.PublicKey).Equal(p.Intermediate.PublicKey) {
		t.Error("keys do not match their certificates")
	}
	if _, err := p.Root.Verify(x509.VerifyOptions{Roots: p.Roots, CurrentTime: now}); err != nil {
		t.Errorf("Roots does not hold Root: %v", err)
	}
}

// TestDefects issues every defect and checks that certs.Verifier refuses it
// for the reason the defect stands for.
func TestDefects(t *testing.T) {
	p := newPKI(t)
	v := verifier(p)
	const name = "www.example.com"
	tests := []struct {
		defect   testpki.Defect
		want     certs.Reason
		chainLen int
	}{
		{testpki.Good, certs.ReasonNone, 2},
		{testpki.Expired, certs.ReasonExpired, 2},
		{testpki.NotYetValid, certs.ReasonNotYetValid, 2},
		{testpki.WrongName, certs.ReasonNameMismatch, 2},
		{testpki.UnknownRoot, certs.ReasonUnknownAuthority, 2},
		{testpki.SelfSigned, certs.ReasonUnknownAuthority, 1},
		{testpki.NoServerAuth, certs.ReasonKeyUsage, 2},
		{testpki.CAAsLeaf, certs.ReasonKeyUsage, 2},
		{testpki.SHA1Signed, certs.ReasonWeakSignature, 2},
		{testpki.MissingIntermediate, certs.ReasonUnknownAuthority, 1},
	}
	for _, kt := range []testpki.KeyType{testpki.RSA2048, testpki.ECDSAP256} {
		for _, tt := range tests {
			t.Run(kt.String()+"/"+tt.defect.String(), func(t *testing.T) {
				leaf, err := p.Issue([]string{name}, kt, tt.defect)
				if err != nil {
					t.Fatal(err)
				}
				if len(leaf.Chain) != tt.chainLen {
					t.Errorf("chain has %d certificates, want %d", len(leaf.Chain), tt.chainLen)
				}
				if !bytes.Equal(leaf.Chain[0], leaf.Cert.Raw) {
					t.Error("Chain[0] is not Cert")
				}
				_, err = v.Verify(leaf.Chain, name)
				if got := reasonOf(t, err); got != tt.want {
					t.Errorf("Verify: reason %v (%v), want %v", got, err, tt.want)
				}
			})
		}
	}
}

func TestDefectDetails(t *testing.T) {
	p := newPKI(t)
	issue := func(d testpki.Defect) *x509.Certificate {
		l, err := p.Issue([]string{"a.example"}, testpki.RSA2048, d)
		if err != nil {
			t.Fatal(err)
		}
		return l.Cert
	}
	if c := issue(testpki.Good); !c.NotBefore.Equal(now.Add(-time.Hour)) || !c.NotAfter.Equal(now.Add(24*time.Hour)) ||
		c.SignatureAlgorithm != x509.SHA256WithRSA || c.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment ||
		len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || c.IsCA {
		t.Errorf("good leaf: %v..%v %v usage %v %v CA %v", c.NotBefore, c.NotAfter, c.SignatureAlgorithm, c.KeyUsage, c.ExtKeyUsage, c.IsCA)
	}
	if c := issue(testpki.Expired); !c.NotAfter.Before(now) {
		t.Error("expired leaf still valid at Now")
	}
	if c := issue(testpki.NotYetValid); !c.NotBefore.After(now) {
		t.Error("not-yet-valid leaf already valid at Now")
	}
	if c := issue(testpki.SelfSigned); c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) != nil ||
		!bytes.Equal(c.RawIssuer, c.RawSubject) || c.IsCA {
		t.Error("self-signed leaf does not verify under its own key, or is a CA")
	}
	if c := issue(testpki.NoServerAuth); len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("NoServerAuth leaf has %v", c.ExtKeyUsage)
	}
	if c := issue(testpki.SHA1Signed); c.SignatureAlgorithm != x509.SHA1WithRSA {
		t.Errorf("SHA1Signed leaf signed with %v", c.SignatureAlgorithm)
	}
	if c := issue(testpki.WrongName); c.VerifyHostname("a.example") == nil {
		t.Error("WrongName leaf is valid for its name")
	}
	if c := issue(testpki.UnknownRoot); c.CheckSignatureFrom(p.Intermediate) == nil {
		t.Error("UnknownRoot leaf signed by the trusted intermediate")
	}
	ec, err := p.Issue([]string{"a.example"}, testpki.ECDSAP384, testpki.Good)
	if err != nil {
		t.Fatal(err)
	}
	if ec.Cert.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("ECDSA leaf key usage %v, want digitalSignature alone", ec.Cert.KeyUsage)
	}
}

func TestGoodKeyTypes(t *testing.T) {
	p := newPKI(t)
	v := verifier(p)
	tests := []struct {
		kt    testpki.KeyType
		check func(any) bool
	}{
		{testpki.RSA2048, func(k any) bool { r, ok := k.(*rsa.PublicKey); return ok && r.N.BitLen() == 2048 }},
		{testpki.RSA4096, func(k any) bool { r, ok := k.(*rsa.PublicKey); return ok && r.N.BitLen() == 4096 }},
		{testpki.ECDSAP256, func(k any) bool { e, ok := k.(*ecdsa.PublicKey); return ok && e.Curve == elliptic.P256() }},
		{testpki.ECDSAP384, func(k any) bool { e, ok := k.(*ecdsa.PublicKey); return ok && e.Curve == elliptic.P384() }},
	}
	for _, tt := range tests {
		t.Run(tt.kt.String(), func(t *testing.T) {
			leaf, err := p.Issue([]string{"api.example.com", "192.0.2.7", "2001:db8::7"}, tt.kt, testpki.Good)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(leaf.Cert.PublicKey) {
				t.Errorf("leaf key is %T", leaf.Cert.PublicKey)
			}
			for _, name := range []string{"api.example.com", "192.0.2.7", "2001:db8::7"} {
				chain, err := v.Verify(leaf.Chain, name)
				if err != nil {
					t.Fatalf("Verify(%q): %v", name, err)
				}
				if len(chain) != 3 || !chain[0].Equal(leaf.Cert) || !chain[1].Equal(p.Intermediate) || !chain[2].Equal(p.Root) {
					t.Errorf("Verify(%q) returned a chain of %d, not leaf, intermediate, root", name, len(chain))
				}
			}
			if _, err := v.Verify(leaf.Chain, "192.0.2.8"); reasonOf(t, err) != certs.ReasonNameMismatch {
				t.Errorf("another IP: %v", err)
			}
		})
	}
}

func TestRSA1024IsWeak(t *testing.T) {
	p := newPKI(t)
	leaf, err := p.Issue([]string{"old.example"}, testpki.RSA1024, testpki.Good)
	if err != nil {
		t.Fatal(err)
	}
	if k := leaf.Cert.PublicKey.(*rsa.PublicKey); k.N.BitLen() != 1024 {
		t.Fatalf("RSA1024 leaf has %d bits", k.N.BitLen())
	}
	if _, err := verifier(p).Verify(leaf.Chain, "old.example"); reasonOf(t, err) != certs.ReasonWeakKey {
		t.Errorf("Verify: %v, want weak key", err)
	}
}

// TestPKIsIndependent: two PKIs never vouch for each other, even though
// their RSA keys come from one ring.
func TestPKIsIndependent(t *testing.T) {
	a, b := newPKI(t), newPKI(t)
	if a.Root.Subject.String() == b.Root.Subject.String() {
		t.Fatal("two PKIs share a root name")
	}
	leaf, err := b.Issue([]string{"b.example"}, testpki.RSA2048, testpki.Good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifier(a).Verify(leaf.Chain, "b.example"); reasonOf(t, err) != certs.ReasonUnknownAuthority {
		t.Errorf("leaf of b under a's roots: %v", err)
	}
}

func TestConsecutiveLeavesHaveDistinctKeys(t *testing.T) {
	p := newPKI(t)
	for _, kt := range []testpki.KeyType{testpki.RSA2048, testpki.ECDSAP256} {
		l1, err1 := p.Issue([]string{"a.example"}, kt, testpki.Good)
		l2, err2 := p.Issue([]string{"a.example"}, kt, testpki.Good)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if bytes.Equal(l1.Cert.RawSubjectPublicKeyInfo, l2.Cert.RawSubjectPublicKeyInfo) {
			t.Errorf("%v: two consecutive leaves share a key", kt)
		}
		if l1.Cert.SerialNumber.Cmp(l2.Cert.SerialNumber) == 0 {
			t.Errorf("%v: two leaves share a serial number", kt)
		}
	}
}

func TestConcurrentIssue(t *testing.T) {
	p := newPKI(t)
	v := verifier(p)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kt := []testpki.KeyType{testpki.RSA2048, testpki.ECDSAP256, testpki.ECDSAP384}[i%3]
			l, err := p.Issue([]string{"c.example"}, kt, testpki.Good)
			if err == nil {
				_, err = v.Verify(l.Chain, "c.example")
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestIssueErrors(t *testing.T) {
	p := newPKI(t)
	if _, err := p.Issue(nil, testpki.RSA2048, testpki.Good); err == nil {
		t.Error("Issue with no names succeeded")
	}
	if _, err := p.Issue([]string{"a.example"}, testpki.KeyType(99), testpki.Good); err == nil {
		t.Error("Issue with an unknown key type succeeded")
	}
	if _, err := p.Issue([]string{"a.example"}, testpki.RSA2048, testpki.Defect(99)); err == nil {
		t.Error("Issue with an unknown defect succeeded")
	}
	if _, err := new(testpki.PKI).Issue([]string{"a.example"}, testpki.RSA2048, testpki.Good); err == nil {
		t.Error("Issue on a zero PKI succeeded")
	}
}

// TestTLSHandshake proves the PKI is real: crypto/tls accepts a testpki leaf
// under Roots, and refuses it under another PKI's roots.
func TestTLSHandshake(t *testing.T) {
	p := newPKI(t)
	for _, kt := range []testpki.KeyType{testpki.RSA2048, testpki.ECDSAP256} {
		leaf, err := p.Issue([]string{"tls.example"}, kt, testpki.Good)
		if err != nil {
			t.Fatal(err)
		}
		if err := handshake(t, leaf, p.Roots, "tls.example"); err != nil {
			t.Errorf("%v: handshake: %v", kt, err)
		}
	}
	leaf, err := p.Issue([]string{"tls.example"}, testpki.RSA2048, testpki.Good)
	if err != nil {
		t.Fatal(err)
	}
	other := newPKI(t)
	var unknown x509.UnknownAuthorityError
	if err := handshake(t, leaf, other.Roots, "tls.example"); !errors.As(err, &unknown) {
		t.Errorf("handshake under another PKI's roots: %v, want unknown authority", err)
	}
}

func handshake(t *testing.T, leaf *testpki.Leaf, roots *x509.CertPool, name string) error {
	t.Helper()
	cc, sc := net.Pipe()
	defer cc.Close()
	srv := tls.Server(sc, &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer sc.Close()
		if srv.Handshake() == nil {
			io.Copy(srv, srv) // echo
		}
	}()
	cli := tls.Client(cc, &tls.Config{RootCAs: roots, ServerName: name, Time: func() time.Time { return now }})
	err := cli.Handshake()
	if err == nil {
		if _, err = cli.Write([]byte("ping")); err == nil {
			buf := make([]byte, 4)
			if _, err = io.ReadFull(cli, buf); err == nil && string(buf) != "ping" {
				err = errors.New("echo mismatch")
			}
		}
	}
	cc.Close()
	<-done
	return err
}

func TestPEMFiles(t *testing.T) {
	p := newPKI(t)
	leaf, err := p.Issue([]string{"files.example"}, testpki.ECDSAP256, testpki.Good)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile, err := leaf.WriteFiles(dir, "server")
	if err != nil {
		t.Fatal(err)
	}
	if certFile != filepath.Join(dir, "server.crt") || keyFile != filepath.Join(dir, "server.key") {
		t.Errorf("paths %q %q", certFile, keyFile)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("key file mode: %v %v", fi.Mode(), err)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(pair.Certificate) != 2 || !bytes.Equal(pair.Certificate[0], leaf.Chain[0]) || !bytes.Equal(pair.Certificate[1], p.Intermediate.Raw) {
		t.Error("chain file is not leaf then intermediate")
	}
	block, rest := pem.Decode(leaf.KeyPEM())
	if block == nil || block.Type != "PRIVATE KEY" || len(rest) != 0 {
		t.Fatal("KeyPEM is not one PRIVATE KEY block")
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		t.Errorf("KeyPEM is not PKCS#8: %v", err)
	}

	rootFile, err := p.WriteRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	rootPEM, err := os.ReadFile(rootFile)
	if err != nil || !bytes.Equal(rootPEM, p.RootPEM()) || filepath.Base(rootFile) != "root.pem" {
		t.Fatalf("root file %q: %v", rootFile, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(rootPEM) {
		t.Fatal("RootPEM holds no certificate")
	}
	if _, err := (&certs.Verifier{Roots: pool, Time: func() time.Time { return now }}).Verify(pair.Certificate, "files.example"); err != nil {
		t.Errorf("chain from files under root from file: %v", err)
	}

	for _, bad := range []string{"", "a/b", "..", "."} {
		if _, _, err := leaf.WriteFiles(dir, bad); err == nil {
			t.Errorf("WriteFiles(%q) succeeded", bad)
		}
	}
}

// TestOpenSSLVerify checks the files with a verifier nobody here wrote.
func TestOpenSSLVerify(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	p, err := testpki.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rootFile, err := p.WriteRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	run := func(d testpki.Defect) error {
		leaf, err := p.Issue([]string{"ossl.example"}, testpki.ECDSAP256, d)
		if err != nil {
			t.Fatal(err)
		}
		leafFile := filepath.Join(dir, "leaf.pem")
		interFile := filepath.Join(dir, "inter.pem")
		os.WriteFile(leafFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Chain[0]}), 0o644)
		os.WriteFile(interFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Intermediate.Raw}), 0o644)
		out, err := exec.Command(openssl, "verify", "-CAfile", rootFile, "-untrusted", interFile,
			"-purpose", "sslserver", "-verify_hostname", "ossl.example", leafFile).CombinedOutput()
		if err != nil {
			return errors.New(string(out))
		}
		return nil
	}
	if err := run(testpki.Good); err != nil {
		t.Errorf("openssl refused a good chain: %v", err)
	}
	if err := run(testpki.Expired); err == nil {
		t.Error("openssl accepted an expired leaf")
	}
}
