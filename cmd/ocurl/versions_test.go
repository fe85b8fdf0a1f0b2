package main

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

func TestVersionFlags(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		min, max uint16
	}{
		{nil, 0, 0},
		{[]string{"--tlsv1.0"}, tls10, 0},
		{[]string{"-1"}, tls10, 0},
		{[]string{"--tlsv1"}, tls10, 0},
		{[]string{"--tlsv1.1"}, tls11, 0},
		{[]string{"--tlsv1.2"}, tls12, 0},
		{[]string{"--tlsv1.0", "--tls-max", "1.1"}, tls10, tls11},
		{[]string{"--tls-max=1.1"}, tls11, tls11},
		{[]string{"--tls-max", "default"}, 0, tls12},
	} {
		o, err := parseArgs(append(tc.args, "https://example.com/"), &invocation{})
		if err != nil || o.minVersion != tc.min || o.maxVersion != tc.max {
			t.Errorf("%v: min %#04x max %#04x err %v", tc.args, o.minVersion, o.maxVersion, err)
		}
	}
	for _, args := range [][]string{
		{"--tlsv1.2", "--tls-max", "1.0"},
		{"--tls-max", "1.3"},
		{"--tls-max", "ssl3"},
		{"--tlsv1.0=yes"},
	} {
		if code, _, errOut := ocurl(append(args, "https://example.com/")...); code != 2 || !strings.Contains(errOut, "ocurl: (2) ") {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
}

// TestTLS10Server fetches from a crypto/tls server that speaks TLS 1.0
// only: refused by default (exit 35), fetched with --tlsv1.0, whose
// minimum the embedded offloader's device policy follows.
func TestTLS10Server(t *testing.T) {
	p, err := testpki.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := p.Issue([]string{"localhost"}, testpki.RSA2048, testpki.Good)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()},
		MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ErrorLog: log.New(io.Discard, "", 0), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello over "+tls.VersionName(r.TLS.Version))
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	root, err := p.WriteRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	url := "https://localhost:" + port + "/"

	code, out, errOut := ocurl("--cacert", root, url)
	if code != 35 || out != "" || !strings.Contains(errOut, "version") {
		t.Errorf("default: exit %d, stdout %q, stderr %q; want 35 and a version error", code, out, errOut)
	}
	code, out, errOut = ocurl("--cacert", root, "--tlsv1.2", url)
	if code != 35 {
		t.Errorf("--tlsv1.2: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = ocurl("--cacert", root, "--tlsv1.0", "-v", "-o", filepath.Join(t.TempDir(), "body"), url)
	if code != 0 || !strings.Contains(errOut, "tls: ServerHello: TLS 1.0, TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA") {
		t.Errorf("-v does not name the version and suite: exit %d\n%s", code, errOut)
	}
	for _, flag := range []string{"--tlsv1.0", "-1"} {
		code, out, errOut = ocurl("--cacert", root, flag, url)
		if code != 0 || out != "hello over TLS 1.0" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", flag, code, out, errOut)
		}
	}
	code, _, errOut = ocurl("--cacert", root, "--tlsv1.1", url)
	if code != 35 {
		t.Errorf("--tlsv1.1 against a TLS 1.0 server: exit %d, stderr %q", code, errOut)
	}
}
