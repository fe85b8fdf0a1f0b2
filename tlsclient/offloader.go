package tlsclient

import (
	"context"
	"strconv"

	"github.com/tlsoffload/tlsoffload/handshake"
)

// The offload seam, in TLS terms, as crypto/tls's keyAgreement is: a full
// handshake asks its Offloader twice. Start, before the ClientHello, for
// what the device's policy allows it to offer this server; KeyExchange,
// once ServerHelloDone arrived, to verify the server and compute the
// client's key exchange and the keys. How that travels (one pipelined
// flight or the patent's sequence, a cache of Start answers, channels and
// retries) is the implementation's business: offloader/client does it over
// the PSK channel. A resumed handshake never calls KeyExchange.

// Offloader does a handshake's public-key work for the device. Its methods
// may be called concurrently, for different handshakes.
type Offloader interface {
	// Start returns what of offer the device's policy allows for
	// serverName (a name without a trailing dot, or an IP literal). The
	// client keeps its own order and offers only what is in both.
	Start(ctx context.Context, serverName string, offer Offer) (Offer, error)

	// KeyExchange verifies the server of flight for flight.ServerName and
	// returns the client's part of the key exchange and the keys. The
	// answer is the caller's: it zeroes the secrets once used. An error
	// that is, or wraps, a *Refusal says whose fault the failure is; any
	// other error is an offloader that could not be used.
	KeyExchange(ctx context.Context, flight *ServerFlight) (*ClientFlight, error)
}

// StartCacher is implemented by an Offloader that keeps Start answers.
// Dialer asks it first: with an answer it dials without a goroutine of its
// own; without one it runs Start while the TCP connection is dialled.
type StartCacher interface {
	// CachedStart returns what Start would, if it can without a round trip.
	CachedStart(serverName string, offer Offer) (Offer, bool)
}

// Offer is what a ClientHello may offer, or what Start allows of it.
type Offer struct {
	Versions            []uint16 // highest first
	CipherSuites        []uint16
	Groups              []uint16 // ECDHE named groups
	SignatureAlgorithms []uint16
}

// ServerFlight is a full handshake as the device has it after
// ServerHelloDone. Its slices are the handshake's: valid during the call
// only, and not to be modified.
type ServerFlight struct {
	// ServerName is the name the certificate must be valid for: the
	// configured or dialled name without a trailing dot, or an IP literal.
	ServerName string
	// Transcript is ClientHello … ServerHelloDone: whole handshake messages
	// with their headers, exactly as sent and received. The offloader
	// parses the Certificate and ServerKeyExchange out of it itself.
	Transcript []byte
	// Certificates is the server's chain as presented (DER, leaf first).
	Certificates [][]byte

	// What the hellos negotiated, as the client parsed and checked them.
	Version              uint16
	CipherSuite          uint16
	ClientRandom         []byte
	ServerRandom         []byte
	ExtendedMasterSecret bool
	// Group is the ServerKeyExchange's ECDHE group, 0 for RSA key exchange.
	Group uint16
	// CertificateRequest is the server's request for a client
	// certificate, or nil.
	CertificateRequest *handshake.CertificateRequest
}

// ClientFlight is what an Offloader returns for a ServerFlight: the
// messages the client sends, the keys, and the verdict on the server.
type ClientFlight struct {
	// ClientKeyExchange is the ClientKeyExchange message's body.
	ClientKeyExchange []byte
	// Certificate answers a CertificateRequest: the whole Certificate
	// message sent before the ClientKeyExchange (with no certificate when
	// the device has none this server takes). Nil when none was requested.
	Certificate []byte
	// CertificateVerify is the whole CertificateVerify message sent after
	// the ClientKeyExchange when Certificate holds a certificate; else nil.
	CertificateVerify []byte
	// MasterSecret (48 bytes) and KeyBlock (as long as the suite needs).
	MasterSecret []byte
	KeyBlock     []byte
	// Peer is what the offloader verified of the server.
	Peer PeerVerification
}

