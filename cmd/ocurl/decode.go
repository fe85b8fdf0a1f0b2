package main

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"strings"

	"github.com/andybalholm/brotli"
)

// --compressed asks for gzip, deflate and br (curl's list less zstd, which
// ocurl does not decode) and decodes the body by its Content-Encoding,
// codings applied last undone first. Without --compressed the body is
// written as it came, as curl does. Corrupt data exits 61.

const acceptEncoding = "deflate, gzip, br"

// decodeBody wraps body to undo the response's content codings.
func decodeBody(body io.Reader, h *head) (io.Reader, error) {
	var codings []string
	for _, v := range h.values("Content-Encoding") {
		for _, c := range strings.Split(v, ",") {
			if c = strings.ToLower(strings.TrimSpace(c)); c != "" && c != "identity" {
				codings = append(codings, c)
			}
		}
	}
	if len(codings) > 5 {
		return nil, fail(exitEncoding, "too many content codings (%d)", len(codings))
	}
	r := body
	for i := len(codings) - 1; i >= 0; i-- {
		switch codings[i] {
		case "gzip", "x-gzip":
			r = &lazyDecoder{src: r, newDec: func(src io.Reader) (io.Reader, error) { return gzip.NewReader(src) }}
		case "deflate":
			r = &lazyDecoder{src: r, newDec: newDeflate}
		case "br":
			r = &lazyDecoder{src: r, newDec: func(src io.Reader) (io.Reader, error) { return brotli.NewReader(src), nil }}
		default:
			return nil, fail(exitEncoding, "Unrecognized content encoding type %q: ocurl understands deflate, gzip and br", codings[i])
		}
	}
	return r, nil
}

// newDeflate reads "deflate" as zlib (RFC 9110 §8.4.1.2), or as raw
// deflate when the zlib header is missing, as some servers send it and
// curl accepts.
func newDeflate(src io.Reader) (io.Reader, error) {
	br := bufio.NewReader(src)
	hdr, err := br.Peek(2)
	if err != nil {
		return nil, err
	}
	if (uint16(hdr[0])<<8|uint16(hdr[1]))%31 == 0 && hdr[0]&0x0f == 8 {
		return zlib.NewReader(br)
	}
	return flate.NewReader(br), nil
}

// lazyDecoder starts its decoder at the first Read (an empty body decodes
// to nothing) and marks its errors as decoding errors.
type lazyDecoder struct {
	src    io.Reader
	newDec func(io.Reader) (io.Reader, error)
	dec    io.Reader
}

func (l *lazyDecoder) Read(p []byte) (int, error) {
	if l.dec == nil {
		src := &errMark{r: l.src}
		d, err := l.newDec(src)
		if err != nil {
			if err == io.EOF && src.n == 0 {
				return 0, io.EOF
			}
			return 0, decodeError(src, err)
		}
		l.dec = d
		l.src = src
	}
	n, err := l.dec.Read(p)
	if err != nil && err != io.EOF {
		return n, decodeError(l.src.(*errMark), err)
	}
	return n, err
}

// errMark remembers an error of the underlying body, so a transport
// failure is not reported as corrupt data.
type errMark struct {
	r   io.Reader
	n   int64
	err error
}

func (e *errMark) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.n += int64(n)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

func decodeError(src *errMark, err error) error {
	if src.err != nil {
		return src.err
	}
	var f *failure
	if errors.As(err, &f) {
		return f
	}
	return fail(exitEncoding, "Error while processing content unencoding: %v", err)
}
