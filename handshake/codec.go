package handshake

import (
	"math"

	"github.com/tlsoffload/tlsoffload/internal/cryptobyte"
)

// Limits a parser checks before it allocates.
const (
	// MaxCertificates caps the certificate_list of a Certificate message.
	// Real chains are 2-4 certificates; 64 leaves room for odd
	// cross-signed bundles while bounding the work and memory per message.
	MaxCertificates = 64
	// maxHandshakeBody is the largest body a 24-bit length can carry.
	maxHandshakeBody = 1<<24 - 1
)

// headerLen is the length of a handshake message's header (RFC 5246
// §7.4): msg_type(1) || length(3).
const headerLen = 4

// messageName is the name DecodeError and IllegalParameterError carry.
func messageName(typ uint8) string {
	switch typ {
	case TypeHelloRequest:
		return "HelloRequest"
	case TypeClientHello:
		return "ClientHello"
	case TypeServerHello:
		return "ServerHello"
	case TypeNewSessionTicket:
		return "NewSessionTicket"
	case TypeCertificate:
		return "Certificate"
	case TypeServerKeyExchange:
		return "ServerKeyExchange"
	case TypeCertificateRequest:
		return "CertificateRequest"
	case TypeServerHelloDone:
		return "ServerHelloDone"
	case TypeCertificateVerify:
		return "CertificateVerify"
	case TypeClientKeyExchange:
		return "ClientKeyExchange"
	case TypeFinished:
		return "Finished"
	case TypeCertificateStatus:
		return "CertificateStatus"
	}
	return "handshake message"
}

func decodeErr(typ uint8, detail string) error {
	return &DecodeError{Message: messageName(typ), Detail: detail}
}

func illegalParam(typ uint8, detail string) error {
	return &IllegalParameterError{Message: messageName(typ), Detail: detail}
}

// readBody checks the handshake header of b (RFC 5246 §7.4: msg_type,
// uint24 length) and returns the body. The body aliases b.
func readBody(b []byte, typ uint8) (cryptobyte.String, error) {
	s := cryptobyte.String(b)
	var got uint8
	var body cryptobyte.String
	if !s.ReadUint8(&got) {
		return nil, decodeErr(typ, "empty message")
	}
	if got != typ {
		return nil, decodeErr(typ, "wrong message type")
	}
	if !s.ReadUint24LengthPrefixed(&body) {
		return nil, decodeErr(typ, "truncated message")
	}
	if !s.Empty() {
		return nil, decodeErr(typ, "length does not match the message")
	}
	return body, nil
}

// marshalMessage builds a whole message: header, then the body body adds.
// It returns nil if the builder recorded an error (a field too long for its
// length prefix, or an error set through b.SetError).
func marshalMessage(typ uint8, body func(b *cryptobyte.Builder)) []byte {
	var b cryptobyte.Builder
	b.AddUint8(typ)
	b.AddUint24LengthPrefixed(body)
	out, err := b.Bytes()
	if err != nil {
		return nil
	}
	return out
}

// marshalBytesMessage is marshalMessage for a body that is one opaque
// string (ClientKeyExchange, Finished), into a buffer of the message's
// size: no child builder, one allocation.
func marshalBytesMessage(typ uint8, body []byte) []byte {
	if len(body) > maxHandshakeBody {
		return nil // checked before allocating
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, headerLen+len(body)))
	b.AddUint8(typ)
	addBytes24(b, body)
	out, err := b.Bytes()
	if err != nil {
		return nil
	}
	return out
}

// builderError is an error a marshaller sets on its builder.
type builderError string

func (e builderError) Error() string { return "handshake: cannot marshal: " + string(e) }

// errTooLong is the error of a vector over its length prefix.
const errTooLong = builderError("a field is too long for its length prefix")

// addBytes8/16/24 add an opaque vector with its 1-, 2- or 3-byte length
// (RFC 5246 §4.3), setting errTooLong on the builder if v does not fit.
// The length is written from len(v) rather than through a child builder:
// these leaves are most of a message's vectors, and a child costs an
// allocation.
func addBytes8(b *cryptobyte.Builder, v []byte) {
	if len(v) > math.MaxUint8 {
		b.SetError(errTooLong)
		return
	}
	b.AddUint8(uint8(len(v)))
	b.AddBytes(v)
}

func addBytes16(b *cryptobyte.Builder, v []byte) {
	if len(v) > math.MaxUint16 {
		b.SetError(errTooLong)
		return
	}
	b.AddUint16(uint16(len(v)))
	b.AddBytes(v)
}

func addBytes24(b *cryptobyte.Builder, v []byte) {
	if len(v) > maxHandshakeBody {
		b.SetError(errTooLong)
		return
	}
	b.AddUint24(uint32(len(v)))
	b.AddBytes(v)
}

// addUint16s adds a vector of uint16 values with its 2-byte length.
func addUint16s(b *cryptobyte.Builder, v []uint16) {
	if 2*len(v) > math.MaxUint16 {
		b.SetError(errTooLong)
		return
	}
	b.AddUint16(uint16(2 * len(v)))
	for _, x := range v {
		b.AddUint16(x)
	}
}

// readUint16List reads a uint16-length-prefixed list of uint16 values that
// must hold at least one value (the <2..2^16-2> vectors of RFC 5246 and
// RFC 8422).
func readUint16List(s *cryptobyte.String, out *[]uint16) bool {
	var list cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&list) || list.Empty() || len(list)%2 != 0 {
		return false
	}
	v := make([]uint16, 0, len(list)/2)
	for !list.Empty() {
		var x uint16
		if !list.ReadUint16(&x) {
			return false
		}
		v = append(v, x)
	}
	*out = v
	return true
}

// readBytes8/16/24 read a length-prefixed vector; an empty vector gives nil
// so that decoded messages compare equal to the ones marshalled from nil.
func readBytes8(s *cryptobyte.String, out *[]byte) bool {
	var v cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&v) {
		return false
	}
	*out = nonEmpty(v)
	return true
}

func readBytes16(s *cryptobyte.String, out *[]byte) bool {
	var v cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&v) {
		return false
	}
	*out = nonEmpty(v)
	return true
}

func nonEmpty(v []byte) []byte {
	if len(v) == 0 {
		return nil
	}
	return v[:len(v):len(v)]
}

// extensionSeen tracks the extension types of one hello to refuse
// duplicates (RFC 5246 §7.4.1.4: "There MUST NOT be more than one
// extension of the same type").
type extensionSeen map[uint16]struct{}

func (m extensionSeen) add(t uint16) bool {
	if _, dup := m[t]; dup {
		return false
	}
	m[t] = struct{}{}
	return true
}

// SplitMessages splits a concatenation of whole handshake messages (headers
// included) into its messages; it fails on a truncated message. The
// messages alias b; an empty b gives no messages.
func SplitMessages(b []byte) ([][]byte, error) {
	var msgs [][]byte
	s := cryptobyte.String(b)
	for !s.Empty() {
		// Peek at the header on a copy, then take header and body whole.
		peek := s
		var typ uint8
		var n uint32
		var msg []byte
		if !peek.ReadUint8(&typ) || !peek.ReadUint24(&n) || !s.ReadBytes(&msg, headerLen+int(n)) {
			return nil, &DecodeError{Message: "handshake messages", Detail: "truncated message"}
		}
		msgs = append(msgs, msg[:len(msg):len(msg)])
	}
	return msgs, nil
}
