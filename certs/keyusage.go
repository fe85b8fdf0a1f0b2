package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"fmt"
	"slices"
)

// KeyExchange says what the server's key does in a TLS 1.0-1.2 handshake,
// which decides the key usage its certificate must allow.
type KeyExchange uint8

const (
	// KeyExchangeRSA: the key encrypts the premaster secret (the TLS_RSA_
	// suites): keyEncipherment (RFC 5246 7.4.2, RFC 5280 4.2.1.3).
	KeyExchangeRSA KeyExchange = iota + 1
	// KeyExchangeSigned: the key signs the ServerKeyExchange (ECDHE_RSA,
	// ECDHE_ECDSA, DHE_RSA): digitalSignature (RFC 5246 7.4.2, RFC 8422
	// 5.3, RFC 5280 4.2.1.3).
	KeyExchangeSigned
)

// String returns "rsa" or "signed".
func (kx KeyExchange) String() string {
	switch kx {
	case KeyExchangeRSA:
		return "rsa"
	case KeyExchangeSigned:
		return "signed"
	}
	return fmt.Sprintf("key_exchange(%d)", uint8(kx))
}

// CheckKeyUsage refuses, with ReasonKeyUsage, a leaf whose keyUsage
// extension does not allow what its key does in the key exchange: signing
// the ServerKeyExchange needs digitalSignature, encrypting the premaster
// keyEncipherment, in every TLS version and every profile. A leaf without
// the extension allows every usage (RFC 5280 4.2.1.3). This is what
// OpenSSL and BoringSSL check; crypto/x509 ignores keyUsage.
//
// leaf is the first certificate of the path Verify returned (a root used
// as the leaf included); the offloader calls this once it knows the
// negotiated suite, before it uses the key.
func CheckKeyUsage(leaf *x509.Certificate, kx KeyExchange) error {
	if leaf == nil {
		return &Error{Reason: ReasonNoCertificate, Depth: -1, Detail: "no leaf"}
	}
	if present, _ := extension(leaf, oidExtKeyUsage); !present {
		return nil
	}
	var need x509.KeyUsage
	var rule Rule
	var what string
	switch kx {
	case KeyExchangeRSA:
		need, rule, what = x509.KeyUsageKeyEncipherment, RuleKeyEncipherment, "RSA key exchange needs keyEncipherment"
	case KeyExchangeSigned:
		need, rule, what = x509.KeyUsageDigitalSignature, RuleDigitalSignature, "signing the ServerKeyExchange needs digitalSignature"
	default:
		return fmt.Errorf("certs: CheckKeyUsage: unknown key exchange %d", uint8(kx))
	}
	if leaf.KeyUsage&need != 0 {
		return nil
	}
	return &Error{Reason: ReasonKeyUsage, Rule: rule, Cert: leaf,
		Detail: clip(describe([]*x509.Certificate{leaf}, 0, false) + ": " + what + "; key usage allows " + keyUsageNames(leaf.KeyUsage))}
}

// keyUsageNames lists the bits of u by their RFC 5280 names.
func keyUsageNames(u x509.KeyUsage) string {
	names := [...]string{"digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment",
		"keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"}
	out := ""
	for i, n := range names {
		if u&(1<<i) != 0 {
			if out != "" {
				out += ", "
			}
			out += n
		}
	}
	if out == "" {
		return "nothing"
	}
	return out
}

// TLS supported-group ids of the curves an ECDSA certificate may use (RFC
// 8422 5.1.1).
const (
	GroupP256 uint16 = 23
	GroupP384 uint16 = 24
	GroupP521 uint16 = 25
)

// CurveGroup returns the TLS group id of an ECDSA key's curve, or 0 for
// another key or curve.
func CurveGroup(pub any) uint16 {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return 0
	}
	switch k.Curve {
	case elliptic.P256():
		return GroupP256
	case elliptic.P384():
		return GroupP384
	case elliptic.P521():
		return GroupP521
	}
	return 0
}

// CheckCurve refuses, with ReasonKeyUsage, an ECDSA leaf whose curve is
// not among the groups the ClientHello offered (its supported_groups):
// the client said it cannot verify signatures on any other (RFC 8422 5.3,
// as BoringSSL applies it to TLS 1.2). offered empty means the extension
// was not sent, which restricts nothing (RFC 8422 4). Other keys pass.
// The server's point formats are the caller's to check.
func CheckCurve(leaf *x509.Certificate, offered []uint16) error {
	if leaf == nil {
		return &Error{Reason: ReasonNoCertificate, Depth: -1, Detail: "no leaf"}
	}
	k, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || len(offered) == 0 {
		return nil
	}
	g := CurveGroup(k)
	if g != 0 && slices.Contains(offered, g) {
		return nil
	}
	return &Error{Reason: ReasonKeyUsage, Rule: RuleCurveNotOffered, Cert: leaf,
		Detail: clip(describe([]*x509.Certificate{leaf}, 0, false) + ": ECDSA key on " + k.Curve.Params().Name + ", a group the client did not offer")}
}
