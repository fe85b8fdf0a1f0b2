package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

// -k: the embedded offloader accepts a certificate it would refuse, with a
// warning; %{ssl_verify_result} still says what was wrong.
func TestInsecure(t *testing.T) {
	for _, tc := range []struct {
		defect testpki.Defect
		verify string
	}{
		{testpki.Expired, "10"},
		{testpki.WrongName, "62"},
		{testpki.UnknownRoot, "20"},
		{testpki.SelfSigned, "18"},
		{testpki.Good, "0"},
	} {
		t.Run(tc.defect.String(), func(t *testing.T) {
			s := newTestServer(t, tc.defect, echoHandler)
			url := "https://localhost:" + s.port + "/k"
			if tc.defect != testpki.Good {
				// Refused without -k, %{ssl_verify_result} says why all the same.
				if code, out, _ := ocurl("--cacert", s.rootFile, "-w", "%{ssl_verify_result}", url); code != exitCertificate || out != tc.verify {
					t.Fatalf("without -k: exit %d, verify result %q", code, out)
				}
			}
			code, out, errOut := ocurl("-k", "--cacert", s.rootFile, "-w", "|%{ssl_verify_result}", url)
			if code != 0 || !strings.HasPrefix(out, "GET /k") || !strings.HasSuffix(out, "|"+tc.verify) ||
				!strings.Contains(errOut, "ocurl: warning: --insecure") {
				t.Fatalf("-k: exit %d out %q err %q", code, out, errOut)
			}
			if code, _, errOut := ocurl("-sk", "--cacert", s.rootFile, url); code != 0 || errOut != "" {
				t.Fatalf("-sk: exit %d err %q", code, errOut)
			}
		})
	}
}

// spkiPin is the --pinnedpubkey form of a server's leaf key.
func spkiPin(t *testing.T, s *testServer) (string, []byte) {
	t.Helper()
	c, err := tls.Dial("tcp", s.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	spki := c.ConnectionState().PeerCertificates[0].RawSubjectPublicKeyInfo
	sum := sha256.Sum256(spki)
	return "sha256//" + base64.StdEncoding.EncodeToString(sum[:]), spki
}

// --pinnedpubkey is checked by the embedded offloader, with and without
// -k; a mismatch exits 90.
func TestPinnedPubKey(t *testing.T) {
	s := newTestServer(t, testpki.Good, echoHandler)
	self := newTestServer(t, testpki.SelfSigned, echoHandler)
	url := "https://localhost:" + s.port + "/"
	pin, spki := spkiPin(t, s)
	selfPin, _ := spkiPin(t, self)
	other := "sha256//" + base64.StdEncoding.EncodeToString(make([]byte, 32))
	pemFile := filepath.Join(t.TempDir(), "key.pem")
	os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}), 0o644)
	for _, p := range []string{pin, other + ";" + pin, pemFile} {
		if code, _, errOut := ocurl("--cacert", s.rootFile, "--pinnedpubkey", p, url); code != 0 {
			t.Errorf("--pinnedpubkey %s: exit %d %s", p, code, errOut)
		}
	}
	code, _, errOut := ocurl("--cacert", s.rootFile, "--pinnedpubkey", other, url)
	if code != exitPinned || !strings.Contains(errOut, "public key does not match pinned public key") {
		t.Errorf("mismatch: exit %d %s", code, errOut)
	}
	selfURL := "https://localhost:" + self.port + "/"
	if code, _, errOut := ocurl("-k", "--pinnedpubkey", selfPin, selfURL); code != 0 {
		t.Errorf("-k with the right pin: exit %d %s", code, errOut)
	}
	if code, _, _ := ocurl("-k", "--pinnedpubkey", pin, selfURL); code != exitPinned {
		t.Errorf("-k with a wrong pin: exit %d", code)
	}
	if code, _, _ := ocurl("--pinnedpubkey", "sha256//short", url); code != exitPinned {
		t.Errorf("malformed pin: exit %d", code)
	}
}

