package main

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
)

const rangeContent = "0123456789abcdefghijklmnopqrstuvwxyz"

func rangeHandler(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/norange" {
		io.WriteString(w, rangeContent)
		return
	}
	w.Header().Set("X-Range", r.Header.Get("Range"))
	http.ServeContent(w, r, "data.txt", time.Unix(1e9, 0), strings.NewReader(rangeContent))
}

// -r asks for a range; -C - resumes the -o file from its size, appending;
// a complete file (416) is left alone; a server without ranges exits 33.
func TestRangeAndResume(t *testing.T) {
	addr, _ := newHTTPServer(t, rangeHandler)
	base := "http://" + addr
	if code, out, _ := ocurl("-r", "0-4", base+"/d"); code != 0 || out != "01234" {
		t.Fatalf("-r 0-4: exit %d out %q", code, out)
	}
	if code, out, _ := ocurl("-r", "-3", base+"/d"); code != 0 || out != "xyz" {
		t.Fatalf("-r -3: exit %d out %q", code, out)
	}
	if code, out, _ := ocurl("-C", "30", base+"/d"); code != 0 || out != "uvwxyz" {
		t.Fatalf("-C 30: exit %d out %q", code, out)
	}
	dir := t.TempDir()
	file := writeFile(t, dir, "part", rangeContent[:10])
	code, _, errOut := ocurl("-C", "-", "-D", filepath.Join(dir, "h"), "-o", file, base+"/d")
	got, _ := os.ReadFile(file)
	h, _ := os.ReadFile(filepath.Join(dir, "h"))
	if code != 0 || string(got) != rangeContent || !strings.Contains(string(h), "X-Range: bytes=10-\r\n") {
		t.Fatalf("-C -: exit %d file %q heads %q err %s", code, got, h, errOut)
	}
	if code, _, errOut := ocurl("-C", "-", "-o", file, base+"/d"); code != 0 {
		t.Fatalf("-C - on a complete file: exit %d %s", code, errOut)
	}
	if got, _ := os.ReadFile(file); string(got) != rangeContent {
		t.Fatalf("a complete file changed: %q", got)
	}
	part := writeFile(t, dir, "part2", "0123")
	code, _, errOut = ocurl("-C", "-", "-o", part, base+"/norange")
	if got, _ := os.ReadFile(part); code != exitRange || string(got) != "0123" || !strings.Contains(errOut, "doesn't seem to support byte ranges") {
		t.Fatalf("no ranges: exit %d file %q err %s", code, got, errOut)
	}
	// -C - without an existing file starts at 0 and sends no Range.
	fresh := filepath.Join(dir, "fresh")
	if code, _, _ := ocurl("-C", "-", "-o", fresh, base+"/d"); code != 0 {
		t.Fatalf("-C - fresh: exit %d", code)
	}
	if got, _ := os.ReadFile(fresh); string(got) != rangeContent {
		t.Fatalf("fresh: %q", got)
	}
	if code, _, _ := ocurl("-C", "x", base+"/d"); code != exitUsage {
		t.Fatalf("-C x: exit %d", code)
	}
}

// --compressed asks for gzip, deflate and br and decodes each (and a
// stack of them); without it the body is written as it came.
func TestCompressed(t *testing.T) {
	const text = "hello, compressed world\n"
	enc := func(coding string, b []byte) []byte {
		var buf bytes.Buffer
		var w io.WriteCloser
		switch coding {
		case "gzip":
			w = gzip.NewWriter(&buf)
		case "deflate":
			w = zlib.NewWriter(&buf)
		case "rawdeflate":
			w, _ = flate.NewWriter(&buf, 5)
		case "br":
			w = brotli.NewWriter(&buf)
		}
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	var gotAE []string
	addr, _ := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		gotAE = append(gotAE, r.Header.Get("Accept-Encoding"))
		body := []byte(text)
		var codings []string
		switch r.URL.Path {
		case "/gzip", "/deflate", "/br", "/rawdeflate":
			c := r.URL.Path[1:]
			body = enc(c, body)
			if c == "rawdeflate" {
				c = "deflate"
			}
			codings = []string{c}
		case "/stack":
			body = enc("br", enc("gzip", body))
			codings = []string{"gzip", "br"}
		case "/corrupt":
			body = []byte("\x1f\x8bnot gzip at all")
			codings = []string{"gzip"}
		case "/unknown":
			codings = []string{"zstd"}
		case "/empty":
			body = nil
			codings = []string{"gzip"}
		}
		if len(codings) > 0 {
			w.Header().Set("Content-Encoding", strings.Join(codings, ", "))
		}
		w.Write(body)
	})
	base := "http://" + addr
	for _, p := range []string{"/gzip", "/deflate", "/rawdeflate", "/br", "/stack", "/plain"} {
		code, out, errOut := ocurl("--compressed", base+p)
		if code != 0 || out != text {
			t.Errorf("%s: exit %d out %q err %s", p, code, out, errOut)
		}
	}
	if gotAE[0] != "deflate, gzip, br" {
		t.Errorf("Accept-Encoding %q", gotAE[0])
	}
	if code, out, _ := ocurl("--compressed", base+"/empty"); code != 0 || out != "" {
		t.Errorf("empty: exit %d out %q", code, out)
	}
	if code, out, _ := ocurl(base + "/gzip"); code != 0 || out != string(enc("gzip", []byte(text))) || gotAE[len(gotAE)-1] != "" {
		t.Errorf("without --compressed: exit %d out %q", code, out)
	}
	for _, p := range []string{"/corrupt", "/unknown"} {
		if code, _, errOut := ocurl("--compressed", base+p); code != exitEncoding {
			t.Errorf("%s: exit %d, want 61: %s", p, code, errOut)
		}
	}
}

// --max-filesize refuses a body over the limit, announced or not.
func TestMaxFilesize(t *testing.T) {
	addr, _ := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush()
		}
		io.WriteString(w, strings.Repeat("x", 2000))
	})
	out := filepath.Join(t.TempDir(), "out")
	for _, p := range []string{"/len", "/chunked"} {
		if code, _, errOut := ocurl("--max-filesize", "1k", "-o", out, "http://"+addr+p); code != exitFileSize {
			t.Errorf("%s: exit %d: %s", p, code, errOut)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: a file was left", p)
		}
	}
	if code, _, _ := ocurl("--max-filesize", "2k", "-o", out, "http://"+addr+"/len"); code != 0 {
		t.Errorf("under the limit: exit %d", code)
	}
}
