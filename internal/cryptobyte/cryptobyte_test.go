package cryptobyte

import (
	"bytes"
	"errors"
	"testing"

	xcb "golang.org/x/crypto/cryptobyte"
)

func TestReadIntegers(t *testing.T) {
	s := String{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}
	var u8 uint8
	var u16 uint16
	var u24, u32 uint32
	var u64 uint64
	if !s.ReadUint8(&u8) || u8 != 1 {
		t.Fatalf("ReadUint8 = %#x", u8)
	}
	if !s.ReadUint16(&u16) || u16 != 0x0203 {
		t.Fatalf("ReadUint16 = %#x", u16)
	}
	if !s.ReadUint24(&u24) || u24 != 0x040506 {
		t.Fatalf("ReadUint24 = %#x", u24)
	}
	if !s.ReadUint32(&u32) || u32 != 0x0708090a {
		t.Fatalf("ReadUint32 = %#x", u32)
	}
	if !s.ReadUint64(&u64) || u64 != 0x0b0c0d0e0f101112 {
		t.Fatalf("ReadUint64 = %#x", u64)
	}
	if !s.Empty() {
		t.Fatalf("%d bytes left, want none", len(s))
	}
}

// A read that runs past the end reports false, leaves the String and the
// output as they were.
func TestShortReadsLeaveStringAlone(t *testing.T) {
	in := String{0xff, 0xfe}
	reads := map[string]func(s *String) bool{
		"ReadUint24": func(s *String) bool { v := uint32(7); ok := s.ReadUint24(&v); return ok || v != 7 },
		"ReadUint32": func(s *String) bool { v := uint32(7); ok := s.ReadUint32(&v); return ok || v != 7 },
		"ReadUint64": func(s *String) bool { v := uint64(7); ok := s.ReadUint64(&v); return ok || v != 7 },
		"ReadBytes":  func(s *String) bool { v := []byte("x"); ok := s.ReadBytes(&v, 3); return ok || string(v) != "x" },
		"ReadBytes-": func(s *String) bool { var v []byte; return s.ReadBytes(&v, -1) },
		"CopyBytes":  func(s *String) bool { v := make([]byte, 3); ok := s.CopyBytes(v); return ok || v[0] != 0 },
		"Skip":       func(s *String) bool { return s.Skip(3) },
		// Lengths 0xff and 0xfffe claim more than is left.
		"ReadUint8LengthPrefixed":  func(s *String) bool { var v String; return s.ReadUint8LengthPrefixed(&v) },
		"ReadUint16LengthPrefixed": func(s *String) bool { var v String; return s.ReadUint16LengthPrefixed(&v) },
		"ReadUint24LengthPrefixed": func(s *String) bool { var v String; return s.ReadUint24LengthPrefixed(&v) },
	}
	for name, read := range reads {
		s := in
		if read(&s) {
			t.Errorf("%s on %x succeeded or changed its output", name, []byte(in))
		}
		if !bytes.Equal(s, in) {
			t.Errorf("%s on %x left %x, want the input untouched", name, []byte(in), []byte(s))
		}
	}
}

func TestReadLengthPrefixed(t *testing.T) {
	s := String{2, 'h', 'i', 0, 1, 'x', 0, 0, 0, 9}
	var a, b, c String
	if !s.ReadUint8LengthPrefixed(&a) || string(a) != "hi" {
		t.Fatalf("u8-prefixed = %q", a)
	}
	if !s.ReadUint16LengthPrefixed(&b) || string(b) != "x" {
		t.Fatalf("u16-prefixed = %q", b)
	}
	if !s.ReadUint24LengthPrefixed(&c) || len(c) != 0 {
		t.Fatalf("u24-prefixed = %q, want empty", c)
	}
	if len(s) != 1 || s[0] != 9 {
		t.Fatalf("left %x, want 09", []byte(s))
	}
	// A body that ends the input exactly.
	last := String{0, 0, 2, 'o', 'k'}
	if !last.ReadUint24LengthPrefixed(&c) || string(c) != "ok" || !last.Empty() {
		t.Fatalf("u24-prefixed body ending the input = %q, left %x", c, []byte(last))
	}
	// The body is capped: appending to it must not overwrite what follows.
	_ = append(a, '!')
	if s[0] != 9 {
		t.Fatal("appending to a prefixed body overwrote the rest of the input")
	}
}

// Reading nothing succeeds even from a nil String (x/crypto reports false
// there; nothing here relies on either answer, but a parser of an empty
// optional field should not fail for how its input was allocated).
func TestZeroLengthReads(t *testing.T) {
	var s String
	var out []byte
	if !s.Skip(0) || !s.ReadBytes(&out, 0) || !s.CopyBytes(nil) || !s.Empty() {
		t.Fatal("a zero-length read of a nil String failed")
	}
}

