package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/internal/testserver"
)

// --resolve: several addresses tried in turn, '*' for any host, '+'
// accepted, '-' removing an entry.
func TestResolveForms(t *testing.T) {
	s := testserver.Start(t)
	port := s.HTTPPort
	url := "http://example.test:" + port + "/echo"
	for _, args := range [][]string{
		{"--resolve", "example.test:" + port + ":127.0.0.1"},
		{"--resolve", "+example.test:" + port + ":127.0.0.2,[127.0.0.1]"}, // nothing listens on 127.0.0.2
		{"--resolve", "*:" + port + ":127.0.0.1"},
		{"--resolve", "other.test:" + port + ":127.0.0.2", "--resolve", "*:" + port + ":127.0.0.1"},
	} {
		code, out, errOut := ocurl(append(args, "-v", url)...)
		if code != 0 || parseEcho(t, out).host != "example.test:"+port {
			t.Errorf("%v: exit %d out %q\n%s", args, code, out, errOut)
		}
	}
	code, _, errOut := ocurl("--resolve", "example.test:"+port+":127.0.0.1", "--resolve", "-example.test:"+port, url)
	if code != exitResolve || !strings.Contains(errOut, "Could not resolve host: example.test") {
		t.Errorf("removed entry: exit %d %s", code, errOut)
	}
	for _, bad := range []string{"example.test:" + port, "example.test:0:127.0.0.1", "h:1:notanip", ":1:127.0.0.1"} {
		if code, _, _ := ocurl("--resolve", bad, url); code != exitUsage {
			t.Errorf("--resolve %q: exit %d", bad, code)
		}
	}
}

// --connect-to connects elsewhere while the URL's name stays in SNI, Host
// and the certificate check.
func TestConnectTo(t *testing.T) {
	s := testserver.Start(t)
	_, deadPort, _ := net.SplitHostPort(s.RefusedAddr)
	url := "https://localhost:" + deadPort + "/echo/ct"
	for _, ct := range []string{"localhost:" + deadPort + ":127.0.0.1:" + s.Port, "::127.0.0.1:" + s.Port, "localhost::" + ":" + s.Port,
		"elsewhere::127.0.0.2:1,localhost:" + deadPort + "::" + s.Port} {
		args := []string{"--cacert", s.RootFile}
		for _, c := range strings.Split(ct, ",") {
			args = append(args, "--connect-to", c)
		}
		code, out, errOut := ocurl(append(args, url)...)
		if e := parseEcho(t, out); code != 0 || e.uri != "/echo/ct" || e.host != "localhost:"+deadPort {
			t.Errorf("--connect-to %s: exit %d out %q err %s", ct, code, out, errOut)
		}
	}
	if code, _, _ := ocurl("--connect-to", "a:b:c", url); code != exitUsage {
		t.Errorf("bad --connect-to: exit %d", code)
	}
}

