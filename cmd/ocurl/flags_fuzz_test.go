package main

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Set-Cookie values come from servers: whatever they hold, the jar stays
// well formed (seven tab-separated fields a line) and reads back the same.
func FuzzSetCookie(f *testing.F) {
	f.Add("a=1; Path=/; Domain=example.com; Secure; HttpOnly; Max-Age=100", "/p/q")
	f.Add("b=\"x\"; Expires=Wed, 21 Oct 2099 07:28:00 GMT", "/")
	f.Add("__Host-c=1; Secure; Path=/", "/a")
	f.Fuzz(func(t *testing.T, v, path string) {
		u := &url.URL{Scheme: "https", Host: "www.example.com", Path: path}
		j := &cookieJar{now: func() time.Time { return time.Unix(1e9, 0) }}
		j.setCookie(u, v)
		h := j.header(u)
		out := j.netscape()
		for _, line := range strings.Split(string(out), "\n") {
			if line == "" || strings.HasPrefix(line, "# ") {
				continue
			}
			if n := len(strings.Split(line, "\t")); n != 7 {
				t.Fatalf("jar line with %d fields: %q", n, line)
			}
		}
		j2 := &cookieJar{now: j.now}
		j2.loadFrom(strings.NewReader(string(out)), false)
		if h2 := j2.header(u); h2 != h {
			t.Fatalf("the jar read back sends %q, the jar sent %q", h2, h)
		}
	})
}

// Content-Disposition comes from servers: the name -J takes never has a
// directory part.
func FuzzDispositionName(f *testing.F) {
	f.Add(`attachment; filename="../../etc/passwd"`)
	f.Add(`inline; filename=a\b.txt`)
	f.Fuzz(func(t *testing.T, cd string) {
		name := dispositionName(cd)
		if strings.ContainsAny(name, `/\`) || name == ".." || name == "." {
			t.Fatalf("%q gives %q", cd, name)
		}
	})
}

// A config line never panics and its option always has dashes.
func FuzzConfigLine(f *testing.F) {
	f.Add(`url = "http://x/\"y\""`)
	f.Add("-o file")
	f.Add(`header: "a\tb`)
	f.Fuzz(func(t *testing.T, line string) {
		args, err := configLine(line)
		if err == nil && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
			t.Fatalf("option %q without a dash", args[0])
		}
	})
}

// A URL from the command line never panics; refused, it is exit 1 or 3.
func FuzzURLArg(f *testing.F) {
	f.Add("https://u:p@[::1]:8443/a/[1-3]?q={x}&r[]=1#f")
	f.Add("example.com/x]")
	f.Add("http:/h/p")
	f.Fuzz(func(t *testing.T, s string) {
		for _, check := range []func(string) error{
			func(s string) error { _, err := parseURL(s); return err },
			refuseGlob,
		} {
			var fl *failure
			if err := check(s); err != nil && (!errors.As(err, &fl) || fl.code != exitBadURL && fl.code != exitProtocol) {
				t.Fatalf("%q: %v", s, err)
			}
		}
	})
}

// A -w @FILE format keeps no line end, CR or NUL, and only shrinks.
func FuzzFormatFromFile(f *testing.F) {
	f.Add([]byte("%{http_code}\r\nx\ny\rz\n"))
	f.Add([]byte(strings.Repeat("a", 300) + "\rb\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := formatFromFile(b)
		if strings.ContainsAny(s, "\r\n\x00") || len(s) > len(b) {
			t.Fatalf("%q gives %q", b, s)
		}
	})
}
