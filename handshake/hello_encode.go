package handshake

import "encoding/binary"

// The ClientHello's fast encoder. The general one (hello.go) builds each
// extension body with its own cryptobyte.Builder and every length prefix
// with a child builder: about fifty small allocations per hello on the
// device. Here every size is computed first, every limit checked against
// it, and the bytes are appended into buffers allocated once at their exact
// size: one for the extension bodies, one for the list of extensions, one
// for the message. A hello that breaks any limit or rule is left to the
// general encoder, so errors (and which error wins when several apply) are
// exactly the general encoder's. The output bytes are the same
// (hello_encode_test.go checks against the nested-builder encoding).

// maxFastExtensions bounds the quadratic duplicate check; a hello with more
// extensions (only a crafted one) takes the general encoder.
const maxFastExtensions = 32

// flatExtensions is extensions() with every body appended to one buffer of
// the exact size. ok is false if a body breaks a length limit or an ALPN
// protocol is empty (the general encoder then reports it). It returns nil
// when there are no extensions at all.
func (m *ClientHello) flatExtensions() (exts []Extension, ok bool) {
	size, count := 0, len(m.Extra)
	if m.ServerName != "" {
		// server_name_list<1..2^16-1> of {name_type, HostName<1..2^16-1>}.
		if len(m.ServerName) > 0xffff-3 {
			return nil, false
		}
		size, count = size+2+1+2+len(m.ServerName), count+1
	}
	if n := len(m.SupportedGroups); n > 0 {
		if 2*n > 0xffff {
			return nil, false
		}
		size, count = size+2+2*n, count+1
	}
	if n := len(m.PointFormats); n > 0 {
		if n > 0xff {
			return nil, false
		}
		size, count = size+1+n, count+1
	}
	if n := len(m.SignatureAlgorithms); n > 0 {
		if 2*n > 0xffff {
			return nil, false
		}
		size, count = size+2+2*n, count+1
	}
	if len(m.ALPNProtocols) > 0 {
		list := 0
		for _, p := range m.ALPNProtocols {
			if p == "" || len(p) > 0xff {
				return nil, false
			}
			list += 1 + len(p)
		}
		if list > 0xffff {
			return nil, false
		}
		size, count = size+2+list, count+1
	}
	if m.ExtendedMasterSecret {
		count++
	}
	if m.SecureRenegotiation {
		if len(m.RenegotiationInfo) > 0xff {
			return nil, false
		}
		size, count = size+1+len(m.RenegotiationInfo), count+1
	}
	if m.TicketSupported {
		size, count = size+len(m.SessionTicket), count+1
	}
	if m.MaxFragmentLength != 0 {
		size, count = size+1, count+1
	}
	if count == 0 {
		return nil, true
	}

	buf := make([]byte, 0, size)
	exts = make([]Extension, 0, count)
	// add records the body appended since start (nil when empty, as the
	// general encoder's builders give).
	add := func(t uint16, start int) {
		var data []byte
		if len(buf) > start {
			data = buf[start:len(buf):len(buf)]
		}
		exts = append(exts, Extension{Type: t, Data: data})
	}
	if m.ServerName != "" {
		start := len(buf)
		buf = binary.BigEndian.AppendUint16(buf, uint16(1+2+len(m.ServerName)))
		buf = append(buf, 0) // host_name
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(m.ServerName)))
		buf = append(buf, m.ServerName...)
		add(ExtServerName, start)
	}
	if len(m.SupportedGroups) > 0 {
		start := len(buf)
		buf = appendUint16List(buf, m.SupportedGroups)
		add(ExtSupportedGroups, start)
	}
	if len(m.PointFormats) > 0 {
		start := len(buf)
		buf = append(buf, uint8(len(m.PointFormats)))
		buf = append(buf, m.PointFormats...)
		add(ExtECPointFormats, start)
	}
	if len(m.SignatureAlgorithms) > 0 {
		start := len(buf)
		buf = appendUint16List(buf, m.SignatureAlgorithms)
		add(ExtSignatureAlgorithms, start)
	}
	if len(m.ALPNProtocols) > 0 {
		start := len(buf)
		buf = append(buf, 0, 0) // the list's length, set below
		for _, p := range m.ALPNProtocols {
			buf = append(buf, uint8(len(p)))
			buf = append(buf, p...)
		}
		binary.BigEndian.PutUint16(buf[start:], uint16(len(buf)-start-2))
		add(ExtALPN, start)
	}
	if m.ExtendedMasterSecret {
		add(ExtExtendedMasterSecret, len(buf))
	}
	if m.SecureRenegotiation {
		start := len(buf)
		buf = append(buf, uint8(len(m.RenegotiationInfo)))
		buf = append(buf, m.RenegotiationInfo...)
		add(ExtRenegotiationInfo, start)
	}
	if m.TicketSupported {
		start := len(buf)
		buf = append(buf, m.SessionTicket...)
		add(ExtSessionTicket, start)
	}
	if m.MaxFragmentLength != 0 {
		start := len(buf)
		buf = append(buf, m.MaxFragmentLength)
		add(ExtMaxFragmentLength, start)
	}
	exts = append(exts, m.Extra...)
	return exts, true
}

