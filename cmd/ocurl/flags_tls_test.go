package main

import (
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/internal/testserver"
)

// -k: the embedded offloader accepts a certificate it would refuse, with a
// warning; %{ssl_verify_result} still says what was wrong.
func TestInsecure(t *testing.T) {
	for _, tc := range []struct {
		defect testpki.Defect
		verify string
		hint   string // what the refusal's hint says; only an unknown root is cured by --cacert
	}{
		{testpki.Expired, "10", "outside its validity period"},
		{testpki.WrongName, "62", "does not name this host"},
		{testpki.UnknownRoot, "20", "--cacert FILE"},
		{testpki.SelfSigned, "18", "--cacert FILE"},
		{testpki.Good, "0", ""},
	} {
		t.Run(tc.defect.String(), func(t *testing.T) {
			s := testserver.StartWith(t, testserver.Options{Defect: tc.defect})
			url := s.URL + "/echo/k"
			if tc.defect != testpki.Good {
				// Refused without -k, %{ssl_verify_result} says why all the same.
				code, out, errOut := ocurl("--cacert", s.RootFile, "-w", "%{ssl_verify_result}", url)
				if code != exitCertificate || out != tc.verify {
					t.Fatalf("without -k: exit %d, verify result %q", code, out)
				}
				if !strings.Contains(errOut, tc.hint) || (tc.hint != "--cacert FILE" && strings.Contains(errOut, "--cacert")) {
					t.Fatalf("without -k: the hint does not say %q: %q", tc.hint, errOut)
				}
			}
			code, out, errOut := ocurl("-k", "--cacert", s.RootFile, "-w", "|%{ssl_verify_result}", url)
			if code != 0 || !strings.HasPrefix(out, "method: GET\nuri: /echo/k\n") || !strings.HasSuffix(out, "|"+tc.verify) ||
				!strings.Contains(errOut, "ocurl: warning: --insecure") {
				t.Fatalf("-k: exit %d out %q err %q", code, out, errOut)
			}
			if code, _, errOut := ocurl("-sk", "--cacert", s.RootFile, url); code != 0 || errOut != "" {
				t.Fatalf("-sk: exit %d err %q", code, errOut)
			}
		})
	}
}

