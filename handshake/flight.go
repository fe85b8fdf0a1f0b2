package handshake

import (
	"bytes"

	"github.com/tlsoffload/tlsoffload/internal/cryptobyte"
)

// This file holds the messages after the hellos, in the order of RFC 5246
// §7.3's message flow.

// Marshal encodes the Certificate and sets Raw; nil if a certificate is
// empty or too long, or there are more than MaxCertificates.
func (m *Certificate) Marshal() []byte {
	if len(m.Certificates) > MaxCertificates {
		return nil
	}
	out := marshalMessage(TypeCertificate, func(b *cryptobyte.Builder) {
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, c := range m.Certificates {
				if len(c) == 0 {
					b.SetError(builderError("empty certificate"))
					return
				}
				addBytes24(b, c)
			}
		})
	})
	m.Raw = out
	return out
}

// Unmarshal decodes a Certificate (RFC 5246 §7.4.2):
// ASN.1Cert certificate_list<0..2^24-1>, each ASN.1Cert<1..2^24-1>; at most
// MaxCertificates. The certificates alias a private copy of b (Raw).
func (m *Certificate) Unmarshal(b []byte) error {
	raw := bytes.Clone(b)
	s, err := readBody(raw, TypeCertificate)
	if err != nil {
		return err
	}
	var list cryptobyte.String
	if !s.ReadUint24LengthPrefixed(&list) || !s.Empty() {
		return decodeErr(TypeCertificate, "certificate_list length does not match the message")
	}
	var certs [][]byte
	for !list.Empty() {
		if len(certs) == MaxCertificates {
			return decodeErr(TypeCertificate, "too many certificates")
		}
		var c cryptobyte.String
		if !list.ReadUint24LengthPrefixed(&c) || c.Empty() {
			return decodeErr(TypeCertificate, "bad certificate entry")
		}
		certs = append(certs, c[:len(c):len(c)])
	}
	*m = Certificate{Certificates: certs, Raw: raw}
	return nil
}

// Marshal encodes the ServerKeyExchange and sets Raw.
func (m *ServerKeyExchange) Marshal() []byte {
	m.Raw = marshalMessage(TypeServerKeyExchange, func(b *cryptobyte.Builder) { b.AddBytes(m.Body) })
	return m.Raw
}

// Unmarshal keeps the ServerKeyExchange body (RFC 5246 §7.4.3) as bytes:
// its form depends on the suite (see ParseECDHEParams). The body must not
// be empty.
func (m *ServerKeyExchange) Unmarshal(b []byte) error {
	raw := bytes.Clone(b)
	s, err := readBody(raw, TypeServerKeyExchange)
	if err != nil {
		return err
	}
	if s.Empty() {
		return decodeErr(TypeServerKeyExchange, "empty body")
	}
	*m = ServerKeyExchange{Body: s, Raw: raw}
	return nil
}

// curveTypeNamedCurve is ECCurveType named_curve (RFC 8422 §5.4); explicit
// curves are deprecated and refused.
const curveTypeNamedCurve = 3

// ParseECDHEParams decodes an ECDHE ServerKeyExchange body (RFC 8422
// §5.4) in version:
//
//	struct {
//	    ECParameters    curve_params;  // curve_type(1) + named_curve(2)
//	    ECPoint         public;        // opaque point <1..2^8-1>
//	} ServerECDHParams;
//	struct {
//	    ServerECDHParams params;
//	    digitally-signed { SignatureAndHashAlgorithm(2); opaque <0..2^16-1> }
//	} ServerKeyExchange;
//
// where before TLS 1.2 the signature carries no SignatureAndHashAlgorithm
// (RFC 4492 §5.4: RSA signs MD5 || SHA-1, ECDSA SHA-1) and
// SignatureAlgorithm is left zero. Only named_curve (3) is accepted; the
// point must be non-empty. The fields alias body.
func ParseECDHEParams(body []byte, version uint16) (*ECDHEParams, error) {
	const name = "ServerKeyExchange"
	s := cryptobyte.String(body)
	var curveType uint8
	var p ECDHEParams
	var point cryptobyte.String
	if !s.ReadUint8(&curveType) {
		return nil, &DecodeError{Message: name, Detail: "empty body"}
	}
	if curveType != curveTypeNamedCurve {
		return nil, &IllegalParameterError{Message: name, Detail: "curve type is not named_curve"}
	}
	if !s.ReadUint16(&p.Group) || !s.ReadUint8LengthPrefixed(&point) || point.Empty() {
		return nil, &DecodeError{Message: name, Detail: "bad ECDH parameters"}
	}
	// What was read so far is ServerECDHParams, the signed bytes.
	signed := body[:len(body)-len(s)]
	var sig cryptobyte.String
	if version >= VersionTLS12 && !s.ReadUint16(&p.SignatureAlgorithm) {
		return nil, &DecodeError{Message: name, Detail: "bad signature"}
	}
	if !s.ReadUint16LengthPrefixed(&sig) || !s.Empty() {
		return nil, &DecodeError{Message: name, Detail: "bad signature"}
	}
	p.PublicKey = point[:len(point):len(point)]
	p.SignedParams = signed[:len(signed):len(signed)]
	p.Signature = nonEmpty(sig)
	return &p, nil
}

