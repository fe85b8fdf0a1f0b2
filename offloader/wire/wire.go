// Package wire is the protocol between a device and its offloader: the four
// operations of the design (Start, Auth, KeyGen, Key), their flights, typed
// statuses, and the PSK channel that carries them. It is a leaf: it imports
// nothing else of tlsoffload, so both the device-side client and the server
// build on it. docs/PROTOCOL.md gives every byte, and a test keeps its
// test vector equal to what this code computes.
//
// The codec (codec.go) is cryptobyte throughout: every parse consumes its
// whole input and checks each length against its limit before allocating;
// Marshal refuses whatever the peer's Unmarshal would refuse. The channel
// (channel.go, schedule.go) uses HKDF-SHA256 (RFC 5869), HMAC-SHA256 and
// ChaCha20-Poly1305 (RFC 8439). It leaves out on purpose: forward secrecy
// (keys come from the PSK and nonces only), rekeying, authenticated alerts,
// and hiding the device id.
package wire

import (
	"strconv"
	"time"

	"github.com/tlsoffload/tlsoffload/internal/cryptobyte"
)

// Version is the protocol version carried in the channel hello.
const Version uint8 = 1

// Op is an operation code.
type Op uint8

const (
	OpStart  Op = 1 // which versions, suites, groups, signature schemes the ClientHello may offer
	OpAuth   Op = 2 // verify the server's chain (and ServerKeyExchange signature) in the transcript
	OpKeyGen Op = 3 // compute the ClientKeyExchange for the verified server
	OpKey    Op = 4 // derive master secret and key block
)

