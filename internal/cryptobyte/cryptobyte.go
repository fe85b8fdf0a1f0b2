// Package cryptobyte parses and builds the length-prefixed, big-endian
// structures of TLS (RFC 5246 §4, "Presentation Language") and of the
// offloader's wire protocol: a String to read from, a Builder to write into.
//
// It has the names and semantics of the byte-string half of
// golang.org/x/crypto/cryptobyte, restricted to what the device packages
// (handshake, offloader/wire) call, and is written here so that a device
// binary does not carry the other half: x/crypto's package imports
// encoding/asn1 and math/big for its ASN.1 methods, and their package
// initialisers keep about 80 symbols of big-number and ASN.1 code (some
// 110 KB of a stripped linux/arm program) in every program that parses a
// TLS message. A device never parses ASN.1: certificates reach it as opaque
// bytes and the offloader checks them. Server-side code (certs,
// offloader/server) keeps x/crypto's package.
//
// Left out: ASN.1, fixed-size builders, MarshalingValue and the BuildError
// panic protocol. One difference in kind: a continuation is handed the
// Builder it was called on, not a child; the Builder counts open
// continuations and Bytes refuses a buffer whose lengths are not yet
// written.
//
// Every Read method reports false, and leaves the String as it was, when the
// String is too short; every Add method does nothing once the Builder has
// failed, and Bytes reports the first failure.
package cryptobyte

import (
	"errors"
	"strconv"
)

// String is a byte string being parsed; each Read method advances it.
type String []byte

// take returns the next n bytes of s and advances s past them, or reports
// false, leaving s alone, when fewer than n bytes are left. The result is
// capped at n so that appending to it cannot overwrite what follows.
func (s *String) take(n int) ([]byte, bool) {
	if n < 0 || n > len(*s) {
		return nil, false
	}
	head := (*s)[:n:n]
	*s = (*s)[n:]
	return head, true
}

// Empty reports whether every byte of s has been read.
func (s String) Empty() bool { return len(s) == 0 }

// Skip advances s by n bytes.
func (s *String) Skip(n int) bool {
	_, ok := s.take(n)
	return ok
}

// ReadBytes sets *out to the next n bytes of s, sharing s's memory.
func (s *String) ReadBytes(out *[]byte, n int) bool {
	v, ok := s.take(n)
	if ok {
		*out = v
	}
	return ok
}

// CopyBytes copies the next len(out) bytes of s into out.
func (s *String) CopyBytes(out []byte) bool {
	v, ok := s.take(len(out))
	if ok {
		copy(out, v)
	}
	return ok
}

// bigEndian reads an n-byte (n ≤ 8) big-endian unsigned integer.
func (s *String) bigEndian(n int) (uint64, bool) {
	v, ok := s.take(n)
	var x uint64
	for _, c := range v {
		x = x<<8 | uint64(c)
	}
	return x, ok
}

// ReadUint8 reads one byte.
func (s *String) ReadUint8(out *uint8) bool {
	x, ok := s.bigEndian(1)
	if ok {
		*out = uint8(x)
	}
	return ok
}

// ReadUint16 reads a big-endian 16-bit integer.
func (s *String) ReadUint16(out *uint16) bool {
	x, ok := s.bigEndian(2)
	if ok {
		*out = uint16(x)
	}
	return ok
}

// ReadUint24 reads a big-endian 24-bit integer.
func (s *String) ReadUint24(out *uint32) bool {
	x, ok := s.bigEndian(3)
	if ok {
		*out = uint32(x)
	}
	return ok
}

// ReadUint32 reads a big-endian 32-bit integer.
func (s *String) ReadUint32(out *uint32) bool {
	x, ok := s.bigEndian(4)
	if ok {
		*out = uint32(x)
	}
	return ok
}

// ReadUint64 reads a big-endian 64-bit integer.
func (s *String) ReadUint64(out *uint64) bool {
	x, ok := s.bigEndian(8)
	if ok {
		*out = x
	}
	return ok
}

// prefixed reads an n-byte length and then that many bytes into *out. It
// works on a copy of s so that a length running past the end leaves s
// unread.
func (s *String) prefixed(n int, out *String) bool {
	rest := *s
	l, ok := rest.bigEndian(n)
	if !ok || l > uint64(len(rest)) {
		return false
	}
	body, _ := rest.take(int(l))
	*out, *s = String(body), rest
	return true
}

