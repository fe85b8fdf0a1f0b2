package testserver

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/andybalholm/brotli"
)

const (
	// maxShownBody is the largest body /echo shows byte for byte.
	maxShownBody = 64 << 10
	// maxPattern bounds /bytes and /text sizes.
	maxPattern = 1 << 30
	// maxDelay bounds each wait of /slow.
	maxDelay = 30 * time.Second
	// maxChunks bounds /slow and /chunked.
	maxChunks = 10000
)

// FixedCookies are the Set-Cookie values /cookies/fixed sends, in order.
var FixedCookies = []string{
	"session=abc123; Path=/; HttpOnly",
	"theme=dark; Path=/; Expires=Wed, 01 Jan 2031 00:00:00 GMT",
	"secure=yes; Path=/; Secure",
	"scoped=1; Path=/cookies/scoped",
}

// CompressBody is what /compress/* sends, before encoding.
var CompressBody = []byte(strings.Repeat("compress me: the quick brown fox jumps over the lazy dog\n", 40))

// RawResponses are the canned responses of /raw/{name}, byte for byte.
var RawResponses = map[string]string{
	// headers: names in mixed case, a repeated header, an empty one, a
	// Set-Cookie, in this order.
	"headers": rawResponse("HTTP/1.1 200 OK", []string{
		"Server: testserver",
		"x-lower-case: lower",
		"X-UPPER-CASE: UPPER",
		"Content-Type: text/plain",
		"X-Repeated: first",
		"X-Repeated: second",
		"X-Empty:",
		"Set-Cookie: raw=1; Path=/",
	}, "hello\n", true),
	// close-delimited: no Content-Length; the body ends when the
	// connection closes.
	"close-delimited": rawResponse("HTTP/1.1 200 OK", []string{
		"Content-Type: text/plain",
		"Connection: close",
	}, "body until close\n", false),
	// http10: an HTTP/1.0 status line.
	"http10": rawResponse("HTTP/1.0 200 OK", []string{"Content-Type: text/plain"}, "http/1.0 body\n", true),
	// no-reason: a status line without a reason phrase.
	"no-reason": rawResponse("HTTP/1.1 200", []string{"Content-Type: text/plain"}, "no reason\n", true),
}

// rawResponse joins a status line, header lines and a body with CRLFs,
// adding Content-Length last when withLength.
func rawResponse(status string, headers []string, body string, withLength bool) string {
	var b strings.Builder
	b.WriteString(status + "\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	if withLength {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n" + body)
	return b.String()
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", s.echo)
	mux.HandleFunc("/echo/", s.echo)
	mux.HandleFunc("/status/{code}", s.status)
	mux.HandleFunc("/redirect/{code}", s.redirect)
	mux.HandleFunc("/chain/{n}", s.chain)
	mux.HandleFunc("/loop", s.loop)
	mux.HandleFunc("/basic-auth/{user}/{pass}", s.basicAuth)
	mux.HandleFunc("/cookies", s.cookies)
	mux.HandleFunc("/cookies/set", s.setCookies)
	mux.HandleFunc("/cookies/fixed", s.fixedCookies)
	mux.HandleFunc("/compress/{enc}", s.compress)
	mux.HandleFunc("/bytes/{n}", s.pattern(fillBytes, "application/octet-stream"))
	mux.HandleFunc("/text/{n}", s.pattern(fillText, "text/plain; charset=utf-8"))
	mux.HandleFunc("/upload", s.upload)
	mux.HandleFunc("/upload/", s.upload)
	mux.HandleFunc("/disposition", s.disposition)
	mux.HandleFunc("/slow", s.slow)
	mux.HandleFunc("/truncated", s.truncated)
	mux.HandleFunc("/truncated-chunked", s.truncatedChunked)
	mux.HandleFunc("/chunked", s.chunked)
	mux.HandleFunc("/raw", s.raw)
	mux.HandleFunc("/raw/{name}", s.raw)
	mux.HandleFunc("/flaky", s.flakyHandler)
	mux.HandleFunc("/rendezvous", s.rendezvous)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			http.Error(w, "testserver: closing", http.StatusServiceUnavailable)
			return
		}
		s.handlers.Add(1)
		s.mu.Unlock()
		defer s.handlers.Done()
		s.record(r)
		// No Date header: the same request gets the same bytes every
		// time (a nil value suppresses it in HTTP/1 and HTTP/2).
		w.Header()["Date"] = nil
		mux.ServeHTTP(w, r)
	})
}

