package handshake

import (
	"bytes"
	"slices"

	"github.com/tlsoffload/tlsoffload/internal/cryptobyte"
)

// RandomLen is the length of the hello randoms (RFC 5246 §7.4.1.2).
const RandomLen = 32

// maxSessionID is the longest legal session_id (RFC 5246 §7.4.1.2).
const maxSessionID = 32

// Marshal encodes the ClientHello and sets Raw. It always re-encodes from
// the fields (after Unmarshal, Raw keeps the bytes as received). It returns
// nil where MarshalChecked returns an error.
func (m *ClientHello) Marshal() []byte {
	b, _ := m.MarshalChecked()
	return b
}

// MarshalChecked is Marshal with the reason it failed: a Random that is
// neither empty (all zeros are sent) nor 32 bytes, a session id over 32
// bytes, no cipher suite, a ServerName our own parser would refuse (see
// Unmarshal), an empty ALPN protocol, an Extra extension that repeats a type
// already sent, or a field over its length limit (checked in that order). A
// ClientHello-shaping hook can call it to check its work. Errors start with
// "handshake: ".
//
// The hello is built with one cryptobyte.Builder into a buffer of its
// exact size (clientHelloLen). Beyond that buffer, cryptobyte allocates a
// child builder for each length prefix that is not a plain vector (the
// body, the extensions block, each extension, server_name's and ALPN's
// inner lists) and one flag per builder: 12 allocations for the device's
// usual hello (BenchmarkClientHelloMarshal).
func (m *ClientHello) MarshalChecked() ([]byte, error) {
	random, err := helloRandom(m.Random)
	if err != nil {
		return nil, err
	}
	if len(m.SessionID) > maxSessionID {
		return nil, builderError("session id longer than 32 bytes")
	}
	if len(m.CipherSuites) == 0 {
		return nil, builderError("no cipher suites")
	}
	if m.ServerName != "" && !validHostName([]byte(m.ServerName)) {
		return nil, builderError("server name is not an ASCII host name without a trailing dot")
	}
	if slices.Contains(m.ALPNProtocols, "") {
		return nil, builderError("empty ALPN protocol")
	}
	var stack [maxStackExtensions]helloExtension
	exts := m.appendExtensions(stack[:0])
	if hasDuplicateType(exts) {
		return nil, builderError("duplicate extension")
	}
	n := m.clientHelloLen(exts)
	if n > headerLen+maxHandshakeBody {
		return nil, errTooLong // checked before allocating
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, n))
	b.AddUint8(TypeClientHello)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(m.Version)
		b.AddBytes(random)
		addBytes8(b, m.SessionID)
		addUint16s(b, m.CipherSuites)
		addBytes8(b, m.compressionMethods())
		addExtensions(b, exts, m.Extra, m.addExtensionBody)
	})
	out, err := b.Bytes()
	if err != nil {
		// errTooLong, or cryptobyte's own error for a compound vector
		// over its length prefix: the same failure.
		return nil, errTooLong
	}
	m.Raw = out
	return out, nil
}

// compressionMethods is CompressionMethods, or {null} when empty.
func (m *ClientHello) compressionMethods() []uint8 {
	if len(m.CompressionMethods) == 0 {
		return compressionNull
	}
	return m.CompressionMethods
}

// compressionNull is the list of the null compression method alone (RFC
// 5246 §7.4.1.2); only ever read.
var compressionNull = []uint8{0}

// ExtensionTypes lists the extension types Marshal sends, in the order it
// sends them, from the fields alone (nothing is encoded). A client checks a
// ServerHello's extensions against it (RFC 5246 §7.4.1.4: a server sends
// only extensions the client offered).
func (m *ClientHello) ExtensionTypes() []uint16 {
	var stack [maxStackExtensions]helloExtension
	exts := m.appendExtensions(stack[:0])
	types := make([]uint16, len(exts))
	for i, e := range exts {
		types[i] = e.typ
	}
	return types
}

