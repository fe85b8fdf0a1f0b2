// Package fingerprint shapes a tlsclient ClientHello after a uTLS
// ClientHelloSpec (a browser preset such as utls.HelloChrome_Auto, or a
// spec of your own), so that a device presents a common fingerprint. It is
// the only package of tlsoffload that imports uTLS: a device that does not
// shape its hello never links it (DESIGN.md, "Keep it out of the core
// device path").
//
// Use:
//
//	s, err := fingerprint.FromID(utls.HelloChrome_Auto)
//	...
//	cfg.ShapeClientHello = s.Shape
//
// A spec describes a TLS 1.3 browser; tlsclient speaks TLS 1.2. Shape keeps
// of the spec what a TLS 1.2 client can honour and what the device allows:
//
//   - cipher suites, supported_groups, signature_algorithms and
//     ec_point_formats keep the spec's order but only the values present in
//     the hello tlsclient built (the Config and the offloader's Start
//     answer), so a server can never choose something the device cannot
//     do; TLS 1.3 suites and post-quantum or hybrid groups (X25519MLKEM768,
//     ...) fall out this way;
//   - extensions keep the spec's order; server_name, ALPN,
//     extended_master_secret, renegotiation_info, session_ticket and
//     max_fragment_length are sent only when tlsclient set them, with
//     tlsclient's bodies (SNI from the server name, ALPN from
//     Config.NextProtos, ...);
//   - GREASE (RFC 8701) stays where the spec puts it, in suites, groups,
//     signature algorithms and extensions, with values drawn from the
//     ClientHello random as BoringSSL did; tlsclient refuses any GREASE
//     value a server sends back;
//   - padding (RFC 7685) stays where the spec puts it, its length
//     recomputed by the spec's rule for the hello actually sent;
//   - signed_certificate_timestamp is kept (harmless: a server answers in
//     its ServerHello only); status_request is kept only if tlsclient
//     offered it itself (it does unless Config.DisableStatusRequest), with
//     tlsclient's body, since a server that staples sends a
//     CertificateStatus message;
//   - everything else is dropped: key_share, supported_versions,
//     psk_key_exchange_modes, pre_shared_key, early_data, cookie,
//     compress_certificate, application_settings, encrypted_client_hello,
//     delegated_credentials, record_size_limit, NPN, channel_id,
//     token_binding, status_request_v2 and unknown types.
//
// Extensions tlsclient built that the spec lacks: server_name,
// supported_groups, signature_algorithms, ALPN, max_fragment_length and
// any extension tlsclient put in Extra carry the device's constraints and
// are kept, after the spec's extensions (before padding);
// extended_master_secret, renegotiation_info, session_ticket,
// ec_point_formats and status_request are optional and dropped to match
// the spec (without status_request no server staples, and the offloader
// refuses a must-staple certificate). The session
// id is left as tlsclient set it.
//
// A Shaper built from a preset id fixes one extension order: uTLS shuffles
// Chrome's extensions once per spec, Chrome once per connection; build a
// Shaper per connection for that.
package fingerprint

import (
	"errors"
	"fmt"

	utls "github.com/refraction-networking/utls"
	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsoffload/tlsoffload/handshake"
)

// Extension types this package names beyond handshake's.
const (
	extPadding        uint16 = 21 // RFC 7685
	extStatusRequest  uint16 = handshake.ExtStatusRequest
	extSCT            uint16 = handshake.ExtSCT
	greasePlaceholder uint16 = 0x0a0a
)

// kind says how a planned extension is built.
type kind int

const (
	kindField   kind = iota // a ClientHello field tlsclient sets
	kindGREASE              // a GREASE extension
	kindPadding             // padding, sized last
	kindOpaque              // the spec's bytes, sent whether tlsclient offered it or not
	kindOffered             // sent only if tlsclient offered it (its body)
)

// planExt is one extension of the spec that survived filtering.
type planExt struct {
	typ  uint16 // greasePlaceholder for GREASE
	kind kind
	body []byte // kindOpaque, kindGREASE

	// the spec's lists, for the extensions whose body is filtered.
	groups  []uint16
	points  []uint8
	sigAlgs []uint16

	padLen func(unpadded int) (int, bool) // kindPadding
}