func textHeader(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
}

func badRequest(w http.ResponseWriter, format string, args ...any) {
	http.Error(w, "testserver: "+fmt.Sprintf(format, args...), http.StatusBadRequest)
}

// intParam reads an integer parameter in [lo, hi], def when absent.
func intParam(v string, def, lo, hi int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%q is not an integer in [%d, %d]", v, lo, hi)
	}
	return n, nil
}

// durationParam reads a Go duration ("100ms") in [0, maxDelay].
func durationParam(v string, def time.Duration) (time.Duration, error) {
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > maxDelay {
		return 0, fmt.Errorf("%q is not a duration in [0, %s]", v, maxDelay)
	}
	return d, nil
}

// sleep waits d unless the request's context (the client went away, or the
// server closed) ends first; it reports whether the wait completed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// bodySummary reads a body to its end: its length, SHA-256, and its first
// keep bytes.
func bodySummary(r io.Reader, keep int) (n int64, sum []byte, head []byte, err error) {
	h := sha256.New()
	var buf bytes.Buffer
	n, err = io.Copy(io.MultiWriter(h, &limitedBuffer{&buf, keep}), r)
	return n, h.Sum(nil), buf.Bytes(), err
}

// limitedBuffer keeps the first max bytes written and accepts the rest.
type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func writeHeaderLines(b *strings.Builder, prefix string, h http.Header) {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range h[k] {
			fmt.Fprintf(b, "%s%s: %s\n", prefix, k, v)
		}
	}
}

func (s *Server) echo(w http.ResponseWriter, r *http.Request) {
	n, sum, head, err := bodySummary(r.Body, maxShownBody+1)
	if err != nil {
		badRequest(w, "reading the body: %v", err)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "method: %s\nuri: %s\nproto: %s\nhost: %s\n", r.Method, r.RequestURI, r.Proto, r.Host)
	h := r.Header
	if rewrite := s.opts.EchoUserAgent; rewrite != nil && len(h["User-Agent"]) > 0 {
		h = h.Clone()
		for i, v := range h["User-Agent"] {
			h["User-Agent"][i] = rewrite(v)
		}
	}
	writeHeaderLines(&b, "header: ", h)
	if len(r.TransferEncoding) > 0 {
		fmt.Fprintf(&b, "transfer-encoding: %s\n", strings.Join(r.TransferEncoding, ", "))
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		fmt.Fprintf(&b, "client-certificate: %s\n", r.TLS.PeerCertificates[0].Subject.CommonName)
	}
	fmt.Fprintf(&b, "body-length: %d\nbody-sha256: %x\n", n, sum)
	if n <= maxShownBody && n > 0 {
		b.WriteString("body:\n")
		b.Write(head)
	}
	textHeader(w)
	io.WriteString(w, b.String())
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	code, err := intParam(r.PathValue("code"), 0, 200, 599)
	if err != nil {
		badRequest(w, "status: %v", err)
		return
	}
	io.Copy(io.Discard, r.Body)
	if code == http.StatusNoContent || code == http.StatusNotModified {
		w.WriteHeader(code)
		return
	}
	textHeader(w)
	w.WriteHeader(code)
	fmt.Fprintf(w, "status %d\n", code)
}

