package main

import (
	"crypto/tls"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlsoffload/tlsoffload/internal/testserver"
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

// TestTLS10Server fetches from a server that speaks TLS 1.0 only: refused
// by default (exit 35), fetched with --tlsv1.0, whose minimum the embedded
// offloader's device policy follows.
func TestTLS10Server(t *testing.T) {
	s := testserver.StartWith(t, testserver.Options{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10})
	url := s.URL + "/echo"

	code, out, errOut := ocurl("--cacert", s.RootFile, url)
	if code != 35 || out != "" || !strings.Contains(errOut, "version") {
		t.Errorf("default: exit %d, stdout %q, stderr %q; want 35 and a version error", code, out, errOut)
	}
	code, _, errOut = ocurl("--cacert", s.RootFile, "--tlsv1.2", url)
	if code != 35 {
		t.Errorf("--tlsv1.2: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = ocurl("--cacert", s.RootFile, "--tlsv1.0", "-v", "-o", filepath.Join(t.TempDir(), "body"), url)
	if code != 0 || !strings.Contains(errOut, "tls: ServerHello: TLS 1.0, TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA") {
		t.Errorf("-v does not name the version and suite: exit %d\n%s", code, errOut)
	}
	for _, flag := range []string{"--tlsv1.0", "-1"} {
		code, out, errOut = ocurl("--cacert", s.RootFile, flag, "-w", "|%{tls_version}", url)
		if code != 0 || !strings.HasPrefix(out, "method: GET\n") || !strings.HasSuffix(out, "|TLSv1.0") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", flag, code, out, errOut)
		}
	}
	code, _, errOut = ocurl("--cacert", s.RootFile, "--tlsv1.1", url)
	if code != 35 {
		t.Errorf("--tlsv1.1 against a TLS 1.0 server: exit %d, stderr %q", code, errOut)
	}
}