// clientFieldExtensions are the extensions of ClientHello's fields, in
// the order of the fields: the order Marshal sends them in by default.
var clientFieldExtensions = [...]uint16{
	ExtServerName, ExtSupportedGroups, ExtECPointFormats, ExtSignatureAlgorithms, ExtALPN,
	ExtExtendedMasterSecret, ExtRenegotiationInfo, ExtSessionTicket, ExtMaxFragmentLength,
	ExtStatusRequest,
}

// sends reports whether the field of extension type t is set.
func (m *ClientHello) sends(t uint16) bool {
	switch t {
	case ExtServerName:
		return m.ServerName != ""
	case ExtSupportedGroups:
		return len(m.SupportedGroups) > 0
	case ExtECPointFormats:
		return len(m.PointFormats) > 0
	case ExtSignatureAlgorithms:
		return len(m.SignatureAlgorithms) > 0
	case ExtALPN:
		return len(m.ALPNProtocols) > 0
	case ExtExtendedMasterSecret:
		return m.ExtendedMasterSecret
	case ExtRenegotiationInfo:
		return m.SecureRenegotiation
	case ExtSessionTicket:
		return m.TicketSupported
	case ExtMaxFragmentLength:
		return m.MaxFragmentLength != 0
	case ExtStatusRequest:
		return m.OCSPStapling
	}
	return false
}

// appendExtensions appends the extensions Marshal sends, in the order it
// sends them: those of the set fields, then Extra, then reordered by
// ExtensionOrder (shape.go).
func (m *ClientHello) appendExtensions(exts []helloExtension) []helloExtension {
	for _, t := range clientFieldExtensions {
		if m.sends(t) {
			exts = append(exts, helloExtension{typ: t, extra: -1})
		}
	}
	exts = appendExtra(exts, m.Extra)
	orderExtensions(exts, m.ExtensionOrder)
	return exts
}

// addExtensionBody adds the body of the extension of field type t.
func (m *ClientHello) addExtensionBody(b *cryptobyte.Builder, t uint16) {
	switch t {
	case ExtServerName:
		// RFC 6066 §3: ServerNameList <1..2^16-1> of {name_type, HostName}.
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint8(nameTypeHostName)
			addBytes16(b, []byte(m.ServerName))
		})
	case ExtSupportedGroups:
		addUint16s(b, m.SupportedGroups)
	case ExtECPointFormats:
		addBytes8(b, m.PointFormats)
	case ExtSignatureAlgorithms:
		addUint16s(b, m.SignatureAlgorithms)
	case ExtALPN:
		// RFC 7301 §3.1: ProtocolNameList <2..2^16-1> of ProtocolName <1..2^8-1>.
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, p := range m.ALPNProtocols {
				addBytes8(b, []byte(p))
			}
		})
	case ExtExtendedMasterSecret:
		// RFC 7627 §5.1: an empty body.
	case ExtRenegotiationInfo:
		// RFC 5746 §3.2: opaque renegotiated_connection<0..255>.
		addBytes8(b, m.RenegotiationInfo)
	case ExtSessionTicket:
		// RFC 5077 §3.2: the ticket itself, or empty.
		b.AddBytes(m.SessionTicket)
	case ExtMaxFragmentLength:
		b.AddUint8(m.MaxFragmentLength)
	case ExtStatusRequest:
		b.AddBytes(ocspStatusRequest)
	}
}

// ocspStatusRequest is the body of the status_request a client sends (RFC
// 6066 §8): status_type ocsp(1), an empty ResponderID list and empty
// request extensions; only ever read.
var ocspStatusRequest = []byte{statusTypeOCSP, 0, 0, 0, 0}

