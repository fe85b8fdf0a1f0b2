package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlsoffload/tlsoffload/internal/testserver"
)

// wireHead is a response head with what net/http would lose: lower and
// mixed case, duplicates, a folded line, framing fields, odd order.
const wireHead = "HTTP/1.1 200 OK\r\n" +
	"zeta: 1\r\n" +
	"Content-Type: text/plain\r\n" +
	"X-Dup: a\r\n" +
	"x-dup: b\r\n" +
	"Transfer-Encoding: chunked\r\n" +
	"Connection: keep-alive\r\n" +
	"Folded: a\r\n  b\r\n" +
	"\r\n"

// -i, -D and -v show the response head exactly as it came: wire order,
// wire case, every field; twice the same bytes.
func TestWireHeadersVerbatim(t *testing.T) {
	s := testserver.StartRaw(t, func(q *testserver.RawRequest) testserver.RawReply {
		if q.Method == "HEAD" {
			return testserver.RawReply{Data: strings.Replace(wireHead, "Transfer-Encoding: chunked\r\n", "", 1)}
		}
		return testserver.RawReply{Data: wireHead + "5\r\nhello\r\n6\r\n world\r\n0\r\nTrailer-X: t\r\n\r\n"}
	})
	url := "http://" + s.Addr + "/h"
	var first string
	for i := 0; i < 2; i++ {
		code, out, errOut := ocurl("-i", url)
		if code != 0 || out != wireHead+"hello world" {
			t.Fatalf("-i: exit %d\nstdout %q\nstderr %s", code, out, errOut)
		}
		if i == 0 {
			first = out
		} else if out != first {
			t.Fatalf("two runs differ:\n%q\n%q", first, out)
		}
	}

	dump := filepath.Join(t.TempDir(), "headers")
	code, out, errOut := ocurl("-D", dump, url)
	got, _ := os.ReadFile(dump)
	if code != 0 || out != "hello world" || string(got) != wireHead {
		t.Fatalf("-D FILE: exit %d stdout %q file %q err %s", code, out, got, errOut)
	}
	code, out, _ = ocurl("-D", "-", url)
	if code != 0 || out != wireHead+"hello world" {
		t.Fatalf("-D -: exit %d stdout %q", code, out)
	}

	code, _, errOut = ocurl("-v", url)
	var want strings.Builder
	for _, line := range strings.SplitAfter(wireHead, "\r\n") {
		if line != "" {
			want.WriteString("< " + line)
		}
	}
	if code != 0 || !strings.Contains(errOut, want.String()) {
		t.Fatalf("-v: exit %d, stderr lacks the head as received:\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "bytes of headers and 11 bytes of body") || !strings.Contains(errOut, "> GET /h HTTP/1.1\r\n") {
		t.Fatalf("-v lacks the byte counts or the request:\n%s", errOut)
	}

	code, out, _ = ocurl("-I", url)
	if want := strings.Replace(wireHead, "Transfer-Encoding: chunked\r\n", "", 1); code != 0 || out != want {
		t.Fatalf("-I: exit %d stdout %q", code, out)
	}
}

// Responses that break HTTP exit as curl does, and leave no -o file.
func TestBrokenResponses(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		code       int
		msg        string
	}{
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", exitPartial, "transfer closed with 95 bytes remaining to read"},
		{"short chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", exitPartial, "outstanding read data remaining"},
		{"no last chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", exitPartial, "outstanding read data remaining"},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", exitRecv, "chunked-encoding"},
		{"empty reply", "", exitEmptyReply, "Empty reply from server"},
		{"HTTP/0.9", "hello world\n", exitProtocol, "HTTP/0.9"},
		{"bad status", "HTTP/1.1 2x0 OK\r\n\r\n", exitWeirdReply, "Unsupported HTTP response"},
		{"no colon", "HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n", exitWeirdReply, "Header without colon"},
		{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", exitWeirdReply, "Content-Length"},
		{"huge head", "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 90<<10) + "\r\nX-Big: " + strings.Repeat("a", 90<<10) +
			"\r\nX-Big: " + strings.Repeat("a", 90<<10) + "\r\nX-Big: " + strings.Repeat("a", 90<<10) + "\r\n\r\n", exitRecv, "Too large"},
		{"head cut", "HTTP/1.1 200 OK\r\nX-A: b\r\n", exitRecv, "middle of the response headers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testserver.StartRaw(t, func(q *testserver.RawRequest) testserver.RawReply {
				return testserver.RawReply{Data: tc.data, Close: true}
			})
			out := filepath.Join(t.TempDir(), "out")
			code, stdout, errOut := ocurl("-o", out, "http://"+s.Addr+"/")
			if code != tc.code || !strings.Contains(errOut, tc.msg) || !strings.HasPrefix(errOut, fmt.Sprintf("ocurl: (%d) ", tc.code)) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", code, tc.code, errOut, tc.msg)
			}
			if stdout != "" {
				t.Fatalf("stdout %q", stdout)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("-o left a file after a failure: %v", err)
			}
			assertNoTemps(t, filepath.Dir(out))
		})
	}
}

