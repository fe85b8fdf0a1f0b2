package testserver_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/internal/testserver"
)

// client is a crypto/tls client trusting the server's root; no automatic
// decompression and no redirects followed, so the tests see what was sent.
func client(s *testserver.Server, h2 bool) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:    &tls.Config{RootCAs: s.Roots},
		ForceAttemptHTTP2:  h2,
		DisableCompression: true,
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       20 * time.Second,
	}
}

type response struct {
	*http.Response
	body string
}

func do(t *testing.T, c *http.Client, method, url string, body io.Reader, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return response{resp, string(b)}
}

func get(t *testing.T, c *http.Client, url string, header ...string) response {
	t.Helper()
	return do(t, c, http.MethodGet, url, nil, header...)
}

func wantStatus(t *testing.T, r response, code int) {
	t.Helper()
	if r.StatusCode != code {
		t.Fatalf("%s: status %d, want %d; body %q", r.Request.URL, r.StatusCode, code, r.body)
	}
}

func TestFilesInDirAndFields(t *testing.T) {
	dir := t.TempDir()
	s, err := testserver.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "client.crt client.key root.pem" {
		t.Errorf("files in dir: %s", got)
	}
	for _, f := range []string{s.RootFile, s.ClientCertFile, s.ClientKeyFile} {
		if filepath.Dir(f) != dir {
			t.Errorf("%s is not in %s", f, dir)
		}
	}
	for _, u := range []string{s.URL, s.H2URL, s.MTLSURL} {
		if !strings.HasPrefix(u, "https://localhost:") {
			t.Errorf("URL %s", u)
		}
	}
	if !strings.HasPrefix(s.HTTPURL, "http://localhost:") || !strings.HasPrefix(s.Pin, "sha256//") {
		t.Errorf("HTTPURL %s, Pin %s", s.HTTPURL, s.Pin)
	}
	if got := testserver.URLFor(s.URL, "other.test"); got != "https://other.test:"+s.Port {
		t.Errorf("URLFor: %s", got)
	}
}

func TestEcho(t *testing.T) {
	s := testserver.Start(t)
	c := client(s, false)
	r := do(t, c, http.MethodPost, s.URL+"/echo/sub?a=1", strings.NewReader("hello"), "X-One", "1", "X-One", "2", "Content-Type", "text/x-test")
	wantStatus(t, r, 200)
	for _, want := range []string{
		"method: POST\n", "uri: /echo/sub?a=1\n", "proto: HTTP/1.1\n", "host: localhost:" + s.Port + "\n",
		"header: Content-Type: text/x-test\n", "header: X-One: 1\nheader: X-One: 2\n",
		"body-length: 5\n", fmt.Sprintf("body-sha256: %x\n", sha256.Sum256([]byte("hello"))), "body:\nhello",
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("echo lacks %q:\n%s", want, r.body)
		}
	}
	if _, ok := r.Header["Date"]; ok {
		t.Errorf("a Date header was sent: %v", r.Header)
	}
	if strings.Contains(r.body, "client-certificate") {
		t.Errorf("client-certificate without mTLS:\n%s", r.body)
	}

	// A large body is summarised, not shown.
	big := bytes.Repeat([]byte("x"), 70000)
	r = do(t, c, http.MethodPut, s.URL+"/echo", bytes.NewReader(big))
	if !strings.Contains(r.body, "body-length: 70000\n") || strings.Contains(r.body, "body:") {
		t.Errorf("large echo:\n%.300s", r.body)
	}

	reqs := s.Requests()
	if len(reqs) != 2 || reqs[0].URI != "/echo/sub?a=1" || reqs[1].Method != http.MethodPut || reqs[0].Header.Get("X-One") != "1" {
		t.Errorf("Requests: %+v", reqs)
	}
}

