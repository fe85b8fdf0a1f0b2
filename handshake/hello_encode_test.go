package handshake

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

// fullClientHelloHex and orderedClientHelloHex are fullClientHello's
// encoding, in the default extension order and with ExtensionOrder set,
// as the nested-builder encoder produced them before hello_encode.go.
const (
	fullClientHelloHex = "010000e203030102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20206465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182830006c02b009c00ff0100009300000010000e00000b6578616d706c652e636f6d000a00060004001d0017000b00020100000d00060004040308040010000e000c02683208687474702f312e3100170000ff01000d0c0708090a0b0c0d0e0f10111200230028090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30000100010200050005010000000012340000"

	orderedClientHelloHex = "010000e203030102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20206465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182830006c02b009c00ff010000930010000e000c02683208687474702f312e311234000000000010000e00000b6578616d706c652e636f6d000a00060004001d0017000b00020100000d000600040403080400170000ff01000d0c0708090a0b0c0d0e0f10111200230028090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f300001000102000500050100000000"
)

func TestClientHelloEncodingUnchanged(t *testing.T) {
	for _, tc := range []struct {
		name  string
		order []uint16
		want  string
	}{
		{"default order", nil, fullClientHelloHex},
		{"ExtensionOrder", []uint16{ExtALPN, 0x1234, ExtServerName}, orderedClientHelloHex},
	} {
		h := fullClientHello()
		h.ExtensionOrder = tc.order
		got, err := h.MarshalChecked()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if hex.EncodeToString(got) != tc.want {
			t.Errorf("%s: encoding changed:\n got %x\nwant %s", tc.name, got, tc.want)
		}
		if !bytes.Equal(h.Raw, got) {
			t.Errorf("%s: Raw is not the encoding", tc.name)
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

// marshalNested is the nested-builder encoding (one cryptobyte builder per
// extension, one child builder per length prefix) the encoder had before
// hello_encode.go, kept as the reference the fast path is checked against.
func marshalNested(m *ClientHello) ([]byte, error) {
	random, err := helloRandom(m.Random)
	if err != nil {
		return nil, err
	}
	var l extensionList
	add := l.add
	if m.ServerName != "" {
		add(ExtServerName, func(b *cryptobyte.Builder) {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				b.AddUint8(0)
				addBytes16(b, []byte(m.ServerName))
			})
		})
	}
	if len(m.SupportedGroups) > 0 {
		add(ExtSupportedGroups, func(b *cryptobyte.Builder) { addUint16s(b, m.SupportedGroups) })
	}
	if len(m.PointFormats) > 0 {
		add(ExtECPointFormats, func(b *cryptobyte.Builder) { addBytes8(b, m.PointFormats) })
	}
	if len(m.SignatureAlgorithms) > 0 {
		add(ExtSignatureAlgorithms, func(b *cryptobyte.Builder) { addUint16s(b, m.SignatureAlgorithms) })
	}
	if len(m.ALPNProtocols) > 0 {
		add(ExtALPN, func(b *cryptobyte.Builder) {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				for _, p := range m.ALPNProtocols {
					if p == "" {
						b.SetError(builderError("empty ALPN protocol"))
						return
					}
					addBytes8(b, []byte(p))
				}
			})
		})
	}
	if m.ExtendedMasterSecret {
		add(ExtExtendedMasterSecret, func(*cryptobyte.Builder) {})
	}
	if m.SecureRenegotiation {
		add(ExtRenegotiationInfo, func(b *cryptobyte.Builder) { addBytes8(b, m.RenegotiationInfo) })
	}
	if m.TicketSupported {
		add(ExtSessionTicket, func(b *cryptobyte.Builder) { b.AddBytes(m.SessionTicket) })
	}
	if m.MaxFragmentLength != 0 {
		add(ExtMaxFragmentLength, func(b *cryptobyte.Builder) { b.AddUint8(m.MaxFragmentLength) })
	}
	l.exts = append(l.exts, m.Extra...)
	if l.err != nil {
		return nil, l.err
	}
	exts := refOrderExtensions(l.exts, m.ExtensionOrder)
	var mb cryptobyte.Builder
	mb.AddUint8(TypeClientHello)
	mb.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(m.Version)
		b.AddBytes(random)
		addBytes8(b, m.SessionID)
		addUint16s(b, m.CipherSuites)
		if len(m.CompressionMethods) == 0 {
			addBytes8(b, []byte{0})
		} else {
			addBytes8(b, m.CompressionMethods)
		}
		if len(exts) == 0 {
			return
		}
		seen := extensionSeen{}
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, e := range exts {
				if !seen.add(e.Type) {
					b.SetError(builderError("duplicate extension"))
					return
				}
				b.AddUint16(e.Type)
				addBytes16(b, e.Data)
			}
		})
	})
	return mb.Bytes()
}

// extensionList collects extensions built with cryptobyte, keeping the
// first error of a body that does not fit its length prefixes.
type extensionList struct {
	exts []Extension
	err  error
}

func (l *extensionList) add(t uint16, f func(b *cryptobyte.Builder)) {
	var b cryptobyte.Builder
	f(&b)
	data, err := b.Bytes()
	if err != nil && l.err == nil {
		l.err = err
	}
	l.exts = append(l.exts, Extension{Type: t, Data: data})
}