// The request goes out in curl's order; -H replaces a built-in in the
// -H's place (Host in its own), 'Name:' removes one, 'Name;' sends one
// empty, and a line that is no header is ignored, as in curl.
func TestRequestHeaderRules(t *testing.T) {
	s := testserver.StartRaw(t, func(q *testserver.RawRequest) testserver.RawReply { return reply("ok") })
	hdrFile := writeFile(t, t.TempDir(), "hdrs", "X-From-File: 1\r\n\nX-Second: 2\n")
	code, _, errOut := ocurl("-H", "User-Agent: X", "-H", "Accept;", "-H", "X-Foo: 1", "-H", "host: foo",
		"-H", "Empty:", "-H", "not a header", "-H", "@"+hdrFile, "-d", "a=b", "http://"+s.Addr+"/a")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := "POST /a HTTP/1.1\r\nHost: foo\r\nUser-Agent: X\r\nAccept:\r\nX-Foo: 1\r\nX-From-File: 1\r\nX-Second: 2\r\n" +
		"Content-Length: 3\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n"
	if got := s.Requests()[0].Head; got != want {
		t.Fatalf("request head\n%q\nwant (curl's order)\n%q", got, want)
	}

	code, _, _ = ocurl("-H", "User-Agent:", "-H", "Content-Type: text/x", "-d", "xx", "http://"+s.Addr+"/b")
	want = "POST /b HTTP/1.1\r\nHost: " + s.Addr + "\r\nAccept: */*\r\nContent-Type: text/x\r\nContent-Length: 2\r\n\r\n"
	if got := s.Requests()[1].Head; code != 0 || got != want {
		t.Fatalf("request head\n%q\nwant\n%q", got, want)
	}
	// A header file that cannot be read is curl 7.88's warning (none with
	// -s), and the request goes out without it.
	if code, _, errOut := ocurl("-H", "@/nonexistent/headers", "http://"+s.Addr+"/c"); code != 0 || errOut != "Warning: Failed to open /nonexistent/headers!\n" {
		t.Fatalf("-H @missing: exit %d %q", code, errOut)
	}
	if got := s.Requests()[2].Head; got != "GET /c HTTP/1.1\r\nHost: "+s.Addr+"\r\nUser-Agent: ocurl/1\r\nAccept: */*\r\n\r\n" {
		t.Fatalf("-H @missing sent %q", got)
	}
	if code, _, errOut := ocurl("-s", "-H", "@/nonexistent/headers", "http://"+s.Addr+"/"); code != 0 || errOut != "" {
		t.Fatalf("-s -H @missing: exit %d %q", code, errOut)
	}
}

// Several URLs share a kept-alive connection; one the server closed while
// idle gets a second try on a new connection.
func TestKeepAlive(t *testing.T) {
	s := testserver.StartRaw(t, func(q *testserver.RawRequest) testserver.RawReply { return reply("one") })
	url := "http://" + s.Addr + "/"
	code, out, errOut := ocurl("-v", url, url, url)
	if code != 0 || out != "oneoneone" || s.Connections() != 1 || strings.Count(errOut, "Re-using existing connection #0") != 2 {
		t.Fatalf("exit %d out %q, %d connections\n%s", code, out, s.Connections(), errOut)
	}

	closing := testserver.StartRaw(t, func(q *testserver.RawRequest) testserver.RawReply {
		r := reply("two")
		r.Close = true // no "Connection: close": ocurl finds out on reuse
		return r
	})
	url = "http://" + closing.Addr + "/"
	code, out, errOut = ocurl(url, url)
	if code != 0 || out != "twotwo" || closing.Connections() != 2 {
		t.Fatalf("stale connection: exit %d out %q, %d connections\n%s", code, out, closing.Connections(), errOut)
	}
}

// With several URLs the exit code is the last transfer's, as curl's;
// --fail-early stops at the first failure.
func TestSeveralURLs(t *testing.T) {
	s := testserver.Start(t)
	dead := "http://" + s.RefusedAddr + "/"
	good := s.HTTPURL + "/text/3"
	if code, out, _ := ocurl("-s", dead, good); code != 0 || out != "lin" {
		t.Errorf("failure then success: exit %d out %q", code, out)
	}
	if code, out, _ := ocurl("-s", good, dead); code != exitConnect || out != "lin" {
		t.Errorf("success then failure: exit %d out %q", code, out)
	}
	if code, out, _ := ocurl("-s", "--fail-early", dead, good); code != exitConnect || out != "" {
		t.Errorf("--fail-early: exit %d out %q", code, out)
	}
}

// -m 0 is no limit; -m NaN and negative times are usage errors.
func TestMaxTimeValues(t *testing.T) {
	s := testserver.Start(t)
	slow := s.HTTPURL + "/slow?head=200ms&chunks=1"
	if code, out, errOut := ocurl("-m", "0", "--connect-timeout", "0", slow); code != 0 || out != "chunk 0\n" {
		t.Errorf("-m 0: exit %d out %q err %q", code, out, errOut)
	}
	for _, v := range []string{"NaN", "-1", "inf", "1x", ""} {
		if code, _, errOut := ocurl("-m", v, slow); code != exitUsage || !strings.Contains(errOut, "ocurl: (2) option -m: ") {
			t.Errorf("-m %q: exit %d err %q", v, code, errOut)
		}
	}
	if code, _, errOut := ocurl("-m", "0.05", slow); code != exitTimeout || !strings.Contains(errOut, "timed out") {
		t.Errorf("-m 0.05: exit %d err %q", code, errOut)
	}
}

