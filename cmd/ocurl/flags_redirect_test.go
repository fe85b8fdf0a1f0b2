package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tlsoffload/tlsoffload/internal/testserver"
)

// -L follows redirects with curl's method and body rules.
func TestRedirectMethods(t *testing.T) {
	s := testserver.Start(t)
	file := writeFile(t, t.TempDir(), "up", "put body")
	for _, tc := range []struct {
		code         int
		args         []string
		method, body string
	}{
		{301, []string{"-d", "x"}, "GET", ""},
		{301, []string{"-d", "x", "--post301"}, "POST", "x"},
		{302, []string{"-d", "x"}, "GET", ""},
		{302, []string{"-d", "x", "--post302"}, "POST", "x"},
		{303, []string{"-d", "x"}, "GET", ""},
		{303, []string{"-d", "x", "--post303"}, "POST", "x"},
		{307, []string{"-d", "x"}, "POST", "x"},
		{308, []string{"-d", "x"}, "POST", "x"},
		{302, []string{"-T", file}, "PUT", "put body"},
		{303, []string{"-T", file}, "GET", ""},
		{307, []string{"-T", file}, "PUT", "put body"},
		{302, []string{"-X", "POST", "-d", "x"}, "POST", ""}, // curl's well-known -X trap
		{303, []string{"-X", "DELETE"}, "DELETE", ""},
	} {
		t.Run(fmt.Sprint(tc.code, tc.args), func(t *testing.T) {
			code, out, errOut := ocurl(append(tc.args, "-L", fmt.Sprintf("%s/redirect/%d", s.HTTPURL, tc.code))...)
			if e := parseEcho(t, out); code != 0 || e.uri != "/echo" || e.method != tc.method || e.body != tc.body {
				t.Fatalf("exit %d out %q, want %s with %q\n%s", code, out, tc.method, tc.body, errOut)
			}
		})
	}
	// A body from stdin cannot be sent twice: a 307 after -T - exits 65,
	// as curl's "necessary data rewind wasn't possible".
	code0, _, errOut0 := ocurlIn("streamed", nil, "-L", "-T", "-", "-H", "Expect:", s.HTTPURL+"/redirect/307")
	if code0 != exitRewind || !strings.Contains(errOut0, "rewind") {
		t.Fatalf("-T - then 307: exit %d %s", code0, errOut0)
	}
	// -I follows with HEAD, printing each head.
	code, out, _ := ocurl("-IL", s.HTTPURL+"/redirect/303")
	if code != 0 || !strings.HasPrefix(out, "HTTP/1.1 303 See Other\r\n") || !strings.Contains(out, "\r\n\r\nHTTP/1.1 200 OK\r\n") ||
		strings.Contains(out, "method:") {
		t.Fatalf("-IL: exit %d out %q", code, out)
	}
	// Without -L the redirect is the answer.
	if code, out, _ := ocurl(s.HTTPURL + "/redirect/302"); code != 0 || out != "redirect 302 to /echo\n" {
		t.Fatalf("no -L: exit %d out %q", code, out)
	}
	// -i -L shows every head, and only the last body.
	code, out, _ = ocurl("-iL", s.HTTPURL+"/redirect/301")
	if code != 0 || strings.Count(out, "HTTP/1.1 ") != 2 || strings.Contains(out, "redirect 301") || !strings.Contains(out, "\r\n\r\nmethod: GET\nuri: /echo\n") {
		t.Fatalf("-iL: exit %d out %q", code, out)
	}
}