// --retry retries transient failures with the delay asked for; the
// bodies of retried answers are written to stdout, not to a file.
func TestRetry(t *testing.T) {
	s := testserver.Start(t)
	flaky := func(id, query string) string { return s.HTTPURL + "/flaky?id=" + id + "&" + query }
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, errOut := ocurl("--retry", "3", "--retry-delay", "0.01", "-o", out, "-w", "%{http_code}", flaky("file", "fail=2"))
	got, _ := os.ReadFile(out)
	if code != 0 || string(got) != "ok after 2 failures\n" || stdout != "200" ||
		errOut != "Warning: Problem : HTTP error. Will retry in 0.01 seconds. 3 retries left.\n"+
			"Warning: Problem : HTTP error. Will retry in 0.01 seconds. 2 retries left.\n" {
		t.Fatalf("exit %d file %q stdout %q err %s", code, got, stdout, errOut)
	}
	// On stdout the retried answers' bodies stay, as curl leaves them; -f
	// writes none and prints each attempt's error (-S) before the warning.
	if code, stdout, _ := ocurl("-s", "--retry", "3", "--retry-delay", "0.01", flaky("stdout", "fail=2")); code != 0 ||
		stdout != "failure 1 of 2\nfailure 2 of 2\nok after 2 failures\n" {
		t.Fatalf("stdout: exit %d stdout %q", code, stdout)
	}
	if code, stdout, errOut := ocurl("-sSf", "--retry", "3", "--retry-delay", "0.01", flaky("fail", "fail=2")); code != 0 || stdout != "ok after 2 failures\n" ||
		errOut != strings.Repeat("ocurl: (22) The requested URL returned error: 503\n", 2) {
		t.Fatalf("-sSf: exit %d stdout %q err %q", code, stdout, errOut)
	}
	// Out of retries, the last answer stands (body and all).
	if code, stdout, _ := ocurl("-s", "--retry", "1", "--retry-delay", "0.01", flaky("out", "fail=2")); code != 0 || stdout != "failure 1 of 2\nfailure 2 of 2\n" {
		t.Fatalf("out of retries: exit %d stdout %q", code, stdout)
	}
	// --retry-max-time: no retry is decided once it has passed since the
	// first attempt, as in curl; the wait before a retry does not count
	// against it. The first attempt (well within 0.25 s) is retried although
	// its 0.4 s wait ends past the limit; the second, after that wait, is not.
	code, stdout, errOut = ocurl("--retry", "5", "--retry-delay", "0.4", "--retry-max-time", "0.25", flaky("max", "fail=10"))
	if code != 0 || stdout != "failure 1 of 10\nfailure 2 of 10\n" || strings.Count(errOut, "Will retry") != 1 {
		t.Fatalf("--retry-max-time: exit %d stdout %q err %q", code, stdout, errOut)
	}

	refused := "http://" + s.RefusedAddr + "/"
	if code, _, errOut := ocurl("--retry", "2", "--retry-delay", "0.01", refused); code != exitConnect || strings.Contains(errOut, "Will retry") {
		t.Fatalf("refused without --retry-connrefused: exit %d %s", code, errOut)
	}
	if code, _, errOut := ocurl("--retry", "2", "--retry-delay", "0.01", "--retry-connrefused", refused); code != exitConnect ||
		strings.Count(errOut, "Problem : connection refused.") != 2 || strings.Count(errOut, "ocurl: (7) ") != 3 {
		t.Fatalf("--retry-connrefused: exit %d %s", code, errOut)
	}
	// A body cut short is retried only with --retry-all-errors.
	trunc := s.HTTPURL + "/truncated?length=10&send=5"
	if code, _, errOut := ocurl("--retry", "1", "--retry-delay", "0.01", trunc); code != exitPartial || strings.Contains(errOut, "Will retry") {
		t.Fatalf("partial without --retry-all-errors: exit %d %s", code, errOut)
	}
	if code, _, errOut := ocurl("--retry", "1", "--retry-delay", "0.01", "--retry-all-errors", trunc); code != exitPartial ||
		!strings.Contains(errOut, "ocurl: (18) transfer closed with 5 bytes remaining to read\nWarning: Problem (retrying all errors). Will retry in 0.01 seconds. 1 retries left.\n") {
		t.Fatalf("--retry-all-errors: exit %d %s", code, errOut)
	}
	// A timeout is retried: the first answer comes too late, the second at once.
	if code, out, errOut := ocurl("-m", "0.2", "--retry", "1", "--retry-delay", "0.01", flaky("slow", "fail=1&delay=2s")); code != 0 ||
		out != "ok after 1 failures\n" || !strings.Contains(errOut, "Problem : timeout.") {
		t.Fatalf("timeout: exit %d out %q %s", code, out, errOut)
	}
}

// The rate limiter sleeps until the bytes read fit the rate, and reads a
// quarter second's worth at a time.
func TestRateLimiter(t *testing.T) {
	data := strings.Repeat("x", 10000)
	l := &rateLimited{r: strings.NewReader(data), rate: 1000, start: time.Now()}
	buf := make([]byte, 4096)
	n, _ := l.Read(buf[:])
	if n != 250 {
		t.Fatalf("read %d bytes at once, want 250 (a quarter second at 1000 B/s)", n)
	}
	s := testserver.Start(t)
	if code, out, _ := ocurl("--limit-rate", "100k", s.HTTPURL+"/text/3000"); code != 0 || out != string(testserver.Text(0, 3000)) {
		t.Fatalf("--limit-rate: exit %d, %d bytes", code, len(out))
	}
	if code, _, _ := ocurl("--limit-rate", "fast", s.HTTPURL+"/"); code != exitUsage {
		t.Fatalf("--limit-rate fast: exit %d", code)
	}
}