// --ciphers takes OpenSSL names; the suite the server picks is among them.
func TestCiphers(t *testing.T) {
	s := newTestServer(t, testpki.Good, echoHandler) // an ECDSA P-256 certificate
	url := "https://localhost:" + s.port + "/"
	for _, c := range []string{"ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "TLS_AES_128_GCM_SHA256:ECDHE-ECDSA-AES128-SHA",
		"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"} {
		want := c
		if i := strings.LastIndexByte(c, ':'); i >= 0 {
			want = c[i+1:]
		}
		if want == "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" {
			want = "ECDHE-ECDSA-AES256-GCM-SHA384"
		}
		code, out, errOut := ocurl("--cacert", s.rootFile, "--ciphers", c, "-o", filepath.Join(t.TempDir(), "o"), "-w", "%{tls_cipher}", url)
		if code != 0 || out != want {
			t.Errorf("--ciphers %s: exit %d, negotiated %q, err %s", c, code, out, errOut)
		}
	}
	if code, _, errOut := ocurl("--cacert", s.rootFile, "--ciphers", "TLS_AES_128_GCM_SHA256:DHE-RSA-AES128-SHA:HIGH", url); code != exitCipher ||
		!strings.Contains(errOut, "failed setting cipher list") {
		t.Errorf("no known suite: exit %d %s", code, errOut)
	}
	if code, _, _ := ocurl("--cacert", s.rootFile, "--ciphers", "AES128-GCM-SHA256", url); code != exitTLS {
		t.Errorf("RSA key exchange against an ECDSA certificate: exit %d, want 35", code)
	}
}

// --capath trusts the PEM files of a directory.
func TestCapath(t *testing.T) {
	s := newTestServer(t, testpki.Good, echoHandler)
	dir := t.TempDir()
	b, _ := os.ReadFile(s.rootFile)
	os.WriteFile(filepath.Join(dir, "0123abcd.0"), b, 0o644)
	os.WriteFile(filepath.Join(dir, "README"), []byte("not a certificate"), 0o644)
	url := "https://localhost:" + s.port + "/"
	if code, _, errOut := ocurl("--capath", dir, url); code != 0 {
		t.Fatalf("--capath: exit %d %s", code, errOut)
	}
	// One that cannot be read or holds no certificate adds no root: a
	// warning, then 60, as curl with OpenSSL (which does not warn).
	empty := t.TempDir()
	if code, _, errOut := ocurl("--capath", empty, url); code != exitCertificate || !strings.HasPrefix(errOut, "Warning: --capath "+empty+": no PEM certificate in it\n") {
		t.Fatalf("empty --capath: exit %d %q", code, errOut)
	}
	missing := filepath.Join(dir, "none")
	if code, _, errOut := ocurl("--capath", missing, url); code != exitCertificate || !strings.HasPrefix(errOut, "Warning: --capath "+missing+": ") {
		t.Fatalf("missing --capath: exit %d %q", code, errOut)
	}
	if code, _, errOut := ocurl("-s", "--capath", missing, url); code != exitCertificate || errOut != "" {
		t.Fatalf("-s, missing --capath: exit %d %q", code, errOut)
	}
	if code, _, errOut := ocurl("--cacert", s.rootFile, "--capath", missing, url); code != 0 {
		t.Fatalf("--cacert and a missing --capath: exit %d %q", code, errOut)
	}
}