// PeerVerification is the offloader's verdict on a server it accepted.
type PeerVerification struct {
	// Chain is the verified chain: DER, leaf first, ending at the trust
	// anchor.
	Chain [][]byte
}

// Refusal is an Offloader's refusal of the server or of its parameters,
// returned (or wrapped) by Start or KeyExchange; Err is the offloader's own
// error (offloader/client's *wire.Error), which errors.Is and errors.As
// reach. Fault decides the alert sent and the error returned:
//
//	FaultCertificate       the alert for Reason   *CertificateError
//	FaultIllegalParameter  illegal_parameter      *ProtocolError
//	FaultPolicy            handshake_failure      *OffloaderError
//
// Any other error from an Offloader is one that could not be used:
// internal_error and *OffloaderError.
type Refusal struct {
	Fault  Fault
	Reason CertificateReason // why, for FaultCertificate
	Err    error
}

func (r *Refusal) Error() string {
	if r.Err != nil {
		return r.Err.Error()
	}
	return "tlsclient: offloader refused: " + r.Fault.String()
}

func (r *Refusal) Unwrap() error { return r.Err }

// Fault says whose fault a Refusal is.
type Fault uint8

const (
	// FaultPolicy: the device's policy refuses this server or these
	// parameters, or the offloader does not support them.
	FaultPolicy Fault = iota + 1
	// FaultCertificate: the server's certificate, or its ServerKeyExchange
	// signature, did not verify.
	FaultCertificate
	// FaultIllegalParameter: the server's handshake carries a value the
	// server may not send (RFC 5246 §7.2.2), e.g. an invalid ECDHE point.
	FaultIllegalParameter
)

var faultNames = [...]string{FaultPolicy: "policy", FaultCertificate: "certificate", FaultIllegalParameter: "illegal parameter"}

func (f Fault) String() string {
	if int(f) < len(faultNames) && faultNames[f] != "" {
		return faultNames[f]
	}
	return "fault(" + strconv.Itoa(int(f)) + ")"
}

// CertificateReason says why the offloader refused a server's certificate.
type CertificateReason uint8

const (
	ReasonOther            CertificateReason = iota // none of the below
	ReasonExpired                                   // certificate_expired
	ReasonNotYetValid                               // bad_certificate, as the rest unless said
	ReasonUnknownAuthority                          // unknown_ca
	ReasonNameMismatch
	ReasonKeyUsage // wrong (extended) key usage, or a CA as leaf: unsupported_certificate
	ReasonWeakKey
	ReasonWeakSignature
	ReasonMalformed // a certificate did not parse
	ReasonRevoked   // certificate_revoked
	ReasonPinMismatch
	ReasonNoCertificate // the server sent none
	ReasonBadSignature  // the ServerKeyExchange signature did not verify: decrypt_error
	// ReasonNonConforming: a certificate breaks the encoding rules of the
	// device's verification profile (bad_certificate).
	ReasonNonConforming
	// ReasonRevocationUnknown: no usable revocation status where one is
	// required: a stapled OCSP response that is stale, for another
	// certificate or not signed by the issuer or its responder; a
	// must-staple certificate with no staple; a stale or unverifiable CRL.
	// bad_certificate_status_response (RFC 6066 §8).
	ReasonRevocationUnknown
)

var reasonNames = [...]string{
	ReasonOther:            "other",
	ReasonExpired:          "expired",
	ReasonNotYetValid:      "not yet valid",
	ReasonUnknownAuthority: "unknown authority",
	ReasonNameMismatch:     "name mismatch",
	ReasonKeyUsage:         "key usage",
	ReasonWeakKey:          "weak key",
	ReasonWeakSignature:    "weak signature",
	ReasonMalformed:        "malformed",
	ReasonRevoked:          "revoked",
	ReasonPinMismatch:      "pin mismatch",
	ReasonNoCertificate:    "no certificate",
	ReasonBadSignature:     "bad ServerKeyExchange signature",

	ReasonNonConforming:     "nonconforming certificate",
	ReasonRevocationUnknown: "revocation status unknown",
}

func (r CertificateReason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}
