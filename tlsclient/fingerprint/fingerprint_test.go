package fingerprint_test

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	utls "github.com/refraction-networking/utls"
	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/tlsclient/fingerprint"
)

// presets are the uTLS ids every test runs; Chrome 83 carries padding.
var presets = []utls.ClientHelloID{
	utls.HelloChrome_Auto, utls.HelloFirefox_Auto, utls.HelloSafari_Auto, utls.HelloEdge_Auto,
	utls.HelloIOS_Auto, utls.HelloChrome_120, utls.HelloChrome_83,
}

// tls13Only are extension types no TLS 1.2 hello may carry after shaping
// (and those dropped because tlsclient cannot honour them).
var tls13Only = map[uint16]string{
	41: "pre_shared_key", 42: "early_data", 43: "supported_versions", 44: "cookie",
	45: "psk_key_exchange_modes", 49: "post_handshake_auth", 50: "signature_algorithms_cert",
	51: "key_share", 27: "compress_certificate", 17513: "application_settings",
	17613: "application_settings (new)", 0xfe0d: "encrypted_client_hello", 34: "delegated_credentials",
	28: "record_size_limit", 13172: "next_protocol_negotiation", 30032: "channel_id",
}

// deviceHello is the hello tlsclient builds with a default Config (see
// sendClientHello in tlsclient/handshake_client.go).
func deviceHello(random byte) *handshake.ClientHello {
	var suites []uint16
	for _, s := range handshake.Suites {
		suites = append(suites, s.ID)
	}
	return &handshake.ClientHello{
		Version:              handshake.VersionTLS12,
		Random:               bytes.Repeat([]byte{random}, 32),
		SessionID:            []byte{},
		CipherSuites:         suites,
		CompressionMethods:   []uint8{0},
		ServerName:           "server.test",
		SupportedGroups:      handshake.DefaultGroups,
		PointFormats:         []uint8{0},
		SignatureAlgorithms:  handshake.DefaultSignatureAlgorithms,
		ALPNProtocols:        []string{"h2", "http/1.1"},
		ExtendedMasterSecret: true,
		SecureRenegotiation:  true,
		RenegotiationInfo:    []byte{},
		TicketSupported:      true,
		OCSPStapling:         true,
	}
}

// helloInfo is what JA3 records of a ClientHello, read straight from its
// bytes with a parser of the test's own.
type helloInfo struct {
	version uint16
	suites  []uint16
	exts    []uint16
	groups  []uint16
	formats []uint8
	sigAlgs []uint16
	padding int // padding extension's body length, -1 if absent
}

func parseHello(t *testing.T, msg []byte) helloInfo {
	t.Helper()
	info := helloInfo{padding: -1}
	s := cryptobyte.String(msg)
	var typ uint8
	var body, sid, suites, comp, exts cryptobyte.String
	if !s.ReadUint8(&typ) || typ != 1 || !s.ReadUint24LengthPrefixed(&body) || !s.Empty() ||
		!body.ReadUint16(&info.version) || !body.Skip(32) || !body.ReadUint8LengthPrefixed(&sid) ||
		!body.ReadUint16LengthPrefixed(&suites) || !body.ReadUint8LengthPrefixed(&comp) ||
		!body.ReadUint16LengthPrefixed(&exts) || !body.Empty() {
		t.Fatalf("unparsable ClientHello %x", msg)
	}
	for !suites.Empty() {
		var v uint16
		suites.ReadUint16(&v)
		info.suites = append(info.suites, v)
	}
	for !exts.Empty() {
		var et uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&et) || !exts.ReadUint16LengthPrefixed(&data) {
			t.Fatalf("bad extensions in %x", msg)
		}
		info.exts = append(info.exts, et)
		switch et {
		case handshake.ExtSupportedGroups:
			info.groups = uint16List(t, data)
		case handshake.ExtSignatureAlgorithms:
			info.sigAlgs = uint16List(t, data)
		case handshake.ExtECPointFormats:
			var f cryptobyte.String
			data.ReadUint8LengthPrefixed(&f)
			info.formats = append([]uint8(nil), f...)
		case 21:
			info.padding = len(data)
		}
	}
	return info
}