// -Z runs the URLs at once: the server answers each request only once
// both have arrived.
func TestParallel(t *testing.T) {
	s := testserver.Start(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	url := s.HTTPURL + "/rendezvous?id=z&n=2"
	code, _, errOut := ocurl("-Z", "--parallel-max", "2", "-o", a, "-o", b, url, url)
	ga, _ := os.ReadFile(a)
	gb, _ := os.ReadFile(b)
	if code != 0 || string(ga) != "together\n" || string(gb) != "together\n" {
		t.Fatalf("exit %d %q %q %s", code, ga, gb, errOut)
	}
}

// -K reads curl's config format; --url adds a URL.
func TestConfigFile(t *testing.T) {
	s := testserver.Start(t)
	dir := t.TempDir()
	cfg := writeFile(t, dir, "cfg", "# comment\n  silent\n\nurl = \""+s.HTTPURL+"/echo?b=1\"\n--header \"X-A: 1 2\"\n"+
		"write-out: \"|%{http_code} \\\"q\\\"\\n\"\nbogus\n-o "+filepath.Join(dir, "out")+"\n")
	code, out, errOut := ocurl("-K", cfg)
	got, _ := os.ReadFile(filepath.Join(dir, "out"))
	if e := parseEcho(t, string(got)); code != 0 || out != "|200 \"q\"\n" || e.header("X-A") != "1 2" || e.uri != "/echo?b=1" ||
		!strings.Contains(errOut, "cfg:7: warning: 'bogus' is unknown") {
		t.Fatalf("exit %d out %q file %q err %q", code, out, got, errOut)
	}
	code, out, _ = ocurlIn("header = X-A:stdin\n", nil, "-K", "-", "--url", s.HTTPURL+"/echo/u")
	if e := parseEcho(t, out); code != 0 || e.header("X-A") != "stdin" || e.uri != "/echo/u" {
		t.Fatalf("-K -: exit %d out %q", code, out)
	}
	nested := writeFile(t, dir, "nested", "config = "+cfg+"\n")
	if code, _, _ := ocurl("-K", nested); code != 0 {
		t.Fatalf("nested: exit %d", code)
	}
	loop := filepath.Join(dir, "loop")
	writeFile(t, dir, "loop", "-K "+loop+"\n")
	if code, _, errOut := ocurl("-K", loop, s.HTTPURL+"/"); code != exitUsage || !strings.Contains(errOut, "nested") {
		t.Fatalf("loop: exit %d %s", code, errOut)
	}
	if code, _, errOut := ocurl("-K", filepath.Join(dir, "none"), s.HTTPURL+"/"); code != exitRead || !strings.Contains(errOut, "error encountered when reading a file") {
		t.Fatalf("missing: exit %d %s", code, errOut)
	}
	bad := writeFile(t, dir, "bad", "silent\nmax-time NaN\n")
	if code, _, errOut := ocurl("-K", bad, s.HTTPURL+"/"); code != exitUsage || !strings.Contains(errOut, "bad:2: ") {
		t.Fatalf("bad value: exit %d %s", code, errOut)
	}
	if code, _, _ := ocurl("-K", writeFile(t, dir, "q", "url \"http://unclosed\n")); code != exitUsage {
		t.Fatalf("unclosed quote: exit %d", code)
	}
}

// -4 and -6 filter what a name resolves to.
func TestIPVersion(t *testing.T) {
	s := testserver.Start(t) // on 127.0.0.1 only
	if code, out, errOut := ocurl("-4", s.HTTPURL+"/echo"); code != 0 || parseEcho(t, out).uri != "/echo" {
		t.Fatalf("-4: exit %d out %q %s", code, out, errOut)
	}
	if code, _, _ := ocurl("-6", s.HTTPURL+"/echo"); code == 0 {
		t.Fatal("-6 reached a server listening on 127.0.0.1 only")
	}
}
