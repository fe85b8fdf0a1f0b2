package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/internal/testserver"
)

func TestFetchAndOptions(t *testing.T) {
	s := testserver.Start(t)
	url := s.URL + "/echo/page"

	code, out, errOut := ocurl("--cacert", s.RootFile, url)
	if e := parseEcho(t, out); code != 0 || e.method != "GET" || e.uri != "/echo/page" || e.host != "localhost:"+s.Port || e.header("User-Agent") != "ocurl/1" {
		t.Fatalf("plain GET: exit %d out %q err %q", code, out, errOut)
	}

	code, out, _ = ocurl("--cacert", s.RootFile, "-X", "PUT", "-H", "X-Custom: 42", "-d", "a=1", "-d", "b=2", url)
	if e := parseEcho(t, out); code != 0 || e.method != "PUT" || e.header("X-Custom") != "42" ||
		e.header("Content-Type") != "application/x-www-form-urlencoded" || e.body != "a=1&b=2" {
		t.Fatalf("-X -H -d: exit %d out %q", code, out)
	}

	dataFile := writeFile(t, t.TempDir(), "data", "from=file\n")
	code, out, _ = ocurl("--cacert", s.RootFile, "-d", "@"+dataFile, url)
	if e := parseEcho(t, out); code != 0 || e.method != "POST" || e.body != "from=file" {
		t.Fatalf("-d @file: exit %d out %q", code, out)
	}

	code, out, _ = ocurl("-i", "--cacert", s.RootFile, url)
	if code != 0 || !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n") ||
		!strings.Contains(out, "\r\n\r\nmethod: GET\n") {
		t.Fatalf("-i: exit %d out %q", code, out)
	}

	code, out, _ = ocurl("-I", "--cacert", s.RootFile, url)
	if code != 0 || !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\n") || strings.Contains(out, "method:") {
		t.Fatalf("-I: exit %d out %q", code, out)
	}

	// -v traces the handshake and the offloader on stderr, never on stdout.
	code, out, errOut = ocurl("-v", "--cacert", s.RootFile, url)
	if code != 0 || strings.Contains(out, "* ") ||
		!strings.Contains(errOut, "offloader: auth+keygen+key in 1 round trip") ||
		!strings.Contains(errOut, "> GET /echo/page HTTP/1.1") || !strings.Contains(errOut, "< HTTP/1.1 200 OK") {
		t.Fatalf("-v: exit %d\nout %q\nerr %s", code, out, errOut)
	}

	// --resolve sends the name in SNI and Host while connecting elsewhere.
	code, out, errOut = ocurl("--cacert", s.RootFile, "--resolve", "server.test:"+s.Port+":127.0.0.1", testserver.URLFor(s.URL, "server.test")+"/echo")
	if e := parseEcho(t, out); code != 0 || e.host != "server.test:"+s.Port {
		t.Fatalf("--resolve: exit %d out %q err %q", code, out, errOut)
	}

	// -o writes the body to a file and nothing to stdout.
	outFile := filepath.Join(t.TempDir(), "page.txt")
	code, out, _ = ocurl("--cacert", s.RootFile, "-o", outFile, url)
	got, _ := os.ReadFile(outFile)
	if code != 0 || out != "" || !strings.HasPrefix(string(got), "method: GET\nuri: /echo/page\n") {
		t.Fatalf("-o: exit %d out %q file %q", code, out, got)
	}
}

func TestExitCodes(t *testing.T) {
	s := testserver.Start(t)
	expired := testserver.StartWith(t, testserver.Options{Defect: testpki.Expired})
	base := s.URL

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
		{"bad psk", []string{"--offloader", "127.0.0.1:1", "--device-id", "d1", "--psk-file", writeFile(t, t.TempDir(), "psk", strings.Repeat("zz", 32)), base}, exitUsage, "bytes as hex", false, false},
		{"short psk", []string{"--offloader", "127.0.0.1:1", "--device-id", "d1", "--psk-file", writeFile(t, t.TempDir(), "psk", "abcd\n"), base}, exitUsage, "bytes as hex", false, false},
		{"bad scheme", []string{"ftp://localhost/"}, exitProtocol, "not supported", false, false},
		{"resolve", []string{"--connect-timeout", "5", "https://nonexistent-host.invalid/"}, exitResolve, "Could not resolve host", false, false},
		{"connect", []string{"https://" + s.RefusedAddr + "/"}, exitConnect, "Failed to connect", false, false},
		{"handshake timeout", []string{"--connect-timeout", "0.3", "https://" + s.SilentAddr + "/"}, exitTimeout, "timed out", false, false},
		{"max time", []string{"--cacert", s.RootFile, "-m", "0.5", base + "/slow?head=3s"}, exitTimeout, "timed out", true, false},
		{"http error with -f", []string{"--cacert", s.RootFile, "-f", base + "/status/404"}, exitHTTPError, "404", true, false},
		{"untrusted", []string{"--cacert", expired.RootFile, expired.URL + "/echo"}, exitCertificate, "certificate expired", true, false},
		{"wrong root", []string{"--cacert", writeFile(t, t.TempDir(), "other.pem", string(otherRoot(t))), base + "/echo"}, exitCertificate, "unknown authority", true, false},
		{"bad cacert", []string{"--cacert", "/nonexistent/root.pem", base + "/"}, exitCACert, "certificate file", false, false},
		{"silent", []string{"-s", "--cacert", s.RootFile, "-f", base + "/status/404"}, exitHTTPError, "", true, true},
		{"silent show error", []string{"-sS", "--cacert", s.RootFile, "-f", base + "/status/404"}, exitHTTPError, "404", true, false},
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

// otherRoot is the root of a PKI of its own, which vouches for nothing
// testserver serves.
func otherRoot(t *testing.T) []byte {
	t.Helper()
	p, err := testpki.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return p.RootPEM()
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