func TestProtocols(t *testing.T) {
	s := testserver.Start(t)
	// URL: HTTP/1.1 even to a client offering h2, TLS 1.2 at most.
	r := get(t, client(s, true), s.URL+"/echo")
	if r.ProtoMajor != 1 || r.TLS.NegotiatedProtocol != "http/1.1" || r.TLS.Version != tls.VersionTLS12 {
		t.Errorf("URL: proto %s, ALPN %q, version %x", r.Proto, r.TLS.NegotiatedProtocol, r.TLS.Version)
	}
	// H2URL: h2 by ALPN.
	r = get(t, client(s, true), s.H2URL+"/echo")
	if r.ProtoMajor != 2 || r.TLS.NegotiatedProtocol != "h2" || !strings.Contains(r.body, "proto: HTTP/2.0\n") {
		t.Errorf("H2URL: proto %s, ALPN %q\n%s", r.Proto, r.TLS.NegotiatedProtocol, r.body)
	}
	// HTTPURL: HTTP/1.1, and h2c with prior knowledge.
	r = get(t, client(s, false), s.HTTPURL+"/echo")
	if r.ProtoMajor != 1 || r.TLS != nil {
		t.Errorf("HTTPURL: proto %s", r.Proto)
	}
	var h2c http.Protocols
	h2c.SetUnencryptedHTTP2(true)
	r = get(t, &http.Client{Transport: &http.Transport{Protocols: &h2c}}, s.HTTPURL+"/echo")
	if r.ProtoMajor != 2 {
		t.Errorf("h2c: proto %s", r.Proto)
	}
	// A TLS 1.3-only client is refused.
	_, err := tls.Dial("tcp", "127.0.0.1:"+s.Port, &tls.Config{RootCAs: s.Roots, ServerName: "localhost", MinVersion: tls.VersionTLS13})
	if err == nil {
		t.Error("a TLS 1.3-only client connected")
	}
	// Every name in Names verifies.
	for _, name := range testserver.Names {
		conn, err := tls.Dial("tcp", "127.0.0.1:"+s.Port, &tls.Config{RootCAs: s.Roots, ServerName: name})
		if err != nil {
			t.Errorf("name %s: %v", name, err)
			continue
		}
		conn.Close()
	}
}

func TestMTLS(t *testing.T) {
	s := testserver.Start(t)
	req, _ := http.NewRequest(http.MethodGet, s.MTLSURL+"/echo", nil)
	if resp, err := client(s, false).Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("mTLS without a client certificate succeeded")
	}
	cert, err := tls.LoadX509KeyPair(s.ClientCertFile, s.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	c := client(s, false)
	c.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{cert}
	r := get(t, c, s.MTLSURL+"/echo")
	if !strings.Contains(r.body, "client-certificate: testserver client\n") {
		t.Errorf("mTLS echo:\n%s", r.body)
	}
}

func TestStatus(t *testing.T) {
	s := testserver.Start(t)
	c := client(s, false)
	for _, code := range []int{200, 404, 418, 500, 503} {
		r := get(t, c, fmt.Sprintf("%s/status/%d", s.URL, code))
		wantStatus(t, r, code)
		if r.body != fmt.Sprintf("status %d\n", code) {
			t.Errorf("status %d body %q", code, r.body)
		}
	}
	r := get(t, c, s.URL+"/status/204")
	wantStatus(t, r, 204)
	wantStatus(t, get(t, c, s.URL+"/status/99"), 400)
	wantStatus(t, get(t, c, s.URL+"/nowhere"), 404)
}

