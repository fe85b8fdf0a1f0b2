package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tlsoffload/tlsoffload/internal/testserver"
)

// The -d family, --json and -G build the body (or the query) as curl
// does; the expected requests are what curl 7.88 sends for the same
// arguments, with ocurl's User-Agent.
func TestDataFamily(t *testing.T) {
	s := testserver.StartRaw(t, func(q *testserver.RawRequest) testserver.RawReply { return reply("ok") })
	dir := t.TempDir()
	file := writeFile(t, dir, "data", "line1\r\nline2\n")
	base := "http://" + s.Addr
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		head  string
		body  string
	}{
		{"-d parts and @file", "", []string{"-d", "a=1", "-d", "@" + file, "--data-ascii", "c"},
			"POST /p HTTP/1.1\r\nHost: %s\r\nUser-Agent: ocurl/1\r\nAccept: */*\r\nContent-Length: 16\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n",
			"a=1&line1line2&c"},
		{"--data-binary keeps newlines", "", []string{"--data-binary", "@" + file}, "", "line1\r\nline2\n"},
		{"--data-raw has no @", "", []string{"--data-raw", "@" + file}, "", "@" + file},
		{"-d @- reads stdin", "from\nstdin", []string{"-d", "@-", "-d", "more"}, "", "fromstdin&more"},
		{"--data-urlencode forms", "", []string{"--data-urlencode", "a b", "--data-urlencode", "=c&d", "--data-urlencode", "n=é/~*",
			"--data-urlencode", "f@" + file}, "", "a+b&c%26d&n=%C3%A9%2F~%2A&f=line1%0D%0Aline2%0A"},
		{"--json", "", []string{"-H", "X-A: 1", "--json", `{"a":1}`, "--json", "[2]", "-H", "X-B: 2"},
			"POST /p HTTP/1.1\r\nHost: %s\r\nUser-Agent: ocurl/1\r\nX-A: 1\r\nX-B: 2\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: 10\r\n\r\n",
			`{"a":1}[2]`},
		{"--json with -H Content-Type", "", []string{"--json", "{}", "-H", "Content-Type: text/x"},
			"POST /p HTTP/1.1\r\nHost: %s\r\nUser-Agent: ocurl/1\r\nContent-Type: text/x\r\nAccept: application/json\r\nContent-Length: 2\r\n\r\n", "{}"},
		{"--json then -d", "", []string{"--json", "@" + file, "-d", "k=v"}, "", "line1\r\nline2\n&k=v"},
		{"-X keeps the body", "", []string{"-X", "PATCH", "-d", "x"},
			"PATCH /p HTTP/1.1\r\nHost: %s\r\nUser-Agent: ocurl/1\r\nAccept: */*\r\nContent-Length: 1\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n", "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(s.Requests())
			code, _, errOut := ocurlIn(tc.stdin, nil, append(tc.args, base+"/p")...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			q := s.Requests()[n]
			if want := strings.ReplaceAll(tc.head, "%s", s.Addr); want != "" && q.Head != want {
				t.Errorf("head\n%q\nwant\n%q", q.Head, want)
			}
			if string(q.Body) != tc.body {
				t.Errorf("body %q, want %q", q.Body, tc.body)
			}
		})
	}

	// -G moves the data into the query (after the URL's own), -I -G sends a HEAD.
	code, _, _ := ocurl("-G", "--data-urlencode", "q=a b", "-d", "x=1", base+"/g?z=0")
	if q := s.Requests()[len(s.Requests())-1]; code != 0 || q.Method != "GET" || q.Target != "/g?z=0&q=a+b&x=1" || len(q.Body) != 0 {
		t.Errorf("-G: exit %d, %s %s body %q", code, q.Method, q.Target, q.Body)
	}
	code, _, _ = ocurl("-I", "-G", "-d", "x=1", base+"/h")
	if q := s.Requests()[len(s.Requests())-1]; code != 0 || q.Method != "HEAD" || q.Target != "/h?x=1" {
		t.Errorf("-I -G: exit %d, %s %s", code, q.Method, q.Target)
	}

	for _, args := range [][]string{{"-d", "a", "-F", "b=c"}, {"-I", "-d", "a"}, {"-T", file, "-d", "a"}} {
		if code, _, errOut := ocurl(append(args, base+"/")...); code != exitUsage || !strings.Contains(errOut, "one HTTP request method") {
			t.Errorf("%v: exit %d, %s", args, code, errOut)
		}
	}
	// A data file that cannot be read is curl 7.88's warning and an empty
	// part; -w @missing writes nothing.
	for _, args := range [][]string{{"-d", "@/nonexistent/file"}, {"--data-binary", "@/nonexistent/file"}, {"--json", "@/nonexistent/file"},
		{"--data-urlencode", "n@/nonexistent/file"}} {
		code, out, errOut := ocurl(append(args, "-w", "@/nonexistent/format", base+"/m")...)
		q := s.Requests()[len(s.Requests())-1]
		if code != 0 || out != "ok" || q.Method != "POST" || q.Target != "/m" || len(q.Body) != 0 ||
			!strings.Contains(errOut, "Warning: Couldn't read data from file \"") || !strings.Contains(errOut, "Warning: Failed to read /nonexistent/format\n") {
			t.Errorf("%v: exit %d out %q err %q, sent %s %s %q", args, code, out, errOut, q.Method, q.Target, q.Body)
		}
	}
}