// Marshal encodes the ServerKeyExchange body of these parameters in
// version (the inverse of ParseECDHEParams): without SignatureAlgorithm
// before TLS 1.2. SignedParams is ignored and recomputed. It returns nil
// if the point is empty or a field too long.
func (p *ECDHEParams) Marshal(version uint16) []byte {
	params := ECDHEParamsToSign(p.Group, p.PublicKey)
	if params == nil {
		return nil
	}
	var b cryptobyte.Builder
	b.AddBytes(params)
	if version >= VersionTLS12 {
		b.AddUint16(p.SignatureAlgorithm)
	}
	addBytes16(&b, p.Signature)
	out, err := b.Bytes()
	if err != nil {
		return nil
	}
	return out
}

// ECDHEParamsToSign encodes ServerECDHParams for a named group and point:
// the bytes a server signs after client_random || server_random (RFC 8422
// §5.4). It returns nil if the point is empty or over 255 bytes.
func ECDHEParamsToSign(group uint16, point []byte) []byte {
	if len(point) == 0 {
		return nil
	}
	var b cryptobyte.Builder
	b.AddUint8(curveTypeNamedCurve)
	b.AddUint16(group)
	addBytes8(&b, point)
	out, err := b.Bytes()
	if err != nil {
		return nil
	}
	return out
}

// Marshal encodes the CertificateRequest in the form of m.Version and
// sets Raw: before TLS 1.2 without supported_signature_algorithms (which
// is then ignored). Nil if CertificateTypes is empty (or, in TLS 1.2,
// SignatureAlgorithms), or a field too long.
func (m *CertificateRequest) Marshal() []byte {
	withAlgorithms := hasSignatureAlgorithm(m.Version)
	if len(m.CertificateTypes) == 0 || withAlgorithms && len(m.SignatureAlgorithms) == 0 {
		return nil
	}
	out := marshalMessage(TypeCertificateRequest, func(b *cryptobyte.Builder) {
		addBytes8(b, m.CertificateTypes)
		if withAlgorithms {
			addUint16s(b, m.SignatureAlgorithms)
		}
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, dn := range m.CertificateAuthorities {
				if len(dn) == 0 {
					b.SetError(builderError("empty distinguished name"))
					return
				}
				addBytes16(b, dn)
			}
		})
	})
	m.Raw = out
	return out
}

// Unmarshal decodes a CertificateRequest in the form of m.Version, which
// it keeps: in TLS 1.2 (RFC 5246 §7.4.4) certificate_types<1..2^8-1>,
// supported_signature_algorithms<2..2^16-2>,
// certificate_authorities<0..2^16-1> of DistinguishedName<1..2^16-1>;
// before TLS 1.2 (RFC 2246 §7.4.4, RFC 4346 §7.4.4) the same without
// supported_signature_algorithms, SignatureAlgorithms left nil.
func (m *CertificateRequest) Unmarshal(b []byte) error {
	raw := bytes.Clone(b)
	s, err := readBody(raw, TypeCertificateRequest)
	if err != nil {
		return err
	}
	fail := func(detail string) error { return decodeErr(TypeCertificateRequest, detail) }
	r := CertificateRequest{Version: m.Version, Raw: raw}
	var types, cas cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&types) || types.Empty() {
		return fail("bad certificate_types")
	}
	r.CertificateTypes = types[:len(types):len(types)]
	if hasSignatureAlgorithm(m.Version) && !readUint16List(&s, &r.SignatureAlgorithms) {
		return fail("bad supported_signature_algorithms")
	}
	if !s.ReadUint16LengthPrefixed(&cas) || !s.Empty() {
		return fail("bad certificate_authorities")
	}
	for !cas.Empty() {
		var dn cryptobyte.String
		if !cas.ReadUint16LengthPrefixed(&dn) || dn.Empty() {
			return fail("bad distinguished name")
		}
		r.CertificateAuthorities = append(r.CertificateAuthorities, dn[:len(dn):len(dn)])
	}
	*m = r
	return nil
}

