package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// h2Frame encodes one HTTP/2 frame.
func h2Frame(typ, flags byte, stream uint32, payload []byte) []byte {
	b := make([]byte, 9, 9+len(payload))
	b[0], b[1], b[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	b[3], b[4] = typ, flags
	binary.BigEndian.PutUint32(b[5:], stream)
	return append(b, payload...)
}

// The recorder follows the frames and decodes header blocks in wire order:
// padded and prioritised HEADERS, CONTINUATION, other frames in between,
// the dynamic table carried from one block to the next, any split of the
// bytes into reads.
func TestH2RecorderWireOrder(t *testing.T) {
	var blk bytes.Buffer
	enc := hpack.NewEncoder(&blk)
	encode := func(fields ...hpack.HeaderField) []byte {
		blk.Reset()
		for _, f := range fields {
			enc.WriteField(f)
		}
		return append([]byte(nil), blk.Bytes()...)
	}
	first := []hpack.HeaderField{{Name: ":status", Value: "200"}, {Name: "zeta", Value: "1"}, {Name: "alpha", Value: "2"},
		{Name: "x-dup", Value: "a"}, {Name: "x-dup", Value: "b"}, {Name: "content-type", Value: "text/plain"}}
	second := []hpack.HeaderField{{Name: ":status", Value: "404"}, {Name: "x-dup", Value: "a"}, {Name: "zeta", Value: "1"}}
	b1 := encode(first...)
	b2 := encode(second...) // uses the dynamic table entries of b1

	var wire []byte
	wire = append(wire, h2Frame(0x4, 0, 0, []byte{0, 3, 0, 0, 0, 100})...) // SETTINGS
	// HEADERS, padded (3 bytes) and with priority, carrying half the block.
	half := len(b1) / 2
	p := append([]byte{3}, []byte{0, 0, 0, 0, 16}...)
	p = append(append(p, b1[:half]...), 0, 0, 0)
	wire = append(wire, h2Frame(0x1, 0x8|0x20, 1, p)...)
	wire = append(wire, h2Frame(0x9, 0x4, 1, b1[half:])...)            // CONTINUATION, END_HEADERS
	wire = append(wire, h2Frame(0x0, 0x1, 1, []byte("body bytes"))...) // DATA
	wire = append(wire, h2Frame(0x1, 0x4|0x1, 3, b2)...)

	for _, step := range []int{1, 3, 7, len(wire)} {
		r := &h2Recorder{}
		r.dec = hpack.NewDecoder(4096, r.emit)
		for i := 0; i < len(wire); i += step {
			r.feed(wire[i:min(i+step, len(wire))])
		}
		heads, ok := r.take()
		if !ok || len(heads) != 2 || !reflect.DeepEqual(heads[0], first) || !reflect.DeepEqual(heads[1], second) {
			t.Fatalf("reads of %d bytes: ok %v, heads %v", step, ok, heads)
		}
	}
	h := h2Head(first)
	if want := "HTTP/2 200 \r\nzeta: 1\r\nalpha: 2\r\nx-dup: a\r\nx-dup: b\r\ncontent-type: text/plain\r\n\r\n"; string(h.raw) != want || h.status != 200 {
		t.Fatalf("h2Head: %q, status %d", h.raw, h.status)
	}

	// A CONTINUATION out of place stops recording; nothing panics.
	r := &h2Recorder{}
	r.dec = hpack.NewDecoder(4096, r.emit)
	r.feed(h2Frame(0x9, 0x4, 1, b1))
	if _, ok := r.take(); ok {
		t.Fatal("a stray CONTINUATION was accepted")
	}
}

// readHead keeps the head's bytes as they came, bare LF line ends too.
func TestReadHeadKeepsBytes(t *testing.T) {
	in := "HTTP/1.0 302 Found\nLocation:  /x \nx-a:b\r\n\n"
	h, err := readHead(bufio.NewReader(strings.NewReader(in + "rest")))
	if err != nil || string(h.raw) != in || h.proto != "HTTP/1.0" || h.status != 302 || h.reason != "Found" ||
		h.get("location") != "/x" || h.get("X-A") != "b" {
		t.Fatalf("%+v %v", h, err)
	}
}

// The chunked decoder reads chunk extensions and trailers and stops at the
// end of the body, leaving the next response's bytes.
func TestChunkedReader(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nT: 1\r\nU: 2\r\n\r\nHTTP/1.1 next"))
	b, err := io.ReadAll(&chunkedReader{br: br})
	rest, _ := io.ReadAll(br)
	if err != nil || string(b) != "abc0123456789" || string(rest) != "HTTP/1.1 next" {
		t.Fatalf("%q %v rest %q", b, err, rest)
	}
}

func FuzzReadHead(f *testing.F) {
	f.Add([]byte(wireHead))
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	f.Add([]byte("HTTP/1.1 200 OK\nA: b\n c\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(b), 16)
		for i := 0; i < 4; i++ {
			h, err := readHead(br)
			if err != nil {
				return
			}
			if !bytes.HasPrefix(b, h.raw) && !bytes.Contains(b, h.raw) {
				t.Fatalf("raw %q is not from the input", h.raw)
			}
			if _, err := framingOf("GET", h); err != nil {
				return
			}
		}
	})
}

func FuzzChunkedReader(f *testing.F) {
	f.Add([]byte("3\r\nabc\r\n0\r\n\r\n"))
	f.Add([]byte("3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n"))
	f.Add([]byte("fffffffffffffff\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := io.ReadAll(io.LimitReader(&chunkedReader{br: bufio.NewReaderSize(bytes.NewReader(b), 16)}, 1<<20))
		if err == nil && len(out) > len(b) {
			t.Fatalf("decoded %d bytes from %d", len(out), len(b))
		}
	})
}

func FuzzH2Recorder(f *testing.F) {
	var blk bytes.Buffer
	hpack.NewEncoder(&blk).WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	f.Add(h2Frame(0x1, 0x4, 1, blk.Bytes()))
	f.Add(append(h2Frame(0x1, 0x8, 1, []byte{1, 0x88, 0}), h2Frame(0x9, 0x4, 1, nil)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &h2Recorder{Conn: &net.TCPConn{}}
		r.dec = hpack.NewDecoder(4096, r.emit)
		r.dec.SetMaxStringLength(maxHeaderLine)
		for len(b) > 0 {
			n := min(len(b), 5)
			r.feed(b[:n])
			b = b[n:]
		}
		r.take()
	})
}