// -F sends multipart/form-data laid out as curl lays it out.
func TestForm(t *testing.T) {
	s := testserver.StartRaw(t, func(q *testserver.RawRequest) testserver.RawReply { return reply("ok") })
	dir := t.TempDir()
	file := writeFile(t, dir, "hostname", "vm\n")
	page := writeFile(t, dir, "page.html", "<p>")
	code, _, errOut := ocurlIn("from stdin", nil, "-F", "a=1", "-F", "f=@"+file+";type=text/x", "-F", "h=@"+page,
		"-F", "c=<"+file, "-F", "s=@-;filename=in.bin", "-F", `q="x;y";type=text/q`, "--form-string", "lit=@not;type=a",
		"-F", `we"ird=v`, "http://"+s.Addr+"/f")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	q := s.Requests()[0]
	m := regexp.MustCompile(`Content-Type: multipart/form-data; boundary=(-{24}[0-9a-f]{16})\r\n`).FindStringSubmatch(q.Head)
	if m == nil || q.Method != "POST" || !strings.HasPrefix(q.Head, "POST /f HTTP/1.1\r\nHost: "+s.Addr+"\r\nUser-Agent: ocurl/1\r\nAccept: */*\r\nContent-Length: ") {
		t.Fatalf("head %q", q.Head)
	}
	b := m[1]
	want := "--" + b + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n" +
		"--" + b + "\r\nContent-Disposition: form-data; name=\"f\"; filename=\"hostname\"\r\nContent-Type: text/x\r\n\r\nvm\n\r\n" +
		"--" + b + "\r\nContent-Disposition: form-data; name=\"h\"; filename=\"page.html\"\r\nContent-Type: text/html\r\n\r\n<p>\r\n" +
		"--" + b + "\r\nContent-Disposition: form-data; name=\"c\"\r\n\r\nvm\n\r\n" +
		"--" + b + "\r\nContent-Disposition: form-data; name=\"s\"; filename=\"in.bin\"\r\n\r\nfrom stdin\r\n" +
		"--" + b + "\r\nContent-Disposition: form-data; name=\"q\"\r\nContent-Type: text/q\r\n\r\nx;y\r\n" +
		"--" + b + "\r\nContent-Disposition: form-data; name=\"lit\"\r\n\r\n@not;type=a\r\n" +
		"--" + b + "\r\nContent-Disposition: form-data; name=\"we%22ird\"\r\n\r\nv\r\n" +
		"--" + b + "--\r\n"
	if string(q.Body) != want {
		t.Fatalf("body\n%q\nwant\n%q", q.Body, want)
	}
	if code, _, _ := ocurl("-F", "f=@/nonexistent", "http://"+s.Addr+"/"); code != exitRead {
		t.Errorf("-F @missing: exit %d", code)
	}
	if code, _, _ := ocurl("-F", "novalue", "http://"+s.Addr+"/"); code != exitUsage {
		t.Errorf("-F without '=': exit %d", code)
	}
}

