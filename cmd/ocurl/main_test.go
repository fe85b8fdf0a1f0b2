package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

// testServer is a crypto/tls HTTP server with a testpki certificate, and the
// root file that trusts it.
type testServer struct {
	addr, port, rootFile string
	pki                  *testpki.PKI
}

func newTestServer(t *testing.T, defect testpki.Defect, h http.HandlerFunc) *testServer {
	t.Helper()
	p, err := testpki.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := p.Issue([]string{"localhost", "127.0.0.1"}, testpki.ECDSAP256, defect)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}, MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)} // refused handshakes are the point
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	rootFile, err := p.WriteRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return &testServer{addr: l.Addr().String(), port: port, rootFile: rootFile, pki: p}
}

// ocurl runs Main's code with no stdin and an empty environment (no
// proxy from the machine's).
func ocurl(args ...string) (int, string, string) {
	return ocurlIn("", nil, args...)
}

func echoHandler(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	switch r.URL.Path {
	case "/missing":
		http.Error(w, "no such page", http.StatusNotFound)
		return
	case "/slow":
		time.Sleep(3 * time.Second)
	}
	w.Header().Set("X-Test", "yes")
	fmt.Fprintf(w, "%s %s host=%s ua=%s custom=%s ctype=%s body=%s", r.Method, r.URL.Path, r.Host,
		r.UserAgent(), r.Header.Get("X-Custom"), r.Header.Get("Content-Type"), body)
}

func TestFetchAndOptions(t *testing.T) {
	s := newTestServer(t, testpki.Good, echoHandler)
	url := "https://localhost:" + s.port + "/page"

	code, out, errOut := ocurl("--cacert", s.rootFile, url)
	if code != 0 || !strings.HasPrefix(out, "GET /page host=localhost:"+s.port+" ua=ocurl/1") {
		t.Fatalf("plain GET: exit %d out %q err %q", code, out, errOut)
	}

	code, out, _ = ocurl("--cacert", s.rootFile, "-X", "PUT", "-H", "X-Custom: 42", "-d", "a=1", "-d", "b=2", url)
	if code != 0 || !strings.HasPrefix(out, "PUT /page") || !strings.Contains(out, "custom=42") ||
		!strings.Contains(out, "ctype=application/x-www-form-urlencoded body=a=1&b=2") {
		t.Fatalf("-X -H -d: exit %d out %q", code, out)
	}

	dataFile := filepath.Join(t.TempDir(), "data")
	os.WriteFile(dataFile, []byte("from=file\n"), 0o644)
	code, out, _ = ocurl("--cacert", s.rootFile, "-d", "@"+dataFile, url)
	if code != 0 || !strings.HasPrefix(out, "POST /page") || !strings.Contains(out, "body=from=file") {
		t.Fatalf("-d @file: exit %d out %q", code, out)
	}

	code, out, _ = ocurl("-i", "--cacert", s.rootFile, url)
	if code != 0 || !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\n") || !strings.Contains(out, "X-Test: yes\r\n") ||
		!strings.Contains(out, "\r\n\r\nGET /page") {
		t.Fatalf("-i: exit %d out %q", code, out)
	}

	code, out, _ = ocurl("-I", "--cacert", s.rootFile, url)
	if code != 0 || !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\n") || strings.Contains(out, "GET /page") {
		t.Fatalf("-I: exit %d out %q", code, out)
	}

	// -v traces the handshake and the offloader on stderr, never on stdout.
	code, out, errOut = ocurl("-v", "--cacert", s.rootFile, url)
	if code != 0 || strings.Contains(out, "* ") ||
		!strings.Contains(errOut, "offloader: auth+keygen+key in 1 round trip") ||
		!strings.Contains(errOut, "> GET /page HTTP/1.1") || !strings.Contains(errOut, "< HTTP/1.1 200 OK") {
		t.Fatalf("-v: exit %d\nout %q\nerr %s", code, out, errOut)
	}

	// --resolve sends the name in SNI and Host while connecting elsewhere.
	code, out, errOut = ocurl("--cacert", s.rootFile, "--resolve", "localhost:"+s.port+":127.0.0.1", url)
	if code != 0 || !strings.Contains(out, "host=localhost:"+s.port) {
		t.Fatalf("--resolve: exit %d out %q err %q", code, out, errOut)
	}

	// -o writes the body to a file and nothing to stdout.
	outFile := filepath.Join(t.TempDir(), "page.txt")
	code, out, _ = ocurl("--cacert", s.rootFile, "-o", outFile, url)
	got, _ := os.ReadFile(outFile)
	if code != 0 || out != "" || !strings.HasPrefix(string(got), "GET /page") {
		t.Fatalf("-o: exit %d out %q file %q", code, out, got)
	}
}