// clientHelloLen is the length of the encoded hello with these extensions,
// header included: the capacity MarshalChecked allocates. It is exact for
// every hello that fits its length prefixes.
func (m *ClientHello) clientHelloLen(exts []helloExtension) int {
	n := headerLen + 2 + RandomLen + 1 + len(m.SessionID) + 2 + 2*len(m.CipherSuites) + 1 + len(m.compressionMethods())
	if len(exts) == 0 {
		return n
	}
	n += 2 // the extensions block's length
	for _, e := range exts {
		n += 4 // type and length
		if e.extra >= 0 {
			n += len(m.Extra[e.extra].Data)
			continue
		}
		switch e.typ {
		case ExtServerName:
			n += 2 + 1 + 2 + len(m.ServerName)
		case ExtSupportedGroups:
			n += 2 + 2*len(m.SupportedGroups)
		case ExtECPointFormats:
			n += 1 + len(m.PointFormats)
		case ExtSignatureAlgorithms:
			n += 2 + 2*len(m.SignatureAlgorithms)
		case ExtALPN:
			n += 2
			for _, p := range m.ALPNProtocols {
				n += 1 + len(p)
			}
		case ExtRenegotiationInfo:
			n += 1 + len(m.RenegotiationInfo)
		case ExtSessionTicket:
			n += len(m.SessionTicket)
		case ExtMaxFragmentLength:
			n++
		case ExtStatusRequest:
			n += len(ocspStatusRequest)
		}
	}
	return n
}

func helloRandom(r []byte) ([]byte, error) {
	switch len(r) {
	case 0:
		return make([]byte, RandomLen), nil
	case RandomLen:
		return r, nil
	}
	return nil, builderError("random is not 32 bytes")
}

// Unmarshal decodes a ClientHello (RFC 5246 §7.4.1.2). The extensions of
// the fields above are decoded and checked; every other extension is kept in
// Extra, in order. Fields alias a private copy of b, which Raw holds.
func (m *ClientHello) Unmarshal(b []byte) error {
	raw := bytes.Clone(b)
	s, err := readBody(raw, TypeClientHello)
	if err != nil {
		return err
	}
	fail := func(detail string) error { return decodeErr(TypeClientHello, detail) }
	var h ClientHello
	h.Raw = raw
	if !s.ReadUint16(&h.Version) || !s.ReadBytes(&h.Random, RandomLen) {
		return fail("truncated version or random")
	}
	if !readBytes8(&s, &h.SessionID) || len(h.SessionID) > maxSessionID {
		return fail("bad session id")
	}
	if !readUint16List(&s, &h.CipherSuites) {
		return fail("bad cipher suites")
	}
	var comp cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&comp) || comp.Empty() {
		return fail("bad compression methods")
	}
	h.CompressionMethods = comp
	if !s.Empty() {
		if err := readExtensions(&s, TypeClientHello, h.decodeExtension); err != nil {
			return err
		}
	}
	*m = h
	return nil
}

// readExtensions reads the extensions block that ends a hello (RFC 5246
// §7.4.1.4) and hands each extension to decode, refusing a truncated block,
// bytes after it, and a type seen twice.
func readExtensions(s *cryptobyte.String, msgType uint8, decode func(typ uint16, data cryptobyte.String) error) error {
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
		return decodeErr(msgType, "bad extensions block")
	}
	seen := extensionSeen{}
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return decodeErr(msgType, "truncated extension")
		}
		if !seen.add(typ) {
			return illegalParam(msgType, "duplicate extension")
		}
		if err := decode(typ, data); err != nil {
			return err
		}
	}
	return nil
}

