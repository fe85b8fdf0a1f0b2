// Package certs verifies a TLS server's certificate chain for a server name
// against a root pool and a device's policy, with typed reasons
// (crypto/x509 underneath). The offloader uses it; the device never does.
//
// Verification is RFC 5280 path validation as crypto/x509 does it, plus the
// checks a TLS client owes RFC 5246 and the CA/Browser Forum baseline that
// x509 leaves out: RSA keys of at least MinRSABits and ECDSA only on P-256,
// P-384 and P-521 (RFC 8422); no MD5 or SHA-1 signatures below the root;
// no CA certificate as a server's leaf. Names are checked as RFC 6125 says
// (subjectAltName DNS and IP entries, a wildcard only as the whole leftmost
// label, no Common Name fallback). Revocation and pins are the caller's
// (ReasonRevoked and ReasonPinMismatch exist for it to report them).
package certs

import (
	"crypto/x509"
	"fmt"
	"time"
)

// MaxChainLen is the largest number of certificates Verify accepts in one
// chain; real chains have 2 to 4.
const MaxChainLen = 10

// MaxDetailLen bounds Error.Detail in bytes, so a detail always fits the
// offloader's wire error (256 bytes).
const MaxDetailLen = 200

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

// String returns a short snake_case name ("expired", "unknown_authority"),
// fit for a metric label.
func (r Reason) String() string {
	if int(r) < len(reasonInfo) {
		return reasonInfo[r].name
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Error is a refused chain: the reason, a detail, the chain as presented
// (leaf first) and the underlying crypto/x509 error if any.
//
// Detail names certificates by position and subject ("leaf \"a.example\"",
// "chain[1] ...") and says what is wrong with them, in at most MaxDetailLen
// bytes; it never holds key material. Chain holds the certificates parsed
// before the refusal (all of them unless the reason is ReasonMalformed).
type Error struct {
	Reason Reason
	Detail string
	Chain  []*x509.Certificate
	Err    error

	serverName string // for the name-mismatch message
}

// Error reads "certs: certificate expired: ..." and so on.
// Detail never holds key material: it names certificates by subject and
// algorithms by name.
func (e *Error) Error() string {
	var msg string
	if int(e.Reason) < len(reasonInfo) {
		msg = reasonInfo[e.Reason].message
	} else {
		msg = "certificate refused (" + e.Reason.String() + ")"
	}
	if e.Reason == ReasonNameMismatch && e.serverName != "" {
		msg = fmt.Sprintf("certificate is not valid for name %q", e.serverName)
	}
	if e.Detail == "" {
		return "certs: " + msg
	}
	return "certs: " + msg + ": " + e.Detail
}
func (e *Error) Unwrap() error { return e.Err }

// Verifier verifies server chains.
type Verifier struct {
	Roots *x509.CertPool
	// Time returns the verification time; nil means time.Now.
	Time func() time.Time
	// MinRSABits is the smallest RSA key accepted in the chain (leaf and
	// intermediates); 0 means 2048.
	MinRSABits int
	// Cache, if not nil, remembers accepted chains (cache.go says exactly
	// what is kept and for how long); nil verifies every chain afresh.
	Cache *VerifyCache
}

// Verify parses chain (DER, leaf first, as in a Certificate message),
// verifies it for serverName (a DNS name or an IP literal) with serverAuth
// extended key usage, and returns the verified chain (leaf first, ending at
// a root) or *Error. Reasons are decided in a fixed order so one defect
// always gives the same reason: malformed, then weak key, weak signature,
// CA-as-leaf / key usage, expired / not yet valid, unknown authority, name
// mismatch.
//
// A nil Roots means the host's system roots, as in crypto/x509.
func (v *Verifier) Verify(chain [][]byte, serverName string) ([]*x509.Certificate, error) {
	return v.verify(chain, serverName)
}

// MatchName reports whether serverName matches any of the patterns of a
// device policy: an exact name ("api.example.com"), a wildcard for one
// label ("*.example.com" matches "a.example.com", not "example.com" nor
// "a.b.example.com"), or "*" for any name. Matching is case-insensitive;
// a trailing dot is ignored.
//
// A wildcard never matches an IP literal; IP literals match a pattern
// naming the same address (in any notation) or "*". An empty name matches
// nothing.
func MatchName(patterns []string, serverName string) bool {
	return matchName(patterns, serverName)
}