// -T PUTs a file (its name appended to a URL ending in /), or stdin
// chunked, after asking "Expect: 100-continue".
func TestUpload(t *testing.T) {
	s := testserver.StartRaw(t, func(q *testserver.RawRequest) testserver.RawReply {
		r := reply("stored")
		r.Continue100 = true
		return r
	})
	dir := t.TempDir()
	file := writeFile(t, dir, "up.txt", "file body")
	code, out, errOut := ocurl("-T", file, "http://"+s.Addr+"/dir/")
	q := s.Requests()[0]
	want := "PUT /dir/up.txt HTTP/1.1\r\nHost: " + s.Addr + "\r\nUser-Agent: ocurl/1\r\nAccept: */*\r\nContent-Length: 9\r\nExpect: 100-continue\r\n\r\n"
	if code != 0 || out != "stored" || q.Head != want || string(q.Body) != "file body" {
		t.Fatalf("-T file: exit %d out %q err %s\nhead %q\nbody %q", code, out, errOut, q.Head, q.Body)
	}
	code, _, errOut = ocurlIn("streamed\nin", nil, "-T", "-", "-i", "http://"+s.Addr+"/in")
	q = s.Requests()[1]
	want = "PUT /in HTTP/1.1\r\nHost: " + s.Addr + "\r\nUser-Agent: ocurl/1\r\nAccept: */*\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
	if code != 0 || q.Head != want || string(q.Body) != "streamed\nin" {
		t.Fatalf("-T -: exit %d err %s\nhead %q\nbody %q", code, errOut, q.Head, q.Body)
	}
	// -H 'Expect:' turns the wait off; a server that never says 100 gets
	// the body after --expect100-timeout.
	quiet := testserver.StartRaw(t, func(q *testserver.RawRequest) testserver.RawReply { return reply("ok") })
	for _, args := range [][]string{{"-H", "Expect:"}, {"--expect100-timeout", "0.05"}} {
		code, _, errOut := ocurl(append(args, "-T", file, "http://"+quiet.Addr+"/x")...)
		q := quiet.Requests()[len(quiet.Requests())-1]
		if code != 0 || string(q.Body) != "file body" {
			t.Fatalf("%v: exit %d err %s body %q", args, code, errOut, q.Body)
		}
	}
	// A server that answers before the body: no body is sent, the answer stands.
	refuse := testserver.StartRaw(t, func(q *testserver.RawRequest) testserver.RawReply {
		return testserver.RawReply{Data: "HTTP/1.1 413 Too Large\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbig", Early: true}
	})
	if code, out, errOut := ocurl("-v", "-T", file, "http://"+refuse.Addr+"/x"); code != 0 || out != "big" || strings.Contains(errOut, "Done waiting") {
		t.Fatalf("early answer: exit %d out %q\n%s", code, out, errOut)
	}
	if code, _, _ := ocurl("-T", "/nonexistent/file", "http://"+s.Addr+"/"); code != exitRead {
		t.Errorf("-T missing: exit %d", code)
	}
	// Two URLs, one -T: the second is a GET.
	n := len(s.Requests())
	if code, _, _ := ocurl("-T", file, "http://"+s.Addr+"/a", "http://"+s.Addr+"/b"); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if r := s.Requests()[n:]; len(r) != 2 || r[0].Method != "PUT" || r[1].Method != "GET" {
		t.Fatalf("requests %v", r)
	}
}
