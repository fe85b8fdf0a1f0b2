// Package certs verifies a TLS server's certificate chain for a server name
// against a root pool and a device's policy, with typed reasons
// (crypto/x509 underneath). The offloader uses it; the device never does.
//
// CONTRACT: the exported API in this file is relied on by the offloader
// server; implementations may change, signatures may not without updating
// every caller.
package certs

import (
	"crypto/x509"
	"time"
)

// Reason is why a chain was refused. Its values match wire.Reason one for one.
type Reason uint8

const (
	ReasonNone             Reason = 0
	ReasonExpired          Reason = 1
	ReasonNotYetValid      Reason = 2
	ReasonUnknownAuthority Reason = 3
	ReasonNameMismatch     Reason = 4
	ReasonKeyUsage         Reason = 5 // wrong (extended) key usage, or a CA certificate as leaf
	ReasonWeakKey          Reason = 6 // RSA < 2048 bits, or an unsupported curve
	ReasonWeakSignature    Reason = 7 // MD5 or SHA-1 signed (outside the root itself)
	ReasonMalformed        Reason = 8
	ReasonRevoked          Reason = 9
	ReasonPinMismatch      Reason = 10
	ReasonNoCertificate    Reason = 11
)

func (r Reason) String() string { panic("TODO") }

// Error is a refused chain: the reason, a detail, the chain as presented
// (leaf first) and the underlying crypto/x509 error if any.
type Error struct {
	Reason Reason
	Detail string
	Chain  []*x509.Certificate
	Err    error
}

// Error reads "certs: certificate expired: ..." and so on.
func (e *Error) Error() string { panic("TODO") }
func (e *Error) Unwrap() error { return e.Err }

// Verifier verifies server chains.
type Verifier struct {
	Roots *x509.CertPool
	// Time returns the verification time; nil means time.Now.
	Time func() time.Time
	// MinRSABits is the smallest RSA key accepted in the chain (leaf and
	// intermediates); 0 means 2048.
	MinRSABits int
}

// Verify parses chain (DER, leaf first, as in a Certificate message),
// verifies it for serverName (a DNS name or an IP literal) with serverAuth
// extended key usage, and returns the verified chain (leaf first, ending at
// a root) or *Error. Reasons are decided in a fixed order so one defect
// always gives the same reason: malformed, then weak key, weak signature,
// CA-as-leaf / key usage, expired / not yet valid, unknown authority, name
// mismatch.
func (v *Verifier) Verify(chain [][]byte, serverName string) ([]*x509.Certificate, error) {
	panic("TODO")
}

// MatchName reports whether serverName matches any of the patterns of a
// device policy: an exact name ("api.example.com"), a wildcard for one
// label ("*.example.com" matches "a.example.com", not "example.com" nor
// "a.b.example.com"), or "*" for any name. Matching is case-insensitive;
// a trailing dot is ignored.
func MatchName(patterns []string, serverName string) bool { panic("TODO") }