// Shaper shapes ClientHellos after one spec. It is immutable once built
// and safe for concurrent use by many connections.
type Shaper struct {
	suites  []uint16 // the spec's, GREASE as greasePlaceholder
	exts    []planExt
	dropped []uint16
}

// FromID returns a Shaper for a uTLS preset (utls.HelloChrome_Auto,
// utls.HelloFirefox_Auto, ...). A randomized preset (utls.HelloRandomized)
// draws one spec, here, that the Shaper then keeps.
func FromID(id utls.ClientHelloID) (*Shaper, error) {
	spec, err := utls.UTLSIdToSpec(id)
	if err != nil {
		return nil, fmt.Errorf("fingerprint: preset %s: %w", id.Str(), err)
	}
	return FromSpec(&spec)
}

// FromSpec returns a Shaper for spec. The spec is read once, here; later
// changes to it have no effect. It fails on a spec with no TLS 1.2 cipher
// suite, two extensions of one type, more than two GREASE extensions or
// two padding extensions.
func FromSpec(spec *utls.ClientHelloSpec) (*Shaper, error) {
	if spec == nil {
		return nil, errors.New("fingerprint: nil ClientHelloSpec")
	}
	if spec.TLSVersMax != 0 && spec.TLSVersMax < utls.VersionTLS12 {
		return nil, fmt.Errorf("fingerprint: spec's highest version %#04x is below TLS 1.2", spec.TLSVersMax)
	}
	s := &Shaper{}
	for _, id := range spec.CipherSuites {
		switch {
		case isGREASE(id):
			s.suites = append(s.suites, greasePlaceholder)
		case isTLS13Suite(id):
		default:
			s.suites = append(s.suites, id)
		}
	}
	if !hasReal(s.suites) {
		return nil, errors.New("fingerprint: spec has no TLS 1.2 cipher suite")
	}
	seen := map[uint16]bool{}
	greases, paddings := 0, 0
	for i, e := range spec.Extensions {
		p, ok, err := planOf(e)
		if err != nil {
			return nil, fmt.Errorf("fingerprint: spec extension %d: %w", i, err)
		}
		if !ok {
			s.dropped = append(s.dropped, p.typ)
			continue
		}
		switch p.kind {
		case kindGREASE:
			if greases++; greases > 2 {
				return nil, errors.New("fingerprint: spec has more than two GREASE extensions")
			}
			if greases == 2 {
				p.body = []byte{0} // as uTLS and Chrome send the second one
			}
		case kindPadding:
			if paddings++; paddings > 1 {
				return nil, errors.New("fingerprint: spec has two padding extensions")
			}
		default:
			if seen[p.typ] {
				return nil, fmt.Errorf("fingerprint: spec has extension %d twice", p.typ)
			}
			seen[p.typ] = true
		}
		s.exts = append(s.exts, p)
	}
	return s, nil
}

