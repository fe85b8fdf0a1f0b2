package handshake

import (
	"golang.org/x/crypto/cryptobyte"
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
// Unmarshal), an empty ALPN protocol, a field over its length limit, or an
// Extra extension that repeats a type already sent. A ClientHello-shaping
// hook can call it to check its work. Errors start with "handshake: ".
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
	if out, ok := m.marshalFast(random); ok { // hello_encode.go: sized buffers, same bytes
		m.Raw = out
		return out, nil
	}
	out, err := marshalMessageErr(TypeClientHello, func(b *cryptobyte.Builder) {
		b.AddUint16(m.Version)
		b.AddBytes(random)
		addBytes8(b, m.SessionID)
		addUint16s(b, m.CipherSuites)
		if len(m.CompressionMethods) == 0 {
			addBytes8(b, []byte{0})
		} else {
			addBytes8(b, m.CompressionMethods)
		}
		exts, err := m.extensions()
		if err != nil {
			b.SetError(err)
			return
		}
		if exts == nil {
			return // no extensions block at all (RFC 5246 §7.4.1.2)
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
	if err != nil {
		if _, ok := err.(builderError); !ok {
			// cryptobyte's own error: a vector over its length prefix.
			err = builderError("a field is too long for its length prefix")
		}
		return nil, err
	}
	m.Raw = out
	return out, nil
}

// ExtensionTypes lists the extension types Marshal sends, in order: those
// of the set fields, then Extra's. A client checks a ServerHello's
// extensions against it (RFC 5246 §7.4.1.4: a server sends only extensions
// the client offered).
func (m *ClientHello) ExtensionTypes() []uint16 {
	exts, _ := m.extensions()
	types := make([]uint16, len(exts))
	for i, e := range exts {
		types[i] = e.Type
	}
	return types
}

// extensions lists the extensions to send, in the order of the struct
// fields, then Extra. It returns nil if there are none, and the first
// error of an extension body that does not fit its length prefixes.
func (m *ClientHello) extensions() ([]Extension, error) {
	if exts, ok := m.flatExtensions(); ok { // hello_encode.go: one buffer
		return m.orderExtensions(exts), nil
	}
	var l extensionList
	add := l.add
	if m.ServerName != "" {
		// RFC 6066 §3: ServerNameList <1..2^16-1> of {name_type, HostName}.
		add(ExtServerName, func(b *cryptobyte.Builder) {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				b.AddUint8(0) // host_name
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
		// RFC 7301 §3.1: ProtocolNameList <2..2^16-1> of ProtocolName <1..2^8-1>.
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
		// RFC 5746 §3.2: opaque renegotiated_connection<0..255>.
		add(ExtRenegotiationInfo, func(b *cryptobyte.Builder) { addBytes8(b, m.RenegotiationInfo) })
	}
	if m.TicketSupported {
		// RFC 5077 §3.2: the ticket itself, or empty.
		add(ExtSessionTicket, func(b *cryptobyte.Builder) { b.AddBytes(m.SessionTicket) })
	}
	if m.MaxFragmentLength != 0 {
		add(ExtMaxFragmentLength, func(b *cryptobyte.Builder) { b.AddUint8(m.MaxFragmentLength) })
	}
	l.exts = append(l.exts, m.Extra...)
	return m.orderExtensions(l.exts), l.err
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
	raw := cloneBytes(b)
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
			if nameType != 0 {
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
		if m.MaxFragmentLength < 1 || m.MaxFragmentLength > 4 {
			// RFC 6066 §4: illegal_parameter for other values.
			return illegalParam(TypeClientHello, "max_fragment_length value not in 1..4")
		}
	default:
		m.Extra = append(m.Extra, Extension{Type: typ, Data: nonEmpty(data)})
	}
	return nil
}

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
// set fields are sent in the order renegotiation_info,
// extended_master_secret, session_ticket, ALPN, server_name,
// ec_point_formats, max_fragment_length, status_request, then Extra. It
// returns nil if a field is too long or Random is neither empty nor 32 bytes.
func (m *ServerHello) Marshal() []byte {
	random, err := helloRandom(m.Random)
	if err != nil || len(m.SessionID) > maxSessionID {
		return nil
	}
	out := marshalMessage(TypeServerHello, func(b *cryptobyte.Builder) {
		b.AddUint16(m.Version)
		b.AddBytes(random)
		addBytes8(b, m.SessionID)
		b.AddUint16(m.CipherSuite)
		b.AddUint8(m.CompressionMethod)
		exts, err := m.extensions()
		if err != nil {
			b.SetError(err)
			return
		}
		if exts == nil {
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
	m.Raw = out
	return out
}

func (m *ServerHello) extensions() ([]Extension, error) {
	var l extensionList
	add := l.add
	if m.SecureRenegotiation {
		add(ExtRenegotiationInfo, func(b *cryptobyte.Builder) { addBytes8(b, m.RenegotiationInfo) })
	}
	if m.ExtendedMasterSecret {
		add(ExtExtendedMasterSecret, func(*cryptobyte.Builder) {})
	}
	if m.TicketSupported {
		add(ExtSessionTicket, func(*cryptobyte.Builder) {})
	}
	if m.ALPNProtocol != "" {
		add(ExtALPN, func(b *cryptobyte.Builder) {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { addBytes8(b, []byte(m.ALPNProtocol)) })
		})
	}
	if m.ServerNameAck {
		add(ExtServerName, func(*cryptobyte.Builder) {})
	}
	if len(m.PointFormats) > 0 {
		add(ExtECPointFormats, func(b *cryptobyte.Builder) { addBytes8(b, m.PointFormats) })
	}
	if m.MaxFragmentLength != 0 {
		add(ExtMaxFragmentLength, func(b *cryptobyte.Builder) { b.AddUint8(m.MaxFragmentLength) })
	}
	if m.OCSPStapling {
		add(ExtStatusRequest, func(*cryptobyte.Builder) {})
	}
	l.exts = append(l.exts, m.Extra...)
	return l.exts, l.err
}

// Unmarshal decodes a ServerHello (RFC 5246 §7.4.1.3). Every extension type
// is recorded in Extensions in order; the known ones are decoded and
// checked (RFC 5746, 7627, 5077, 7301, 6066, 8422), unknown ones are kept
// in Extra: whether they were solicited is the client's decision. Fields
// alias a private copy of b, which Raw holds.
func (m *ServerHello) Unmarshal(b []byte) error {
	raw := cloneBytes(b)
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
		if m.MaxFragmentLength < 1 || m.MaxFragmentLength > 4 {
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
