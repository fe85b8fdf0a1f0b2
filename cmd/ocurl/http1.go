package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// HTTP/1.1 (RFC 9112), spoken by ocurl itself rather than by net/http, so
// that the request goes out byte for byte as -v shows it (curl's header
// order and case, -H's rules) and the response head is kept exactly as it
// arrived (wire order, wire case, every header) for -i, -D and -v.

// Limits on what a server may send before the body, as curl's: one header
// line of at most 100 KiB, a whole head of at most 300 KiB.
const (
	maxHeaderLine = 100 << 10
	maxHead       = 300 << 10
	maxChunkLine  = 4 << 10
)

// field is one header line: a name as written and its value.
type field struct{ name, value string }

// head is one response head as received.
type head struct {
	proto  string // "HTTP/1.1", "HTTP/1.0", "HTTP/2"
	status int
	reason string
	raw    []byte  // the block exactly as received, status line to blank line
	fields []field // in order; folded lines joined
}

// get returns the first value of a header, "" if absent.
func (h *head) get(name string) string {
	for _, f := range h.fields {
		if strings.EqualFold(f.name, name) {
			return f.value
		}
	}
	return ""
}

// values returns every value of a header, in order.
func (h *head) values(name string) []string {
	var vs []string
	for _, f := range h.fields {
		if strings.EqualFold(f.name, name) {
			vs = append(vs, f.value)
		}
	}
	return vs
}

// headError is a response head ocurl cannot read; code is the exit code.
type headError struct {
	code int
	msg  string
}

func (e *headError) Error() string { return e.msg }

var errEmptyReply = &headError{exitEmptyReply, "Empty reply from server"}

// readHead reads one response head from br: a status line, header lines,
// a blank line. Line ends may be CRLF or a bare LF, as RFC 9112 §2.2
// allows a recipient to accept.
func readHead(br *bufio.Reader) (*head, error) {
	var raw []byte
	line, err := readLine(br, &raw)
	if err != nil {
		if len(raw) == 0 && (err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)) {
			return nil, errEmptyReply
		}
		return nil, err
	}
	h := &head{}
	if !strings.HasPrefix(line, "HTTP/") {
		return nil, &headError{exitProtocol, "Received HTTP/0.9 when not allowed"}
	}
	proto, rest, _ := strings.Cut(line, " ")
	codeStr, reason, _ := strings.Cut(rest, " ")
	code, err := strconv.Atoi(codeStr)
	if (proto != "HTTP/1.1" && proto != "HTTP/1.0") || len(codeStr) != 3 || err != nil || code < 100 {
		return nil, &headError{exitWeirdReply, fmt.Sprintf("Unsupported HTTP response: %q", clip(line, 64))}
	}
	h.proto, h.status, h.reason = proto, code, reason
	for {
		line, err := readLine(br, &raw)
		if err != nil {
			if err == io.EOF {
				err = &headError{exitRecv, "connection closed in the middle of the response headers"}
			}
			return nil, err
		}
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			// obs-fold (RFC 9112 §5.2): a continuation of the previous value.
			if len(h.fields) == 0 {
				return nil, &headError{exitWeirdReply, "header continuation without a header"}
			}
			f := &h.fields[len(h.fields)-1]
			f.value = strings.TrimSpace(f.value + " " + strings.TrimSpace(line))
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, &headError{exitWeirdReply, fmt.Sprintf("Header without colon or with a bad name: %q", clip(line, 64))}
		}
		h.fields = append(h.fields, field{name, strings.TrimSpace(value)})
	}
	h.raw = raw
	return h, nil
}