func TestBuilderNested(t *testing.T) {
	b := NewBuilder([]byte{0xaa})
	b.AddUint8(1)
	b.AddUint16(0x0203)
	b.AddUint24(0xff040506) // only the low 24 bits
	b.AddUint32(0x0708090a)
	b.AddUint64(0x0b0c0d0e0f101112)
	b.AddUint16LengthPrefixed(func(b *Builder) {
		b.AddUint8LengthPrefixed(func(b *Builder) { b.AddBytes([]byte("ab")) })
		b.AddUint24LengthPrefixed(func(b *Builder) {})
	})
	got, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0xaa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
		0, 6, 2, 'a', 'b', 0, 0, 0}
	if !bytes.Equal(got, want) {
		t.Fatalf("built %x\nwant  %x", got, want)
	}
}

func TestBuilderLengthOverflow(t *testing.T) {
	b := NewBuilder(nil)
	b.AddUint8LengthPrefixed(func(b *Builder) { b.AddBytes(make([]byte, 256)) })
	b.AddUint8(1) // ignored after the failure
	_, err := b.Bytes()
	var le *LengthError
	if !errors.As(err, &le) || le.PrefixBytes != 1 || le.Length != 256 {
		t.Fatalf("err = %v, want a LengthError for 256 bytes under a 1-byte prefix", err)
	}
	if err.Error() != "cryptobyte: 256-byte body does not fit a 1-byte length prefix" {
		t.Fatalf("message %q", err)
	}
	// 255 bytes fit exactly.
	b = NewBuilder(nil)
	b.AddUint8LengthPrefixed(func(b *Builder) { b.AddBytes(make([]byte, 255)) })
	if out, err := b.Bytes(); err != nil || len(out) != 256 || out[0] != 255 {
		t.Fatalf("255-byte body: len %d, err %v", len(out), err)
	}
}

func TestBuilderFirstErrorSticks(t *testing.T) {
	first, second := errors.New("first"), errors.New("second")
	b := NewBuilder(nil)
	b.AddUint16LengthPrefixed(func(b *Builder) {
		b.AddUint8(1)
		b.SetError(first)
		b.SetError(second)
		b.AddBytes([]byte("late"))
	})
	b.AddUint8LengthPrefixed(func(b *Builder) { t.Error("a continuation ran after the failure") })
	if out, err := b.Bytes(); err != first || out != nil {
		t.Fatalf("Bytes = %x, %v; want nil, the first error", out, err)
	}
}

func TestBytesInsideContinuation(t *testing.T) {
	b := NewBuilder(nil)
	var inner error
	b.AddUint8LengthPrefixed(func(b *Builder) { _, inner = b.Bytes() })
	if inner == nil {
		t.Fatal("Bytes inside a continuation returned a buffer with an unwritten length")
	}
	if _, err := b.Bytes(); err != nil {
		t.Fatalf("Bytes after the continuation: %v", err)
	}
}

// FuzzString runs the same reads over the same input through this package
// and through golang.org/x/crypto/cryptobyte, whose semantics it promises:
// every read must agree on success, value and what is left. ops picks the
// reads, one byte each. After a failed read the comparison stops: a parser
// abandons its input there, and x/crypto leaves a length prefix consumed
// where this package leaves the String untouched.
func FuzzString(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
	f.Add([]byte{6, 6, 7, 8}, []byte{2, 'h', 'i', 0, 0, 0, 1, 'x', 0, 0, 1, 'y'})
	f.Add([]byte{0x28, 0x19, 0x3a}, []byte{0xff, 0xff, 0xff, 0, 1, 2})
	f.Fuzz(func(t *testing.T, ops, data []byte) {
		ours, theirs := String(data), xcb.String(data)
		for i, op := range ops {
			n := int(op >> 4) // the length for the reads that take one
			var okO, okT bool
			var vO, vT []byte
			switch op % 10 {
			case 0:
				var a, b uint8
				okO, okT = ours.ReadUint8(&a), theirs.ReadUint8(&b)
				vO, vT = []byte{a}, []byte{b}
			case 1:
				var a, b uint16
				okO, okT = ours.ReadUint16(&a), theirs.ReadUint16(&b)
				vO, vT = []byte{byte(a >> 8), byte(a)}, []byte{byte(b >> 8), byte(b)}
			case 2:
				var a, b uint32
				okO, okT = ours.ReadUint24(&a), theirs.ReadUint24(&b)
				vO, vT = []byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}, []byte{byte(b >> 24), byte(b >> 16), byte(b >> 8), byte(b)}
			case 3:
				var a, b uint32
				okO, okT = ours.ReadUint32(&a), theirs.ReadUint32(&b)
				vO, vT = []byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}, []byte{byte(b >> 24), byte(b >> 16), byte(b >> 8), byte(b)}
			case 4:
				var a, b uint64
				okO, okT = ours.ReadUint64(&a), theirs.ReadUint64(&b)
				vO, vT = []byte{byte(a >> 56), byte(a), byte(a >> 28)}, []byte{byte(b >> 56), byte(b), byte(b >> 28)}
			case 5:
				if n == 0 {
					continue // x/crypto fails a zero-length read of an exhausted nil String
				}
				okO, okT = ours.ReadBytes(&vO, n), theirs.ReadBytes(&vT, n)
			case 6:
				var a String
				var b xcb.String
				okO, okT = ours.ReadUint8LengthPrefixed(&a), theirs.ReadUint8LengthPrefixed(&b)
				vO, vT = a, b
			case 7:
				var a String
				var b xcb.String
				okO, okT = ours.ReadUint16LengthPrefixed(&a), theirs.ReadUint16LengthPrefixed(&b)
				vO, vT = a, b
			case 8:
				var a String
				var b xcb.String
				okO, okT = ours.ReadUint24LengthPrefixed(&a), theirs.ReadUint24LengthPrefixed(&b)
				vO, vT = a, b
			case 9:
				if n == 0 {
					continue
				}
				vO, vT = make([]byte, n), make([]byte, n)
				okO, okT = ours.CopyBytes(vO), theirs.CopyBytes(vT)
			}
			if okO != okT || okO && (!bytes.Equal(vO, vT) || !bytes.Equal(ours, theirs) || ours.Empty() != theirs.Empty()) {
				t.Fatalf("op %d (%#x): ours %v %x, left %x; x/crypto %v %x, left %x",
					i, op, okO, vO, []byte(ours), okT, vT, []byte(theirs))
			}
			if !okO {
				return
			}
		}
	})
}