// --max-redirs bounds -L (47 beyond it); redirects to other protocols are
// refused (1).
func TestMaxRedirs(t *testing.T) {
	s := testserver.Start(t)
	code, _, errOut := ocurl("-L", "--max-redirs", "3", s.HTTPURL+"/loop")
	if code != exitTooManyRedirs || !strings.Contains(errOut, "ocurl: (47) Maximum (3) redirects followed") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if code, _, errOut := ocurl("-L", s.HTTPURL+"/loop"); code != exitTooManyRedirs || !strings.Contains(errOut, "Maximum (50)") {
		t.Fatalf("default: exit %d: %s", code, errOut)
	}
	if code, _, _ := ocurl("-L", "--max-redirs", "0", s.HTTPURL+"/redirect/302"); code != exitTooManyRedirs {
		t.Fatalf("--max-redirs 0: exit %d", code)
	}
	if code, _, errOut := ocurl("-L", s.HTTPURL+"/redirect/302?to=ftp://example.com/"); code != exitProtocol {
		t.Fatalf("to ftp: exit %d: %s", code, errOut)
	}
	if code, _, _ := ocurl("--max-redirs", "x", s.HTTPURL+"/"); code != exitUsage {
		t.Fatalf("--max-redirs x: exit %d", code)
	}
}

// Credentials go to the host they were given for only, unless
// --location-trusted; --referer ';auto' follows the redirects.
func TestRedirectCredentials(t *testing.T) {
	s := testserver.Start(t)
	first := testserver.URLFor(s.HTTPURL, "127.0.0.1")
	other := s.HTTPURL + "/echo" // localhost: another host name
	args := []string{"-L", "-u", "user:pw", "-H", "Cookie: c=1", "-e", "first;auto"}

	code, out, _ := ocurl(append(args, first+"/redirect/302")...)
	e := parseEcho(t, out)
	if code != 0 || e.host != strings.TrimPrefix(first, "http://") || e.header("Authorization") != "Basic dXNlcjpwdw==" ||
		e.header("Cookie") != "c=1" || e.header("Referer") != first+"/redirect/302" {
		t.Fatalf("same host: exit %d\n%s", code, out)
	}
	code, out, _ = ocurl(append(args, first+"/redirect/302?to="+other)...)
	e = parseEcho(t, out)
	if code != 0 || e.host != "localhost:"+s.HTTPPort || e.header("Authorization") != "" || e.header("Cookie") != "" ||
		e.header("Referer") != first+"/redirect/302?to="+other {
		t.Fatalf("other host: exit %d\n%s", code, out)
	}
	code, out, _ = ocurl(append(args, "--location-trusted", first+"/redirect/302?to="+other)...)
	if e := parseEcho(t, out); code != 0 || e.header("Authorization") != "Basic dXNlcjpwdw==" || e.header("Cookie") != "c=1" {
		t.Fatalf("--location-trusted: exit %d %q", code, out)
	}
	// The URL's user info, -A "" (no User-Agent) and -e on the first request.
	code, out, _ = ocurl("-A", "", "-e", "from-here", "http://u:p@"+strings.TrimPrefix(first, "http://")+"/echo")
	if e := parseEcho(t, out); code != 0 || e.header("Authorization") != "Basic dTpw" || e.headers["User-Agent"] != nil || e.header("Referer") != "from-here" {
		t.Fatalf("user info: exit %d %q", code, out)
	}
	// The fields in curl's order, byte for byte.
	r := testserver.StartRaw(t, func(q *testserver.RawRequest) testserver.RawReply { return reply("ok") })
	ocurl("-A", "", "-u", "only", "--oauth2-bearer", "tok", r.URL+"/")
	ocurl("-A", "agent/2", "-u", "only", r.URL+"/")
	reqs := r.Requests()
	if reqs[0].Head != "GET / HTTP/1.1\r\nHost: "+r.Addr+"\r\nAuthorization: Bearer tok\r\nAccept: */*\r\n\r\n" ||
		reqs[1].Head != "GET / HTTP/1.1\r\nHost: "+r.Addr+"\r\nAuthorization: Basic b25seTo=\r\nUser-Agent: agent/2\r\nAccept: */*\r\n\r\n" {
		t.Fatalf("heads:\n%q\n%q", reqs[0].Head, reqs[1].Head)
	}
}