func uint16List(t *testing.T, data cryptobyte.String) []uint16 {
	var l cryptobyte.String
	if !data.ReadUint16LengthPrefixed(&l) {
		t.Fatal("bad list")
	}
	var out []uint16
	for !l.Empty() {
		var v uint16
		l.ReadUint16(&v)
		out = append(out, v)
	}
	return out
}

// extName names an extension type for an order check, GREASE as "G".
func extName(e uint16) string {
	if isGREASE(e) {
		return "G"
	}
	return fmt.Sprint(e)
}

func isGREASE(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>12 == (v>>4)&0xf }

// ja3 is the JA3 string (version,suites,extensions,groups,formats) with
// GREASE left out, as JA3 does, and padding left out too (its presence
// depends on the hello's length, which shaping changes). keep filters the
// suites, extensions and groups.
func ja3(info helloInfo, keepSuite, keepExt, keepGroup func(uint16) bool) string {
	join := func(l []uint16, keep func(uint16) bool) string {
		var parts []string
		for _, v := range l {
			if !isGREASE(v) && keep(v) {
				parts = append(parts, fmt.Sprint(v))
			}
		}
		return strings.Join(parts, "-")
	}
	var formats []string
	for _, f := range info.formats {
		formats = append(formats, fmt.Sprint(f))
	}
	notPadding := func(v uint16) bool { return v != 21 && keepExt(v) }
	return fmt.Sprintf("%d,%s,%s,%s,%s", info.version, join(info.suites, keepSuite), join(info.exts, notPadding),
		join(info.groups, keepGroup), strings.Join(formats, "-"))
}

// utlsHello is the ClientHello uTLS itself sends for spec.
func utlsHello(t *testing.T, spec *utls.ClientHelloSpec) []byte {
	t.Helper()
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	u := utls.UClient(c1, &utls.Config{ServerName: "server.test"}, utls.HelloCustom)
	if err := u.ApplyPreset(spec); err != nil {
		t.Fatal(err)
	}
	if err := u.BuildHandshakeState(); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), u.HandshakeState.Hello.Raw...)
}

