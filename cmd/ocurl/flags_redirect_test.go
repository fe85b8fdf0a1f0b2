package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// newHTTPServer is a plain-HTTP net/http server on 127.0.0.1.
func newHTTPServer(t *testing.T, h http.HandlerFunc) (addr, port string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	_, port, _ = net.SplitHostPort(l.Addr().String())
	return l.Addr().String(), port
}

// redirectHandler redirects /r/CODE?to=URL (default /echo) and echoes
// what arrives at /echo.
func redirectHandler(w http.ResponseWriter, r *http.Request) {
	if code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/")); err == nil {
		to := r.URL.Query().Get("to")
		if to == "" {
			to = "/echo"
		}
		w.Header().Set("Location", to)
		w.WriteHeader(code)
		io.WriteString(w, "redirect body")
		return
	}
	if r.URL.Path == "/loop" {
		http.Redirect(w, r, "/loop", http.StatusFound)
		return
	}
	b, _ := io.ReadAll(r.Body)
	fmt.Fprintf(w, "%s %s body=%q auth=%q cookie=%q referer=%q", r.Method, r.URL.Path, b,
		r.Header.Get("Authorization"), r.Header.Get("Cookie"), r.Referer())
}

// -L follows redirects with curl's method and body rules.
func TestRedirectMethods(t *testing.T) {
	addr, _ := newHTTPServer(t, redirectHandler)
	file := writeFile(t, t.TempDir(), "up", "put body")
	for _, tc := range []struct {
		code int
		args []string
		want string
	}{
		{301, []string{"-d", "x"}, `GET /echo body=""`},
		{301, []string{"-d", "x", "--post301"}, `POST /echo body="x"`},
		{302, []string{"-d", "x"}, `GET /echo body=""`},
		{302, []string{"-d", "x", "--post302"}, `POST /echo body="x"`},
		{303, []string{"-d", "x"}, `GET /echo body=""`},
		{303, []string{"-d", "x", "--post303"}, `POST /echo body="x"`},
		{307, []string{"-d", "x"}, `POST /echo body="x"`},
		{308, []string{"-d", "x"}, `POST /echo body="x"`},
		{302, []string{"-T", file}, `PUT /echo body="put body"`},
		{303, []string{"-T", file}, `GET /echo body=""`},
		{307, []string{"-T", file}, `PUT /echo body="put body"`},
		{302, []string{"-X", "POST", "-d", "x"}, `POST /echo body=""`}, // curl's well-known -X trap
		{303, []string{"-X", "DELETE"}, `DELETE /echo body=""`},
	} {
		t.Run(fmt.Sprint(tc.code, tc.args), func(t *testing.T) {
			code, out, errOut := ocurl(append(tc.args, "-L", fmt.Sprintf("http://%s/r/%d", addr, tc.code))...)
			if code != 0 || !strings.HasPrefix(out, tc.want) {
				t.Fatalf("exit %d out %q want %q\n%s", code, out, tc.want, errOut)
			}
		})
	}
	// A body from stdin cannot be sent twice: a 307 after -T - exits 65,
	// as curl's "necessary data rewind wasn't possible".
	code0, _, errOut0 := ocurlIn("streamed", nil, "-L", "-T", "-", "-H", "Expect:", "http://"+addr+"/r/307")
	if code0 != exitRewind || !strings.Contains(errOut0, "rewind") {
		t.Fatalf("-T - then 307: exit %d %s", code0, errOut0)
	}
	// -I follows with HEAD, printing each head.
	code, out, _ := ocurl("-IL", "http://"+addr+"/r/303")
	if code != 0 || !strings.HasPrefix(out, "HTTP/1.1 303 See Other\r\n") || !strings.Contains(out, "\r\n\r\nHTTP/1.1 200 OK\r\n") {
		t.Fatalf("-IL: exit %d out %q", code, out)
	}
	// Without -L the redirect is the answer.
	if code, out, _ := ocurl("http://" + addr + "/r/302"); code != 0 || out != "redirect body" {
		t.Fatalf("no -L: exit %d out %q", code, out)
	}
	// -i -L shows every head, and only the last body.
	code, out, _ = ocurl("-iL", "http://"+addr+"/r/301")
	if code != 0 || strings.Count(out, "HTTP/1.1 ") != 2 || strings.Contains(out, "redirect body") || !strings.HasSuffix(out, `GET /echo body="" auth="" cookie="" referer=""`) {
		t.Fatalf("-iL: exit %d out %q", code, out)
	}
}