// refOrderExtensions is the ordering the reference encoder had: the listed
// types first, each taking the first unused extension of its type, then
// the rest in order.
func refOrderExtensions(exts []Extension, order []uint16) []Extension {
	if len(order) == 0 || len(exts) < 2 {
		return exts
	}
	out := make([]Extension, 0, len(exts))
	used := make([]bool, len(exts))
	for _, t := range order {
		for i, e := range exts {
			if !used[i] && e.Type == t {
				out = append(out, e)
				used[i] = true
				break
			}
		}
	}
	for i, e := range exts {
		if !used[i] {
			out = append(out, e)
		}
	}
	return out
}

// checkSameEncoding fails if MarshalChecked and the nested-builder
// reference disagree: both succeed with the same bytes, or both fail.
func checkSameEncoding(t *testing.T, h *ClientHello) {
	t.Helper()
	want, werr := marshalNested(h)
	got, gerr := h.MarshalChecked()
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("reference error %v, MarshalChecked error %v", werr, gerr)
	}
	if gerr == nil && !bytes.Equal(got, want) {
		t.Fatalf("encoding differs:\n got %x\nwant %x", got, want)
	}
	var be builderError
	if gerr != nil && !errors.As(gerr, &be) {
		t.Fatalf("error %v is not a builderError", gerr)
	}
}

// TestClientHelloEncodingMatchesNested covers the fields one by one,
// empty, present, at and over their length limits.
func TestClientHelloEncodingMatchesNested(t *testing.T) {
	long := func(n int) []byte { return bytes.Repeat([]byte{'a'}, n) }
	many := func(n int) []uint16 {
		v := make([]uint16, n)
		for i := range v {
			v[i] = uint16(i)
		}
		return v
	}
	cases := map[string]func(h *ClientHello){
		"as is":   func(h *ClientHello) {},
		"minimal": func(h *ClientHello) { *h = ClientHello{Version: VersionTLS10, CipherSuites: []uint16{1}} },
		"no extensions": func(h *ClientHello) {
			*h = ClientHello{Version: VersionTLS12, Random: seq(32, 0), CipherSuites: []uint16{1, 2}, CompressionMethods: []uint8{0, 1}}
		},
		"empty ticket":         func(h *ClientHello) { h.SessionTicket = nil },
		"empty reneg":          func(h *ClientHello) { h.RenegotiationInfo = nil },
		"no ems, no mfl":       func(h *ClientHello) { h.ExtendedMasterSecret, h.MaxFragmentLength = false, 0 },
		"ticket 65535":         func(h *ClientHello) { h.Extra = nil; h.SessionTicket = long(65535) },
		"ticket 65536":         func(h *ClientHello) { h.SessionTicket = long(65536) },
		"reneg 255":            func(h *ClientHello) { h.RenegotiationInfo = long(255) },
		"reneg 256":            func(h *ClientHello) { h.RenegotiationInfo = long(256) },
		"alpn 255":             func(h *ClientHello) { h.ALPNProtocols = []string{string(long(255)), "x"} },
		"alpn 256":             func(h *ClientHello) { h.ALPNProtocols = []string{string(long(256))} },
		"alpn empty":           func(h *ClientHello) { h.ALPNProtocols = []string{"h2", ""} },
		"alpn long then empty": func(h *ClientHello) { h.ALPNProtocols = []string{string(long(256)), ""} },
		"point formats 256":    func(h *ClientHello) { h.PointFormats = long(256) },
		"groups 32767":         func(h *ClientHello) { h.SupportedGroups = many(32767) },
		"groups 32768":         func(h *ClientHello) { h.SupportedGroups = many(32768) },
		"sigalgs 32768":        func(h *ClientHello) { h.SignatureAlgorithms = many(32768) },
		"suites 32768":         func(h *ClientHello) { h.CipherSuites = many(32768) },
		"compression 256":      func(h *ClientHello) { h.CompressionMethods = long(256) },
		"extra 65536":          func(h *ClientHello) { h.Extra = []Extension{{Type: 0x4444, Data: long(65536)}} },
		"extension block over": func(h *ClientHello) {
			h.Extra = []Extension{{Type: 0x4444, Data: long(40000)}, {Type: 0x4445, Data: long(40000)}}
		},
		"duplicate extra":     func(h *ClientHello) { h.Extra = append(h.Extra, Extension{Type: ExtServerName}) },
		"duplicate in extra":  func(h *ClientHello) { h.Extra = []Extension{{Type: 7}, {Type: 7}} },
		"order":               func(h *ClientHello) { h.ExtensionOrder = []uint16{ExtMaxFragmentLength, 0x1234, ExtALPN, ExtALPN, 999} },
		"suites and alpn bad": func(h *ClientHello) { h.CipherSuites = many(32768); h.ALPNProtocols = []string{""} },
		"suites bad and dup":  func(h *ClientHello) { h.CipherSuites = many(32768); h.Extra = []Extension{{Type: 7}, {Type: 7}} },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			h := fullClientHello()
			f(h)
			checkSameEncoding(t, h)
		})
	}
}

// FuzzClientHelloEncoding: any ClientHello our parser accepts, re-encoded,
// gives the nested-builder reference's bytes.
func FuzzClientHelloEncoding(f *testing.F) {
	f.Add(fullClientHello().Marshal())
	f.Add(deviceClientHello().Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		var h ClientHello
		if h.Unmarshal(b) != nil {
			return
		}
		checkSameEncoding(t, &h)
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
