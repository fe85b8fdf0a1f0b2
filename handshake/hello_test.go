package handshake

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"reflect"
	"slices"
	"testing"

	"github.com/tlsoffload/tlsoffload/internal/cryptobyte"
)

// The encodings of fullClientHello (in the default extension order and with
// ExtensionOrder set), deviceClientHello and fullServerHello, as the
// nested-builder encoders produced them: the encoders may change, these
// bytes may not.
const (
	fullClientHelloHex = "010000e203030102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20206465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182830006c02b009c00ff0100009300000010000e00000b6578616d706c652e636f6d000a00060004001d0017000b00020100000d00060004040308040010000e000c02683208687474702f312e3100170000ff01000d0c0708090a0b0c0d0e0f10111200230028090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30000100010200050005010000000012340000"

	orderedClientHelloHex = "010000e203030102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20206465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182830006c02b009c00ff010000930010000e000c02683208687474702f312e311234000000000010000e00000b6578616d706c652e636f6d000a00060004001d0017000b00020100000d000600040403080400170000ff01000d0c0708090a0b0c0d0e0f10111200230028090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f300001000102000500050100000000"

	deviceClientHelloHex = "0100007103030102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20000004c02f00ff010000440000001700150000126465766963652e6578616d706c652e636f6d000a00060004001d0017000b00020100000d0008000604030804040100170000ff0100010000230000"

	fullServerHelloHex = "0200007f030332333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505110030405060708090a0b0c0d0e0f101112c02f000047ff010019180102030405060708090a0b0c0d0e0f101112131415161718001700000023000000100005000302683200000000000b00030200010001000103000500004242000178"
)

func TestHelloEncodingUnchanged(t *testing.T) {
	ordered := fullClientHello()
	ordered.ExtensionOrder = []uint16{ExtALPN, 0x1234, ExtServerName}
	for _, tc := range []struct {
		name string
		msg  message
		want string
	}{
		{"ClientHello", fullClientHello(), fullClientHelloHex},
		{"ClientHello/ExtensionOrder", ordered, orderedClientHelloHex},
		{"ClientHello/device", deviceClientHello(), deviceClientHelloHex},
		{"ServerHello", fullServerHello(), fullServerHelloHex},
	} {
		got := tc.msg.Marshal()
		if hex.EncodeToString(got) != tc.want {
			t.Errorf("%s: encoding changed:\n got %x\nwant %s", tc.name, got, tc.want)
		}
		if raw := reflect.ValueOf(tc.msg).Elem().FieldByName("Raw").Bytes(); !bytes.Equal(raw, got) {
			t.Errorf("%s: Raw is not the encoding", tc.name)
		}
		if _, ok := tc.msg.(*ClientHello); ok && cap(got) != len(got) {
			t.Errorf("%s: %d bytes in a buffer of %d: clientHelloLen is off", tc.name, len(got), cap(got))
		}
	}
}

// deviceClientHello is a ClientHello as tlsclient sends it.
func deviceClientHello() *ClientHello {
	return &ClientHello{
		Version:              VersionTLS12,
		Random:               seq(32, 1),
		CipherSuites:         []uint16{TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_EMPTY_RENEGOTIATION_INFO_SCSV},
		CompressionMethods:   []uint8{0},
		ServerName:           "device.example.com",
		SupportedGroups:      []uint16{GroupX25519, GroupP256},
		PointFormats:         []uint8{0},
		SignatureAlgorithms:  []uint16{SigECDSAP256SHA256, SigRSAPSSRSAESHA256, SigRSAPKCS1SHA256},
		ExtendedMasterSecret: true,
		SecureRenegotiation:  true,
		RenegotiationInfo:    []byte{},
		TicketSupported:      true,
	}
}