// --max-redirs bounds -L (47 beyond it); redirects to other protocols are
// refused (1).
func TestMaxRedirs(t *testing.T) {
	addr, _ := newHTTPServer(t, redirectHandler)
	code, _, errOut := ocurl("-L", "--max-redirs", "3", "http://"+addr+"/loop")
	if code != exitTooManyRedirs || !strings.Contains(errOut, "ocurl: (47) Maximum (3) redirects followed") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if code, _, errOut := ocurl("-L", "http://"+addr+"/loop"); code != exitTooManyRedirs || !strings.Contains(errOut, "Maximum (50)") {
		t.Fatalf("default: exit %d: %s", code, errOut)
	}
	if code, _, _ := ocurl("-L", "--max-redirs", "0", "http://"+addr+"/r/302"); code != exitTooManyRedirs {
		t.Fatalf("--max-redirs 0: exit %d", code)
	}
	if code, _, errOut := ocurl("-L", "http://"+addr+"/r/302?to=ftp://example.com/"); code != exitProtocol {
		t.Fatalf("to ftp: exit %d: %s", code, errOut)
	}
	if code, _, _ := ocurl("--max-redirs", "x", "http://"+addr+"/"); code != exitUsage {
		t.Fatalf("--max-redirs x: exit %d", code)
	}
}

// Credentials go to the host they were given for only, unless
// --location-trusted; --referer ';auto' follows the redirects.
func TestRedirectCredentials(t *testing.T) {
	addr, _ := newHTTPServer(t, redirectHandler)
	_, otherPort := newHTTPServer(t, redirectHandler)
	other := "http://localhost:" + otherPort + "/echo" // another host name, another port
	args := []string{"-L", "-u", "user:pw", "-H", "Cookie: c=1", "-e", "first;auto"}

	code, out, _ := ocurl(append(args, "http://"+addr+"/r/302")...)
	want := `GET /echo body="" auth="Basic dXNlcjpwdw==" cookie="c=1" referer="http://` + addr + `/r/302"`
	if code != 0 || out != want {
		t.Fatalf("same host: exit %d\n%q\nwant\n%q", code, out, want)
	}
	code, out, _ = ocurl(append(args, "http://"+addr+"/r/302?to="+other)...)
	want = `GET /echo body="" auth="" cookie="" referer="http://` + addr + `/r/302?to=` + other + `"`
	if code != 0 || out != want {
		t.Fatalf("other host: exit %d\n%q\nwant\n%q", code, out, want)
	}
	code, out, _ = ocurl(append(args, "--location-trusted", "http://"+addr+"/r/302?to="+other)...)
	if code != 0 || !strings.Contains(out, `auth="Basic dXNlcjpwdw==" cookie="c=1"`) {
		t.Fatalf("--location-trusted: exit %d %q", code, out)
	}
	// The URL's user info, -A and -e on the first request.
	code, out, _ = ocurl("-A", "", "-e", "from-here", "http://u:p@"+addr+"/echo")
	if code != 0 || out != `GET /echo body="" auth="Basic dTpw" cookie="" referer="from-here"` {
		t.Fatalf("user info: exit %d %q", code, out)
	}
	s := newRawServer(t, func(q *rawRequest) rawReply { return reply("ok") })
	ocurl("-A", "", "-u", "only", "--oauth2-bearer", "tok", "http://"+s.addr+"/")
	ocurl("-A", "agent/2", "-u", "only", "http://"+s.addr+"/")
	reqs := s.requests()
	if reqs[0].head != "GET / HTTP/1.1\r\nHost: "+s.addr+"\r\nAuthorization: Bearer tok\r\nAccept: */*\r\n\r\n" ||
		reqs[1].head != "GET / HTTP/1.1\r\nHost: "+s.addr+"\r\nAuthorization: Basic b25seTo=\r\nUser-Agent: agent/2\r\nAccept: */*\r\n\r\n" {
		t.Fatalf("heads:\n%q\n%q", reqs[0].head, reqs[1].head)
	}
}
