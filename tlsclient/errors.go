package tlsclient

import (
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// CertificateError is a server the offloader refused to trust: the chain
// did not verify for the server name, or the ServerKeyExchange signature
// did not. The alert sent to the server follows the reason (bad_certificate,
// certificate_expired, unknown_ca, ...). errors.As(err, **wire.Error) reaches
// the offloader's verdict.
type CertificateError struct {
	ServerName string
	Chain      [][]byte // as the server presented it (DER, leaf first)
	Err        *wire.Error
}

func (e *CertificateError) Error() string {
	return "tlsclient: server certificate for " + quote(e.ServerName) + " refused: " + e.Err.Error()
}
func (e *CertificateError) Unwrap() error { return e.Err }

// OffloaderError is a handshake that failed because the offloader could not
// be used: unreachable, channel refused (wrong PSK), timed out, or an
// operation failed for a reason other than the server's certificate.
type OffloaderError struct {
	Op  string // "dial", "start", "auth", "keygen", "key", "flight"
	Err error
}

func (e *OffloaderError) Error() string { return "tlsclient: offloader " + e.Op + ": " + e.Err.Error() }
func (e *OffloaderError) Unwrap() error { return e.Err }

func quote(s string) string { return "\"" + s + "\"" }
