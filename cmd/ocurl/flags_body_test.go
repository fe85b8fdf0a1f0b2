package main

import (
	"bytes"
	"compress/flate"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlsoffload/tlsoffload/internal/testserver"
)

// rawURL is testserver's /raw answering with these header lines and body.
func rawURL(base string, headers []string, body []byte) string {
	v := url.Values{"h": headers}
	v.Set("body", string(body))
	return base + "/raw?" + v.Encode()
}

// -r asks for a range; -C - resumes the -o file from its size, appending;
// a complete file (416) is left alone; a server without ranges exits 33.
func TestRangeAndResume(t *testing.T) {
	s := testserver.Start(t)
	text := func(off, n int64) string { return string(testserver.Text(off, n)) }
	url := s.HTTPURL + "/text/36"
	lastRange := func() string { r := s.Requests(); return r[len(r)-1].Header.Get("Range") }
	if code, out, _ := ocurl("-r", "0-4", url); code != 0 || out != text(0, 5) {
		t.Fatalf("-r 0-4: exit %d out %q", code, out)
	}
	if code, out, _ := ocurl("-r", "-3", url); code != 0 || out != text(33, 3) {
		t.Fatalf("-r -3: exit %d out %q", code, out)
	}
	if code, out, _ := ocurl("-C", "30", url); code != 0 || out != text(30, 6) || lastRange() != "bytes=30-" {
		t.Fatalf("-C 30: exit %d out %q", code, out)
	}
	dir := t.TempDir()
	file := writeFile(t, dir, "part", text(0, 10))
	code, _, errOut := ocurl("-C", "-", "-D", filepath.Join(dir, "h"), "-o", file, url)
	got, _ := os.ReadFile(file)
	h, _ := os.ReadFile(filepath.Join(dir, "h"))
	if code != 0 || string(got) != text(0, 36) || lastRange() != "bytes=10-" || !strings.HasPrefix(string(h), "HTTP/1.1 206 Partial Content\r\n") {
		t.Fatalf("-C -: exit %d file %q heads %q err %s", code, got, h, errOut)
	}
	if code, _, errOut := ocurl("-C", "-", "-o", file, url); code != 0 || lastRange() != "bytes=36-" {
		t.Fatalf("-C - on a complete file: exit %d %s", code, errOut)
	}
	if got, _ := os.ReadFile(file); string(got) != text(0, 36) {
		t.Fatalf("a complete file changed: %q", got)
	}
	part := writeFile(t, dir, "part2", "0123")
	code, _, errOut = ocurl("-C", "-", "-o", part, s.HTTPURL+"/status/200") // ignores Range
	if got, _ := os.ReadFile(part); code != exitRange || string(got) != "0123" || !strings.Contains(errOut, "doesn't seem to support byte ranges") {
		t.Fatalf("no ranges: exit %d file %q err %s", code, got, errOut)
	}
	// -C - without an existing file starts at 0 and sends no Range.
	fresh := filepath.Join(dir, "fresh")
	if code, _, _ := ocurl("-C", "-", "-o", fresh, url); code != 0 || lastRange() != "" {
		t.Fatalf("-C - fresh: exit %d, Range %q", code, lastRange())
	}
	if got, _ := os.ReadFile(fresh); string(got) != text(0, 36) {
		t.Fatalf("fresh: %q", got)
	}
	if code, _, _ := ocurl("-C", "x", url); code != exitUsage {
		t.Fatalf("-C x: exit %d", code)
	}
}

// --compressed asks for gzip, deflate and br and decodes each (and a
// stack of them, and raw deflate); without it the body is written as it
// came.
func TestCompressed(t *testing.T) {
	s := testserver.Start(t)
	want := string(testserver.CompressBody)
	enc := func(coding string, b []byte) []byte {
		out, err := testserver.Encode(coding, b)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	var rawDeflate bytes.Buffer
	fw, _ := flate.NewWriter(&rawDeflate, 5)
	fw.Write(testserver.CompressBody)
	fw.Close()
	for name, u := range map[string]string{
		"gzip":        s.HTTPURL + "/compress/gzip",
		"deflate":     s.HTTPURL + "/compress/deflate",
		"br":          s.HTTPURL + "/compress/br",
		"raw deflate": rawURL(s.HTTPURL, []string{"Content-Encoding: deflate"}, rawDeflate.Bytes()),
		"stack":       rawURL(s.HTTPURL, []string{"Content-Encoding: gzip, br"}, enc("br", enc("gzip", testserver.CompressBody))),
		"plain":       s.HTTPURL + "/compress/auto",
	} {
		code, out, errOut := ocurl("--compressed", u)
		if code != 0 || out != want {
			t.Errorf("%s: exit %d out %q err %s", name, code, out, errOut)
		}
	}
	code, out, _ := ocurl("--compressed", s.HTTPURL+"/echo")
	if e := parseEcho(t, out); code != 0 || e.header("Accept-Encoding") != "deflate, gzip, br" {
		t.Errorf("Accept-Encoding %q", e.header("Accept-Encoding"))
	}
	if code, out, _ := ocurl("--compressed", rawURL(s.HTTPURL, []string{"Content-Encoding: gzip"}, nil)); code != 0 || out != "" {
		t.Errorf("empty: exit %d out %q", code, out)
	}
	code, out, _ = ocurl(s.HTTPURL + "/compress/gzip")
	if r := s.Requests(); code != 0 || out != string(enc("gzip", testserver.CompressBody)) || r[len(r)-1].Header.Get("Accept-Encoding") != "" {
		t.Errorf("without --compressed: exit %d out %q", code, out)
	}
	for name, u := range map[string]string{
		"corrupt": rawURL(s.HTTPURL, []string{"Content-Encoding: gzip"}, []byte("\x1f\x8bnot gzip at all")),
		"unknown": rawURL(s.HTTPURL, []string{"Content-Encoding: zstd"}, []byte("text")),
	} {
		if code, _, errOut := ocurl("--compressed", u); code != exitEncoding {
			t.Errorf("%s: exit %d, want 61: %s", name, code, errOut)
		}
	}
}

// --max-filesize refuses a body over the limit, announced or not.
func TestMaxFilesize(t *testing.T) {
	s := testserver.Start(t)
	out := filepath.Join(t.TempDir(), "out")
	for _, u := range []string{s.HTTPURL + "/text/2000", s.HTTPURL + "/chunked?chunks=2&size=1000"} {
		if code, _, errOut := ocurl("--max-filesize", "1k", "-o", out, u); code != exitFileSize {
			t.Errorf("%s: exit %d: %s", u, code, errOut)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: a file was left", u)
		}
	}
	if code, _, _ := ocurl("--max-filesize", "2k", "-o", out, s.HTTPURL+"/text/2000"); code != 0 {
		t.Errorf("under the limit: exit %d", code)
	}
}