func isRedirect(code int) bool {
	switch code {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
}

func writeRedirect(w http.ResponseWriter, code int, to string) {
	w.Header().Set("Location", to)
	textHeader(w)
	w.WriteHeader(code)
	fmt.Fprintf(w, "redirect %d to %s\n", code, to)
}

func (s *Server) redirect(w http.ResponseWriter, r *http.Request) {
	code, err := intParam(r.PathValue("code"), 0, 300, 399)
	if err != nil || !isRedirect(code) {
		badRequest(w, "redirect: %q is not 301, 302, 303, 307 or 308", r.PathValue("code"))
		return
	}
	io.Copy(io.Discard, r.Body)
	to := r.URL.Query().Get("to")
	if to == "" {
		to = "/echo"
	}
	writeRedirect(w, code, to)
}

func (s *Server) chain(w http.ResponseWriter, r *http.Request) {
	n, err := intParam(r.PathValue("n"), 0, 0, 1000)
	if err != nil {
		badRequest(w, "chain: %v", err)
		return
	}
	if n == 0 {
		s.echo(w, r)
		return
	}
	code, err := intParam(r.URL.Query().Get("code"), 302, 300, 399)
	if err != nil || !isRedirect(code) {
		badRequest(w, "chain: code %q is not 301, 302, 303, 307 or 308", r.URL.Query().Get("code"))
		return
	}
	io.Copy(io.Discard, r.Body)
	to := fmt.Sprintf("/chain/%d", n-1)
	if r.URL.RawQuery != "" {
		to += "?" + r.URL.RawQuery
	}
	writeRedirect(w, code, to)
}

func (s *Server) loop(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	writeRedirect(w, http.StatusFound, "/loop")
}

func (s *Server) basicAuth(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	user, pass, ok := r.BasicAuth()
	if !ok || user != r.PathValue("user") || pass != r.PathValue("pass") {
		w.Header().Set("WWW-Authenticate", `Basic realm="testserver"`)
		textHeader(w)
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, "authentication required\n")
		return
	}
	textHeader(w)
	fmt.Fprintf(w, "authenticated as %s\n", user)
}

func (s *Server) cookies(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	for _, v := range r.Header.Values("Cookie") {
		fmt.Fprintf(&b, "cookie-header: %s\n", v)
	}
	cs := r.Cookies()
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	for _, c := range cs {
		fmt.Fprintf(&b, "cookie: %s=%s\n", c.Name, c.Value)
	}
	if b.Len() == 0 {
		b.WriteString("no cookies\n")
	}
	textHeader(w)
	io.WriteString(w, b.String())
}

func (s *Server) sendCookies(w http.ResponseWriter, r *http.Request, values []string) {
	for _, v := range values {
		w.Header().Add("Set-Cookie", v)
	}
	if to := r.URL.Query().Get("redirect"); to != "" {
		writeRedirect(w, http.StatusFound, to)
		return
	}
	textHeader(w)
	for _, v := range values {
		fmt.Fprintf(w, "set: %s\n", v)
	}
}

func (s *Server) setCookies(w http.ResponseWriter, r *http.Request) {
	s.sendCookies(w, r, r.URL.Query()["c"])
}

func (s *Server) fixedCookies(w http.ResponseWriter, r *http.Request) {
	s.sendCookies(w, r, FixedCookies)
}

// Encode returns CompressBody (or any data) encoded as gzip, deflate (the
// zlib format, as HTTP's "deflate" means) or br.
func Encode(enc string, data []byte) ([]byte, error) {
	var b bytes.Buffer
	var zw io.WriteCloser
	switch enc {
	case "gzip":
		zw = gzip.NewWriter(&b)
	case "deflate":
		zw = zlib.NewWriter(&b)
	case "br":
		zw = brotli.NewWriter(&b)
	default:
		return nil, fmt.Errorf("testserver: unknown encoding %q", enc)
	}
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// negotiate picks br, gzip or deflate, in that order of preference, from
// an Accept-Encoding value; "" for none.
func negotiate(accept string) string {
	offered := map[string]bool{}
	for _, item := range strings.Split(accept, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(item), ";")
		if q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
			if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
				continue
			}
		}
		offered[strings.ToLower(strings.TrimSpace(name))] = true
	}
	for _, enc := range []string{"br", "gzip", "deflate"} {
		if offered[enc] {
			return enc
		}
	}
	return ""
}

