package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/net/http2/hpack"
)

// HTTP/2 (--http2, --http2-prior-knowledge). net/http negotiates HTTP/2
// in ALPN only over its own *tls.Conn, so over tlsclient ocurl makes the
// choice itself: the connection dial.go made (TLS with h2 agreed in ALPN,
// or plain TCP with prior knowledge) is handed to net/http's HTTP/2 code
// as a single client connection (Transport.NewClientConn with only
// unencrypted HTTP/2 enabled: to net/http a tlsclient.Conn is a plain
// net.Conn, while on the wire it is TLS as RFC 9113 §3.2 wants, and
// requests keep :scheme https).
//
// net/http's Response.Header is a map: it loses the order and the exact
// bytes of the response's header fields. So the connection's reads also go
// through an h2Recorder, which follows the frames the server sends and
// decodes every header block with its own HPACK decoder (fed the same
// blocks in the same order, its dynamic table stays the same as net/http's),
// keeping the fields in wire order for -i, -D and -v.

// h2Conn is one HTTP/2 connection.
type h2Conn struct {
	cc  *http.ClientConn
	rec *h2Recorder
}

func newH2Conn(ctx context.Context, nc net.Conn, scheme, addr string) (*h2Conn, error) {
	rec := &h2Recorder{Conn: nc}
	rec.dec = hpack.NewDecoder(4096, rec.emit)
	rec.dec.SetMaxStringLength(maxHeaderLine)
	var once sync.Once
	give := func(context.Context, string, string) (net.Conn, error) {
		var c net.Conn = nil
		once.Do(func() { c = rec })
		if c == nil {
			return nil, errors.New("ocurl: a second HTTP/2 dial on one connection")
		}
		return c, nil
	}
	t := &http.Transport{
		DialContext:        give,
		DialTLSContext:     give,
		Protocols:          new(http.Protocols),
		DisableCompression: true,
	}
	t.Protocols.SetUnencryptedHTTP2(true)
	cc, err := t.NewClientConn(ctx, scheme, addr)
	if err != nil {
		return nil, err
	}
	return &h2Conn{cc: cc, rec: rec}, nil
}

// h2Recorder passes reads through and records the header blocks the
// server sends.
type h2Recorder struct {
	net.Conn
	dec *hpack.Decoder

	mu      sync.Mutex
	pending []byte // an incomplete frame header or header-block frame
	skip    int    // payload bytes of a frame not kept
	block   []byte // the header block being assembled from HEADERS + CONTINUATION
	inBlock bool
	fields  []hpack.HeaderField // of the block being decoded
	heads   [][]hpack.HeaderField
	broken  bool     // a block too large or undecodable: stop recording
	reset   *h2Reset // the last RST_STREAM since forget
}

// h2Reset is a RST_STREAM the server sent (RFC 9113 §6.4).
type h2Reset struct {
	stream, code uint32
}

// h2ErrorNames are RFC 9113 §7's error codes, as curl names them.
var h2ErrorNames = []string{"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
	"SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL",
	"COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"}

// failure is curl's error for a reset stream: 92.
func (r *h2Reset) failure() *failure {
	name := "unknown"
	if int(r.code) < len(h2ErrorNames) {
		name = h2ErrorNames[r.code]
	}
	return fail(exitHTTP2Stream, "HTTP/2 stream %d was not closed cleanly: %s (err %d)", r.stream, name, r.code)
}

// lastReset returns the RST_STREAM received since forget, if any.
func (r *h2Recorder) lastReset() *h2Reset {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reset
}

// maxRecordedBlock bounds one header block the recorder keeps.
const maxRecordedBlock = maxHead

func (r *h2Recorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	if n > 0 {
		r.mu.Lock()
		r.feed(p[:n])
		r.mu.Unlock()
	}
	return n, err
}

func (r *h2Recorder) emit(f hpack.HeaderField) { r.fields = append(r.fields, f) }