func shaped(t *testing.T, s *fingerprint.Shaper, h *handshake.ClientHello) []byte {
	t.Helper()
	if err := s.Shape(h); err != nil {
		t.Fatal(err)
	}
	msg, err := h.MarshalChecked()
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// TestPresets shapes the default device hello after each preset and checks
// it against the hello uTLS sends for the same spec.
func TestPresets(t *testing.T) {
	for _, id := range presets {
		t.Run(id.Str(), func(t *testing.T) {
			spec, err := utls.UTLSIdToSpec(id)
			if err != nil {
				t.Fatal(err)
			}
			s, err := fingerprint.FromSpec(&spec)
			if err != nil {
				t.Fatal(err)
			}
			ref := parseHello(t, utlsHello(t, &spec))

			dev := deviceHello(0x3c)
			allowedSuites, allowedGroups := dev.CipherSuites, dev.SupportedGroups
			h := deviceHello(0x3c)
			msg := shaped(t, s, h)

			var back handshake.ClientHello
			if err := back.Unmarshal(msg); err != nil {
				t.Fatalf("shaped hello does not parse: %v", err)
			}
			got := parseHello(t, msg)
			if got.version != handshake.VersionTLS12 {
				t.Errorf("version %#04x", got.version)
			}
			for _, v := range got.suites {
				if !isGREASE(v) && !slices.Contains(allowedSuites, v) {
					t.Errorf("suite %#04x offered, not allowed", v)
				}
				if v>>8 == 0x13 {
					t.Errorf("TLS 1.3 suite %#04x offered", v)
				}
			}
			for _, g := range got.groups {
				if !isGREASE(g) && !slices.Contains(allowedGroups, g) {
					t.Errorf("group %d offered, not allowed (post-quantum or hybrid?)", g)
				}
			}
			for _, a := range got.sigAlgs {
				if !isGREASE(a) && !slices.Contains(dev.SignatureAlgorithms, a) {
					t.Errorf("signature algorithm %#04x offered, not allowed", a)
				}
			}
			for _, e := range got.exts {
				if name, bad := tls13Only[e]; bad {
					t.Errorf("extension %d (%s) offered", e, name)
				}
			}
			if back.ServerName != "server.test" || fmt.Sprint(back.ALPNProtocols) != "[h2 http/1.1]" {
				t.Errorf("SNI %q ALPN %v, want the device's", back.ServerName, back.ALPNProtocols)
			}

			// Extension order: the shaped hello's types, padding aside, are
			// the spec's in the spec's order, GREASE where the spec has it,
			// minus those dropped.
			keepExt := func(e uint16) bool { _, bad := tls13Only[e]; return !bad }
			var want, have []string
			for _, e := range ref.exts {
				if e != 21 && keepExt(e) {
					want = append(want, extName(e))
				}
			}
			for _, e := range got.exts {
				if e != 21 {
					have = append(have, extName(e))
				}
			}
			if !slices.Equal(have, want) {
				t.Errorf("extension order %v, want the spec's %v", have, want)
			}

			inSuites := func(v uint16) bool { return slices.Contains(allowedSuites, v) }
			inGroups := func(v uint16) bool { return slices.Contains(allowedGroups, v) }
			all := func(uint16) bool { return true }
			wantJA3 := ja3(ref, inSuites, keepExt, inGroups)
			gotJA3 := ja3(got, all, all, all)
			if gotJA3 != wantJA3 {
				t.Errorf("JA3\n got %s\nwant %s", gotJA3, wantJA3)
			}
			t.Logf("JA3 %s", gotJA3)
			// The reference is the spec's fingerprint, not ours: its
			// version is TLS 1.2 in legacy_version too.
			if ref.version != handshake.VersionTLS12 && ref.version != handshake.VersionTLS10 {
				t.Logf("uTLS legacy_version %#04x", ref.version)
			}
		})
	}
}

// TestGREASE checks GREASE lands where the spec puts it, follows RFC 8701,
// and is drawn from the hello random: the same random gives the same
// hello, and the two GREASE extensions differ.
func TestGREASE(t *testing.T) {
	s, err := fingerprint.FromID(utls.HelloChrome_Auto)
	if err != nil {
		t.Fatal(err)
	}
	a := shaped(t, s, deviceHello(0x11))
	b := shaped(t, s, deviceHello(0x11))
	if !bytes.Equal(a, b) {
		t.Error("same random, different hellos")
	}
	seen := map[uint16]bool{}
	for r := 0; r < 256; r += 0x10 {
		info := parseHello(t, shaped(t, s, deviceHello(byte(r))))
		if !isGREASE(info.suites[0]) || !isGREASE(info.groups[0]) {
			t.Fatalf("random %#x: suites %x groups %x, want GREASE first", r, info.suites, info.groups)
		}
		want := uint16(r&0xf0|0x0a) * 0x0101
		if info.suites[0] != want || info.groups[0] != want {
			t.Errorf("random %#x: GREASE suite %#04x group %#04x, want %#04x", r, info.suites[0], info.groups[0], want)
		}
		var greaseExts []uint16
		for _, e := range info.exts {
			if isGREASE(e) {
				greaseExts = append(greaseExts, e)
			}
		}
		if len(greaseExts) != 2 || greaseExts[0] == greaseExts[1] {
			t.Errorf("random %#x: GREASE extensions %x, want two distinct", r, greaseExts)
		}
		if info.exts[0] != greaseExts[0] || info.exts[len(info.exts)-1] != greaseExts[1] {
			t.Errorf("random %#x: GREASE extensions not first and last: %v", r, info.exts)
		}
		seen[info.suites[0]] = true
	}
	if len(seen) != 16 {
		t.Errorf("%d distinct GREASE values over 16 randoms", len(seen))
	}
	// The second GREASE extension carries one zero byte, as Chrome's does.
	var h handshake.ClientHello
	if err := h.Unmarshal(a); err != nil {
		t.Fatal(err)
	}
	var bodies [][]byte
	for _, e := range h.Extra {
		if isGREASE(e.Type) {
			bodies = append(bodies, e.Data)
		}
	}
	if len(bodies) != 2 || len(bodies[0]) != 0 || !bytes.Equal(bodies[1], []byte{0}) {
		t.Errorf("GREASE bodies %x", bodies)
	}
}

// TestPadding checks padding follows the spec's rule (BoringSSL's: a hello
// of 256 to 511 bytes is padded to 512) for the hello actually sent.
func TestPadding(t *testing.T) {
	s, err := fingerprint.FromID(utls.HelloChrome_83)
	if err != nil {
		t.Fatal(err)
	}
	padded, unpaddedSeen := 0, 0
	for n := 1; n < 300; n += 7 {
		h := deviceHello(1)
		h.ServerName = strings.Repeat("a", n) + ".test"
		msg := shaped(t, s, h)
		info := parseHello(t, msg)
		// The same hello without its padding extension.
		var back handshake.ClientHello
		if err := back.Unmarshal(msg); err != nil {
			t.Fatal(err)
		}
		back.Extra = slices.DeleteFunc(back.Extra, func(e handshake.Extension) bool { return e.Type == 21 })
		unpadded := len(back.Marshal())
		switch {
		case unpadded > 0xff && unpadded < 0x200-4:
			if info.padding < 0 || len(msg) != 0x200 {
				t.Errorf("unpadded %d: padding %d, hello %d bytes, want 512", unpadded, info.padding, len(msg))
			}
			if info.exts[len(info.exts)-1] != 21 {
				t.Errorf("padding not last: %v", info.exts)
			}
			padded++
		case unpadded >= 0x200-4 && unpadded < 0x200:
			if info.padding != 1 {
				t.Errorf("unpadded %d: padding %d, want 1", unpadded, info.padding)
			}
		default:
			if info.padding >= 0 {
				t.Errorf("unpadded %d: padded by %d", unpadded, info.padding)
			}
			unpaddedSeen++
		}
	}
	if padded == 0 || unpaddedSeen == 0 {
		t.Errorf("padded %d, unpadded %d: the test did not cover both", padded, unpaddedSeen)
	}
}

// TestRestrictedDevice shapes for a device that allows less than the spec
// offers: only what the device allows is offered.
func TestRestrictedDevice(t *testing.T) {
	s, err := fingerprint.FromID(utls.HelloFirefox_Auto)
	if err != nil {
		t.Fatal(err)
	}
	h := deviceHello(2)
	h.CipherSuites = []uint16{handshake.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}
	h.SupportedGroups = []uint16{handshake.GroupP256}
	h.SignatureAlgorithms = []uint16{handshake.SigRSAPSSRSAESHA256, handshake.SigECDSAP256SHA256}
	h.ALPNProtocols = nil
	h.ServerName = "" // an IP literal
	h.ExtendedMasterSecret = false
	info := parseHello(t, shaped(t, s, h))
	// In Firefox's order, not the device's: Firefox lists
	// ECDHE_RSA_AES_128_GCM before ECDHE_ECDSA_CHACHA20, and ECDSA-P256
	// before RSA-PSS.
	if fmt.Sprintf("%#04x", info.suites) != "[0xc02f 0xcca9]" {
		t.Errorf("suites %#04x", info.suites)
	}
	if fmt.Sprint(info.groups) != "[23]" || fmt.Sprintf("%#04x", info.sigAlgs) != "[0x0403 0x0804]" {
		t.Errorf("groups %v sigalgs %#04x", info.groups, info.sigAlgs)
	}
	for _, e := range info.exts {
		switch e {
		case handshake.ExtServerName, handshake.ExtALPN, handshake.ExtExtendedMasterSecret:
			t.Errorf("extension %d sent, the device did not set it", e)
		}
	}

	h = deviceHello(2)
	h.CipherSuites = []uint16{0xc0ff} // none of Firefox's
	if err := s.Shape(h); err == nil || !strings.HasPrefix(err.Error(), "fingerprint: ") {
		t.Errorf("no common suite: %v", err)
	}
	if len(h.CipherSuites) != 1 || h.ExtensionOrder != nil {
		t.Error("a failed Shape changed the hello")
	}
	h = deviceHello(2)
	h.SupportedGroups = []uint16{handshake.GroupP521 + 100}
	if err := s.Shape(h); err == nil {
		t.Error("no common group: shaped")
	}
	h = deviceHello(2)
	h.SignatureAlgorithms = []uint16{0x0101}
	if err := s.Shape(h); err == nil {
		t.Error("no common signature algorithm: shaped")
	}
}

// TestDeviceExtensionsKept: what the device needs and the spec lacks is
// kept, after the spec's extensions and before its padding; what it
// offers of its own is kept with its body.
func TestDeviceExtensionsKept(t *testing.T) {
	spec := &utls.ClientHelloSpec{
		CipherSuites: []uint16{utls.GREASE_PLACEHOLDER, utls.TLS_AES_128_GCM_SHA256, utls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
		Extensions: []utls.TLSExtension{
			&utls.UtlsGREASEExtension{},
			&utls.SessionTicketExtension{},
			&utls.ALPNExtension{AlpnProtocols: []string{"x"}},
			&utls.SupportedVersionsExtension{Versions: []uint16{utls.VersionTLS13, utls.VersionTLS12}},
			&utls.StatusRequestExtension{},
			&utls.SCTExtension{},
			&utls.SNIExtension{},
			&utls.UtlsPaddingExtension{GetPaddingLen: utls.AlwaysPadToLen(600)},
		},
	}
	s, err := fingerprint.FromSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(s.Dropped()); got != "[43]" {
		t.Errorf("Dropped %s", got)
	}
	h := deviceHello(3)
	h.OCSPStapling = false // Config.DisableStatusRequest
	h.MaxFragmentLength = 2
	h.Extra = []handshake.Extension{{Type: 0x7777, Data: []byte{1, 2}}}
	msg := shaped(t, s, h)
	info := parseHello(t, msg)
	// session_ticket, ALPN, SCT, SNI in the spec's order (status_request:
	// not offered by the device), then the device's groups, sigalgs, max
	// fragment length and its own extension, then padding.
	want := "[35 16 18 0 10 13 1 30583 21]"
	var got []uint16
	for _, e := range info.exts {
		if !isGREASE(e) {
			got = append(got, e)
		}
	}
	if fmt.Sprint(got) != want || !isGREASE(info.exts[0]) {
		t.Errorf("extensions %v, want GREASE then %s", info.exts, want)
	}
	if len(msg) != 600 {
		t.Errorf("hello %d bytes, want padded to 600", len(msg))
	}
	var back handshake.ClientHello
	if err := back.Unmarshal(msg); err != nil {
		t.Fatal(err)
	}
	if back.MaxFragmentLength != 2 || fmt.Sprint(back.ALPNProtocols) != "[h2 http/1.1]" ||
		fmt.Sprint(back.SupportedGroups) != fmt.Sprint(handshake.DefaultGroups) {
		t.Errorf("device fields lost: %+v", back)
	}
	var mine bool
	for _, e := range back.Extra {
		mine = mine || e.Type == 0x7777 && bytes.Equal(e.Data, []byte{1, 2})
	}
	if !mine {
		t.Error("the device's own extension was lost")
	}
	if fmt.Sprintf("%#04x", info.suites[1:]) != "[0xc02f]" || !isGREASE(info.suites[0]) {
		t.Errorf("suites %#04x", info.suites)
	}

	// status_request is kept at the spec's place once the device offers
	// it, as tlsclient does by default, with tlsclient's body; so is one
	// the device put in Extra itself.
	h = deviceHello(3)
	msg = shaped(t, s, h)
	info = parseHello(t, msg)
	if i := slices.Index(info.exts, handshake.ExtStatusRequest); i != 3 {
		t.Errorf("status_request at %d in %v, want 3", i, info.exts)
	}
	if !bytes.Contains(msg, []byte{0, 5, 0, 5, 1, 0, 0, 0, 0}) {
		t.Error("status_request not sent as ocsp with empty lists")
	}
	h = deviceHello(3)
	h.OCSPStapling = false
	h.Extra = []handshake.Extension{{Type: handshake.ExtStatusRequest, Data: []byte{1, 0, 0, 0, 0}}}
	info = parseHello(t, shaped(t, s, h))
	if i := slices.Index(info.exts, handshake.ExtStatusRequest); i != 3 {
		t.Errorf("status_request from Extra at %d in %v, want 3", i, info.exts)
	}
}

func TestBadSpecs(t *testing.T) {
	for name, spec := range map[string]*utls.ClientHelloSpec{
		"nil":            nil,
		"TLS 1.3 only":   {CipherSuites: []uint16{utls.TLS_AES_128_GCM_SHA256}},
		"GREASE only":    {CipherSuites: []uint16{utls.GREASE_PLACEHOLDER}},
		"duplicate ext":  {CipherSuites: []uint16{0xc02f}, Extensions: []utls.TLSExtension{&utls.SNIExtension{}, &utls.SNIExtension{}}},
		"three GREASE":   {CipherSuites: []uint16{0xc02f}, Extensions: []utls.TLSExtension{&utls.UtlsGREASEExtension{}, &utls.UtlsGREASEExtension{}, &utls.UtlsGREASEExtension{}}},
		"nil extension":  {CipherSuites: []uint16{0xc02f}, Extensions: []utls.TLSExtension{nil}},
		"TLS 1.1 at max": {CipherSuites: []uint16{0xc02f}, TLSVersMax: utls.VersionTLS11},
	} {
		if _, err := fingerprint.FromSpec(spec); err == nil || !strings.HasPrefix(err.Error(), "fingerprint: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := fingerprint.FromID(utls.ClientHelloID{Client: "NoSuchBrowser", Version: "1"}); err == nil {
		t.Error("an unknown preset was accepted")
	}
	s, err := fingerprint.FromID(utls.HelloChrome_Auto)
	if err != nil {
		t.Fatal(err)
	}
	h := deviceHello(1)
	h.Random = nil
	if err := s.Shape(h); err == nil {
		t.Error("a hello without a random was shaped")
	}
	if err := s.Shape(nil); err == nil {
		t.Error("nil hello shaped")
	}
}

// TestStatusRequestDroppedWithoutSpec: a spec without status_request does
// not send the one the device offers (optional: dropped to match).
func TestStatusRequestDroppedWithoutSpec(t *testing.T) {
	s, err := fingerprint.FromSpec(&utls.ClientHelloSpec{
		CipherSuites: []uint16{utls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
		Extensions:   []utls.TLSExtension{&utls.SNIExtension{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	info := parseHello(t, shaped(t, s, deviceHello(4)))
	if slices.Contains(info.exts, handshake.ExtStatusRequest) {
		t.Errorf("status_request sent in %v, the spec has none", info.exts)
	}
}
