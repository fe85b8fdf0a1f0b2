package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

// newALPNServer is a crypto/tls + net/http server offering protos in ALPN
// (nil: no ALPN at all); with "h2" among them net/http serves HTTP/2. The
// handler reports the protocol the request came in.
func newALPNServer(t *testing.T, protos []string) *testServer {
	t.Helper()
	p, err := testpki.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := p.Issue([]string{"localhost"}, testpki.ECDSAP256, testpki.Good)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}, MaxVersion: tls.VersionTLS12, NextProtos: protos}
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Proto", r.Proto)
			fmt.Fprintf(w, "proto=%s method=%s path=%s host=%s body=%s", r.Proto, r.Method, r.URL.Path, r.Host, body)
		}),
		ErrorLog: log.New(io.Discard, "", 0),
	}
	if !contains(protos, "h2") {
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){} // no HTTP/2
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	rootFile, err := p.WriteRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return &testServer{addr: l.Addr().String(), port: port, rootFile: rootFile, pki: p}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func TestHTTP2(t *testing.T) {
	s := newALPNServer(t, []string{"h2", "http/1.1"})
	url := "https://localhost:" + s.port + "/page"

	code, out, errOut := ocurl("--http2", "--cacert", s.rootFile, url)
	if code != 0 || out != "proto=HTTP/2.0 method=GET path=/page host=localhost:"+s.port+" body=" {
		t.Fatalf("--http2: exit %d out %q err %q", code, out, errOut)
	}

	code, out, errOut = ocurl("-v", "--http2", "--cacert", s.rootFile, url)
	for _, want := range []string{"* ALPN: server accepted h2\n", "> GET /page HTTP/2\r\n", "< HTTP/2 200 \r\n", "< x-proto: HTTP/2.0"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("-v --http2: stderr lacks %q:\n%s", want, errOut)
		}
	}
	if code != 0 || !strings.HasPrefix(out, "proto=HTTP/2.0") || strings.Contains(out, "* ") {
		t.Errorf("-v --http2: exit %d out %q", code, out)
	}

	code, out, _ = ocurl("-i", "--http2", "--cacert", s.rootFile, "-d", "a=1", url)
	if code != 0 || !strings.HasPrefix(out, "HTTP/2 200 \r\n") || !strings.HasSuffix(out, "proto=HTTP/2.0 method=POST path=/page host=localhost:"+s.port+" body=a=1") {
		t.Errorf("-i -d --http2: exit %d out %q", code, out)
	}

	code, out, _ = ocurl("-I", "--http2", "--cacert", s.rootFile, url)
	if code != 0 || !strings.HasPrefix(out, "HTTP/2 200 \r\n") || strings.Contains(out, "proto=") {
		t.Errorf("-I --http2: exit %d out %q", code, out)
	}

	// HTTP/1.1 stays the default: the same server, without --http2, is
	// offered only http/1.1.
	code, out, errOut = ocurl("-v", "--cacert", s.rootFile, url)
	if code != 0 || !strings.HasPrefix(out, "proto=HTTP/1.1") || !strings.Contains(errOut, "ALPN: server accepted http/1.1") ||
		!strings.Contains(errOut, "> GET /page HTTP/1.1\r\n") {
		t.Errorf("default: exit %d out %q err %s", code, out, errOut)
	}

	// A refused certificate fails the same way over the HTTP/2 path.
	bad := newTestServer(t, testpki.Expired, echoHandler)
	code, _, errOut = ocurl("--http2", "--cacert", bad.rootFile, "https://localhost:"+bad.port+"/")
	if code != exitCertificate {
		t.Errorf("--http2 against an expired certificate: exit %d, want %d: %s", code, exitCertificate, errOut)
	}
}

// TestHTTP2Fallback: --http2 against servers that do not pick h2 uses
// HTTP/1.1.
func TestHTTP2Fallback(t *testing.T) {
	for _, tc := range []struct {
		name   string
		protos []string
		alpn   string // what -v reports, "" for nothing
	}{
		{"http/1.1 only", []string{"http/1.1"}, "http/1.1"},
		{"no ALPN", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newALPNServer(t, tc.protos)
			code, out, errOut := ocurl("-v", "--http2", "--cacert", s.rootFile, "-d", "x=y", "https://localhost:"+s.port+"/f")
			if code != 0 || out != "proto=HTTP/1.1 method=POST path=/f host=localhost:"+s.port+" body=x=y" {
				t.Fatalf("exit %d out %q err %s", code, out, errOut)
			}
			if got := strings.Contains(errOut, "ALPN: server accepted"); got != (tc.alpn != "") ||
				tc.alpn != "" && !strings.Contains(errOut, "ALPN: server accepted "+tc.alpn) {
				t.Errorf("ALPN trace wrong:\n%s", errOut)
			}
			if !strings.Contains(errOut, "> POST /f HTTP/1.1\r\n") || !strings.Contains(errOut, "< HTTP/1.1 200 OK") {
				t.Errorf("-v:\n%s", errOut)
			}
		})
	}
}

// TestHTTP2PlainHTTP: --http2 with http:// sends HTTP/1.1 (no h2c).
func TestHTTP2PlainHTTP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Proto) })}
	go srv.Serve(l)
	defer srv.Close()
	code, out, errOut := ocurl("--http2", "http://"+l.Addr().String()+"/")
	if code != 0 || out != "HTTP/1.1" {
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