// ReadUint8LengthPrefixed reads a one-byte length and that many bytes.
func (s *String) ReadUint8LengthPrefixed(out *String) bool { return s.prefixed(1, out) }

// ReadUint16LengthPrefixed reads a two-byte length and that many bytes.
func (s *String) ReadUint16LengthPrefixed(out *String) bool { return s.prefixed(2, out) }

// ReadUint24LengthPrefixed reads a three-byte length and that many bytes.
func (s *String) ReadUint24LengthPrefixed(out *String) bool { return s.prefixed(3, out) }

// A Builder appends big-endian integers, bytes and length-prefixed
// sub-structures to a buffer. Its zero value is ready to use.
type Builder struct {
	buf []byte
	err error // the first failure; every Add is a no-op after it
	// open counts the length-prefixed continuations in progress.
	open int
}

// A BuilderContinuation writes the body of a length-prefixed sub-structure
// into the Builder it is given.
type BuilderContinuation func(child *Builder)

// NewBuilder returns a Builder that appends to buf.
func NewBuilder(buf []byte) *Builder { return &Builder{buf: buf} }

var errOpen = errors.New("cryptobyte: Bytes called inside a length-prefixed continuation")

// Bytes returns what has been written, or the Builder's first error.
func (b *Builder) Bytes() ([]byte, error) {
	switch {
	case b.err != nil:
		return nil, b.err
	case b.open != 0:
		return nil, errOpen
	}
	return b.buf, nil
}

// SetError fails the Builder with err unless it has already failed.
func (b *Builder) SetError(err error) {
	if b.err == nil {
		b.err = err
	}
}

// putBigEndian appends the low n bytes of x, most significant first.
func (b *Builder) putBigEndian(x uint64, n int) {
	if b.err != nil {
		return
	}
	for shift := 8 * (n - 1); shift >= 0; shift -= 8 {
		b.buf = append(b.buf, byte(x>>shift))
	}
}

// AddUint8 appends one byte.
func (b *Builder) AddUint8(v uint8) { b.putBigEndian(uint64(v), 1) }

// AddUint16 appends a big-endian 16-bit integer.
func (b *Builder) AddUint16(v uint16) { b.putBigEndian(uint64(v), 2) }

// AddUint24 appends the low 24 bits of v, big-endian.
func (b *Builder) AddUint24(v uint32) { b.putBigEndian(uint64(v), 3) }

// AddUint32 appends a big-endian 32-bit integer.
func (b *Builder) AddUint32(v uint32) { b.putBigEndian(uint64(v), 4) }

// AddUint64 appends a big-endian 64-bit integer.
func (b *Builder) AddUint64(v uint64) { b.putBigEndian(v, 8) }

// AddBytes appends v.
func (b *Builder) AddBytes(v []byte) {
	if b.err == nil {
		b.buf = append(b.buf, v...)
	}
}

// LengthError is a length-prefixed body longer than its prefix can count.
type LengthError struct {
	PrefixBytes int // the width of the length prefix
	Length      int // the body's length
}

func (e *LengthError) Error() string {
	return "cryptobyte: " + strconv.Itoa(e.Length) + "-byte body does not fit a " +
		strconv.Itoa(e.PrefixBytes) + "-byte length prefix"
}

// prefixed writes an n-byte placeholder, lets f write the body, then
// writes the body's length over the placeholder.
func (b *Builder) prefixed(n int, f BuilderContinuation) {
	if b.err != nil {
		return
	}
	lenAt := len(b.buf)
	b.buf = append(b.buf, make([]byte, n)...)
	b.open++
	f(b)
	b.open--
	if b.err != nil {
		return
	}
	l := len(b.buf) - lenAt - n
	if uint64(l)>>(8*n) != 0 {
		b.err = &LengthError{PrefixBytes: n, Length: l}
		return
	}
	for i := range n {
		b.buf[lenAt+i] = byte(l >> (8 * (n - 1 - i)))
	}
}

// AddUint8LengthPrefixed appends a one-byte length and the body f writes.
func (b *Builder) AddUint8LengthPrefixed(f BuilderContinuation) { b.prefixed(1, f) }

// AddUint16LengthPrefixed appends a two-byte length and the body f writes.
func (b *Builder) AddUint16LengthPrefixed(f BuilderContinuation) { b.prefixed(2, f) }

// AddUint24LengthPrefixed appends a three-byte length and the body f writes.
func (b *Builder) AddUint24LengthPrefixed(f BuilderContinuation) { b.prefixed(3, f) }