func (s *Server) compress(w http.ResponseWriter, r *http.Request) {
	enc := r.PathValue("enc")
	if enc == "auto" {
		enc = negotiate(r.Header.Get("Accept-Encoding"))
		w.Header().Set("Vary", "Accept-Encoding")
	}
	body := CompressBody
	if enc != "" {
		var err error
		if body, err = Encode(enc, CompressBody); err != nil {
			badRequest(w, "compress: %q is not gzip, deflate, br or auto", r.PathValue("enc"))
			return
		}
		w.Header().Set("Content-Encoding", enc)
	}
	textHeader(w)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// Bytes returns n bytes of /bytes/* from offset off: a position-dependent
// pattern with no short period, so a client that loses, repeats or shifts
// bytes (a wrong resume offset) is caught.
func Bytes(off, n int64) []byte {
	b := make([]byte, n)
	fillBytes(b, off)
	return b
}

func fillBytes(b []byte, off int64) {
	for i := range b {
		x := uint64(off+int64(i)) * 0x9e3779b97f4a7c15
		b[i] = byte(x >> 56)
	}
}

// Text returns n bytes of /text/* from offset off: lines "line 000000\n",
// "line 000001\n" and so on (12 bytes each; the number wraps at a million).
func Text(off, n int64) []byte {
	b := make([]byte, n)
	fillText(b, off)
	return b
}

func fillText(b []byte, off int64) {
	const line = "line "
	for i := range b {
		pos := off + int64(i)
		k, col := pos/12, pos%12
		switch {
		case col < 5:
			b[i] = line[col]
		case col < 11:
			digit := k % 1000000
			for j := int64(0); j < 10-col; j++ {
				digit /= 10
			}
			b[i] = byte('0' + digit%10)
		default:
			b[i] = '\n'
		}
	}
}

// patternReader is an io.ReadSeeker over a generated body, so
// http.ServeContent answers ranges without holding the body.
type patternReader struct {
	size, off int64
	fill      func([]byte, int64)
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(b)), p.size-p.off))
	p.fill(b[:n], p.off)
	p.off += int64(n)
	return n, nil
}

func (p *patternReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += p.off
	case io.SeekEnd:
		offset += p.size
	default:
		return 0, fmt.Errorf("testserver: bad whence %d", whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("testserver: negative seek")
	}
	p.off = offset
	return offset, nil
}

func (s *Server) pattern(fill func([]byte, int64), contentType string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n, err := intParam(r.PathValue("n"), 0, 0, maxPattern)
		if err != nil {
			badRequest(w, "size: %v", err)
			return
		}
		w.Header().Set("Content-Type", contentType)
		// A zero modification time: no Last-Modified, no If-Modified-Since.
		http.ServeContent(w, r, "", time.Time{}, &patternReader{size: int64(n), fill: fill})
	}
}

func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	fmt.Fprintf(&b, "method: %s\nuri: %s\n", r.Method, r.RequestURI)
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	multipart := mediaType == "multipart/form-data"
	for _, name := range []string{"Content-Type", "Content-Length", "Expect"} {
		if v := r.Header.Get(name); v != "" {
			switch {
			case name == "Content-Type":
				v = hideBoundary(v)
			case name == "Content-Length" && multipart:
				v = "<set>" // depends on the boundary's length
			}
			fmt.Fprintf(&b, "%s: %s\n", strings.ToLower(name), v)
		}
	}
	if len(r.TransferEncoding) > 0 {
		fmt.Fprintf(&b, "transfer-encoding: %s\n", strings.Join(r.TransferEncoding, ", "))
	}
	if multipart {
		mr, err := r.MultipartReader()
		if err != nil {
			badRequest(w, "upload: %v", err)
			return
		}
		for i := 0; ; i++ {
			part, err := mr.NextRawPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				badRequest(w, "upload: part %d: %v", i, err)
				return
			}
			n, sum, head, err := bodySummary(part, 201)
			if err != nil {
				badRequest(w, "upload: part %d: %v", i, err)
				return
			}
			fmt.Fprintf(&b, "part %d: disposition: %s\n", i, part.Header.Get("Content-Disposition"))
			if ct := part.Header.Get("Content-Type"); ct != "" {
				fmt.Fprintf(&b, "part %d: content-type: %s\n", i, ct)
			}
			fmt.Fprintf(&b, "part %d: length: %d\npart %d: sha256: %x\n", i, n, i, sum)
			if part.FileName() == "" && n <= 200 && isText(head) {
				fmt.Fprintf(&b, "part %d: value: %s\n", i, head)
			}
		}
	} else {
		n, sum, _, err := bodySummary(r.Body, 0)
		if err != nil {
			badRequest(w, "upload: reading the body: %v", err)
			return
		}
		fmt.Fprintf(&b, "length: %d\nsha256: %x\n", n, sum)
	}
	textHeader(w)
	io.WriteString(w, b.String())
}

