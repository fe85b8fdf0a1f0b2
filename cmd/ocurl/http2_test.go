package main

import (
	"strings"
	"testing"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/internal/testserver"
)

func TestHTTP2(t *testing.T) {
	s := testserver.Start(t)
	url := s.H2URL + "/echo/page" // h2 and http/1.1 in ALPN

	code, out, errOut := ocurl("--http2", "--cacert", s.RootFile, url)
	if e := parseEcho(t, out); code != 0 || e.proto != "HTTP/2.0" || e.method != "GET" || e.uri != "/echo/page" || e.host != "localhost:"+s.H2Port {
		t.Fatalf("--http2: exit %d out %q err %q", code, out, errOut)
	}

	code, out, errOut = ocurl("-v", "--http2", "--cacert", s.RootFile, url)
	for _, want := range []string{"* ALPN: server accepted h2\n", "> GET /echo/page HTTP/2\r\n", "< HTTP/2 200 \r\n", "< content-type: text/plain; charset=utf-8\r\n"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("-v --http2: stderr lacks %q:\n%s", want, errOut)
		}
	}
	if code != 0 || !strings.HasPrefix(out, "method: GET\n") || strings.Contains(out, "* ") {
		t.Errorf("-v --http2: exit %d out %q", code, out)
	}

	code, out, _ = ocurl("-i", "--http2", "--cacert", s.RootFile, "-d", "a=1", url)
	if code != 0 || !strings.HasPrefix(out, "HTTP/2 200 \r\n") || !strings.Contains(out, "\r\n\r\nmethod: POST\n") || !strings.HasSuffix(out, "\nbody:\na=1") {
		t.Errorf("-i -d --http2: exit %d out %q", code, out)
	}

	code, out, _ = ocurl("-I", "--http2", "--cacert", s.RootFile, url)
	if code != 0 || !strings.HasPrefix(out, "HTTP/2 200 \r\n") || strings.Contains(out, "method:") {
		t.Errorf("-I --http2: exit %d out %q", code, out)
	}

	// HTTP/1.1 stays the default: the same server, without --http2, is
	// offered only http/1.1.
	code, out, errOut = ocurl("-v", "--cacert", s.RootFile, url)
	if e := parseEcho(t, out); code != 0 || e.proto != "HTTP/1.1" || !strings.Contains(errOut, "ALPN: server accepted http/1.1") ||
		!strings.Contains(errOut, "> GET /echo/page HTTP/1.1\r\n") {
		t.Errorf("default: exit %d out %q err %s", code, out, errOut)
	}

	// A refused certificate fails the same way over the HTTP/2 path.
	bad := testserver.StartWith(t, testserver.Options{Defect: testpki.Expired})
	code, _, errOut = ocurl("--http2", "--cacert", bad.RootFile, bad.H2URL+"/")
	if code != exitCertificate {
		t.Errorf("--http2 against an expired certificate: exit %d, want %d: %s", code, exitCertificate, errOut)
	}

	// A stream the server resets is curl's 92, the body's start written.
	code, out, errOut = ocurl("--http2", "--cacert", s.RootFile, s.H2URL+"/truncated?length=1000&send=100")
	if code != exitHTTP2Stream || !strings.HasPrefix(out, "line 000000\n") ||
		!strings.HasPrefix(errOut, "ocurl: (92) HTTP/2 stream 1 was not closed cleanly: INTERNAL_ERROR (err 2)") {
		t.Errorf("reset stream: exit %d out %q err %q", code, out, errOut)
	}
}

// TestHTTP2Fallback: --http2 against servers that do not pick h2 uses
// HTTP/1.1.
func TestHTTP2Fallback(t *testing.T) {
	plain := testserver.Start(t)
	noALPN := testserver.StartWith(t, testserver.Options{NoALPN: true})
	for _, tc := range []struct {
		name string
		s    *testserver.Server
		alpn string // what -v reports, "" for nothing
	}{
		{"http/1.1 only", plain, "http/1.1"},
		{"no ALPN", noALPN, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := ocurl("-v", "--http2", "--cacert", tc.s.RootFile, "-d", "x=y", tc.s.URL+"/echo/f")
			if e := parseEcho(t, out); code != 0 || e.proto != "HTTP/1.1" || e.method != "POST" || e.body != "x=y" {
				t.Fatalf("exit %d out %q err %s", code, out, errOut)
			}
			if got := strings.Contains(errOut, "ALPN: server accepted"); got != (tc.alpn != "") ||
				tc.alpn != "" && !strings.Contains(errOut, "ALPN: server accepted "+tc.alpn) {
				t.Errorf("ALPN trace wrong:\n%s", errOut)
			}
			if !strings.Contains(errOut, "> POST /echo/f HTTP/1.1\r\n") || !strings.Contains(errOut, "< HTTP/1.1 200 OK") {
				t.Errorf("-v:\n%s", errOut)
			}
		})
	}
}

// TestHTTP2PlainHTTP: --http2 with http:// sends HTTP/1.1 (no h2c
// upgrade), though the server would speak h2c.
func TestHTTP2PlainHTTP(t *testing.T) {
	s := testserver.Start(t)
	code, out, errOut := ocurl("--http2", s.HTTPURL+"/echo")
	if e := parseEcho(t, out); code != 0 || e.proto != "HTTP/1.1" {
		t.Errorf("exit %d out %q err %q", code, out, errOut)
	}
}

func TestHTTP2Flag(t *testing.T) {
	if code, _, errOut := ocurl("--http2=yes", "https://localhost/"); code != exitUsage || !strings.Contains(errOut, "--http2: takes no value") {
		t.Errorf("--http2=yes: exit %d err %q", code, errOut)
	}
	if _, out, _ := ocurl("--help"); !strings.Contains(out, "--http2") {
		t.Error("--help does not list --http2")
	}
}
