// Package handshake holds what both ends of tlsoffload must agree on about a
// TLS 1.0–1.2 handshake (RFC 5246 §7.4): the handshake messages with their
// cryptobyte codecs, the cipher-suite table, the PRF and key derivation, and
// the transcript hash. The device's tlsclient and the offloader server both
// use it; it imports only record (for the suite table's cipher
// constructors), internal/cryptobyte, the standard library and x/crypto.
//
// Implemented: the handshake messages of RFC 5246 §7.4 (plus
// CertificateStatus, RFC 6066 §8, and NewSessionTicket, RFC 5077 §3.3) with
// the extensions of RFC 6066 (server_name, max_fragment_length,
// status_request), RFC 8422 (supported_groups, ec_point_formats, ECDHE
// parameters), RFC 7301 (ALPN), RFC 7627 (extended master secret), RFC 5746
// (renegotiation_info) and RFC 5077 (session_ticket); the PRF, master
// secret, key block and Finished of RFC 5246 §5, §6.3, §8.1 and RFC 7627
// §4. TLS 1.0 and 1.1 (RFC 2246, RFC 4346) are the same functions given
// the version: the MD5 ⊕ SHA-1 PRF and MD5 || SHA-1 handshake hash, and
// the older forms of the ServerKeyExchange signature, CertificateRequest
// and CertificateVerify. The suite table holds the AES-CBC + HMAC suites
// of RFC 5246, RFC 8422 and RFC 5289 beside the AEAD ones, each with the
// versions it is allowed in. Every codec is built on internal/cryptobyte
// (x/crypto's String and Builder without the ASN.1 half, which would link
// math/big into a device); parsers consume all input and return *DecodeError or
// *IllegalParameterError, so the caller picks the alert.
//
// Left out: SSL 3.0, 3DES and RC4 suites, TLS 1.3
// messages (a TLS 1.3 ClientHello's extensions are kept as bytes in Extra),
// explicit-curve ECDHE parameters (refused), and renegotiation beyond
// parsing HelloRequest.
package handshake

// Handshake message types (RFC 5246 §7.4).
const (
	TypeHelloRequest       uint8 = 0
	TypeClientHello        uint8 = 1
	TypeServerHello        uint8 = 2
	TypeNewSessionTicket   uint8 = 4
	TypeCertificate        uint8 = 11
	TypeServerKeyExchange  uint8 = 12
	TypeCertificateRequest uint8 = 13
	TypeServerHelloDone    uint8 = 14
	TypeCertificateVerify  uint8 = 15
	TypeClientKeyExchange  uint8 = 16
	TypeFinished           uint8 = 20
	TypeCertificateStatus  uint8 = 22 // RFC 6066 §8
)

// Protocol versions.
const (
	VersionTLS10 uint16 = 0x0301
	VersionTLS11 uint16 = 0x0302
	VersionTLS12 uint16 = 0x0303
	VersionTLS13 uint16 = 0x0304
)

// Extension types.
const (
	ExtServerName           uint16 = 0
	ExtMaxFragmentLength    uint16 = 1
	ExtStatusRequest        uint16 = 5
	ExtSupportedGroups      uint16 = 10
	ExtECPointFormats       uint16 = 11
	ExtSignatureAlgorithms  uint16 = 13
	ExtALPN                 uint16 = 16
	ExtSCT                  uint16 = 18
	ExtExtendedMasterSecret uint16 = 23
	ExtSessionTicket        uint16 = 35
	ExtSupportedVersions    uint16 = 43
	ExtRenegotiationInfo    uint16 = 0xff01
)

// Named groups (RFC 8422 §5.1.1, RFC 7748).
const (
	GroupP256   uint16 = 23
	GroupP384   uint16 = 24
	GroupP521   uint16 = 25
	GroupX25519 uint16 = 29
)

// Signature schemes (RFC 8446 §4.2.3; the TLS 1.2 {hash, signature} pairs
// share the encoding).
const (
	SigRSAPKCS1SHA1     uint16 = 0x0201
	SigECDSASHA1        uint16 = 0x0203
	SigRSAPKCS1SHA256   uint16 = 0x0401
	SigECDSAP256SHA256  uint16 = 0x0403
	SigRSAPKCS1SHA384   uint16 = 0x0501
	SigECDSAP384SHA384  uint16 = 0x0503
	SigRSAPKCS1SHA512   uint16 = 0x0601
	SigECDSAP521SHA512  uint16 = 0x0603
	SigRSAPSSRSAESHA256 uint16 = 0x0804
	SigRSAPSSRSAESHA384 uint16 = 0x0805
	SigRSAPSSRSAESHA512 uint16 = 0x0806
	SigEd25519          uint16 = 0x0807
)

// DowngradeTLS12 and DowngradeTLS11 are the last 8 bytes of a ServerHello
// random that signal a downgrade (RFC 8446 §4.1.3).
var (
	DowngradeTLS12 = []byte("DOWNGRD\x01")
	DowngradeTLS11 = []byte("DOWNGRD\x00")
)

// Each message type below has
//
//	Marshal() []byte            // the whole message, 4-byte header included
//	Unmarshal(b []byte) error   // b is the whole message, header included
//
// Unmarshal consumes all of b (trailing bytes are an error), refuses
// duplicate extensions, checks every length before allocating, and returns
// *DecodeError (alert decode_error) or *IllegalParameterError where the RFC
// says illegal_parameter. Marshal of a zero-value message field follows the
// RFC's minimum lengths.

