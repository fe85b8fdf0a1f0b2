// Package certs verifies a TLS server's certificate chain for a server name
// against a root pool and a device's policy, with typed reasons
// (crypto/x509 underneath). The offloader uses it; the device never does.
//
// Verification builds the path first (RFC 5280 section 6 as crypto/x509
// does it: signatures, validity, basic and name constraints, policies,
// extended key usage nested down the chain), then applies the profile's
// rules to exactly the certificates on that path; among several paths the
// first that passes every rule wins, and a certificate the server sent but
// no path uses is never held against it. The profiles (profile.go):
//
//   - ProfileWebPKI, the zero value: the CA/Browser Forum Baseline
//     Requirements as browser-grade verifiers apply them;
//   - ProfileRFC5280: RFC 5280 alone, for private PKIs, still refusing weak
//     keys and signatures.
//
// In every profile a certificate that is itself one of the roots is
// accepted as the leaf (a pinned self-signed certificate), its name,
// validity and key still checked. Names are checked as RFC 6125 says
// (subjectAltName DNS and IP entries, a wildcard only as the whole leftmost
// label, no Common Name fallback).
//
// Beside Verify: SPKI pins (Verifier.Pins, pins.go), the key usage bound to
// the key exchange (CheckKeyUsage, CheckCurve: keyusage.go), and revocation
// (CheckRevocation over a stapled OCSP response and a CRLSet, through a
// StapleCache: ocsp.go, crl.go), which the offloader calls on the path
// Verify returned. docs/OFFLOADER.md lists every rule with its reference.
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
	// ReasonNonConforming: a certificate parses but breaks the profile's
	// encoding rules (missing key identifiers, bad serial, SAN and CN
	// rules, DNS syntax, criticality, path depth); RuleXxx says which.
	ReasonNonConforming Reason = 12
	// ReasonRevocationUnknown: the revocation status could not be
	// established where it must be: a must-staple certificate without a
	// staple, a staple that is stale, for another certificate, or not
	// signed by the issuer or its responder; a stale or unverifiable CRL.
	ReasonRevocationUnknown Reason = 13
)

// String returns a short snake_case name ("expired", "unknown_authority"),
// fit for a metric label.
func (r Reason) String() string {
	if int(r) < len(reasonInfo) {
		return reasonInfo[r].name
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Error is a refused chain: the reason and the rule that refused, the
// certificate at fault and its position, a detail, the chain as presented
// (leaf first) and the underlying crypto/x509 error if any.
//
// Detail names the certificate by position and subject ("leaf
// \"a.example\"", "path[1] \"Sub CA\"", "root \"Root CA\"") and says what is
// wrong with it, in at most MaxDetailLen bytes; it never holds key
// material. Chain holds the certificates parsed before the refusal (all of
// them unless the reason is ReasonMalformed).
type Error struct {
	Reason Reason
	Rule   Rule
	// Cert is the certificate at fault, nil when the refusal is about no
	// one certificate (an empty chain, no path, the path's depth) or about
	// one that does not parse. Depth is its position on the path, 0 for
	// the leaf; when no path was found, on the path the presented
	// certificates would have formed (linked by names); for a certificate
	// that does not parse, its index in the chain as presented; -1 for
	// none.
	Cert   *x509.Certificate
	Depth  int
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
	switch {
	case e.Reason == ReasonNameMismatch && e.Rule == RuleNameConstraints:
		msg = "certificate name not permitted by an issuer's name constraints"
	case e.Reason == ReasonNameMismatch && e.serverName != "":
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
	// MinRSABits is the smallest RSA key accepted on the path below the
	// root; 0 means 2048. ProfileWebPKI never goes below 2048 and holds
	// the root to it too.
	MinRSABits int
	// Cache, if not nil, remembers accepted chains (cache.go says exactly
	// what is kept and for how long); nil verifies every chain afresh.
	Cache *VerifyCache
	// Profile selects the rules beyond path validation (profile.go). The
	// zero value is ProfileWebPKI.
	Profile Profile
	// Pins, if not empty, are SPKI pins: the verified path (its root
	// included) must hold a certificate whose key is one of them, or the
	// chain is refused with ReasonPinMismatch. Among several valid paths
	// the first holding a pinned key wins.
	Pins []Pin
}

// Verify parses chain (DER, leaf first, as in a Certificate message),
// verifies it for serverName (a DNS name or an IP literal) with serverAuth
// extended key usage under v.Profile, and returns the verified path (leaf
// first, ending at a root; the leaf alone when it is itself a root) or
// *Error.
//
// Reasons are decided in a fixed order so one chain always gives the same
// reason: malformed (any presented certificate: the message itself is
// broken), then on the path: weak key, weak signature, key usage,
// nonconforming, expired / not yet valid, unknown authority, name mismatch,
// pin mismatch. When no path exists the order is the same over the path
// the presented certificates would form by their names, and unknown
// authority (or crypto/x509's own reason) comes after.
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