// FuzzBuilder builds the same structure with this package and with
// x/crypto's: the bytes must be equal, or both must fail. ops is a small
// program: integers, byte runs, and length-prefixed bodies opened and
// closed.
func FuzzBuilder(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 0x10, 6, 7, 9, 9, 8, 0x50, 9})
	f.Add([]byte{5, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 9})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 4096 {
			return
		}
		var pO, pT int
		bO, bT := NewBuilder(nil), xcb.NewBuilder(nil)
		buildOurs(bO, ops, &pO, 0)
		buildTheirs(bT, ops, &pT, 0)
		outO, errO := bO.Bytes()
		outT, errT := bT.Bytes()
		if (errO == nil) != (errT == nil) || !bytes.Equal(outO, outT) {
			t.Fatalf("ops %x: ours %x, %v; x/crypto %x, %v", ops, outO, errO, outT, errT)
		}
	})
}

// buildOurs and buildTheirs interpret ops from *p until a close op (9) or
// the end, recursing into length-prefixed bodies up to depth 16.
func buildOurs(b *Builder, ops []byte, p *int, depth int) {
	for *p < len(ops) {
		op := ops[*p]
		*p++
		x := uint64(op) * 0x0101010101010101
		switch op % 10 {
		case 0:
			b.AddUint8(uint8(x))
		case 1:
			b.AddUint16(uint16(x))
		case 2:
			b.AddUint24(uint32(x))
		case 3:
			b.AddUint32(uint32(x))
		case 4:
			b.AddBytes(bytes.Repeat([]byte{op}, int(op)))
		case 5, 6, 7:
			if depth == 16 {
				continue
			}
			body := func(b *Builder) { buildOurs(b, ops, p, depth+1) }
			switch op % 10 {
			case 5:
				b.AddUint8LengthPrefixed(body)
			case 6:
				b.AddUint16LengthPrefixed(body)
			case 7:
				b.AddUint24LengthPrefixed(body)
			}
		case 8:
			b.AddUint64(x)
		case 9:
			return
		}
	}
}

func buildTheirs(b *xcb.Builder, ops []byte, p *int, depth int) {
	for *p < len(ops) {
		op := ops[*p]
		*p++
		x := uint64(op) * 0x0101010101010101
		switch op % 10 {
		case 0:
			b.AddUint8(uint8(x))
		case 1:
			b.AddUint16(uint16(x))
		case 2:
			b.AddUint24(uint32(x))
		case 3:
			b.AddUint32(uint32(x))
		case 4:
			b.AddBytes(bytes.Repeat([]byte{op}, int(op)))
		case 5, 6, 7:
			if depth == 16 {
				continue
			}
			body := func(b *xcb.Builder) { buildTheirs(b, ops, p, depth+1) }
			switch op % 10 {
			case 5:
				b.AddUint8LengthPrefixed(body)
			case 6:
				b.AddUint16LengthPrefixed(body)
			case 7:
				b.AddUint24LengthPrefixed(body)
			}
		case 8:
			b.AddUint64(x)
		case 9:
			return
		}
	}
}