// decodeExtension decodes one ClientHello extension into its field, or
// keeps it in Extra.
func (m *ClientHello) decodeExtension(typ uint16, data cryptobyte.String) error {
	fail := func(detail string) error { return decodeErr(TypeClientHello, detail) }
	switch typ {
	case ExtServerName:
		// RFC 6066 §3. At most one name per name_type; names of unknown
		// types are skipped.
		var list cryptobyte.String
		if !data.ReadUint16LengthPrefixed(&list) || list.Empty() || !data.Empty() {
			return fail("bad server_name")
		}
		var haveHost bool
		for !list.Empty() {
			var nameType uint8
			var name cryptobyte.String
			if !list.ReadUint8(&nameType) || !list.ReadUint16LengthPrefixed(&name) || name.Empty() {
				return fail("bad server_name entry")
			}
			if nameType != nameTypeHostName {
				continue
			}
			if haveHost {
				return illegalParam(TypeClientHello, "two host names in server_name")
			}
			if !validHostName(name) {
				return fail("bad host name in server_name")
			}
			haveHost = true
			m.ServerName = string(name)
		}
	case ExtSupportedGroups:
		if !readUint16List(&data, &m.SupportedGroups) || !data.Empty() {
			return fail("bad supported_groups")
		}
	case ExtECPointFormats:
		var v cryptobyte.String
		if !data.ReadUint8LengthPrefixed(&v) || v.Empty() || !data.Empty() {
			return fail("bad ec_point_formats")
		}
		m.PointFormats = v
	case ExtSignatureAlgorithms:
		if !readUint16List(&data, &m.SignatureAlgorithms) || !data.Empty() {
			return fail("bad signature_algorithms")
		}
	case ExtALPN:
		var list cryptobyte.String
		if !data.ReadUint16LengthPrefixed(&list) || list.Empty() || !data.Empty() {
			return fail("bad application_layer_protocol_negotiation")
		}
		for !list.Empty() {
			var p cryptobyte.String
			if !list.ReadUint8LengthPrefixed(&p) || p.Empty() {
				return fail("bad ALPN protocol name")
			}
			m.ALPNProtocols = append(m.ALPNProtocols, string(p))
		}
	case ExtExtendedMasterSecret:
		if !data.Empty() {
			return fail("non-empty extended_master_secret")
		}
		m.ExtendedMasterSecret = true
	case ExtRenegotiationInfo:
		if !readBytes8(&data, &m.RenegotiationInfo) || !data.Empty() {
			return fail("bad renegotiation_info")
		}
		m.SecureRenegotiation = true
	case ExtSessionTicket:
		m.TicketSupported = true
		m.SessionTicket = nonEmpty(data)
	case ExtMaxFragmentLength:
		if !data.ReadUint8(&m.MaxFragmentLength) || !data.Empty() {
			return fail("bad max_fragment_length")
		}
		if !validMaxFragmentLength(m.MaxFragmentLength) {
			return illegalParam(TypeClientHello, "max_fragment_length value not in 1..4")
		}
	case ExtStatusRequest:
		// Only the request the field stands for; a responder list or
		// request extensions are kept as bytes, so nothing is lost.
		if bytes.Equal(data, ocspStatusRequest) {
			m.OCSPStapling = true
			return nil
		}
		m.Extra = append(m.Extra, Extension{Type: typ, Data: nonEmpty(data)})
	default:
		m.Extra = append(m.Extra, Extension{Type: typ, Data: nonEmpty(data)})
	}
	return nil
}

// validMaxFragmentLength reports whether code is a MaxFragmentLength of
// RFC 6066 §4: 1..4 for 2^9..2^12 bytes; any other value is answered with
// illegal_parameter.
func validMaxFragmentLength(code uint8) bool { return code >= 1 && code <= 4 }

// nameTypeHostName is the server_name NameType host_name (RFC 6066 §3).
const nameTypeHostName = 0