// --pinnedpubkey is checked by the embedded offloader, with and without
// -k; a mismatch exits 90.
func TestPinnedPubKey(t *testing.T) {
	s := testserver.Start(t)
	self := testserver.StartWith(t, testserver.Options{Defect: testpki.SelfSigned})
	url := s.URL + "/echo"
	other := "sha256//" + base64.StdEncoding.EncodeToString(make([]byte, 32))
	pemFile := writeFile(t, t.TempDir(), "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: s.Leaf.Cert.RawSubjectPublicKeyInfo})))
	for _, p := range []string{s.Pin, other + ";" + s.Pin, pemFile} {
		if code, _, errOut := ocurl("--cacert", s.RootFile, "--pinnedpubkey", p, url); code != 0 {
			t.Errorf("--pinnedpubkey %s: exit %d %s", p, code, errOut)
		}
	}
	code, _, errOut := ocurl("--cacert", s.RootFile, "--pinnedpubkey", other, url)
	if code != exitPinned || !strings.Contains(errOut, "public key does not match pinned public key") {
		t.Errorf("mismatch: exit %d %s", code, errOut)
	}
	if code, _, errOut := ocurl("-k", "--pinnedpubkey", self.Pin, self.URL+"/echo"); code != 0 {
		t.Errorf("-k with the right pin: exit %d %s", code, errOut)
	}
	if code, _, _ := ocurl("-k", "--pinnedpubkey", s.Pin, self.URL+"/echo"); code != exitPinned {
		t.Errorf("-k with a wrong pin: exit %d", code)
	}
	if code, _, _ := ocurl("--pinnedpubkey", "sha256//short", url); code != exitPinned {
		t.Errorf("malformed pin: exit %d", code)
	}
}

// --ciphers takes OpenSSL names; the suite the server picks is among them.
func TestCiphers(t *testing.T) {
	s := testserver.Start(t) // an ECDSA P-256 certificate
	url := s.URL + "/echo"
	for _, c := range []string{"ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "TLS_AES_128_GCM_SHA256:ECDHE-ECDSA-AES128-SHA",
		"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"} {
		want := c
		if i := strings.LastIndexByte(c, ':'); i >= 0 {
			want = c[i+1:]
		}
		if want == "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" {
			want = "ECDHE-ECDSA-AES256-GCM-SHA384"
		}
		code, out, errOut := ocurl("--cacert", s.RootFile, "--ciphers", c, "-o", filepath.Join(t.TempDir(), "o"), "-w", "%{tls_cipher}", url)
		if code != 0 || out != want {
			t.Errorf("--ciphers %s: exit %d, negotiated %q, err %s", c, code, out, errOut)
		}
	}
	if code, _, errOut := ocurl("--cacert", s.RootFile, "--ciphers", "TLS_AES_128_GCM_SHA256:DHE-RSA-AES128-SHA:HIGH", url); code != exitCipher ||
		!strings.Contains(errOut, "failed setting cipher list") {
		t.Errorf("no known suite: exit %d %s", code, errOut)
	}
	if code, _, _ := ocurl("--cacert", s.RootFile, "--ciphers", "AES128-GCM-SHA256", url); code != exitTLS {
		t.Errorf("RSA key exchange against an ECDSA certificate: exit %d, want 35", code)
	}
}

// --capath trusts the PEM files of a directory; one that cannot be read
// or holds none adds no root: a warning, then 60, as curl with OpenSSL.
func TestCapath(t *testing.T) {
	s := testserver.Start(t)
	dir := t.TempDir()
	b, _ := os.ReadFile(s.RootFile)
	writeFile(t, dir, "0123abcd.0", string(b))
	writeFile(t, dir, "README", "not a certificate")
	url := s.URL + "/echo"
	if code, _, errOut := ocurl("--capath", dir, url); code != 0 || errOut != "" {
		t.Fatalf("--capath: exit %d %s", code, errOut)
	}
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
	// With --cacert, an unusable --capath takes nothing away.
	if code, _, errOut := ocurl("--cacert", s.RootFile, "--capath", missing, url); code != 0 {
		t.Fatalf("--cacert and a missing --capath: exit %d %q", code, errOut)
	}
}

// --cert/--key answer a server's CertificateRequest from the embedded
// offloader, which holds the key.
func TestClientCertificate(t *testing.T) {
	s := testserver.Start(t)
	dir := t.TempDir()
	url := s.MTLSURL + "/echo"
	if code, out, errOut := ocurl("--cacert", s.RootFile, "--cert", s.ClientCertFile, "--key", s.ClientKeyFile, url); code != 0 ||
		parseEcho(t, out).clientCert != "testserver client" {
		t.Fatalf("--cert --key: exit %d out %q err %s", code, out, errOut)
	}
	c, _ := os.ReadFile(s.ClientCertFile)
	k, _ := os.ReadFile(s.ClientKeyFile)
	both := writeFile(t, dir, "both.pem", string(c)+string(k))
	if code, out, _ := ocurl("--cacert", s.RootFile, "-E", both, "--cert-type", "PEM", url); code != 0 || parseEcho(t, out).clientCert != "testserver client" {
		t.Fatalf("-E with the key in the same file: exit %d out %q", code, out)
	}
	if code, _, _ := ocurl("--cacert", s.RootFile, url); code == 0 {
		t.Fatal("no client certificate, yet the server took the request")
	}
	enc := writeFile(t, dir, "enc.key", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n")
	for _, args := range [][]string{{"--cert", s.ClientCertFile, "--key", enc}, {"--cert", s.ClientCertFile, "--key", s.RootFile},
		{"--cert", filepath.Join(dir, "none")}, {"--key", s.ClientKeyFile}, {"--cert", s.ClientCertFile, "--key", s.ClientKeyFile + "x"}} {
		if code, _, errOut := ocurl(append(append([]string{"--cacert", s.RootFile}, args...), url)...); code != exitClientCert {
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
// speaks HTTP/2 at once, over https and over http:// (h2c).
func TestHTTPVersions(t *testing.T) {
	s := testserver.Start(t)
	if code, out, _ := ocurl("--http2", "--http1.1", "--cacert", s.RootFile, s.H2URL+"/echo"); code != 0 || parseEcho(t, out).proto != "HTTP/1.1" {
		t.Errorf("--http1.1: exit %d out %q", code, out)
	}
	if code, out, _ := ocurl("--http2-prior-knowledge", "--cacert", s.RootFile, s.H2URL+"/echo"); code != 0 || parseEcho(t, out).proto != "HTTP/2.0" {
		t.Errorf("--http2-prior-knowledge over https: exit %d out %q", code, out)
	}
	code, out, errOut := ocurl("-i", "--http2-prior-knowledge", s.HTTPURL+"/echo")
	if code != 0 || !strings.HasPrefix(out, "HTTP/2 200 \r\ncontent-type: text/plain; charset=utf-8\r\n") || !strings.Contains(out, "\r\n\r\nmethod: GET\n") ||
		!strings.Contains(out, "\nproto: HTTP/2.0\n") {
		t.Errorf("h2c: exit %d out %q err %s", code, out, errOut)
	}
}