// hasSignatureAlgorithm reports whether the messages of version name their
// signature algorithm (RFC 5246 §7.4.1.4.1: TLS 1.2 on); a zero version is
// TLS 1.2.
func hasSignatureAlgorithm(version uint16) bool {
	return version == 0 || version >= VersionTLS12
}

// Marshal encodes the ServerHelloDone and sets Raw.
func (m *ServerHelloDone) Marshal() []byte {
	m.Raw = marshalMessage(TypeServerHelloDone, func(*cryptobyte.Builder) {})
	return m.Raw
}

// Unmarshal decodes a ServerHelloDone (RFC 5246 §7.4.5): an empty body.
func (m *ServerHelloDone) Unmarshal(b []byte) error {
	return unmarshalEmpty(b, TypeServerHelloDone, &m.Raw)
}

// Marshal encodes the ClientKeyExchange and sets Raw.
func (m *ClientKeyExchange) Marshal() []byte {
	m.Raw = marshalBytesMessage(TypeClientKeyExchange, m.Body)
	return m.Raw
}

// Unmarshal keeps the ClientKeyExchange body (RFC 5246 §7.4.7) as bytes;
// it must not be empty (both forms carry a length prefix).
func (m *ClientKeyExchange) Unmarshal(b []byte) error {
	raw := bytes.Clone(b)
	s, err := readBody(raw, TypeClientKeyExchange)
	if err != nil {
		return err
	}
	if s.Empty() {
		return decodeErr(TypeClientKeyExchange, "empty body")
	}
	*m = ClientKeyExchange{Body: s, Raw: raw}
	return nil
}

// ECDHEClientKeyExchangeBody encodes the ClientKeyExchange body of ECDHE
// (RFC 8422 §5.7: opaque point <1..2^8-1>); nil if the point is empty or
// too long.
func ECDHEClientKeyExchangeBody(point []byte) []byte {
	if len(point) == 0 {
		return nil
	}
	var b cryptobyte.Builder
	addBytes8(&b, point)
	out, err := b.Bytes()
	if err != nil {
		return nil
	}
	return out
}

// RSAClientKeyExchangeBody encodes the ClientKeyExchange body of RSA key
// exchange (RFC 5246 §7.4.7.1: opaque EncryptedPreMasterSecret
// <0..2^16-1>); nil if too long.
func RSAClientKeyExchangeBody(encrypted []byte) []byte {
	var b cryptobyte.Builder
	addBytes16(&b, encrypted)
	out, err := b.Bytes()
	if err != nil {
		return nil
	}
	return out
}

// ParseECDHEClientKeyExchange returns the point of an ECDHE
// ClientKeyExchange body; it aliases body.
func ParseECDHEClientKeyExchange(body []byte) ([]byte, error) {
	s := cryptobyte.String(body)
	var point cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&point) || point.Empty() || !s.Empty() {
		return nil, decodeErr(TypeClientKeyExchange, "bad ECDHE point")
	}
	return point, nil
}

// ParseRSAClientKeyExchange returns the EncryptedPreMasterSecret of an RSA
// ClientKeyExchange body (TLS 1.1 and 1.2 form); it aliases body.
func ParseRSAClientKeyExchange(body []byte) ([]byte, error) {
	s := cryptobyte.String(body)
	var enc cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&enc) || enc.Empty() || !s.Empty() {
		return nil, decodeErr(TypeClientKeyExchange, "bad encrypted premaster")
	}
	return enc, nil
}

// Marshal encodes the CertificateVerify in the form of m.Version and sets
// Raw: in TLS 1.2 SignatureAndHashAlgorithm then the signature (RFC 5246
// §7.4.8), before TLS 1.2 the signature alone (RFC 2246 §7.4.8), with
// SignatureAlgorithm ignored.
func (m *CertificateVerify) Marshal() []byte {
	m.Raw = marshalMessage(TypeCertificateVerify, func(b *cryptobyte.Builder) {
		if hasSignatureAlgorithm(m.Version) {
			b.AddUint16(m.SignatureAlgorithm)
		}
		addBytes16(b, m.Signature)
	})
	return m.Raw
}

