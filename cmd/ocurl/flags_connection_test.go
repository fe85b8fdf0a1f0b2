package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

// --resolve: several addresses tried in turn, '*' for any host, '+'
// accepted, '-' removing an entry.
func TestResolveForms(t *testing.T) {
	s := newRawServer(t, func(q *rawRequest) rawReply { return reply(q.header("Host")) })
	_, port, _ := net.SplitHostPort(s.addr)
	url := "http://example.test:" + port + "/"
	for _, args := range [][]string{
		{"--resolve", "example.test:" + port + ":127.0.0.1"},
		{"--resolve", "+example.test:" + port + ":127.0.0.2,[127.0.0.1]"}, // nothing listens on 127.0.0.2
		{"--resolve", "*:" + port + ":127.0.0.1"},
		{"--resolve", "other.test:" + port + ":127.0.0.2", "--resolve", "*:" + port + ":127.0.0.1"},
	} {
		code, out, errOut := ocurl(append(args, "-v", url)...)
		if code != 0 || out != "example.test:"+port {
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
	s := newTestServer(t, testpki.Good, echoHandler)
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	_, deadPort, _ := net.SplitHostPort(dead.Addr().String())
	dead.Close()
	url := "https://localhost:" + deadPort + "/ct"
	for _, ct := range []string{"localhost:" + deadPort + ":127.0.0.1:" + s.port, "::127.0.0.1:" + s.port, "localhost::" + ":" + s.port,
		"elsewhere::127.0.0.2:1,localhost:" + deadPort + "::" + s.port} {
		args := []string{"--cacert", s.rootFile}
		for _, c := range strings.Split(ct, ",") {
			args = append(args, "--connect-to", c)
		}
		code, out, errOut := ocurl(append(args, url)...)
		if code != 0 || !strings.HasPrefix(out, "GET /ct host=localhost:"+deadPort) {
			t.Errorf("--connect-to %s: exit %d out %q err %s", ct, code, out, errOut)
		}
	}
	if code, _, _ := ocurl("--connect-to", "a:b:c", url); code != exitUsage {
		t.Errorf("bad --connect-to: exit %d", code)
	}
}

// --retry retries transient failures with the delay asked for; the
// bodies of retried answers are not written.
func TestRetry(t *testing.T) {
	var mu sync.Mutex
	n := 0
	s := newRawServer(t, func(q *rawRequest) rawReply {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n <= 2 {
			return rawReply{data: "HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy"}
		}
		return reply("ok")
	})
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, errOut := ocurl("--retry", "3", "--retry-delay", "0.01", "-o", out, "-w", "%{http_code}", "http://"+s.addr+"/")
	got, _ := os.ReadFile(out)
	if code != 0 || string(got) != "ok" || stdout != "200" ||
		errOut != "Warning: Problem : HTTP error. Will retry in 0.01 seconds. 3 retries left.\n"+
			"Warning: Problem : HTTP error. Will retry in 0.01 seconds. 2 retries left.\n" {
		t.Fatalf("exit %d file %q stdout %q err %s", code, got, stdout, errOut)
	}
	// On stdout the retried answers' bodies stay, as curl leaves them; -f
	// writes none and prints each attempt's error (-S) before the warning.
	mu.Lock()
	n = 0
	mu.Unlock()
	if code, stdout, _ := ocurl("-s", "--retry", "3", "--retry-delay", "0.01", "http://"+s.addr+"/"); code != 0 || stdout != "busybusyok" {
		t.Fatalf("stdout: exit %d stdout %q", code, stdout)
	}
	mu.Lock()
	n = 0
	mu.Unlock()
	if code, stdout, errOut := ocurl("-sSf", "--retry", "3", "--retry-delay", "0.01", "http://"+s.addr+"/"); code != 0 || stdout != "ok" ||
		errOut != strings.Repeat("ocurl: (22) The requested URL returned error: 503\n", 2) {
		t.Fatalf("-sSf: exit %d stdout %q err %q", code, stdout, errOut)
	}
	// Out of retries, the last answer stands (body and all).
	mu.Lock()
	n = 0
	mu.Unlock()
	if code, stdout, _ := ocurl("-s", "--retry", "1", "--retry-delay", "0.01", "http://"+s.addr+"/"); code != 0 || stdout != "busybusy" {
		t.Fatalf("out of retries: exit %d stdout %q", code, stdout)
	}
	// --retry-max-time: no retry is decided once it has passed since the
	// first attempt, as in curl; the wait before a retry does not count
	// against it. The first attempt (well within 0.25 s) is retried although
	// its 0.4 s wait ends past the limit; the second, after that wait, is not.
	mu.Lock()
	n = 0
	mu.Unlock()
	if code, stdout, errOut := ocurl("--retry", "3", "--retry-delay", "0.4", "--retry-max-time", "0.25", "http://"+s.addr+"/"); code != 0 || stdout != "busybusy" || strings.Count(errOut, "Will retry") != 1 {
		t.Fatalf("--retry-max-time: exit %d stdout %q err %q", code, stdout, errOut)
	}

	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String() + "/"
	dead.Close()
	if code, _, errOut := ocurl("--retry", "2", "--retry-delay", "0.01", deadURL); code != exitConnect || strings.Contains(errOut, "Will retry") {
		t.Fatalf("refused without --retry-connrefused: exit %d %s", code, errOut)
	}
	if code, _, errOut := ocurl("--retry", "2", "--retry-delay", "0.01", "--retry-connrefused", deadURL); code != exitConnect ||
		strings.Count(errOut, "Problem : connection refused.") != 2 || strings.Count(errOut, "ocurl: (7) ") != 3 {
		t.Fatalf("--retry-connrefused: exit %d %s", code, errOut)
	}
	// A body cut short is retried only with --retry-all-errors.
	trunc := newRawServer(t, func(q *rawRequest) rawReply {
		return rawReply{data: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", close: true}
	})
	if code, _, errOut := ocurl("--retry", "1", "--retry-delay", "0.01", "http://"+trunc.addr+"/"); code != exitPartial || strings.Contains(errOut, "Will retry") {
		t.Fatalf("partial without --retry-all-errors: exit %d %s", code, errOut)
	}
	if code, _, errOut := ocurl("--retry", "1", "--retry-delay", "0.01", "--retry-all-errors", "http://"+trunc.addr+"/"); code != exitPartial ||
		!strings.Contains(errOut, "ocurl: (18) transfer closed with 5 bytes remaining to read\nWarning: Problem (retrying all errors). Will retry in 0.01 seconds. 1 retries left.\n") {
		t.Fatalf("--retry-all-errors: exit %d %s", code, errOut)
	}
	// A timeout is retried.
	var calls atomic.Int32
	slow := newRawServer(t, func(q *rawRequest) rawReply {
		if calls.Add(1) == 1 {
			time.Sleep(500 * time.Millisecond)
		}
		return reply("late")
	})
	if code, out, errOut := ocurl("-m", "0.2", "--retry", "1", "--retry-delay", "0.01", "http://"+slow.addr+"/"); code != 0 || out != "late" ||
		!strings.Contains(errOut, "Problem : timeout.") {
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
	s := newRawServer(t, func(q *rawRequest) rawReply { return reply(strings.Repeat("y", 3000)) })
	if code, out, _ := ocurl("--limit-rate", "100k", "http://"+s.addr+"/"); code != 0 || len(out) != 3000 {
		t.Fatalf("--limit-rate: exit %d, %d bytes", code, len(out))
	}
	if code, _, _ := ocurl("--limit-rate", "fast", "http://"+s.addr+"/"); code != exitUsage {
		t.Fatalf("--limit-rate fast: exit %d", code)
	}
}

// -Z runs the URLs at once: the server answers the first request only
// once the second has arrived.
func TestParallel(t *testing.T) {
	both := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	arrived := 0
	s := newRawServer(t, func(q *rawRequest) rawReply {
		mu.Lock()
		arrived++
		if arrived == 2 {
			once.Do(func() { close(both) })
		}
		mu.Unlock()
		select {
		case <-both:
			return reply("together " + q.target)
		case <-time.After(10 * time.Second):
			return reply("alone " + q.target)
		}
	})
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	code, _, errOut := ocurl("-Z", "--parallel-max", "2", "-o", a, "-o", b, "http://"+s.addr+"/1", "http://"+s.addr+"/2")
	ga, _ := os.ReadFile(a)
	gb, _ := os.ReadFile(b)
	if code != 0 || string(ga) != "together /1" || string(gb) != "together /2" {
		t.Fatalf("exit %d %q %q %s", code, ga, gb, errOut)
	}
}

// -K reads curl's config format; --url adds a URL.
func TestConfigFile(t *testing.T) {
	s := newRawServer(t, func(q *rawRequest) rawReply { return reply(q.header("X-A") + "|" + q.target) })
	dir := t.TempDir()
	cfg := writeFile(t, dir, "cfg", "# comment\n  silent\n\nurl = \"http://"+s.addr+"/a?b=1\"\n--header \"X-A: 1 2\"\n"+
		"write-out: \"|%{http_code} \\\"q\\\"\\n\"\nbogus\n-o "+filepath.Join(dir, "out")+"\n")
	code, out, errOut := ocurl("-K", cfg)
	got, _ := os.ReadFile(filepath.Join(dir, "out"))
	if code != 0 || out != "|200 \"q\"\n" || string(got) != "1 2|/a?b=1" || !strings.Contains(errOut, "cfg:7: warning: 'bogus' is unknown") {
		t.Fatalf("exit %d out %q file %q err %q", code, out, got, errOut)
	}
	code, out, _ = ocurlIn("header = X-A:stdin\n", nil, "-K", "-", "--url", "http://"+s.addr+"/u")
	if code != 0 || out != "stdin|/u" {
		t.Fatalf("-K -: exit %d out %q", code, out)
	}
	nested := writeFile(t, dir, "nested", "config = "+cfg+"\n")
	if code, _, _ := ocurl("-K", nested); code != 0 {
		t.Fatalf("nested: exit %d", code)
	}
	loop := filepath.Join(dir, "loop")
	writeFile(t, dir, "loop", "-K "+loop+"\n")
	if code, _, errOut := ocurl("-K", loop, "http://"+s.addr+"/"); code != exitUsage || !strings.Contains(errOut, "nested") {
		t.Fatalf("loop: exit %d %s", code, errOut)
	}
	if code, _, errOut := ocurl("-K", filepath.Join(dir, "none"), "http://"+s.addr+"/"); code != exitRead || !strings.Contains(errOut, "error encountered when reading a file") {
		t.Fatalf("missing: exit %d %s", code, errOut)
	}
	bad := writeFile(t, dir, "bad", "silent\nmax-time NaN\n")
	if code, _, errOut := ocurl("-K", bad, "http://"+s.addr+"/"); code != exitUsage || !strings.Contains(errOut, "bad:2: ") {
		t.Fatalf("bad value: exit %d %s", code, errOut)
	}
	if code, _, _ := ocurl("-K", writeFile(t, dir, "q", "url \"http://unclosed\n")); code != exitUsage {
		t.Fatalf("unclosed quote: exit %d", code)
	}
}

// -4 and -6 filter what a name resolves to.
func TestIPVersion(t *testing.T) {
	s := newRawServer(t, func(q *rawRequest) rawReply { return reply("v4") })
	_, port, _ := net.SplitHostPort(s.addr)
	if code, out, errOut := ocurl("-4", "http://localhost:"+port+"/"); code != 0 || out != "v4" {
		t.Fatalf("-4: exit %d out %q %s", code, out, errOut)
	}
	if code, _, _ := ocurl("-6", "http://localhost:"+port+"/"); code == 0 {
		t.Fatal("-6 reached a server listening on 127.0.0.1 only")
	}
}
