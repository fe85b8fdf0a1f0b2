package tlsclient

import (
	"strconv"

	"github.com/tlsoffload/tlsoffload/internal/wrap"
	"github.com/tlsoffload/tlsoffload/record"
)

// CertificateError is a server the offloader refused to trust: the chain
// did not verify for the server name, or the ServerKeyExchange signature
// did not. The alert sent to the server follows Reason (bad_certificate,
// certificate_expired, unknown_ca, ...). Err is the offloader's verdict
// (a *Refusal, wrapping offloader/client's *wire.Error), reached by
// errors.As; errors.Is(err, record.AlertX) tests the alert sent, as for
// *ProtocolError.
type CertificateError struct {
	ServerName string
	Chain      [][]byte // as the server presented it (DER, leaf first)
	Reason     CertificateReason
	Alert      record.Alert // sent to the server
	Err        error
}

func (e *CertificateError) Error() string {
	return "tlsclient: server certificate for " + strconv.Quote(e.ServerName) + " refused: " + e.Err.Error()
}

// Unwrap returns the offloader's verdict and the alert sent.
func (e *CertificateError) Unwrap() []error { return []error{e.Err, e.Alert} }

// OffloaderError is a handshake that failed because of the offloader:
// unreachable, channel refused (wrong PSK), timed out, a refusal by the
// device's policy (a *Refusal with FaultPolicy), or an answer the client
// could not use.
type OffloaderError struct {
	Op  string // the Offloader call: "start" or "key exchange"
	Err error
}

func (e *OffloaderError) Error() string { return "tlsclient: offloader " + e.Op + ": " + e.Err.Error() }
func (e *OffloaderError) Unwrap() error { return e.Err }

// ProtocolError is a server that broke the TLS protocol: a message out of
// order, a parameter never offered, a Finished that did not verify, or an
// illegal parameter the offloader found (Err is then its *Refusal with
// FaultIllegalParameter, e.g. an invalid ECDHE point). Alert is the alert
// sent to the server for it; Err, when set, is the underlying cause (e.g.
// a *handshake.DecodeError). errors.As reaches both, and
// errors.Is(err, record.AlertX) tests the alert.
type ProtocolError struct {
	Detail string
	Alert  *record.AlertError
	Err    error
}

func (e *ProtocolError) Error() string {
	s := "tlsclient: " + e.Detail
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ProtocolError) Unwrap() []error {
	var errs []error
	if e.Alert != nil {
		errs = append(errs, e.Alert)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// certAlert is the alert for a refused certificate (RFC 5246 §7.2.2).
func certAlert(r CertificateReason) record.Alert {
	switch r {
	case ReasonBadSignature:
		return record.AlertDecryptError
	case ReasonExpired:
		return record.AlertCertificateExpired
	case ReasonUnknownAuthority:
		return record.AlertUnknownCA
	case ReasonKeyUsage:
		return record.AlertUnsupportedCertificate
	case ReasonRevoked:
		return record.AlertCertificateRevoked
	case ReasonRevocationUnknown:
		// RFC 6066 §8 names it for an invalid status response; a missing
		// staple the certificate demands (RFC 7633) and a stale CRL, the
		// other ways to have no usable status, share it.
		return record.AlertBadCertificateStatusResponse
	}
	// not yet valid, name mismatch, weak key or signature, pins, malformed,
	// nonconforming.
	return record.AlertBadCertificate
}

// wrapf wraps err, which must not be nil, under msg: msg + ": " + err,
// as fmt.Errorf("%s: %w") would make it (internal/wrap: the device
// packages format without fmt).
func wrapf(msg string, err error) error { return wrap.New(msg, err) }

// hex16 formats v as fmt's %#04x does: 0x and four lowercase hex digits.
func hex16(v uint16) string {
	const digits = "0123456789abcdef"
	return string([]byte{'0', 'x', digits[v>>12], digits[v>>8&0xf], digits[v>>4&0xf], digits[v&0xf]})
}