// feed follows the frame layer (RFC 9113 §4.1) over b.
func (r *h2Recorder) feed(b []byte) {
	for len(b) > 0 && !r.broken {
		if r.skip > 0 {
			n := min(r.skip, len(b))
			r.skip -= n
			b = b[n:]
			continue
		}
		need := 9
		if len(r.pending) >= 9 {
			need += int(uint32(r.pending[0])<<16 | uint32(r.pending[1])<<8 | uint32(r.pending[2]))
		}
		take := min(need-len(r.pending), len(b))
		r.pending = append(r.pending, b[:take]...)
		b = b[take:]
		if len(r.pending) < 9 {
			continue
		}
		length := int(uint32(r.pending[0])<<16 | uint32(r.pending[1])<<8 | uint32(r.pending[2]))
		typ := r.pending[3]
		if len(r.pending) == 9 && typ != 0x1 && typ != 0x9 && (typ != 0x3 || length != 4) {
			r.pending, r.skip = r.pending[:0], length // not a header block: skip the payload
			continue
		}
		if length > maxRecordedBlock {
			r.broken = true
			return
		}
		if len(r.pending) < 9+length {
			continue
		}
		if typ == 0x3 {
			r.reset = &h2Reset{
				stream: binary.BigEndian.Uint32(r.pending[5:9]) & 0x7fffffff,
				code:   binary.BigEndian.Uint32(r.pending[9:13]),
			}
		} else {
			r.frame(typ, r.pending[4], r.pending[9:9+length])
		}
		r.pending = r.pending[:0]
	}
}

// frame handles a HEADERS (0x1) or CONTINUATION (0x9) frame.
func (r *h2Recorder) frame(typ, flags byte, payload []byte) {
	const endHeaders, padded, priority = 0x4, 0x8, 0x20
	if typ == 0x1 {
		if flags&padded != 0 {
			if len(payload) < 1 || int(payload[0]) > len(payload)-1 {
				r.broken = true
				return
			}
			payload = payload[1 : len(payload)-int(payload[0])]
		}
		if flags&priority != 0 {
			if len(payload) < 5 {
				r.broken = true
				return
			}
			payload = payload[5:]
		}
		r.block, r.inBlock = r.block[:0], true
	} else if !r.inBlock {
		r.broken = true
		return
	}
	if len(r.block)+len(payload) > maxRecordedBlock {
		r.broken = true
		return
	}
	r.block = append(r.block, payload...)
	if flags&endHeaders == 0 {
		return
	}
	r.inBlock = false
	r.fields = nil
	if _, err := r.dec.Write(r.block); err != nil {
		r.broken = true
		return
	}
	if err := r.dec.Close(); err != nil {
		r.broken = true
		return
	}
	r.heads = append(r.heads, r.fields)
}

// take returns the header blocks recorded since the last call; ok is false
// if recording broke down.
func (r *h2Recorder) take() (heads [][]hpack.HeaderField, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	heads, r.heads = r.heads, nil
	return heads, !r.broken
}

// forget drops what was recorded so far: heads and a reset.
func (r *h2Recorder) forget() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.heads, r.reset = nil, nil
}

// h2Head builds a head as curl prints an HTTP/2 response: "HTTP/2 200 "
// and the fields as received, pseudo-headers left out.
func h2Head(fields []hpack.HeaderField) *head {
	h := &head{proto: "HTTP/2"}
	var b strings.Builder
	for _, f := range fields {
		if f.Name == ":status" {
			fmt.Sscanf(f.Value, "%d", &h.status)
			continue
		}
		if strings.HasPrefix(f.Name, ":") {
			continue
		}
		h.fields = append(h.fields, field{f.Name, f.Value})
	}
	fmt.Fprintf(&b, "HTTP/2 %d \r\n", h.status)
	for _, f := range h.fields {
		fmt.Fprintf(&b, "%s: %s\r\n", f.name, f.value)
	}
	b.WriteString("\r\n")
	h.raw = []byte(b.String())
	return h
}

// h2HeadFromResponse is the fallback when recording broke down: the
// fields net/http kept, in its (sorted) order.
func h2HeadFromResponse(resp *http.Response) *head {
	var fields []hpack.HeaderField
	fields = append(fields, hpack.HeaderField{Name: ":status", Value: fmt.Sprint(resp.StatusCode)})
	keys := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range resp.Header[k] {
			fields = append(fields, hpack.HeaderField{Name: strings.ToLower(k), Value: v})
		}
	}
	return h2Head(fields)
}