func BenchmarkClientHelloMarshal(b *testing.B) {
	for _, bc := range []struct {
		name string
		h    *ClientHello
	}{{"device", deviceClientHello()}, {"full", fullClientHello()}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.h.MarshalChecked(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestClientHelloLimits covers the fields one by one, empty, present, at
// and over their length limits, and which error wins when several rules
// break. What encodes must parse back to the same fields and encode again
// to the same bytes, in a buffer of exactly its size.
func TestClientHelloLimits(t *testing.T) {
	const (
		tooLong   = "a field is too long for its length prefix"
		emptyALPN = "empty ALPN protocol"
		duplicate = "duplicate extension"
	)
	long := func(n int) []byte { return bytes.Repeat([]byte{'a'}, n) }
	many := func(n int) []uint16 {
		v := make([]uint16, n)
		for i := range v {
			v[i] = uint16(i)
		}
		return v
	}
	minimal := func(h *ClientHello) {
		*h = ClientHello{Version: VersionTLS12, Random: seq(32, 0), CipherSuites: []uint16{1}}
	}
	cases := []struct {
		name   string
		mutate func(h *ClientHello)
		err    string // "" if it encodes
	}{
		{"as is", func(h *ClientHello) {}, ""},
		{"minimal", minimal, ""},
		{"zero random", func(h *ClientHello) { *h = ClientHello{Version: VersionTLS10, CipherSuites: []uint16{1}} }, ""},
		{"no extensions", func(h *ClientHello) {
			*h = ClientHello{Version: VersionTLS12, Random: seq(32, 0), CipherSuites: []uint16{1, 2}, CompressionMethods: []uint8{0, 1}}
		}, ""},
		{"empty ticket", func(h *ClientHello) { h.SessionTicket = nil }, ""},
		{"empty reneg", func(h *ClientHello) { h.RenegotiationInfo = nil }, ""},
		{"no ems, no mfl", func(h *ClientHello) { h.ExtendedMasterSecret, h.MaxFragmentLength = false, 0 }, ""},
		{"order", func(h *ClientHello) { h.ExtensionOrder = []uint16{ExtMaxFragmentLength, 0x1234, ExtALPN, ExtALPN, 999} }, ""},
		{"ticket 65535", func(h *ClientHello) { h.SessionTicket = long(65535) }, tooLong},
		{"ticket 65536", func(h *ClientHello) { h.SessionTicket = long(65536) }, tooLong},
		{"reneg 255", func(h *ClientHello) { h.RenegotiationInfo = long(255) }, ""},
		{"reneg 256", func(h *ClientHello) { h.RenegotiationInfo = long(256) }, tooLong},
		{"alpn 255", func(h *ClientHello) { h.ALPNProtocols = []string{string(long(255)), "x"} }, ""},
		{"alpn 256", func(h *ClientHello) { h.ALPNProtocols = []string{string(long(256))} }, tooLong},
		{"alpn empty", func(h *ClientHello) { h.ALPNProtocols = []string{"h2", ""} }, emptyALPN},
		{"alpn long then empty", func(h *ClientHello) { h.ALPNProtocols = []string{string(long(256)), ""} }, emptyALPN},
		{"point formats 255", func(h *ClientHello) { h.PointFormats = long(255) }, ""},
		{"point formats 256", func(h *ClientHello) { h.PointFormats = long(256) }, tooLong},
		{"groups 32767", func(h *ClientHello) { h.SupportedGroups = many(32767) }, tooLong},
		{"groups 32768", func(h *ClientHello) { h.SupportedGroups = many(32768) }, tooLong},
		{"sigalgs 32768", func(h *ClientHello) { h.SignatureAlgorithms = many(32768) }, tooLong},
		{"suites 32767", func(h *ClientHello) { h.CipherSuites = many(32767) }, ""},
		{"suites 32768", func(h *ClientHello) { h.CipherSuites = many(32768) }, tooLong},
		{"compression 255", func(h *ClientHello) { h.CompressionMethods = long(255) }, ""},
		{"compression 256", func(h *ClientHello) { h.CompressionMethods = long(256) }, tooLong},
		{"extra 65536", func(h *ClientHello) { h.Extra = []Extension{{Type: 0x4444, Data: long(65536)}} }, tooLong},
		// The extensions block holds 65535 bytes: 4 for the header of the
		// one extension, 65531 for its body.
		{"block full", func(h *ClientHello) {
			minimal(h)
			h.Extra = []Extension{{Type: 0x4444, Data: long(65531)}}
		}, ""},
		{"block over", func(h *ClientHello) {
			minimal(h)
			h.Extra = []Extension{{Type: 0x4444, Data: long(65532)}}
		}, tooLong},
		{"groups fill the block", func(h *ClientHello) { minimal(h); h.SupportedGroups = many(32764) }, ""},
		{"groups over the block", func(h *ClientHello) { minimal(h); h.SupportedGroups = many(32765) }, tooLong},
		{"two extensions over the block", func(h *ClientHello) {
			h.Extra = []Extension{{Type: 0x4444, Data: long(40000)}, {Type: 0x4445, Data: long(40000)}}
		}, tooLong},
		{"duplicate extra", func(h *ClientHello) { h.Extra = append(h.Extra, Extension{Type: ExtServerName}) }, duplicate},
		{"duplicate in extra", func(h *ClientHello) { h.Extra = []Extension{{Type: 7}, {Type: 7}} }, duplicate},
		{"duplicate, reordered", func(h *ClientHello) {
			h.Extra = []Extension{{Type: 7}, {Type: 7}}
			h.ExtensionOrder = []uint16{7, 7}
		}, duplicate},
		// Over maxStackExtensions the duplicate check takes its other path.
		{"100 extensions", func(h *ClientHello) { h.Extra = manyExtensions(100, -1) }, ""},
		{"100 extensions, first and last the same", func(h *ClientHello) { h.Extra = manyExtensions(100, 0) }, duplicate},
		{"100 extensions, one a field's", func(h *ClientHello) {
			h.Extra = manyExtensions(100, -1)
			h.Extra[50].Type = ExtALPN
		}, duplicate},
		{"suites too long, alpn empty", func(h *ClientHello) { h.CipherSuites = many(32768); h.ALPNProtocols = []string{""} }, emptyALPN},
		{"suites too long, duplicate", func(h *ClientHello) { h.CipherSuites = many(32768); h.Extra = []Extension{{Type: 7}, {Type: 7}} }, duplicate},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := fullClientHello()
			tc.mutate(h)
			out, err := h.MarshalChecked()
			if tc.err != "" {
				if want := "handshake: cannot marshal: " + tc.err; err == nil || err.Error() != want {
					t.Fatalf("err = %v, want %s", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkReencoding(t, h, out)
		})
	}
}

// checkReencoding checks out, h's encoding: it fills its buffer exactly,
// lists its extensions in the order ExtensionTypes gives, and parses back
// to a hello that, in the same order, encodes to the same bytes.
func checkReencoding(t *testing.T, h *ClientHello, out []byte) {
	t.Helper()
	if cap(out) != len(out) {
		t.Errorf("%d bytes in a buffer of %d: clientHelloLen is off", len(out), cap(out))
	}
	if got, want := wireExtensions(t, out), h.ExtensionTypes(); !slices.Equal(got, want) {
		t.Fatalf("extensions on the wire %v, ExtensionTypes %v", got, want)
	}
	var back ClientHello
	if err := back.Unmarshal(out); err != nil {
		t.Fatalf("encoding does not parse: %v", err)
	}
	back.ExtensionOrder = h.ExtensionOrder
	again, err := back.MarshalChecked()
	if err != nil || !bytes.Equal(again, out) {
		t.Fatalf("parsed and encoded again: %x (%v), want %x", again, err, out)
	}
}

// wireExtensions reads the extension types of an encoded ClientHello in
// the order they are on the wire; none without an extensions block.
func wireExtensions(t *testing.T, msg []byte) []uint16 {
	t.Helper()
	s := cryptobyte.String(msg[4:])
	var sid, suites, comp, exts cryptobyte.String
	if !s.Skip(2+RandomLen) || !s.ReadUint8LengthPrefixed(&sid) || !s.ReadUint16LengthPrefixed(&suites) ||
		!s.ReadUint8LengthPrefixed(&comp) {
		t.Fatalf("bad hello %x", msg)
	}
	if s.Empty() {
		return []uint16{}
	}
	if !s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
		t.Fatalf("bad extensions block in %x", msg)
	}
	types := []uint16{}
	for !exts.Empty() {
		var typ uint16
		var body cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&body) {
			t.Fatalf("bad extensions %x", msg)
		}
		types = append(types, typ)
	}
	return types
}

// FuzzClientHelloEncoding: any ClientHello our parser accepts encodes, in
// any ExtensionOrder (read from order, two bytes a type), to bytes that
// checkReencoding accepts; in the default order, it parses back to the
// same fields.
func FuzzClientHelloEncoding(f *testing.F) {
	f.Add(fullClientHello().Marshal(), []byte(nil))
	f.Add(deviceClientHello().Marshal(), []byte{0xff, 0x01, 0, 35, 0, 0})
	f.Add(unhex(f, orderedClientHelloHex), []byte{0x12, 0x34, 0, 16, 0, 99})
	f.Fuzz(func(t *testing.T, b, order []byte) {
		var h ClientHello
		if h.Unmarshal(b) != nil {
			return
		}
		for i := 0; i+1 < len(order); i += 2 {
			h.ExtensionOrder = append(h.ExtensionOrder, binary.BigEndian.Uint16(order[i:]))
		}
		out, err := h.MarshalChecked()
		if err != nil {
			t.Fatalf("a hello the parser accepted does not encode: %v", err)
		}
		checkReencoding(t, &h, out)
		if h.ExtensionOrder != nil {
			return
		}
		var back ClientHello
		if err := back.Unmarshal(out); err != nil {
			t.Fatal(err)
		}
		back.Raw = h.Raw
		if !reflect.DeepEqual(&back, &h) {
			t.Fatalf("fields changed:\n got %+v\nwant %+v", &back, &h)
		}
	})
}

// TestBytesMessageMatchesBuilder: ClientKeyExchange and Finished encode as
// the builder-based marshalMessage did, empty and over-long bodies included.
func TestBytesMessageMatchesBuilder(t *testing.T) {
	for _, n := range []int{0, 1, 12, 33, 65, 257, 1 << 16, maxHandshakeBody + 1} {
		body := seq(n, 3)
		for _, typ := range []uint8{TypeClientKeyExchange, TypeFinished} {
			want := marshalMessage(typ, func(b *cryptobyte.Builder) { b.AddBytes(body) })
			if got := marshalBytesMessage(typ, body); !bytes.Equal(got, want) || (got == nil) != (want == nil) {
				t.Errorf("type %d, %d-byte body: got %d bytes (nil %v), want %d (nil %v)", typ, n, len(got), got == nil, len(want), want == nil)
			}
		}
	}
	cke := &ClientKeyExchange{Body: seq(33, 1)}
	if got := cke.Marshal(); len(got) != 37 || got[0] != TypeClientKeyExchange || !bytes.Equal(cke.Raw, got) {
		t.Errorf("ClientKeyExchange.Marshal = %x", got)
	}
	fin := &Finished{VerifyData: seq(12, 1)}
	if got := fin.Marshal(); len(got) != 16 || got[3] != 12 || !bytes.Equal(fin.Raw, got) {
		t.Errorf("Finished.Marshal = %x", got)
	}
}

func BenchmarkFinishedMarshal(b *testing.B) {
	b.ReportAllocs()
	fin := &Finished{VerifyData: seq(12, 1)}
	for b.Loop() {
		fin.Marshal()
	}
}

// TestClientHelloStatusRequest: OCSPStapling sends the OCSP request with
// empty lists (RFC 6066 §8) and is what Unmarshal decodes that body into;
// any other status_request round-trips through Extra; the two at once are
// a duplicate.
func TestClientHelloStatusRequest(t *testing.T) {
	h := deviceClientHello()
	h.OCSPStapling = true
	b, err := h.MarshalChecked()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte{0, 5, 0, 5, 1, 0, 0, 0, 0}) || !slices.Contains(h.ExtensionTypes(), ExtStatusRequest) {
		t.Errorf("status_request not sent as ocsp with empty lists: %x", b)
	}
	var back ClientHello
	if err := back.Unmarshal(b); err != nil || !back.OCSPStapling || len(back.Extra) != 0 {
		t.Errorf("Unmarshal: OCSPStapling %v, Extra %v, err %v", back.OCSPStapling, back.Extra, err)
	}
	h.OCSPStapling = false
	if b := h.Marshal(); bytes.Contains(b, []byte{0, 5, 0, 5}) || slices.Contains(h.ExtensionTypes(), ExtStatusRequest) {
		t.Error("status_request sent with OCSPStapling false")
	}

	responders := Extension{Type: ExtStatusRequest, Data: []byte{1, 0, 3, 0, 1, 7, 0, 0}}
	back = ClientHello{}
	if err := back.Unmarshal(helloWithExtensions(t, false, responders)); err != nil {
		t.Fatal(err)
	}
	if back.OCSPStapling || len(back.Extra) != 1 || !bytes.Equal(back.Extra[0].Data, responders.Data) {
		t.Errorf("a status_request with responders: OCSPStapling %v, Extra %v", back.OCSPStapling, back.Extra)
	}

	h.OCSPStapling = true
	h.Extra = []Extension{responders}
	if _, err := h.MarshalChecked(); err == nil {
		t.Error("OCSPStapling and a status_request in Extra: no duplicate error")
	}
}

// manyExtensions is n empty extensions of distinct private-use types, the
// last of the same type as the dup-th when dup ≥ 0.
func manyExtensions(n, dup int) []Extension {
	e := make([]Extension, n)
	for i := range e {
		e[i].Type = 0xf000 + uint16(i)*7
	}
	if dup >= 0 {
		e[n-1].Type = e[dup].Type
	}
	return e
}