func TestRedirects(t *testing.T) {
	s := testserver.Start(t)
	c := client(s, false)
	for _, code := range []int{301, 302, 303, 307, 308} {
		r := get(t, c, fmt.Sprintf("%s/redirect/%d", s.URL, code))
		wantStatus(t, r, code)
		if loc := r.Header.Get("Location"); loc != "/echo" {
			t.Errorf("%d: Location %q", code, loc)
		}
	}
	other := testserver.URLFor(s.URL, "other.test") + "/echo"
	r := get(t, c, s.URL+"/redirect/302?to="+url.QueryEscape(other))
	if loc := r.Header.Get("Location"); loc != other {
		t.Errorf("Location %q, want %q", loc, other)
	}
	wantStatus(t, get(t, c, s.URL+"/redirect/300"), 400)

	r = get(t, c, s.URL+"/chain/3?code=307")
	if r.StatusCode != 307 || r.Header.Get("Location") != "/chain/2?code=307" {
		t.Errorf("chain: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	r = get(t, c, s.URL+"/chain/0")
	if !strings.HasPrefix(r.body, "method: GET\nuri: /chain/0\n") {
		t.Errorf("chain end:\n%s", r.body)
	}
	r = get(t, c, s.URL+"/loop")
	if r.StatusCode != 302 || r.Header.Get("Location") != "/loop" {
		t.Errorf("loop: %d %q", r.StatusCode, r.Header.Get("Location"))
	}

	// Followed by Go's client: a 307 keeps the method and body, a 303
	// turns them into GET.
	follow := client(s, false)
	follow.CheckRedirect = nil
	r = do(t, follow, http.MethodPost, s.URL+"/chain/2?code=307", strings.NewReader("x=1"))
	if !strings.Contains(r.body, "method: POST\n") || !strings.Contains(r.body, "body:\nx=1") {
		t.Errorf("307 chain:\n%s", r.body)
	}
	r = do(t, follow, http.MethodPost, s.URL+"/redirect/303", strings.NewReader("x=1"))
	if !strings.Contains(r.body, "method: GET\n") {
		t.Errorf("303:\n%s", r.body)
	}
}

func TestBasicAuth(t *testing.T) {
	s := testserver.Start(t)
	c := client(s, false)
	r := get(t, c, s.URL+"/basic-auth/u/p")
	wantStatus(t, r, 401)
	if r.Header.Get("WWW-Authenticate") != `Basic realm="testserver"` {
		t.Errorf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
	}
	u, _ := url.Parse(s.URL + "/basic-auth/u/p")
	u.User = url.UserPassword("u", "wrong")
	wantStatus(t, get(t, c, u.String()), 401)
	u.User = url.UserPassword("u", "p")
	r = get(t, c, u.String())
	wantStatus(t, r, 200)
	if r.body != "authenticated as u\n" {
		t.Errorf("body %q", r.body)
	}
}

func TestCookies(t *testing.T) {
	s := testserver.Start(t)
	c := client(s, false)
	r := get(t, c, s.URL+"/cookies/fixed")
	if got := r.Header.Values("Set-Cookie"); strings.Join(got, "|") != strings.Join(testserver.FixedCookies, "|") {
		t.Errorf("Set-Cookie %q", got)
	}
	r = get(t, c, s.URL+"/cookies/set?c="+url.QueryEscape("a=1; Path=/; Max-Age=60")+"&redirect=/cookies")
	if r.StatusCode != 302 || r.Header.Get("Set-Cookie") != "a=1; Path=/; Max-Age=60" || r.Header.Get("Location") != "/cookies" {
		t.Errorf("set: %d %v", r.StatusCode, r.Header)
	}
	r = get(t, c, s.URL+"/cookies", "Cookie", "b=2; a=1")
	if r.body != "cookie-header: b=2; a=1\ncookie: a=1\ncookie: b=2\n" {
		t.Errorf("cookies echo %q", r.body)
	}
	if r := get(t, c, s.URL+"/cookies"); r.body != "no cookies\n" {
		t.Errorf("no cookies: %q", r.body)
	}
}

func TestCompress(t *testing.T) {
	s := testserver.Start(t)
	c := client(s, false)
	decode := map[string]func(io.Reader) (io.Reader, error){
		"gzip":    func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) },
		"deflate": func(r io.Reader) (io.Reader, error) { return zlib.NewReader(r) },
		"br":      func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil },
	}
	check := func(path, accept, wantEnc string) {
		t.Helper()
		var r response
		if accept != "" {
			r = get(t, c, s.URL+path, "Accept-Encoding", accept)
		} else {
			r = get(t, c, s.URL+path)
		}
		if got := r.Header.Get("Content-Encoding"); got != wantEnc {
			t.Fatalf("%s (Accept-Encoding %q): Content-Encoding %q, want %q", path, accept, got, wantEnc)
		}
		body := []byte(r.body)
		if wantEnc != "" {
			if bytes.Equal(body, testserver.CompressBody) {
				t.Fatalf("%s: body not encoded", path)
			}
			zr, err := decode[wantEnc](bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		if !bytes.Equal(body, testserver.CompressBody) {
			t.Errorf("%s: decoded body differs", path)
		}
	}
	for _, enc := range []string{"gzip", "deflate", "br"} {
		check("/compress/"+enc, "", enc)
	}
	check("/compress/auto", "", "")
	check("/compress/auto", "deflate, gzip, br, zstd", "br")
	check("/compress/auto", "gzip;q=1, br;q=0", "gzip")
	check("/compress/auto", "identity", "")
	wantStatus(t, get(t, c, s.URL+"/compress/zstd"), 400)
}

func TestPatternsAndRanges(t *testing.T) {
	if got := string(testserver.Text(0, 24)); got != "line 000000\nline 000001\n" {
		t.Errorf("Text: %q", got)
	}
	if got := string(testserver.Text(12*123456+5, 7)); got != "123456\n" {
		t.Errorf("Text at line 123456: %q", got)
	}
	all := testserver.Bytes(0, 4096)
	if !bytes.Equal(testserver.Bytes(1000, 96), all[1000:1096]) {
		t.Error("Bytes(off) is not a window of Bytes(0)")
	}
	for shift := 1; shift < 512; shift++ {
		if bytes.Equal(all[:256], all[shift:shift+256]) {
			t.Fatalf("Bytes repeats with period %d", shift)
		}
	}

	s := testserver.Start(t)
	c := client(s, false)
	r := get(t, c, s.URL+"/bytes/100000")
	if r.StatusCode != 200 || r.Header.Get("Accept-Ranges") != "bytes" || r.body != string(testserver.Bytes(0, 100000)) {
		t.Errorf("/bytes: %d %v (len %d)", r.StatusCode, r.Header, len(r.body))
	}
	r = get(t, c, s.URL+"/text/1000", "Range", "bytes=100-199")
	wantStatus(t, r, 206)
	if r.Header.Get("Content-Range") != "bytes 100-199/1000" || r.body != string(testserver.Text(100, 100)) {
		t.Errorf("range: %v %q", r.Header, r.body)
	}
	r = get(t, c, s.URL+"/text/1000", "Range", "bytes=-10")
	if r.StatusCode != 206 || r.body != string(testserver.Text(990, 10)) {
		t.Errorf("suffix range: %d %q", r.StatusCode, r.body)
	}
	r = get(t, c, s.URL+"/text/1000", "Range", "bytes=2000-")
	wantStatus(t, r, 416)
	if r.Header.Get("Content-Range") != "bytes */1000" {
		t.Errorf("416 Content-Range %q", r.Header.Get("Content-Range"))
	}
	wantStatus(t, get(t, c, s.URL+"/bytes/-1"), 400)
}

func TestUpload(t *testing.T) {
	s := testserver.Start(t)
	c := client(s, false)
	data := testserver.Bytes(0, 5000)
	r := do(t, c, http.MethodPut, s.URL+"/upload/name.bin", bytes.NewReader(data))
	want := fmt.Sprintf("method: PUT\nuri: /upload/name.bin\ncontent-length: 5000\nlength: 5000\nsha256: %x\n", sha256.Sum256(data))
	if r.body != want {
		t.Errorf("PUT:\n%s\nwant:\n%s", r.body, want)
	}
	// A body of unknown length goes chunked.
	r = do(t, c, http.MethodPost, s.URL+"/upload", io.MultiReader(bytes.NewReader(data)))
	if !strings.Contains(r.body, "transfer-encoding: chunked\n") || !strings.Contains(r.body, "length: 5000\n") {
		t.Errorf("chunked POST:\n%s", r.body)
	}

	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	mw.WriteField("name", "value")
	fw, _ := mw.CreateFormFile("file", "up.bin")
	fw.Write(data)
	mw.Close()
	r = do(t, c, http.MethodPost, s.URL+"/upload", &mp, "Content-Type", mw.FormDataContentType())
	for _, w := range []string{
		"content-type: multipart/form-data; boundary=<boundary>\n",
		"content-length: <set>\n",
		"part 0: disposition: form-data; name=\"name\"\n", "part 0: length: 5\n", "part 0: value: value\n",
		"part 1: disposition: form-data; name=\"file\"; filename=\"up.bin\"\n",
		"part 1: content-type: application/octet-stream\n", "part 1: length: 5000\n",
		fmt.Sprintf("part 1: sha256: %x\n", sha256.Sum256(data)),
	} {
		if !strings.Contains(r.body, w) {
			t.Errorf("multipart lacks %q:\n%s", w, r.body)
		}
	}
	if strings.Contains(r.body, "part 1: value") || strings.Contains(r.body, mw.Boundary()) {
		t.Errorf("multipart shows a file's value or the boundary:\n%s", r.body)
	}
}

func TestDisposition(t *testing.T) {
	s := testserver.Start(t)
	c := client(s, false)
	r := get(t, c, s.URL+"/disposition?filename=report.txt")
	if r.Header.Get("Content-Disposition") != `attachment; filename="report.txt"` || r.body != "attachment body\n" {
		t.Errorf("%v %q", r.Header, r.body)
	}
	r = get(t, c, s.URL+"/disposition?value="+url.QueryEscape("attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.txt"))
	if r.Header.Get("Content-Disposition") != "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.txt" {
		t.Errorf("%v", r.Header)
	}
}

func TestSlow(t *testing.T) {
	s := testserver.Start(t)
	c := client(s, false)
	r := get(t, c, s.URL+"/slow?head=10ms&chunks=3&delay=10ms")
	if r.body != "chunk 0\nchunk 1\nchunk 2\n" {
		t.Errorf("slow: %q", r.body)
	}
	wantStatus(t, get(t, c, s.URL+"/slow?head=31s"), 400)

	// A client that gives up: the handler sees it and returns, and Close
	// does not wait for the 30 s.
	c.Timeout = 100 * time.Millisecond
	if resp, err := c.Get(s.URL + "/slow?head=30s"); err == nil {
		resp.Body.Close()
		t.Fatal("a 30s wait answered within 100ms")
	}
	// And one still waiting when the server closes.
	go func() {
		c2 := client(s, false)
		if resp, err := c2.Get(s.URL + "/slow?head=30s"); err == nil {
			resp.Body.Close()
		}
	}()
	for len(s.Requests()) < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	s.Close() // must return (the handler is woken), else the test times out
}

// rawExchange sends a request over a fresh TLS connection and returns every
// byte the server sent until it closed.
func rawExchange(t *testing.T, s *testserver.Server, req string) string {
	t.Helper()
	conn, err := tls.Dial("tcp", "127.0.0.1:"+s.Port, &tls.Config{RootCAs: s.Roots, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("reading: %v", err)
	}
	return string(b)
}

func TestRaw(t *testing.T) {
	s := testserver.Start(t)
	for name, want := range testserver.RawResponses {
		got := rawExchange(t, s, "GET /raw/"+name+" HTTP/1.1\r\nHost: localhost\r\n\r\n")
		if got != want {
			t.Errorf("raw %s:\n%q\nwant\n%q", name, got, want)
		}
	}
	got := rawExchange(t, s, "HEAD /raw/headers HTTP/1.1\r\nHost: localhost\r\n\r\n")
	if want := testserver.RawResponses["headers"]; got != want[:len(want)-len("hello\n")] {
		t.Errorf("HEAD raw:\n%q", got)
	}
	got = rawExchange(t, s, "GET /raw?status=201+Made&h=x-a:+1&h=X-B:2&body=hi HTTP/1.1\r\nHost: localhost\r\n\r\n")
	if got != "HTTP/1.1 201 Made\r\nx-a: 1\r\nX-B:2\r\n\r\nhi" {
		t.Errorf("raw query: %q", got)
	}
	r := get(t, client(s, true), s.H2URL+"/raw/headers")
	wantStatus(t, r, http.StatusHTTPVersionNotSupported)
}

func TestTruncatedAndChunked(t *testing.T) {
	s := testserver.Start(t)
	got := rawExchange(t, s, "GET /truncated?length=50&send=20 HTTP/1.1\r\nHost: localhost\r\n\r\n")
	want := "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 50\r\n\r\n" + string(testserver.Text(0, 20))
	if got != want {
		t.Errorf("truncated: %q", got)
	}
	got = rawExchange(t, s, "GET /truncated-chunked HTTP/1.1\r\nHost: localhost\r\n\r\n")
	if !strings.HasSuffix(got, "a\r\nline 00000\r\na\r\n0\nline 000\r\n") || strings.Contains(got, "\r\n0\r\n\r\n") {
		t.Errorf("truncated-chunked: %q", got)
	}
	got = rawExchange(t, s, "GET /chunked?chunks=2&size=4 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	if !strings.Contains(got, "Transfer-Encoding: chunked\r\n") || !strings.HasSuffix(got, "\r\n\r\n4\r\nline\r\n4\r\n 000\r\n0\r\n\r\n") {
		t.Errorf("chunked: %q", got)
	}

	// Clients see the truncation as an error: HTTP/1.1 and HTTP/2.
	for _, u := range []string{s.URL, s.H2URL} {
		for _, path := range []string{"/truncated", "/truncated-chunked"} {
			resp, err := client(s, true).Get(u + path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				t.Errorf("%s%s: no error reading a truncated body", u, path)
			}
		}
	}
}

func TestFlaky(t *testing.T) {
	s := testserver.Start(t)
	c := client(s, false)
	var codes []int
	for range 4 {
		codes = append(codes, get(t, c, s.URL+"/flaky?id=x&fail=2&code=502").StatusCode)
	}
	if fmt.Sprint(codes) != "[502 502 200 200]" {
		t.Errorf("codes %v", codes)
	}
	if r := get(t, c, s.URL+"/flaky?id=y"); r.StatusCode != 503 || r.body != "failure 1 of 1\n" {
		t.Errorf("other id: %d %q", r.StatusCode, r.body)
	}
	wantStatus(t, get(t, c, s.URL+"/flaky"), 400)

	// delay holds the failures only.
	start := time.Now()
	if r := get(t, c, s.URL+"/flaky?id=z&delay=300ms"); r.StatusCode != 503 || time.Since(start) < 300*time.Millisecond {
		t.Errorf("delayed failure: %d after %v", r.StatusCode, time.Since(start))
	}
	wantStatus(t, get(t, c, s.URL+"/flaky?id=z&delay=30s"), 200)
}

// /rendezvous answers "together" once n requests for an id are in.
func TestRendezvous(t *testing.T) {
	s := testserver.Start(t)
	c := client(s, false)
	bodies := make(chan string, 3)
	for range 3 {
		go func() {
			resp, err := c.Get(s.URL + "/rendezvous?id=a&n=3")
			if err != nil {
				bodies <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			bodies <- string(b)
		}()
	}
	for range 3 {
		if b := <-bodies; b != "together\n" {
			t.Errorf("body %q", b)
		}
	}
	wantStatus(t, get(t, c, s.URL+"/rendezvous?id=b&n=0"), 400)
}

// SilentAddr accepts and never answers; Close ends its connections.
func TestSilentAddr(t *testing.T) {
	s, err := testserver.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", s.SilentAddr)
	if err != nil {
		s.Close()
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := conn.Read(make([]byte, 1)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read %d bytes, %v; want nothing until the deadline", n, err)
	}
	s.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("after Close: %v, want the connection closed", err)
	}
}

// Raw records request heads byte for byte and answers with the bytes the
// handler gives: 100 Continue on request, chunked bodies decoded, early
// answers, several requests on one connection.
func TestRawServer(t *testing.T) {
	r := testserver.StartRaw(t, func(q *testserver.RawRequest) testserver.RawReply {
		switch q.Target {
		case "/early":
			return testserver.RawReply{Data: "HTTP/1.1 413 No\r\nContent-Length: 0\r\n\r\n", Early: true}
		case "/continue":
			return testserver.RawReply{Data: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Continue100: true}
		}
		return testserver.Reply("got " + q.Method + " " + q.Target + " " + q.Header("x-A"))
	})
	conn, err := net.Dial("tcp", r.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	head1 := "GET /a HTTP/1.1\r\nhost: x\r\nX-a: 1\r\n\r\n"
	io.WriteString(conn, head1)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "got GET /a 1" {
		t.Fatalf("body %q", b)
	}
	io.WriteString(conn, "PUT /continue HTTP/1.1\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n")
	if line, _ := br.ReadString('\n'); line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("no 100 Continue: %q", line)
	}
	br.ReadString('\n')
	io.WriteString(conn, "3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nTrailer: t\r\n\r\n")
	if resp, err = http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	io.ReadAll(resp.Body)
	reqs := r.Requests()
	if len(reqs) != 2 || reqs[0].Head != head1 || string(reqs[1].Body) != "abcde" || reqs[1].Conn != 0 || r.Connections() != 1 {
		t.Fatalf("requests %+v, %d connections", reqs, r.Connections())
	}

	c2, err := net.Dial("tcp", r.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	io.WriteString(c2, "POST /early HTTP/1.1\r\nContent-Length: 100\r\n\r\n")
	resp, err = http.ReadResponse(bufio.NewReader(c2), nil)
	if err != nil || resp.StatusCode != 413 || r.Last().Target != "/early" || r.Last().Conn != 1 {
		t.Fatalf("early: %v %v, last %+v", resp, err, r.Last())
	}
}

func TestRefusedAddr(t *testing.T) {
	s := testserver.Start(t)
	for range 3 {
		_, err := net.DialTimeout("tcp", s.RefusedAddr, 5*time.Second)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial %s: %v, want connection refused", s.RefusedAddr, err)
		}
	}
}

func TestProxy(t *testing.T) {
	s := testserver.Start(t)
	open := testserver.StartProxy(t, testserver.ProxyConfig{})
	auth := testserver.StartProxy(t, testserver.ProxyConfig{User: "pu", Password: "pp"})
	via := func(proxy string) *http.Client {
		c := client(s, false)
		pu, _ := url.Parse(proxy)
		c.Transport.(*http.Transport).Proxy = http.ProxyURL(pu)
		return c
	}

	r := get(t, via(open.URL), s.URL+"/echo")
	wantStatus(t, r, 200)
	r = get(t, via(open.URL), testserver.URLFor(s.HTTPURL, "server.test")+"/echo")
	if !strings.Contains(r.body, "host: server.test:"+s.HTTPPort+"\n") || strings.Contains(r.body, "Proxy-") {
		t.Errorf("forwarded:\n%s", r.body)
	}
	if _, err := via(open.URL).Get("https://example.com/"); err == nil {
		t.Error("the proxy tunnelled to a host off loopback")
	}
	recs := open.Records()
	var lines []string
	for _, rec := range recs {
		lines = append(lines, rec.String())
	}
	want := []string{
		"CONNECT localhost:" + s.Port + " 200 auth=none",
		"GET http://server.test:" + s.HTTPPort + "/echo 200 auth=none",
		"CONNECT example.com:443 502 auth=none",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("records:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}

	if _, err := via(auth.URL).Get(s.URL + "/echo"); err == nil {
		t.Error("the auth proxy tunnelled without credentials")
	}
	pu, _ := url.Parse(auth.URL)
	pu.User = url.UserPassword("pu", "pp")
	wantStatus(t, get(t, via(pu.String()), s.URL+"/echo"), 200)
	recs = auth.Records()
	if len(recs) != 2 || recs[0].Status != 407 || recs[1].String() != "CONNECT localhost:"+s.Port+" 200 auth=basic:pu:pp" {
		t.Errorf("auth records: %v", recs)
	}

	// A raw CONNECT shows the 407 and its Proxy-Authenticate.
	conn, err := net.Dial("tcp", auth.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "CONNECT localhost:%s HTTP/1.1\r\nHost: localhost:%s\r\n\r\n", s.Port, s.Port)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 407 || resp.Header.Get("Proxy-Authenticate") != `Basic realm="testproxy"` {
		t.Errorf("407: %d %v", resp.StatusCode, resp.Header)
	}
	if h := auth.Records()[2].Head; h != "CONNECT localhost:"+s.Port+" HTTP/1.1\r\nHost: localhost:"+s.Port+"\r\n\r\n" {
		t.Errorf("Head %q: want the request head byte for byte", h)
	}

	// A head in odd case and order is recorded as sent; a forwarded body
	// arrives whole.
	conn2, err := net.Dial("tcp", open.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	head := "POST http://localhost:" + s.HTTPPort + "/echo HTTP/1.1\r\nhost: localhost:" + s.HTTPPort + "\r\nX-b: 1\r\ncontent-length: 5\r\n\r\n"
	io.WriteString(conn2, head+"hello")
	resp, err = http.ReadResponse(bufio.NewReader(conn2), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if recs := open.Records(); recs[len(recs)-1].Head != head || !strings.Contains(string(b), "\nhello") {
		t.Errorf("forwarded POST: Head %q, body %q", recs[len(recs)-1].Head, b)
	}

	// Tunnel byte counts are final once the client is done.
	open.Close()
	for _, rec := range open.Records() {
		if rec.Status == 200 && rec.Method == "CONNECT" && (rec.ToServer == 0 || rec.ToClient == 0) {
			t.Errorf("tunnel counts: %+v", rec)
		}
	}
}

func TestHeadersSorted(t *testing.T) {
	s := testserver.Start(t)
	r := get(t, client(s, false), s.URL+"/echo", "Zz", "1", "Aa", "2")
	var names []string
	for _, line := range strings.Split(r.body, "\n") {
		if h, ok := strings.CutPrefix(line, "header: "); ok {
			name, _, _ := strings.Cut(h, ":")
			names = append(names, name)
		}
	}
	if !sort.StringsAreSorted(names) || len(names) < 3 {
		t.Errorf("headers not sorted: %v", names)
	}
}

// Options: the echoed User-Agent rewritten (Requests keeps it as sent), a
// defective leaf, TLS versions and no ALPN.
func TestOptions(t *testing.T) {
	s := testserver.StartWith(t, testserver.Options{
		EchoUserAgent: func(v string) string { return strings.ToUpper(v) },
		Defect:        testpki.Expired,
		MinVersion:    tls.VersionTLS11,
		MaxVersion:    tls.VersionTLS11,
		NoALPN:        true,
	})
	var state tls.ConnectionState
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: s.Roots, MinVersion: tls.VersionTLS10, NextProtos: []string{"h2", "http/1.1"}},
		ForceAttemptHTTP2: true,
	}
	// The expired leaf fails verification; checking all but the time shows
	// the rest of the chain is right.
	if _, err := (&http.Client{Transport: tr}).Get(s.URL + "/echo"); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("an expired leaf was accepted or refused for another reason: %v", err)
	}
	tr = &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, NextProtos: []string{"h2", "http/1.1"},
			VerifyConnection: func(cs tls.ConnectionState) error { state = cs; return nil }},
		ForceAttemptHTTP2: true,
	}
	c := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	r := get(t, c, s.H2URL+"/echo", "User-Agent", "tool/1")
	wantStatus(t, r, 200)
	if !strings.Contains(r.body, "header: User-Agent: TOOL/1\n") || !strings.Contains(r.body, "proto: HTTP/1.1\n") {
		t.Fatalf("body %q: want the rewritten User-Agent, over HTTP/1.1", r.body)
	}
	if state.Version != tls.VersionTLS11 || state.NegotiatedProtocol != "" {
		t.Fatalf("version %#x, ALPN %q; want TLS 1.1 and no ALPN", state.Version, state.NegotiatedProtocol)
	}
	if reqs := s.Requests(); reqs[len(reqs)-1].Header.Get("User-Agent") != "tool/1" {
		t.Fatalf("Requests recorded %q", reqs[len(reqs)-1].Header.Get("User-Agent"))
	}
}