func TestExitCodes(t *testing.T) {
	s := newTestServer(t, testpki.Good, echoHandler)
	base := "https://localhost:" + s.port

	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := closed.Addr().String()
	closed.Close()

	// A server that accepts and never answers: the handshake must time out.
	silent, _ := net.Listen("tcp", "127.0.0.1:0")
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()

	untrusted := newTestServer(t, testpki.Expired, echoHandler)

	cases := []struct {
		name    string
		args    []string
		code    int
		stderr  string
		noFile  bool
		silence bool
	}{
		{"no url", nil, exitUsage, "no URL specified", false, false},
		{"unknown flag", []string{"--bogus", base}, exitUsage, "--bogus: is unknown", false, false},
		{"missing value", []string{base, "-o"}, exitUsage, "requires parameter", false, false},
		{"bad timeout", []string{"-m", "soon", base}, exitUsage, "option -m: expected a proper numerical parameter", false, false},
		{"offloader needs psk", []string{"--offloader", "127.0.0.1:1", base}, exitUsage, "--device-id and --psk-file", false, false},
		{"bad scheme", []string{"ftp://localhost/"}, exitProtocol, "not supported", false, false},
		{"resolve", []string{"--connect-timeout", "5", "https://nonexistent-host.invalid/"}, exitResolve, "Could not resolve host", false, false},
		{"connect", []string{"https://" + deadAddr + "/"}, exitConnect, "Failed to connect", false, false},
		{"handshake timeout", []string{"--connect-timeout", "0.3", "https://" + silent.Addr().String() + "/"}, exitTimeout, "timed out", false, false},
		{"max time", []string{"--cacert", s.rootFile, "-m", "0.5", base + "/slow"}, exitTimeout, "timed out", true, false},
		{"http error with -f", []string{"--cacert", s.rootFile, "-f", base + "/missing"}, exitHTTPError, "404", true, false},
		{"untrusted", []string{"--cacert", untrusted.rootFile, "https://localhost:" + untrusted.port + "/"}, exitCertificate, "certificate expired", true, false},
		{"wrong root", []string{"--cacert", untrusted.rootFile, base + "/"}, exitCertificate, "unknown authority", true, false},
		{"bad cacert", []string{"--cacert", "/nonexistent/root.pem", base + "/"}, exitCACert, "certificate file", false, false},
		{"silent", []string{"-s", "--cacert", s.rootFile, "-f", base + "/missing"}, exitHTTPError, "", true, true},
		{"silent show error", []string{"-sS", "--cacert", s.rootFile, "-f", base + "/missing"}, exitHTTPError, "404", true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := tc.args
			if tc.noFile {
				args = append([]string{"-o", out}, args...)
			}
			start := time.Now()
			code, stdout, stderr := ocurl(args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstderr: %s", code, tc.code, stderr)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Fatalf("took %v", d)
			}
			if tc.silence && stderr != "" {
				t.Fatalf("-s printed %q", stderr)
			}
			if !tc.silence && tc.code != 0 && (!strings.Contains(stderr, tc.stderr) || !strings.HasPrefix(stderr, fmt.Sprintf("ocurl: (%d) ", tc.code))) {
				t.Fatalf("stderr %q does not say %q", stderr, tc.stderr)
			}
			if tc.noFile {
				if stdout != "" {
					t.Fatalf("stdout %q after a failure with -o", stdout)
				}
				if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
					t.Fatalf("-o left %v after a failure", entries[0].Name())
				}
			}
		})
	}
}

func TestHelp(t *testing.T) {
	code, out, _ := ocurl("--help")
	if code != 0 || !strings.Contains(out, "Exit codes") || !strings.Contains(out, "--offloader") {
		t.Fatalf("exit %d out %q", code, out)
	}
}

func TestParseArgsCombinedShortFlags(t *testing.T) {
	o, err := parseArgs([]string{"-sSfv", "-ofile", "-H", "A: b", "--max-time=1.5", "--connect-timeout", "200ms", "https://x/"}, &invocation{})
	if err != nil {
		t.Fatal(err)
	}
	if !o.silent || !o.showError || !o.fail || !o.verbose || o.urls[0].output != "file" || len(o.headers) != 1 ||
		o.maxTime != 1500*time.Millisecond || o.connectTimeout != 200*time.Millisecond || o.urls[0].url != "https://x/" {
		t.Fatalf("%+v", o)
	}
	for _, bad := range [][]string{{"--resolve", "a:b", "u"}, {"--resolve", "h:99999:1.2.3.4", "u"}, {"--verbose=yes", "u"}, {"-m", "NaN", "u"}, {"-m", "-1", "u"}} {
		if _, err := parseArgs(bad, &invocation{}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
