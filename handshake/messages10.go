package handshake

import (
	"golang.org/x/crypto/cryptobyte"
)

// The TLS 1.0 and 1.1 forms of the messages whose layout depends on the
// version: before TLS 1.2 a digitally-signed struct carries no
// SignatureAndHashAlgorithm (RFC 2246 §7.4.3, RFC 4346 §7.4.3: the hash is
// MD5 || SHA-1 for RSA and SHA-1 for ECDSA, RFC 4492 §5.4), and a
// CertificateRequest has no supported_signature_algorithms (RFC 4346
// §7.4.4). Each function here takes the negotiated version and, for TLS 1.2,
// is the 1.2 codec.

// ParseECDHEParamsVersion decodes an ECDHE ServerKeyExchange body in
// version: the TLS 1.2 form (ParseECDHEParams) or, for TLS 1.0/1.1,
//
//	struct {
//	    ServerECDHParams params;
//	    Signature signed_params;   // opaque <0..2^16-1>, no algorithm
//	} ServerKeyExchange;           // RFC 4492 §5.4
//
// in which case SignatureAlgorithm is zero. The fields alias body.
func ParseECDHEParamsVersion(body []byte, version uint16) (*ECDHEParams, error) {
	if version >= VersionTLS12 {
		return parseECDHEParams(body)
	}
	const name = "ServerKeyExchange"
	s := cryptobyte.String(body)
	var curveType uint8
	var p ECDHEParams
	var point, sig cryptobyte.String
	if !s.ReadUint8(&curveType) {
		return nil, &DecodeError{Message: name, Detail: "empty body"}
	}
	if curveType != curveTypeNamedCurve {
		return nil, &IllegalParameterError{Message: name, Detail: "curve type is not named_curve"}
	}
	if !s.ReadUint16(&p.Group) || !s.ReadUint8LengthPrefixed(&point) || point.Empty() {
		return nil, &DecodeError{Message: name, Detail: "bad ECDH parameters"}
	}
	signed := body[:len(body)-len(s)]
	if !s.ReadUint16LengthPrefixed(&sig) || !s.Empty() {
		return nil, &DecodeError{Message: name, Detail: "bad signature"}
	}
	p.PublicKey = point[:len(point):len(point)]
	p.SignedParams = signed[:len(signed):len(signed)]
	p.Signature = nonEmpty(sig)
	return &p, nil
}

// MarshalVersion encodes the ServerKeyExchange body of these parameters in
// version (the inverse of ParseECDHEParamsVersion): without the signature
// algorithm before TLS 1.2. It returns nil if the point is empty or a field
// too long.
func (p *ECDHEParams) MarshalVersion(version uint16) []byte {
	if version >= VersionTLS12 {
		return p.Marshal()
	}
	params := ECDHEParamsToSign(p.Group, p.PublicKey)
	if params == nil {
		return nil
	}
	var b cryptobyte.Builder
	b.AddBytes(params)
	addBytes16(&b, p.Signature)
	out, err := b.Bytes()
	if err != nil {
		return nil
	}
	return out
}

// UnmarshalVersion decodes a CertificateRequest in version: the TLS 1.2
// form (Unmarshal) or, for TLS 1.0/1.1 (RFC 2246 §7.4.4, RFC 4346 §7.4.4),
// certificate_types<1..2^8-1> then certificate_authorities<0..2^16-1>, with
// SignatureAlgorithms left nil.
func (m *CertificateRequest) UnmarshalVersion(b []byte, version uint16) error {
	return m.unmarshal(b, version >= VersionTLS12)
}

// MarshalVersion encodes the CertificateRequest in version and sets Raw:
// before TLS 1.2 without supported_signature_algorithms (which is then
// ignored). Nil if CertificateTypes is empty (or, in TLS 1.2,
// SignatureAlgorithms), or a field too long.
func (m *CertificateRequest) MarshalVersion(version uint16) []byte {
	if version >= VersionTLS12 {
		return m.Marshal()
	}
	if len(m.CertificateTypes) == 0 {
		return nil
	}
	return m.marshal(false)
}

// MarshalVersion encodes the CertificateVerify in version and sets Raw:
// before TLS 1.2 the signature alone (RFC 2246 §7.4.8: Signature
// signature, opaque <0..2^16-1>), SignatureAlgorithm ignored.
func (m *CertificateVerify) MarshalVersion(version uint16) []byte {
	if version >= VersionTLS12 {
		return m.Marshal()
	}
	m.Raw = marshalMessage(TypeCertificateVerify, func(b *cryptobyte.Builder) {
		addBytes16(b, m.Signature)
	})
	return m.Raw
}

// UnmarshalVersion decodes a CertificateVerify in version: before TLS 1.2
// the signature alone, SignatureAlgorithm left zero.
func (m *CertificateVerify) UnmarshalVersion(b []byte, version uint16) error {
	if version >= VersionTLS12 {
		return m.Unmarshal(b)
	}
	raw := cloneBytes(b)
	s, err := readBody(raw, TypeCertificateVerify)
	if err != nil {
		return err
	}
	var v CertificateVerify
	v.Raw = raw
	if !readBytes16(&s, &v.Signature) || !s.Empty() {
		return decodeErr(TypeCertificateVerify, "bad signature")
	}
	*m = v
	return nil
}