// hideBoundary replaces a multipart boundary (random per request) by
// "<boundary>", so two clients' answers compare equal.
func hideBoundary(ct string) string {
	i := strings.Index(ct, "boundary=")
	if i < 0 {
		return ct
	}
	end := strings.IndexByte(ct[i:], ';')
	if end < 0 {
		return ct[:i] + "boundary=<boundary>"
	}
	return ct[:i] + "boundary=<boundary>" + ct[i+end:]
}

func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func (s *Server) disposition(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := q.Get("value")
	if v == "" {
		name := q.Get("filename")
		if name == "" {
			name = "attachment.txt"
		}
		v = fmt.Sprintf("attachment; filename=%q", name)
	}
	w.Header().Set("Content-Disposition", v)
	textHeader(w)
	io.WriteString(w, "attachment body\n")
}

func (s *Server) slow(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	head, err1 := durationParam(q.Get("head"), 0)
	delay, err2 := durationParam(q.Get("delay"), 100*time.Millisecond)
	chunks, err3 := intParam(q.Get("chunks"), 3, 0, maxChunks)
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			badRequest(w, "slow: %v", err)
			return
		}
	}
	if !sleep(r.Context(), head) {
		return
	}
	textHeader(w)
	w.WriteHeader(http.StatusOK)
	flush(w)
	for i := range chunks {
		if i > 0 && !sleep(r.Context(), delay) {
			return
		}
		fmt.Fprintf(w, "chunk %d\n", i)
		flush(w)
	}
}

func (s *Server) chunked(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	chunks, err1 := intParam(q.Get("chunks"), 3, 1, maxChunks)
	size, err2 := intParam(q.Get("size"), 10, 1, 1<<20)
	for _, err := range []error{err1, err2} {
		if err != nil {
			badRequest(w, "chunked: %v", err)
			return
		}
	}
	textHeader(w)
	for i := range chunks {
		w.Write(Text(int64(i*size), int64(size)))
		flush(w) // each flush ends one chunk on HTTP/1.1
	}
}

func (s *Server) truncated(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	length, err1 := intParam(q.Get("length"), 1000, 1, maxPattern)
	send, err2 := intParam(q.Get("send"), 100, 0, maxPattern)
	for _, err := range []error{err1, err2} {
		if err != nil {
			badRequest(w, "truncated: %v", err)
			return
		}
	}
	if send >= length {
		badRequest(w, "truncated: send %d is not less than length %d", send, length)
		return
	}
	body := Text(0, int64(send))
	head := rawResponse("HTTP/1.1 200 OK", []string{
		"Content-Type: text/plain; charset=utf-8",
		fmt.Sprintf("Content-Length: %d", length),
	}, "", false)
	s.writeRaw(w, r, head+string(body), func() {
		w.Header().Set("Content-Length", strconv.Itoa(length))
		textHeader(w)
		w.Write(body)
	})
}

func (s *Server) truncatedChunked(w http.ResponseWriter, r *http.Request) {
	head := rawResponse("HTTP/1.1 200 OK", []string{
		"Content-Type: text/plain; charset=utf-8",
		"Transfer-Encoding: chunked",
	}, "", false)
	body := "a\r\n" + string(Text(0, 10)) + "\r\n" + "a\r\n" + string(Text(10, 10)) + "\r\n"
	s.writeRaw(w, r, head+body, func() {
		textHeader(w)
		w.Write(Text(0, 20))
	})
}