// Unmarshal decodes a CertificateVerify in the form of m.Version, which it
// keeps: signature<0..2^16-1>, after a SignatureAndHashAlgorithm in TLS
// 1.2 (SignatureAlgorithm is left zero before).
func (m *CertificateVerify) Unmarshal(b []byte) error {
	raw := bytes.Clone(b)
	s, err := readBody(raw, TypeCertificateVerify)
	if err != nil {
		return err
	}
	v := CertificateVerify{Version: m.Version, Raw: raw}
	if hasSignatureAlgorithm(m.Version) && !s.ReadUint16(&v.SignatureAlgorithm) ||
		!readBytes16(&s, &v.Signature) || !s.Empty() {
		return decodeErr(TypeCertificateVerify, "bad signature")
	}
	*m = v
	return nil
}

// Marshal encodes the Finished and sets Raw.
func (m *Finished) Marshal() []byte {
	m.Raw = marshalBytesMessage(TypeFinished, m.VerifyData)
	return m.Raw
}

// Unmarshal decodes a Finished (RFC 5246 §7.4.9): verify_data fills the
// body. Its length is not checked here: the caller compares it, in
// constant time, with the 12 bytes it expects.
func (m *Finished) Unmarshal(b []byte) error {
	raw := bytes.Clone(b)
	s, err := readBody(raw, TypeFinished)
	if err != nil {
		return err
	}
	*m = Finished{VerifyData: nonEmpty(s), Raw: raw}
	return nil
}

// Marshal encodes the NewSessionTicket and sets Raw.
func (m *NewSessionTicket) Marshal() []byte {
	m.Raw = marshalMessage(TypeNewSessionTicket, func(b *cryptobyte.Builder) {
		b.AddUint32(m.LifetimeHint)
		addBytes16(b, m.Ticket)
	})
	return m.Raw
}

// Unmarshal decodes a NewSessionTicket (RFC 5077 §3.3):
// ticket_lifetime_hint, then opaque ticket<0..2^16-1>. An empty ticket is
// legal: the server keeps the session but will not resume it by ticket.
func (m *NewSessionTicket) Unmarshal(b []byte) error {
	raw := bytes.Clone(b)
	s, err := readBody(raw, TypeNewSessionTicket)
	if err != nil {
		return err
	}
	var t NewSessionTicket
	t.Raw = raw
	if !s.ReadUint32(&t.LifetimeHint) || !readBytes16(&s, &t.Ticket) || !s.Empty() {
		return decodeErr(TypeNewSessionTicket, "bad ticket")
	}
	*m = t
	return nil
}

// Marshal encodes the HelloRequest and sets Raw.
func (m *HelloRequest) Marshal() []byte {
	m.Raw = marshalMessage(TypeHelloRequest, func(*cryptobyte.Builder) {})
	return m.Raw
}

// Unmarshal decodes a HelloRequest (RFC 5246 §7.4.1.1): an empty body.
func (m *HelloRequest) Unmarshal(b []byte) error {
	return unmarshalEmpty(b, TypeHelloRequest, &m.Raw)
}

func unmarshalEmpty(b []byte, typ uint8, raw *[]byte) error {
	s, err := readBody(b, typ)
	if err != nil {
		return err
	}
	if !s.Empty() {
		return decodeErr(typ, "body is not empty")
	}
	*raw = bytes.Clone(b)
	return nil
}

// CertificateStatus (RFC 6066 §8) carries a stapled OCSP response; a server
// sends it after Certificate when it acknowledged status_request.
type CertificateStatus struct {
	OCSPResponse []byte // DER OCSPResponse
	Raw          []byte
}

// statusTypeOCSP is CertificateStatusType ocsp (RFC 6066 §8).
const statusTypeOCSP = 1

// Marshal encodes the CertificateStatus and sets Raw; nil if the response
// is empty or too long.
func (m *CertificateStatus) Marshal() []byte {
	if len(m.OCSPResponse) == 0 {
		return nil
	}
	m.Raw = marshalMessage(TypeCertificateStatus, func(b *cryptobyte.Builder) {
		b.AddUint8(statusTypeOCSP)
		addBytes24(b, m.OCSPResponse)
	})
	return m.Raw
}

// Unmarshal decodes a CertificateStatus: status_type ocsp(1), then
// OCSPResponse<1..2^24-1>. Other status types are refused.
func (m *CertificateStatus) Unmarshal(b []byte) error {
	raw := bytes.Clone(b)
	s, err := readBody(raw, TypeCertificateStatus)
	if err != nil {
		return err
	}
	var typ uint8
	var resp cryptobyte.String
	if !s.ReadUint8(&typ) || typ != statusTypeOCSP ||
		!s.ReadUint24LengthPrefixed(&resp) || resp.Empty() || !s.Empty() {
		return decodeErr(TypeCertificateStatus, "bad OCSP response")
	}
	*m = CertificateStatus{OCSPResponse: resp[:len(resp):len(resp)], Raw: raw}
	return nil
}