// readLine reads one line into *raw (line end included) and returns it
// without its line end.
func readLine(br *bufio.Reader, raw *[]byte) (string, error) {
	start := len(*raw)
	for {
		frag, err := br.ReadSlice('\n')
		if len(*raw)-start+len(frag) > maxHeaderLine || len(*raw)+len(frag) > maxHead {
			return "", &headError{exitRecv, fmt.Sprintf("Too large response headers (over %d bytes)", maxHead)}
		}
		*raw = append(*raw, frag...)
		switch {
		case err == nil:
			line := (*raw)[start:]
			line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
			return string(line), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(*raw) > start:
			return "", io.ErrUnexpectedEOF
		default:
			return "", err
		}
	}
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// partialError is a body that ended before its length.
type partialError struct{ remaining int64 }

func (e *partialError) Error() string {
	if e.remaining < 0 {
		return "transfer closed with outstanding read data remaining"
	}
	return fmt.Sprintf("transfer closed with %d bytes remaining to read", e.remaining)
}

// bodyFraming is how a response's body is delimited (RFC 9112 §6.3).
type bodyFraming struct {
	none    bool  // HEAD, 1xx, 204, 304
	chunked bool  // Transfer-Encoding ending in chunked
	length  int64 // Content-Length; -1 if not given
	toClose bool  // read until the connection closes
}

func framingOf(method string, h *head) (bodyFraming, error) {
	if method == "HEAD" || h.status/100 == 1 || h.status == 204 || h.status == 304 {
		return bodyFraming{none: true, length: -1}, nil
	}
	if te := h.values("Transfer-Encoding"); len(te) > 0 {
		codings := strings.Split(strings.Join(te, ","), ",")
		if strings.EqualFold(strings.TrimSpace(codings[len(codings)-1]), "chunked") {
			return bodyFraming{chunked: true, length: -1}, nil
		}
		return bodyFraming{toClose: true, length: -1}, nil
	}
	cls := h.values("Content-Length")
	if len(cls) == 0 {
		return bodyFraming{toClose: true, length: -1}, nil
	}
	var n int64 = -1
	for _, v := range cls {
		for _, part := range strings.Split(v, ",") {
			m, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
			if err != nil || m < 0 || (n >= 0 && m != n) {
				return bodyFraming{}, &headError{exitWeirdReply, fmt.Sprintf("Invalid Content-Length: %q", clip(v, 32))}
			}
			n = m
		}
	}
	return bodyFraming{length: n}, nil
}

// lengthReader reads exactly n bytes or fails with a partialError.
type lengthReader struct {
	r io.Reader
	n int64
}

func (l *lengthReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if err == io.EOF {
		if l.n > 0 {
			return n, &partialError{l.n}
		}
		return n, nil
	}
	return n, err
}

// chunkedReader decodes chunked transfer coding (RFC 9112 §7.1), reading
// and discarding the trailer section.
type chunkedReader struct {
	br   *bufio.Reader
	left int64 // bytes of the current chunk not yet read
	data bool  // inside a chunk's data (left counts it)
	done bool
	err  error
}

var errBadChunk = &headError{exitRecv, "Malformed encoding found in chunked-encoding"}

func (c *chunkedReader) Read(p []byte) (int, error) {
	for c.err == nil && !c.done && (!c.data || c.left == 0) {
		if c.data { // the end of a chunk: its CRLF
			c.data = false
			if c.err = c.expectCRLF(); c.err != nil {
				break
			}
		}
		c.err = c.readSize()
	}
	if c.err != nil {
		return 0, c.err
	}
	if c.done {
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	if err == io.EOF {
		err = &partialError{-1}
	}
	if err != nil {
		c.err = err
	}
	return n, err
}

// readSize reads a chunk-size line; the last chunk reads the trailers.
func (c *chunkedReader) readSize() error {
	var raw []byte
	line, err := c.chunkLine(&raw)
	if err != nil {
		return err
	}
	sizeStr, _, _ := strings.Cut(line, ";")
	sizeStr = strings.TrimSpace(sizeStr)
	if sizeStr == "" || len(sizeStr) > 15 {
		return errBadChunk
	}
	size, err := strconv.ParseInt(sizeStr, 16, 64)
	if err != nil || size < 0 {
		return errBadChunk
	}
	if size > 0 {
		c.left, c.data = size, true
		return nil
	}
	for n := 0; ; n++ { // trailer fields up to a blank line
		raw = raw[:0]
		line, err := c.chunkLine(&raw)
		if err != nil {
			return err
		}
		if line == "" {
			c.done = true
			return nil
		}
		if n > 100 {
			return errBadChunk
		}
	}
}

func (c *chunkedReader) chunkLine(raw *[]byte) (string, error) {
	for {
		frag, err := c.br.ReadSlice('\n')
		if len(*raw)+len(frag) > maxChunkLine {
			return "", errBadChunk
		}
		*raw = append(*raw, frag...)
		switch {
		case err == nil:
			return strings.TrimRight(string(*raw), "\r\n"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF:
			return "", &partialError{-1}
		default:
			return "", err
		}
	}
}

func (c *chunkedReader) expectCRLF() error {
	b, err := c.br.ReadByte()
	if err == nil && b == '\r' {
		b, err = c.br.ReadByte()
	}
	switch {
	case err == io.EOF:
		return &partialError{-1}
	case err != nil:
		return err
	case b != '\n':
		return errBadChunk
	}
	return nil
}

// chunkedWriter writes chunked transfer coding for an upload of unknown
// size (-T -).
type chunkedWriter struct{ w io.Writer }

func (c chunkedWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if _, err := fmt.Fprintf(c.w, "%x\r\n", len(p)); err != nil {
		return 0, err
	}
	if _, err := c.w.Write(p); err != nil {
		return 0, err
	}
	_, err := io.WriteString(c.w, "\r\n")
	return len(p), err
}

func (c chunkedWriter) close() error {
	_, err := io.WriteString(c.w, "0\r\n\r\n")
	return err
}