func (s *Server) raw(w http.ResponseWriter, r *http.Request) {
	var resp string
	if name := r.PathValue("name"); name != "" {
		var ok bool
		if resp, ok = RawResponses[name]; !ok {
			http.Error(w, "testserver: no raw response "+strconv.Quote(name), http.StatusNotFound)
			return
		}
	} else {
		q := r.URL.Query()
		status := q.Get("status")
		if status == "" {
			status = "200 OK"
		}
		resp = rawResponse("HTTP/1.1 "+status, q["h"], q.Get("body"), false)
	}
	if r.ProtoMajor != 1 {
		http.Error(w, "testserver: raw responses need HTTP/1.1", http.StatusHTTPVersionNotSupported)
		return
	}
	if r.Method == http.MethodHead {
		if i := strings.Index(resp, "\r\n\r\n"); i >= 0 {
			resp = resp[:i+4]
		}
	}
	s.writeRaw(w, r, resp, nil)
}

// writeRaw sends resp byte for byte over the hijacked HTTP/1.1 connection,
// then closes it. On HTTP/2, where nothing can be hijacked, it runs h2 (if
// any) and resets the stream: what a truncated body looks like there.
func (s *Server) writeRaw(w http.ResponseWriter, r *http.Request, resp string, h2 func()) {
	hj, ok := w.(http.Hijacker)
	if r.ProtoMajor != 1 || !ok {
		if h2 == nil {
			http.Error(w, "testserver: raw responses need HTTP/1.1", http.StatusHTTPVersionNotSupported)
			return
		}
		h2()
		flush(w)
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	forget, ok := s.trackHijacked(conn)
	if !ok {
		conn.Close()
		return
	}
	defer forget()
	conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(conn, resp)
	closeGracefully(conn)
}

// closeGracefully ends the write side first (a FIN, or a TLS close_notify)
// and drains what the client still sends for a moment, so the close does
// not become a reset that could discard the response at the client.
func closeGracefully(conn interface {
	io.ReadWriteCloser
	SetReadDeadline(time.Time) error
}) {
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	io.Copy(io.Discard, conn)
	conn.Close()
}

func (s *Server) flakyHandler(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id := q.Get("id")
	fail, err1 := intParam(q.Get("fail"), 1, 0, 1000)
	code, err2 := intParam(q.Get("code"), http.StatusServiceUnavailable, 400, 599)
	delay, err3 := durationParam(q.Get("delay"), 0)
	if id == "" || err1 != nil || err2 != nil || err3 != nil {
		badRequest(w, "flaky: want id=ID, fail in [0, 1000], code in [400, 599], delay in [0, %s]", maxDelay)
		return
	}
	io.Copy(io.Discard, r.Body)
	s.mu.Lock()
	seen := s.flaky[id]
	s.flaky[id]++
	s.mu.Unlock()
	textHeader(w)
	if seen < fail {
		if !sleep(r.Context(), delay) {
			return
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, "failure %d of %d\n", seen+1, fail)
		return
	}
	fmt.Fprintf(w, "ok after %d failures\n", fail)
}

// rendezvousWait bounds how long /rendezvous holds a request.
const rendezvousWait = 10 * time.Second

func (s *Server) rendezvous(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id := q.Get("id")
	n, err := intParam(q.Get("n"), 2, 1, 100)
	if id == "" || err != nil {
		badRequest(w, "rendezvous: want id=ID and n in [1, 100]")
		return
	}
	s.mu.Lock()
	rv := s.rendezvousOf[id]
	if rv == nil {
		rv = &meeting{all: make(chan struct{})}
		s.rendezvousOf[id] = rv
	}
	rv.arrived++
	if rv.arrived == n {
		close(rv.all)
	}
	s.mu.Unlock()
	t := time.NewTimer(rendezvousWait)
	defer t.Stop()
	textHeader(w)
	select {
	case <-rv.all:
		io.WriteString(w, "together\n")
	case <-t.C:
		io.WriteString(w, "alone\n")
	case <-r.Context().Done():
	}
}

// meeting is one /rendezvous id: how many came, closed when all did.
type meeting struct {
	arrived int
	all     chan struct{}
}
