package handshake

import "slices"

// The defaults a client offers, in preference order. The suite order is the
// order of the Suites table.

// DefaultGroups are the named groups offered in supported_groups: X25519
// first (fast, constant-time), then the NIST curves servers commonly have.
var DefaultGroups = []uint16{GroupX25519, GroupP256, GroupP384}

// DefaultSignatureAlgorithms are offered in signature_algorithms and
// accepted in a ServerKeyExchange: ECDSA, then RSA-PSS, then PKCS #1 v1.5,
// and the SHA-1 pairs last, for old servers only.
var DefaultSignatureAlgorithms = []uint16{
	SigECDSAP256SHA256,
	SigECDSAP384SHA384,
	SigECDSAP521SHA512,
	SigRSAPSSRSAESHA256,
	SigRSAPSSRSAESHA384,
	SigRSAPSSRSAESHA512,
	SigRSAPKCS1SHA256,
	SigRSAPKCS1SHA384,
	SigRSAPKCS1SHA512,
	SigRSAPKCS1SHA1,
	SigECDSASHA1,
}

// SupportedSignatureAlgorithm reports whether alg is one of
// DefaultSignatureAlgorithms, the algorithms the verifier implements.
func SupportedSignatureAlgorithm(alg uint16) bool {
	return slices.Contains(DefaultSignatureAlgorithms, alg)
}