// ClientHello (RFC 5246 §7.4.1.2) with the extensions a TLS 1.2 client
// sends. Marshal emits extensions in the order of the fields below (unless
// ExtensionOrder says otherwise), and only those that are set.
type ClientHello struct {
	Version            uint16
	Random             []byte // 32 bytes
	SessionID          []byte
	CipherSuites       []uint16
	CompressionMethods []uint8 // {0} if empty

	ServerName           string   // server_name (host_name), omitted if ""
	SupportedGroups      []uint16 // supported_groups
	PointFormats         []uint8  // ec_point_formats
	SignatureAlgorithms  []uint16 // signature_algorithms
	ALPNProtocols        []string // application_layer_protocol_negotiation
	ExtendedMasterSecret bool     // extended_master_secret (empty)
	SecureRenegotiation  bool     // renegotiation_info present
	RenegotiationInfo    []byte   // its body (empty on an initial handshake)
	TicketSupported      bool     // session_ticket present
	SessionTicket        []byte   // its body
	MaxFragmentLength    uint8    // max_fragment_length code 1..4, 0 = absent
	// OCSPStapling sends status_request (RFC 6066 §8) asking for an OCSP
	// staple with no responder list and no request extensions. Unmarshal
	// sets it for exactly that body; any other status_request stays in
	// Extra.
	OCSPStapling bool

	// Extra are sent after the extensions above, in order, unchanged; a
	// ClientHello-shaping hook uses them. Unmarshal puts every extension it
	// does not decode into Extra.
	Extra []Extension

	// ExtensionOrder, when set, is the order Marshal sends extensions in:
	// the listed types that are sent come first, in this order, then the
	// rest in the default order above (see shape.go). Unmarshal leaves it
	// nil.
	ExtensionOrder []uint16

	// Raw is the whole message as marshalled or received; Marshal sets it.
	Raw []byte
}

// Extension is an extension kept as bytes.
type Extension struct {
	Type uint16
	Data []byte
}

// ServerHello (RFC 5246 §7.4.1.3).
type ServerHello struct {
	Version           uint16
	Random            []byte // 32 bytes
	SessionID         []byte
	CipherSuite       uint16
	CompressionMethod uint8

	// Extensions lists every extension type in the order received, so the
	// client can check each one was offered.
	Extensions []uint16

	SecureRenegotiation  bool   // renegotiation_info present
	RenegotiationInfo    []byte // its body
	ExtendedMasterSecret bool
	TicketSupported      bool // session_ticket present (empty)
	ALPNProtocol         string
	ServerNameAck        bool // server_name present (empty)
	PointFormats         []uint8
	MaxFragmentLength    uint8
	OCSPStapling         bool // status_request present (empty)

	// Extra are the extensions not decoded into the fields above, in order
	// (their types are in Extensions too); Marshal sends them after the
	// known ones, so a test server can send an unsolicited extension.
	Extra []Extension

	Raw []byte
}

// Certificate (RFC 5246 §7.4.2): DER certificates, leaf first. An empty list
// is legal (a client with no certificate).
type Certificate struct {
	Certificates [][]byte
	Raw          []byte
}

// ServerKeyExchange (RFC 5246 §7.4.3) kept as its body; ParseECDHEParams
// decodes it for ECDHE suites.
type ServerKeyExchange struct {
	Body []byte
	Raw  []byte
}

// ECDHEParams is the decoded body of an ECDHE ServerKeyExchange (RFC 8422
// §5.4); see ParseECDHEParams.
type ECDHEParams struct {
	Group     uint16 // named_curve
	PublicKey []byte // the server's point
	// SignedParams is ServerECDHParams exactly as sent: the bytes the
	// signature covers after client_random || server_random.
	SignedParams       []byte
	SignatureAlgorithm uint16 // zero before TLS 1.2
	Signature          []byte
}

// CertificateRequest (RFC 5246 §7.4.4).
type CertificateRequest struct {
	// Version is the negotiated version, which selects the form: before
	// TLS 1.2 there are no SignatureAlgorithms. It is not on the wire:
	// Unmarshal reads it, Marshal writes in its form; zero is TLS 1.2.
	Version uint16

	CertificateTypes       []uint8
	SignatureAlgorithms    []uint16
	CertificateAuthorities [][]byte
	Raw                    []byte
}

// ServerHelloDone (RFC 5246 §7.4.5): empty.
type ServerHelloDone struct {
	Raw []byte
}

// ClientKeyExchange (RFC 5246 §7.4.7) kept as its body: for ECDHE the
// length-prefixed point (opaque point<1..2^8-1>), for RSA the
// length-prefixed EncryptedPreMasterSecret (opaque <0..2^16-1>).
type ClientKeyExchange struct {
	Body []byte
	Raw  []byte
}

// Finished (RFC 5246 §7.4.9).
type Finished struct {
	VerifyData []byte
	Raw        []byte
}

// NewSessionTicket (RFC 5077 §3.3).
type NewSessionTicket struct {
	LifetimeHint uint32
	Ticket       []byte
	Raw          []byte
}

// CertificateVerify (RFC 5246 §7.4.8).
type CertificateVerify struct {
	// Version selects the form, as CertificateRequest's: before TLS 1.2
	// there is no SignatureAlgorithm.
	Version uint16

	SignatureAlgorithm uint16
	Signature          []byte
	Raw                []byte
}

// HelloRequest (RFC 5246 §7.4.1.1): empty.
type HelloRequest struct {
	Raw []byte
}

// DecodeError is a message that did not parse; the caller sends decode_error.
type DecodeError struct {
	Message string // "ServerHello", ...
	Detail  string
}

func (e *DecodeError) Error() string { return "handshake: malformed " + e.Message + ": " + e.Detail }

// IllegalParameterError is a message that parsed but breaks a rule the RFC
// answers with illegal_parameter (e.g. a duplicate extension).
type IllegalParameterError struct {
	Message string
	Detail  string
}

func (e *IllegalParameterError) Error() string {
	return "handshake: illegal parameter in " + e.Message + ": " + e.Detail
}