// validHostName checks a server_name host_name is printable ASCII without a
// trailing dot (RFC 6066 §3). It is a syntax check only: the offloader
// still matches the name against its policy and the certificate.
func validHostName(name []byte) bool {
	if len(name) == 0 || name[len(name)-1] == '.' {
		return false
	}
	for _, c := range name {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// Marshal encodes the ServerHello and sets Raw. Extensions is ignored: the
// set fields are sent in the order of serverFieldExtensions, then Extra.
// It returns nil if a field is too long, an Extra extension repeats a type
// already sent, or Random is neither empty nor 32 bytes.
func (m *ServerHello) Marshal() []byte {
	random, err := helloRandom(m.Random)
	if err != nil || len(m.SessionID) > maxSessionID {
		return nil
	}
	var stack [maxStackExtensions]helloExtension
	exts := stack[:0]
	for _, t := range serverFieldExtensions {
		if m.sends(t) {
			exts = append(exts, helloExtension{typ: t, extra: -1})
		}
	}
	exts = appendExtra(exts, m.Extra)
	if hasDuplicateType(exts) {
		return nil
	}
	out := marshalMessage(TypeServerHello, func(b *cryptobyte.Builder) {
		b.AddUint16(m.Version)
		b.AddBytes(random)
		addBytes8(b, m.SessionID)
		b.AddUint16(m.CipherSuite)
		b.AddUint8(m.CompressionMethod)
		addExtensions(b, exts, m.Extra, m.addExtensionBody)
	})
	m.Raw = out
	return out
}

// serverFieldExtensions are the extensions of ServerHello's fields, in the
// order Marshal sends them.
var serverFieldExtensions = [...]uint16{
	ExtRenegotiationInfo, ExtExtendedMasterSecret, ExtSessionTicket, ExtALPN,
	ExtServerName, ExtECPointFormats, ExtMaxFragmentLength, ExtStatusRequest,
}

// sends reports whether the field of extension type t is set.
func (m *ServerHello) sends(t uint16) bool {
	switch t {
	case ExtRenegotiationInfo:
		return m.SecureRenegotiation
	case ExtExtendedMasterSecret:
		return m.ExtendedMasterSecret
	case ExtSessionTicket:
		return m.TicketSupported
	case ExtALPN:
		return m.ALPNProtocol != ""
	case ExtServerName:
		return m.ServerNameAck
	case ExtECPointFormats:
		return len(m.PointFormats) > 0
	case ExtMaxFragmentLength:
		return m.MaxFragmentLength != 0
	case ExtStatusRequest:
		return m.OCSPStapling
	}
	return false
}

// addExtensionBody adds the body of the extension of field type t; the
// acknowledgements (extended_master_secret, session_ticket, server_name,
// status_request) are empty.
func (m *ServerHello) addExtensionBody(b *cryptobyte.Builder, t uint16) {
	switch t {
	case ExtRenegotiationInfo:
		addBytes8(b, m.RenegotiationInfo)
	case ExtALPN:
		// RFC 7301 §3.1: a ProtocolNameList of exactly one name.
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { addBytes8(b, []byte(m.ALPNProtocol)) })
	case ExtECPointFormats:
		addBytes8(b, m.PointFormats)
	case ExtMaxFragmentLength:
		b.AddUint8(m.MaxFragmentLength)
	}
}

// Unmarshal decodes a ServerHello (RFC 5246 §7.4.1.3). Every extension type
// is recorded in Extensions in order; the known ones are decoded and
// checked (RFC 5746, 7627, 5077, 7301, 6066, 8422), unknown ones are kept
// in Extra: whether they were solicited is the client's decision. Fields
// alias a private copy of b, which Raw holds.
func (m *ServerHello) Unmarshal(b []byte) error {
	raw := bytes.Clone(b)
	s, err := readBody(raw, TypeServerHello)
	if err != nil {
		return err
	}
	fail := func(detail string) error { return decodeErr(TypeServerHello, detail) }
	var h ServerHello
	h.Raw = raw
	if !s.ReadUint16(&h.Version) || !s.ReadBytes(&h.Random, RandomLen) {
		return fail("truncated version or random")
	}
	if !readBytes8(&s, &h.SessionID) || len(h.SessionID) > maxSessionID {
		return fail("bad session id")
	}
	if !s.ReadUint16(&h.CipherSuite) || !s.ReadUint8(&h.CompressionMethod) {
		return fail("truncated cipher suite or compression method")
	}
	if !s.Empty() {
		err := readExtensions(&s, TypeServerHello, func(typ uint16, data cryptobyte.String) error {
			h.Extensions = append(h.Extensions, typ)
			return h.decodeExtension(typ, data)
		})
		if err != nil {
			return err
		}
	}
	*m = h
	return nil
}

func (m *ServerHello) decodeExtension(typ uint16, data cryptobyte.String) error {
	fail := func(detail string) error { return decodeErr(TypeServerHello, detail) }
	switch typ {
	case ExtRenegotiationInfo:
		if !readBytes8(&data, &m.RenegotiationInfo) || !data.Empty() {
			return fail("bad renegotiation_info")
		}
		m.SecureRenegotiation = true
	case ExtExtendedMasterSecret:
		if !data.Empty() {
			return fail("non-empty extended_master_secret")
		}
		m.ExtendedMasterSecret = true
	case ExtSessionTicket:
		if !data.Empty() {
			return fail("non-empty session_ticket")
		}
		m.TicketSupported = true
	case ExtALPN:
		// RFC 7301 §3.1: exactly one protocol name.
		var list, proto cryptobyte.String
		if !data.ReadUint16LengthPrefixed(&list) || !data.Empty() ||
			!list.ReadUint8LengthPrefixed(&proto) || proto.Empty() || !list.Empty() {
			return fail("bad application_layer_protocol_negotiation")
		}
		m.ALPNProtocol = string(proto)
	case ExtServerName:
		if !data.Empty() {
			return fail("non-empty server_name")
		}
		m.ServerNameAck = true
	case ExtECPointFormats:
		var v cryptobyte.String
		if !data.ReadUint8LengthPrefixed(&v) || v.Empty() || !data.Empty() {
			return fail("bad ec_point_formats")
		}
		m.PointFormats = v
	case ExtMaxFragmentLength:
		if !data.ReadUint8(&m.MaxFragmentLength) || !data.Empty() {
			return fail("bad max_fragment_length")
		}
		if !validMaxFragmentLength(m.MaxFragmentLength) {
			return illegalParam(TypeServerHello, "max_fragment_length value not in 1..4")
		}
	case ExtStatusRequest:
		if !data.Empty() {
			return fail("non-empty status_request")
		}
		m.OCSPStapling = true
	default:
		m.Extra = append(m.Extra, Extension{Type: typ, Data: nonEmpty(data)})
	}
	return nil
}

// maxStackExtensions is how many extensions a hello lists without a heap
// allocation; a hello with more (only a crafted one) still works.
const maxStackExtensions = 32

// helloExtension is one extension a hello sends: that of a field (extra <
// 0) or Extra[extra].
type helloExtension struct {
	typ   uint16
	extra int
}

// appendExtra appends the extensions of extra, in order.
func appendExtra(exts []helloExtension, extra []Extension) []helloExtension {
	for i, e := range extra {
		exts = append(exts, helloExtension{typ: e.Type, extra: i})
	}
	return exts
}

// hasDuplicateType reports whether two extensions have the same type (RFC
// 5246 §7.4.1.4: "There MUST NOT be more than one extension of the same
// type"). A hello lists up to maxStackExtensions, compared pairwise; only a
// crafted one with more pays for a set of all 65536 types. (slices.Sort
// would link the whole pdqsort, about 4 KB, into a device program for
// this alone.)
func hasDuplicateType(exts []helloExtension) bool {
	if len(exts) <= maxStackExtensions {
		for i := range exts {
			for j := range i {
				if exts[i].typ == exts[j].typ {
					return true
				}
			}
		}
		return false
	}
	seen := make([]uint64, 1<<16/64)
	for _, e := range exts {
		w, bit := e.typ/64, uint64(1)<<(e.typ%64)
		if seen[w]&bit != 0 {
			return true
		}
		seen[w] |= bit
	}
	return false
}

// addExtensions adds a hello's extensions block (RFC 5246 §7.4.1.2,
// §7.4.1.4): for each extension its type, then its body — Extra's bytes, or
// what field adds for a field's type — with a 2-byte length. No
// extensions, no block at all.
func addExtensions(b *cryptobyte.Builder, exts []helloExtension, extra []Extension, field func(*cryptobyte.Builder, uint16)) {
	if len(exts) == 0 {
		return
	}
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, e := range exts {
			b.AddUint16(e.typ)
			if e.extra >= 0 {
				addBytes16(b, extra[e.extra].Data)
				continue
			}
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { field(b, e.typ) })
		}
	})
}