// clientPKI makes a CA and a client certificate for TLS client auth.
func clientPKI(t *testing.T, dir string) (pool *x509.CertPool, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client CA"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "device-7"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile = filepath.Join(dir, "client.pem")
	keyFile = filepath.Join(dir, "client.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600)
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return pool, certFile, keyFile
}

// --cert/--key answer a server's CertificateRequest from the embedded
// offloader, which holds the key.
func TestClientCertificate(t *testing.T) {
	dir := t.TempDir()
	pool, certFile, keyFile := clientPKI(t, dir)
	p, err := testpki.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := p.Issue([]string{"localhost"}, testpki.ECDSAP256, testpki.Good)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}, MaxVersion: tls.VersionTLS12,
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ErrorLog: log.New(io.Discard, "", 0), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "client=%s", r.TLS.PeerCertificates[0].Subject.CommonName)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	root, _ := p.WriteRoot(dir)
	_, port, _ := net.SplitHostPort(l.Addr().String())
	url := "https://localhost:" + port + "/"

	if code, out, errOut := ocurl("--cacert", root, "--cert", certFile, "--key", keyFile, url); code != 0 || out != "client=device-7" {
		t.Fatalf("--cert --key: exit %d out %q err %s", code, out, errOut)
	}
	both := filepath.Join(dir, "both.pem")
	c, _ := os.ReadFile(certFile)
	k, _ := os.ReadFile(keyFile)
	os.WriteFile(both, append(c, k...), 0o600)
	if code, out, _ := ocurl("--cacert", root, "-E", both, "--cert-type", "PEM", url); code != 0 || out != "client=device-7" {
		t.Fatalf("-E with the key in the same file: exit %d out %q", code, out)
	}
	if code, _, _ := ocurl("--cacert", root, url); code == 0 {
		t.Fatal("no client certificate, yet the server took the request")
	}
	enc := filepath.Join(dir, "enc.key")
	os.WriteFile(enc, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n"), 0o600)
	for _, args := range [][]string{{"--cert", certFile, "--key", enc}, {"--cert", certFile, "--key", root}, {"--cert", filepath.Join(dir, "none")},
		{"--key", keyFile}, {"--cert", certFile, "--key", keyFile + "x"}} {
		if code, _, errOut := ocurl(append(append([]string{"--cacert", root}, args...), url)...); code != exitClientCert {
			t.Errorf("%v: exit %d %s", args, code, errOut)
		}
	}
	if code, _, _ := ocurl("--cert-type", "DER", url); code != exitUsage {
		t.Errorf("--cert-type DER: exit %d", code)
	}
}

// -V names the protocols and TLS features.
func TestVersion(t *testing.T) {
	code, out, _ := ocurl("-V")
	for _, want := range []string{"ocurl ", "Protocols: http https", "TLS 1.2", "ECDHE-ECDSA-AES128-GCM-SHA256", "Offloader:"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("-V lacks %q:\n%s", want, out)
		}
	}
}

// --http1.1 keeps HTTP/1.1 with an h2 server; --http2-prior-knowledge
// speaks HTTP/2 at once over http://.
func TestHTTPVersions(t *testing.T) {
	s := newALPNServer(t, []string{"h2", "http/1.1"})
	url := "https://localhost:" + s.port + "/v"
	if code, out, _ := ocurl("--http2", "--http1.1", "--cacert", s.rootFile, url); code != 0 || !strings.HasPrefix(out, "proto=HTTP/1.1") {
		t.Errorf("--http1.1: exit %d out %q", code, out)
	}
	if code, out, _ := ocurl("--http2-prior-knowledge", "--cacert", s.rootFile, url); code != 0 || !strings.HasPrefix(out, "proto=HTTP/2.0") {
		t.Errorf("--http2-prior-knowledge over https: exit %d out %q", code, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h2c := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Date"] = nil
		w.Header().Set("Zeta", "z")
		io.WriteString(w, r.Proto)
	}), Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	go h2c.Serve(l)
	t.Cleanup(func() { h2c.Close() })
	code, out, errOut := ocurl("-i", "--http2-prior-knowledge", "http://"+l.Addr().String()+"/")
	if code != 0 || !strings.HasPrefix(out, "HTTP/2 200 \r\n") || !strings.HasSuffix(out, "\r\n\r\nHTTP/2.0") || !strings.Contains(out, "zeta: z\r\n") {
		t.Errorf("h2c: exit %d out %q err %s", code, out, errOut)
	}
}