// planOf decides what becomes of one spec extension: ok is false when it
// is dropped (p.typ then says which type, or 0xffff if unknown).
func planOf(e utls.TLSExtension) (p planExt, ok bool, err error) {
	switch x := e.(type) {
	case nil:
		return p, false, errors.New("nil extension")
	case *utls.UtlsGREASEExtension:
		return planExt{typ: greasePlaceholder, kind: kindGREASE, body: clone(x.Body)}, true, nil
	case *utls.UtlsPaddingExtension:
		p = planExt{typ: extPadding, kind: kindPadding, padLen: x.GetPaddingLen}
		if p.padLen == nil {
			n, will := x.PaddingLen, x.WillPad
			p.padLen = func(int) (int, bool) { return n, will }
		}
		return p, true, nil
	case *utls.SNIExtension:
		// Its bytes depend on a server name the spec may not have.
		return planExt{typ: handshake.ExtServerName, kind: kindField}, true, nil
	}
	typ, body, err := extensionBytes(e)
	if err != nil {
		// An extension uTLS cannot serialise on its own (e.g. one filled
		// in during its handshake) is none tlsclient could send anyway.
		return planExt{typ: 0xffff}, false, nil
	}
	p = planExt{typ: typ}
	switch typ {
	case handshake.ExtServerName, handshake.ExtALPN, handshake.ExtExtendedMasterSecret,
		handshake.ExtRenegotiationInfo, handshake.ExtSessionTicket, handshake.ExtMaxFragmentLength:
		p.kind = kindField
	case handshake.ExtSupportedGroups:
		p.kind = kindField
		if !readUint16List(body, &p.groups) {
			return p, false, errors.New("bad supported_groups")
		}
		for i, g := range p.groups {
			if isGREASE(g) {
				p.groups[i] = greasePlaceholder
			}
		}
	case handshake.ExtSignatureAlgorithms:
		p.kind = kindField
		if !readUint16List(body, &p.sigAlgs) {
			return p, false, errors.New("bad signature_algorithms")
		}
		for i, a := range p.sigAlgs {
			if isGREASE(a) {
				p.sigAlgs[i] = greasePlaceholder
			}
		}
	case handshake.ExtECPointFormats:
		p.kind = kindField
		s := cryptobyte.String(body)
		var v cryptobyte.String
		if !s.ReadUint8LengthPrefixed(&v) || !s.Empty() {
			return p, false, errors.New("bad ec_point_formats")
		}
		p.points = clone(v)
	case extSCT:
		p.kind, p.body = kindOpaque, body
	case extStatusRequest:
		p.kind = kindOffered
	case extPadding:
		// A padding extension given as plain bytes: keep its length.
		n := len(body)
		p.kind, p.padLen = kindPadding, func(int) (int, bool) { return n, true }
	default:
		if isGREASE(typ) {
			return planExt{typ: greasePlaceholder, kind: kindGREASE, body: body}, true, nil
		}
		return p, false, nil
	}
	return p, true, nil
}

// extensionBytes serialises a uTLS extension and splits it into its type
// and body.
func extensionBytes(e utls.TLSExtension) (uint16, []byte, error) {
	n := e.Len()
	if n < 4 || n > 0xffff+4 {
		return 0, nil, errors.New("extension of no length")
	}
	buf := make([]byte, n)
	got, err := e.Read(buf)
	if got != n || (err != nil && got == 0) {
		return 0, nil, errors.New("extension did not serialise")
	}
	s := cryptobyte.String(buf)
	var typ uint16
	var body cryptobyte.String
	if !s.ReadUint16(&typ) || !s.ReadUint16LengthPrefixed(&body) || !s.Empty() {
		return 0, nil, errors.New("extension length mismatch")
	}
	return typ, clone(body), nil
}

// Dropped lists the types of the spec's extensions Shape never sends, in
// the spec's order (0xffff for one uTLS could not serialise).
func (s *Shaper) Dropped() []uint16 { return append([]uint16(nil), s.dropped...) }

// Extensions lists the types of the spec's extensions Shape may send, in
// order, GREASE as 0x0a0a. A hello carries a subset of them (Shape drops
// those tlsclient did not set, and padding when the spec's rule says so),
// plus the device's own extensions the spec lacks.
func (s *Shaper) Extensions() []uint16 {
	out := make([]uint16, len(s.exts))
	for i, e := range s.exts {
		out[i] = e.typ
	}
	return out
}

func readUint16List(b []byte, out *[]uint16) bool {
	s := cryptobyte.String(b)
	var list cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&list) || !s.Empty() || len(list)%2 != 0 {
		return false
	}
	for !list.Empty() {
		var v uint16
		list.ReadUint16(&v)
		*out = append(*out, v)
	}
	return true
}

// isGREASE reports a GREASE value of RFC 8701 §2: 0x?a?a with both
// nibbles equal.
func isGREASE(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>12 == (v>>4)&0xf }

// isTLS13Suite reports a TLS 1.3 cipher suite (RFC 8446 §B.4, 0x13xx).
func isTLS13Suite(id uint16) bool { return id>>8 == 0x13 }

func hasReal(l []uint16) bool {
	for _, v := range l {
		if !isGREASE(v) {
			return true
		}
	}
	return false
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