// marshalFast encodes the hello into one buffer of its exact size. ok is
// false if anything breaks a limit or rule (a length over its prefix, a
// duplicate extension, more than maxFastExtensions): the caller then runs
// the general encoder, which reports the error.
func (m *ClientHello) marshalFast(random []byte) (out []byte, ok bool) {
	exts, ok := m.flatExtensions()
	if !ok || len(exts) > maxFastExtensions {
		return nil, false
	}
	exts = m.orderExtensions(exts)
	comp := m.CompressionMethods
	if len(comp) == 0 {
		comp = []byte{0}
	}
	if len(m.SessionID) > maxSessionID || 2*len(m.CipherSuites) > 0xffff || len(comp) > 0xff {
		return nil, false
	}
	body := 2 + len(random) + 1 + len(m.SessionID) + 2 + 2*len(m.CipherSuites) + 1 + len(comp)
	if exts != nil {
		block := 0
		for i, e := range exts {
			if len(e.Data) > 0xffff {
				return nil, false
			}
			for _, prev := range exts[:i] {
				if prev.Type == e.Type {
					return nil, false
				}
			}
			block += 4 + len(e.Data)
		}
		if block > 0xffff {
			return nil, false
		}
		body += 2 + block
	}
	if body > maxHandshakeBody {
		return nil, false
	}

	out = make([]byte, 0, 4+body)
	out = append(out, TypeClientHello, uint8(body>>16), uint8(body>>8), uint8(body))
	out = binary.BigEndian.AppendUint16(out, m.Version)
	out = append(out, random...)
	out = append(out, uint8(len(m.SessionID)))
	out = append(out, m.SessionID...)
	out = appendUint16List(out, m.CipherSuites)
	out = append(out, uint8(len(comp)))
	out = append(out, comp...)
	if exts != nil {
		out = binary.BigEndian.AppendUint16(out, uint16(4+body-len(out)-2))
		for _, e := range exts {
			out = binary.BigEndian.AppendUint16(out, e.Type)
			out = binary.BigEndian.AppendUint16(out, uint16(len(e.Data)))
			out = append(out, e.Data...)
		}
	}
	if len(out) != 4+body { // a size computed wrong: never send it
		return nil, false
	}
	return out, true
}

// appendUint16List appends a uint16-length-prefixed list of uint16 values;
// the caller has checked that it fits.
func appendUint16List(b []byte, v []uint16) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(2*len(v)))
	for _, x := range v {
		b = binary.BigEndian.AppendUint16(b, x)
	}
	return b
}

// marshalBytesMessage is marshalMessage for a body that is one opaque
// string (ClientKeyExchange, Finished): the header and the body in one
// allocation, no builders. It returns nil if the body is over the 24-bit
// length, as marshalMessage does.
func marshalBytesMessage(typ uint8, body []byte) []byte {
	if len(body) > maxHandshakeBody {
		return nil
	}
	out := make([]byte, 4, 4+len(body))
	out[0], out[1], out[2], out[3] = typ, uint8(len(body)>>16), uint8(len(body)>>8), uint8(len(body))
	return append(out, body...)
}