// An offloader that cannot be reached is a TLS failure (35) whose hint
// names the offloader, not the server. The options a remote offloader's
// device policy decides are refused (4), each saying what decides instead
// (testdata/script/offloader.txtar shows the messages whole).
func TestUnreachableOffloader(t *testing.T) {
	s := testserver.Start(t)
	addr := s.RefusedAddr
	psk := writeFile(t, t.TempDir(), "psk", strings.Repeat("ab", 32))
	remote := []string{"--offloader", addr, "--device-id", "d1", "--psk-file", psk}
	code, _, errOut := ocurl(append(remote, s.URL+"/echo")...)
	if code != exitTLS || !strings.Contains(errOut, "ocurl: hint: is the offloader running at "+addr+"?") {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	for _, tc := range []struct {
		opt  []string
		flag string
		hint string
	}{
		{[]string{"-k"}, "-k/--insecure", "roots_file of device \"d1\""},
		{[]string{"--pinnedpubkey", s.Pin}, "--pinnedpubkey", "run without --offloader"},
		{[]string{"--cacert", s.RootFile}, "--cacert", "roots_file for device \"d1\""},
		{[]string{"--capath", t.TempDir()}, "--capath", "roots_file for device \"d1\""},
		{[]string{"--cert", s.ClientCertFile, "--key", s.ClientKeyFile}, "--cert/--key", "client_cert_file and client_key_file for device \"d1\""},
	} {
		args := append(append(append([]string{}, remote...), tc.opt...), s.URL+"/echo")
		code, out, errOut := ocurl(args...)
		if code != exitNotHere || out != "" || !strings.HasPrefix(errOut, "ocurl: (4) "+tc.flag+" cannot be used with --offloader "+addr+": ") ||
			!strings.Contains(errOut, "\nocurl: hint: ") || !strings.Contains(errOut, tc.hint) {
			t.Errorf("%v with --offloader: exit %d, stderr %s", tc.opt, code, errOut)
		}
	}
}

// A reader of stdout that goes away makes ocurl exit 23, not die of
// SIGPIPE (141 in a shell).
func TestStdoutReaderGone(t *testing.T) {
	s := testserver.Start(t)
	cmd := exec.Command(ocurlBinary(t), "-sS", s.HTTPURL+"/bytes/16777216")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	io.ReadFull(stdout, make([]byte, 1))
	stdout.Close()
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitWrite || !strings.HasPrefix(stderr.String(), "ocurl: (23) ") {
		t.Fatalf("ocurl ended with %v, stderr %q; want exit 23", err, stderr.String())
	}
}

// A URL without a scheme is http://, as curl guesses; bad URLs exit 3,
// other schemes 1.
func TestURLRules(t *testing.T) {
	s := testserver.StartRaw(t, func(q *testserver.RawRequest) testserver.RawReply { return reply(q.Target) })
	if code, out, errOut := ocurl(s.Addr + "/guess?q=1"); code != 0 || out != "/guess?q=1" {
		t.Errorf("scheme-less: exit %d out %q err %q", code, out, errOut)
	}
	if code, out, _ := ocurl("HTTP://" + s.Addr + "/upper#frag"); code != 0 || out != "/upper" {
		t.Errorf("upper-case scheme with a fragment: exit %d out %q", code, out)
	}
	// Dot segments are squashed as curl squashes them, unless --path-as-is;
	// %{url_effective} keeps user info, as curl's.
	if code, out, _ := ocurl("-w", "|%{url_effective}", "http://u:p@"+s.Addr+"/a/../b/./c/..?q=%41"); code != 0 || out != "/b/?q=%41|http://u:p@"+s.Addr+"/b/?q=%41" {
		t.Errorf("dot segments: exit %d out %q", code, out)
	}
	if code, out, _ := ocurl("--path-as-is", "http://"+s.Addr+"/a/../b"); code != 0 || out != "/a/../b" {
		t.Errorf("--path-as-is: exit %d out %q", code, out)
	}
	for _, tc := range []struct {
		url  string
		code int
	}{
		{"http://127.0.0.1:99999/", exitBadURL},
		{"http://a b/", exitBadURL},
		{"http://" + s.Addr + "/a b", exitBadURL},
		{"http://[::1/", exitBadURL},
		{"https://", exitBadURL},
		{"http://:80/", exitBadURL},
		{"ftp://example.com/", exitProtocol},
		{"gopher://example.com/", exitProtocol},
	} {
		if code, _, errOut := ocurl(tc.url); code != tc.code {
			t.Errorf("%q: exit %d, want %d: %s", tc.url, code, tc.code, errOut)
		}
	}
}