// roundTrip sends req over the HTTP/2 connection. It returns the heads
// received (1xx first, the final last) and the body.
func (c *h2Conn) roundTrip(ctx context.Context, req *request, body io.Reader) ([]*head, *http.Response, error) {
	hreq, err := http.NewRequestWithContext(ctx, req.method, req.url.String(), body)
	if err != nil {
		return nil, nil, fail(exitBadURL, "%v", err)
	}
	if body == nil {
		hreq.Body = nil
	}
	hreq.ContentLength = req.bodySize()
	if hreq.ContentLength < 0 && body == nil {
		hreq.ContentLength = 0
	}
	hreq.Header = make(http.Header)
	hreq.Header["User-Agent"] = []string{""} // net/http's own, unless the request has one
	for _, f := range req.fields {
		switch strings.ToLower(f.name) {
		case "host":
			hreq.Host = f.value
			continue
		case "connection", "transfer-encoding", "expect", "keep-alive", "proxy-connection", "upgrade", "content-length":
			continue // not in HTTP/2 (RFC 9113 §8.2.2); the length is net/http's
		case "user-agent":
			hreq.Header["User-Agent"] = nil
		}
		k := http.CanonicalHeaderKey(f.name)
		hreq.Header[k] = append(hreq.Header[k], f.value)
	}
	if ua := hreq.Header["User-Agent"]; len(ua) == 0 {
		hreq.Header["User-Agent"] = []string{""}
	}
	c.rec.forget() // anything recorded before this request
	resp, err := c.cc.RoundTrip(hreq)
	if err != nil {
		return nil, nil, err
	}
	blocks, ok := c.rec.take()
	var heads []*head
	if ok {
		for _, b := range blocks {
			h := h2Head(b)
			heads = append(heads, h)
			if h.status >= 200 {
				break
			}
		}
	}
	if len(heads) == 0 || heads[len(heads)-1].status != resp.StatusCode {
		heads = []*head{h2HeadFromResponse(resp)}
	}
	return heads, resp, nil
}

// exchange2 sends req over HTTP/2 and reads the heads.
func (x *transfer) exchange2(ctx context.Context, c *conn, req *request) (*exchange, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/2\r\n", req.method, requestTarget(req.url, false))
	for _, f := range req.fields {
		name := f.name
		if !strings.EqualFold(name, "Host") {
			name = strings.ToLower(name)
		}
		fmt.Fprintf(&b, "%s: %s\r\n", name, f.value)
	}
	b.WriteString("\r\n")
	x.verbose("> ", []byte(b.String()))
	x.sizeRequest += int64(b.Len())
	x.method = req.method
	var rd io.ReadCloser
	if req.body != nil {
		var err error
		if rd, err = req.body.reader(); err != nil {
			return nil, err
		}
		atomic.StoreInt64(&x.uploadSize, req.body.size)
	}
	var body io.Reader
	if rd != nil {
		body = &countReader{r: rd, n: &x.sizeUpload}
	}
	x.t.pretransfer = x.t.since()
	heads, resp, err := c.h2.roundTrip(ctx, req, body)
	if err != nil {
		c.close()
		if rd != nil {
			rd.Close()
		}
		if f := (*failure)(nil); errors.As(err, &f) {
			return nil, f
		}
		if ctx.Err() != nil {
			return nil, x.recvFailure(ctx, ctx.Err())
		}
		if rst := c.h2.rec.lastReset(); rst != nil {
			return nil, rst.failure()
		}
		return nil, fail(exitHTTP2, "HTTP/2 request failed: %v", err)
	}
	x.t.starttransfer = x.t.since()
	for _, h := range heads {
		x.gotHead(h)
	}
	atomic.StoreInt64(&x.contentLength, resp.ContentLength)
	ex := &exchange{heads: heads, conn: c}
	ex.body = &h2Body{r: resp.Body, want: resp.ContentLength, rec: c.h2.rec}
	ex.done = func(complete bool) {
		resp.Body.Close()
		if rd != nil {
			rd.Close()
		}
		if complete && ctx.Err() == nil && c.h2.cc.Available() > 0 {
			x.tracef("Connection #%d to host %s left intact", c.id, req.url.Hostname())
			x.r.pool.put(c)
			return
		}
		x.tracef("Closing connection %d", c.id)
		c.close()
	}
	return ex, nil
}

// h2Body maps net/http's HTTP/2 body errors to curl's: a stream the
// server reset is curl's 92 (whether or not the body was cut short), a
// body shorter than its Content-Length otherwise a partial transfer (18),
// anything else an HTTP/2 error (16).
type h2Body struct {
	r    io.Reader
	want int64
	got  int64
	rec  *h2Recorder
}

func (b *h2Body) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.got += int64(n)
	if err != nil && err != io.EOF {
		if rst := b.rec.lastReset(); rst != nil {
			return n, rst.failure()
		}
		if b.want >= 0 && b.got < b.want {
			return n, &partialError{b.want - b.got}
		}
		return n, fail(exitHTTP2, "HTTP/2 stream was not closed cleanly: %v", err)
	}
	return n, err
}