func (o Op) String() string {
	switch o {
	case OpStart:
		return "start"
	case OpAuth:
		return "auth"
	case OpKeyGen:
		return "keygen"
	case OpKey:
		return "key"
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// Status is the outcome of an operation or of the channel. Every status but
// StatusOK is an error.
type Status uint8

const (
	StatusOK                 Status = 0
	StatusInvalidCertificate Status = 1 // Reason says why
	StatusPolicyDenied       Status = 2 // the device's policy forbids this server or these parameters
	StatusUnsupported        Status = 3 // a version, suite, group or scheme the offloader does not do
	StatusMalformed          Status = 4 // the request (or the transcript in it) did not parse
	StatusRateLimited        Status = 5
	StatusInternal           Status = 6
	StatusAborted            Status = 7  // an earlier operation of the same flight failed
	StatusBadToken           Status = 8  // sequential-mode state token expired, forged or for another handshake
	StatusBadSignature       Status = 9  // the ServerKeyExchange signature did not verify
	StatusAuthFailed         Status = 10 // channel: unknown device or wrong PSK (one status for both)
	StatusPlaintextRefused   Status = 11 // channel: plaintext asked for on a listener not declared secure
	StatusBadVersion         Status = 12 // channel: protocol version not spoken
	// StatusIllegalParameter: the server's handshake, in an otherwise
	// well-formed request, carries a value the server may not send (an
	// invalid ECDHE point, a version, suite, group or signature scheme the
	// ClientHello did not offer). The server broke the protocol; the device
	// answers it with illegal_parameter (RFC 5246 §7.2.2).
	StatusIllegalParameter Status = 13
)

// Error returns "offloader: " and the status in words.
func (s Status) Error() string { return "offloader: " + s.words() }

var statusWords = [...]string{
	StatusOK:                 "ok",
	StatusInvalidCertificate: "invalid certificate",
	StatusPolicyDenied:       "policy denied",
	StatusUnsupported:        "unsupported",
	StatusMalformed:          "malformed request",
	StatusRateLimited:        "rate limited",
	StatusInternal:           "internal error",
	StatusAborted:            "aborted",
	StatusBadToken:           "bad or expired token",
	StatusBadSignature:       "bad ServerKeyExchange signature",
	StatusAuthFailed:         "authentication failed (unknown device or wrong PSK)",
	StatusPlaintextRefused:   "plaintext channel refused",
	StatusBadVersion:         "protocol version not supported",
	StatusIllegalParameter:   "the server's handshake carries an illegal parameter",
}

func (s Status) words() string {
	if int(s) < len(statusWords) {
		return statusWords[s]
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}

// known reports whether s is a status this version of the protocol defines.
func (s Status) known() bool { return int(s) < len(statusWords) }

// Reason refines StatusInvalidCertificate.
type Reason uint8

const (
	ReasonNone             Reason = 0
	ReasonExpired          Reason = 1
	ReasonNotYetValid      Reason = 2
	ReasonUnknownAuthority Reason = 3
	ReasonNameMismatch     Reason = 4
	ReasonKeyUsage         Reason = 5 // wrong key usage / extended key usage, or a CA used as leaf
	ReasonWeakKey          Reason = 6
	ReasonWeakSignature    Reason = 7
	ReasonMalformed        Reason = 8 // a certificate did not parse
	ReasonRevoked          Reason = 9
	ReasonPinMismatch      Reason = 10
	ReasonNoCertificate    Reason = 11 // the transcript holds no server certificate
	// ReasonNonConforming: a certificate breaks the encoding rules of the
	// device's verification profile (key identifiers, serial, SAN and CN,
	// DNS syntax, criticality, path depth).
	ReasonNonConforming Reason = 12
	// ReasonRevocationUnknown: no usable revocation status where one is
	// required: a must-staple certificate without a staple; a staple that
	// is stale, for another certificate or not signed by the issuer or its
	// responder; a CRL of the issuer that is stale or does not verify.
	ReasonRevocationUnknown Reason = 13
)

var reasonWords = [...]string{
	ReasonNone:             "none",
	ReasonExpired:          "certificate expired",
	ReasonNotYetValid:      "certificate not yet valid",
	ReasonUnknownAuthority: "unknown authority",
	ReasonNameMismatch:     "name mismatch",
	ReasonKeyUsage:         "wrong key usage",
	ReasonWeakKey:          "weak key",
	ReasonWeakSignature:    "weak signature",
	ReasonMalformed:        "malformed certificate",
	ReasonRevoked:          "certificate revoked",
	ReasonPinMismatch:      "pin mismatch",
	ReasonNoCertificate:    "no certificate",

	ReasonNonConforming:     "nonconforming certificate",
	ReasonRevocationUnknown: "revocation status unknown",
}

func (r Reason) String() string {
	if int(r) < len(reasonWords) {
		return reasonWords[r]
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

func (r Reason) known() bool { return int(r) < len(reasonWords) && reasonWords[r] != "" }

// Error is a failed operation: the status, its reason and a short detail
// that never contains key material. errors.Is(err, StatusX) works.
//
// RetryAfter, only with StatusRateLimited, is the offloader's hint of how
// long the device should wait before sending the flight again: whole
// milliseconds from 1ms to MaxRetryAfter, or 0 for no hint. It travels at
// the head of the detail as text (docs/PROTOCOL.md §8.3), so a device that
// predates it still parses the result and shows the hint in its message.
type Error struct {
	Op         Op
	Status     Status
	Reason     Reason
	Detail     string
	RetryAfter time.Duration
}

// Error returns "offloader: <op>: <status>[: <reason>][: <detail>]"; the op
// is left out for channel errors (Op 0).
func (e *Error) Error() string {
	msg := "offloader: "
	if e.Op != 0 {
		msg += e.Op.String() + ": "
	}
	msg += e.Status.words()
	if e.RetryAfter > 0 {
		msg += ": " + retryAfterText(e.RetryAfter)
	}
	if e.Reason != ReasonNone {
		msg += ": " + e.Reason.String()
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}
func (e *Error) Unwrap() error { return e.Status }

// A flight is the unit of exchange: the device sends a Flight, the offloader
// runs its requests in order on one handshake's state and answers with a
// FlightResponse holding one Result per request, stopping at the first
// failure (the rest are StatusAborted). The pipelined handshake sends Auth,
// KeyGen and Key in one flight; the patent's sequential mode sends one
// request per flight and carries the state between them in Token.
type Flight struct {
	ID          uint32   // chosen by the device, echoed; unique among the flights in flight on a channel
	HandshakeID [16]byte // random per TLS handshake; binds tokens to it
	Token       []byte   // state sealed by an offloader for this handshake (sequential mode), or empty
	Requests    []Request
}

// Request is one operation of a flight. Its type is its operation:
// *StartRequest, *AuthRequest, *KeyGenRequest or *KeyRequest, and no other
// type can be one, so a request's op and body never disagree.
type Request interface {
	Op() Op
	checkRequest() error
	marshalRequest(b *cryptobyte.Builder)
}

func (*StartRequest) Op() Op  { return OpStart }
func (*AuthRequest) Op() Op   { return OpAuth }
func (*KeyGenRequest) Op() Op { return OpKeyGen }
func (*KeyRequest) Op() Op    { return OpKey }

// FlightResponse answers a Flight.
type FlightResponse struct {
	ID      uint32
	Token   []byte // state after the last request (sequential mode), or empty
	Results []Result
}

// Result is the outcome of one request: on success its Body, on failure
// its Err, never both. Err.Op is the failed request's op, or 0 when the
// failure is the flight's as a whole (a flight that did not parse).
type Result struct {
	Body Response
	Err  *Error
}

// Op is the operation r answers: its body's, or its error's.
func (r Result) Op() Op {
	switch {
	case r.Err != nil:
		return r.Err.Op
	case r.Body != nil:
		return r.Body.Op()
	}
	return 0
}

// Response is the body of a successful result. Its type is its operation:
// *StartResponse, *AuthResponse, *KeyGenResponse or *KeyResponse, and no
// other type can be one.
type Response interface {
	Op() Op
	checkResponse() error
	marshalResponse(b *cryptobyte.Builder)
	wireSize() int // about its encoded size, to size the encoder's buffer
}

func (*StartResponse) Op() Op  { return OpStart }
func (*AuthResponse) Op() Op   { return OpAuth }
func (*KeyGenResponse) Op() Op { return OpKeyGen }
func (*KeyResponse) Op() Op    { return OpKey }

// StartRequest: what the device would offer to ServerName.
type StartRequest struct {
	ServerName          string
	Versions            []uint16
	CipherSuites        []uint16
	Groups              []uint16
	SignatureAlgorithms []uint16
}

// StartResponse: the subset the device's policy allows for ServerName, and
// how long the device may reuse the answer for that name.
type StartResponse struct {
	Versions            []uint16
	CipherSuites        []uint16
	Groups              []uint16
	SignatureAlgorithms []uint16
	TTL                 time.Duration // whole seconds on the wire
}

// AuthRequest: the server name the device dialled and the handshake
// transcript from ClientHello through ServerHelloDone, whole messages with
// headers, exactly as sent and received. The offloader parses the
// ClientHello, ServerHello, Certificate and ServerKeyExchange out of it.
type AuthRequest struct {
	ServerName string
	Transcript []byte
}

// AuthResponse: the verified chain (leaf first, DER) that the verdict rests on.
//
// On the wire a certificate of the chain that the server presented (the
// leaf, the intermediates) travels as its index in the server's Certificate
// message, which the device holds; only the others (the root) travel as DER
// (docs/PROTOCOL.md §8). Presented says which: Presented[i] >= 0 is that
// index for VerifiedChain[i], -1 is DER; empty means every element is DER.
// The offloader fills it with ReferPresented; after Unmarshal the referred
// elements of VerifiedChain are nil until the device calls ResolvePresented
// with the certificates the server sent it (chainref.go).
type AuthResponse struct {
	VerifiedChain [][]byte
	Presented     []int
}

// KeyGenRequest has no fields: it acts on the server Auth verified.
type KeyGenRequest struct{}

// KeyGenResponse: the ClientKeyExchange body to send
// (handshake.ClientKeyExchange.Body) and, when the transcript Auth parsed
// held a CertificateRequest, the offloader's answer to it (docs/PROTOCOL.md
// §8.1): the whole client Certificate message to send before the
// ClientKeyExchange, and, when that message holds a certificate, the whole
// CertificateVerify message to send after it. Both nil when no certificate
// was requested; ClientCertificate alone (an empty certificate list) when
// the device has no certificate the server would take.
type KeyGenResponse struct {
	ClientKeyExchange []byte
	ClientCertificate []byte // whole handshake message (type 11), or nil
	CertificateVerify []byte // whole handshake message (type 15), or nil
}

// KeyRequest: the handshake messages the device sends after ServerHelloDone
// and before its ClientKeyExchange, whole messages with headers. The only
// such message is the client Certificate, which the offloader itself chose
// (KeyGenResponse.ClientCertificate) and puts in the extended master
// secret's session hash: ClientMessages is empty, or byte for byte that
// message.
type KeyRequest struct {
	ClientMessages []byte
}

// KeyResponse: the 48-byte master secret and the suite's key block.
type KeyResponse struct {
	MasterSecret []byte
	KeyBlock     []byte
}

// Limits checked before allocating.
const (
	MaxFrame      = 1 << 18 // largest channel frame payload
	MaxRequests   = 4       // requests in one flight
	MaxTranscript = 1 << 17
	MaxServerName = 255
	MaxListLen    = 64 // entries in a StartRequest/Response list
	MaxToken      = 4096
	MaxChainCerts = 10
	MaxDetail     = 256
	MaxDeviceID   = 64
	MaxRetryAfter = time.Minute // a rate-limited result's retry-after hint
	NonceLen      = 32
	MinPSKLen     = 16
	MaxPSKLen     = 64
)

// Limits of a KeyGen response's answer to a CertificateRequest, whole
// handshake messages with their 4-byte headers. A CertificateVerify has a
// u16 length on the wire.
const (
	MaxClientCertificate = 1 << 16
	MaxCertificateVerify = 1<<16 - 1
)

// Marshal and Unmarshal of the two frame payloads are in codec.go.
// Unmarshal consumes all input and returns StatusMalformed wrapped in *Error
// on any defect; Marshal refuses (with the same error) anything Unmarshal
// would refuse.
