package certs

import "fmt"

// Rule names the check that refused a chain, finer than Reason: a Reason
// travels to the device as a wire code, a Rule is for the operator (logs,
// metric labels) and for tests that must know which check fired.
// profile.go says which profile applies which rule, with its reference.
type Rule uint8

const (
	RuleNone Rule = iota

	// Reason malformed.
	RuleParse             // a certificate's DER did not parse (a negative serial number included)
	RuleChainLength       // more than MaxChainLen certificates
	RuleCriticalExtension // a critical extension crypto/x509 does not handle
	RuleEmptyEKU          // an extendedKeyUsage extension with no usage (SIZE (1..MAX), RFC 5280 4.2.1.12)

	// Reason weak_key.
	RuleRSASize      // an RSA modulus below the profile's minimum
	RuleRSAModulus   // an RSA modulus whose size is not a multiple of 8 bits
	RuleCurve        // an ECDSA key on a curve other than P-256, P-384, P-521
	RuleKeyAlgorithm // a key algorithm other than RSA, ECDSA, Ed25519

	// Reason weak_signature.
	RuleSignature // signed with MD2, MD5, SHA-1, DSA or an unknown algorithm

	// Reason key_usage.
	RuleCAAsLeaf         // the leaf is a CA certificate
	RuleLeafEKU          // the leaf's extended key usage does not name serverAuth
	RuleChainEKU         // an issuer's extended key usage does not allow serverAuth
	RuleRootEKU          // the root has an extendedKeyUsage extension
	RuleLeafKeyCertSign  // the leaf's key usage has keyCertSign
	RuleNotCA            // an issuer is not a CA
	RuleDigitalSignature // the key signs the ServerKeyExchange without digitalSignature
	RuleKeyEncipherment  // the key encrypts the premaster without keyEncipherment
	RuleCurveNotOffered  // the leaf's ECDSA curve is not among the groups offered

	// Reason nonconforming.
	RuleAKI                 // authorityKeyIdentifier (with a keyIdentifier) missing below the root
	RuleSKI                 // subjectKeyIdentifier missing in a CA
	RuleKeyID               // authorityKeyIdentifier differs from the issuer's subjectKeyIdentifier
	RuleSerial              // serial number zero or longer than 20 octets
	RuleSANMissing          // the leaf has no subjectAltName
	RuleSANCritical         // an empty subject and a non-critical subjectAltName
	RuleCommonName          // the leaf's commonName is not one of its SAN entries, byte for byte
	RuleDNSSyntax           // a DNS name that is not a preferred-syntax host name
	RuleDNSUnderscore       // a DNS name with an underscore
	RuleWildcard            // a wildcard that is not the whole leftmost label, or more than one
	RuleWildcardSuffix      // a wildcard directly on a public suffix ("*.co.uk")
	RuleBasicConstraints    // a CA whose basicConstraints is missing or not critical
	RuleNameConstraintsLeaf // name constraints in a certificate that is not a CA
	RuleNameConstraintsCrit // name constraints not critical
	RuleNameConstraintsSyn  // a name constraint that is not a valid name (a leading period in a DNS constraint)
	RuleNameConstraintsWork // more name-constraint work than MaxNameConstraintWork
	RulePolicyConstraints   // policyConstraints not critical
	RulePathDepth           // more than MaxIntermediates certificates between leaf and root

	// Reasons expired, not_yet_valid.
	RuleValidity // outside the validity period

	// Reason unknown_authority.
	RuleNoPath        // no path to a trusted root
	RulePathLenLimit  // a pathLenConstraint exceeded
	RulePolicy        // no valid certificate policy along the path
	RuleNoSystemRoots // the host's roots are unavailable

	// Reason name_mismatch.
	RuleServerName      // the leaf is not valid for the server name
	RuleNameConstraints // a name in the chain is outside an issuer's name constraints

	// Reason pin_mismatch.
	RulePin // no key of the path is pinned

	// Reason revoked.
	RuleOCSPRevoked // the stapled OCSP response says revoked
	RuleCRLRevoked  // a CRL lists the serial

	// Reason revocation_unknown.
	RuleMustStaple    // the leaf demands a staple (TLS Feature status_request) and none came
	RuleOCSPMalformed // the staple does not parse, or is not a successful basic response for this certificate
	RuleOCSPSignature // the staple's signature does not verify under the issuer or its responder
	RuleOCSPResponder // the responder certificate is not the issuer's delegated OCSP signer
	RuleOCSPCertID    // the staple's CertID names another issuer
	RuleOCSPStale     // the staple is not fresh (thisUpdate in the future, nextUpdate past)
	RuleOCSPStatus    // the staple's status is "unknown"
	RuleCRLSignature  // a CRL names the issuer but no such CRL verifies under its key
	RuleCRLStale      // every CRL of the issuer is past its nextUpdate

	ruleCount
)

var ruleNames = [...]string{
	RuleNone:                "none",
	RuleParse:               "parse",
	RuleChainLength:         "chain_length",
	RuleCriticalExtension:   "critical_extension",
	RuleEmptyEKU:            "empty_eku",
	RuleRSASize:             "rsa_size",
	RuleRSAModulus:          "rsa_modulus",
	RuleCurve:               "curve",
	RuleKeyAlgorithm:        "key_algorithm",
	RuleSignature:           "signature_algorithm",
	RuleCAAsLeaf:            "ca_as_leaf",
	RuleLeafEKU:             "leaf_eku",
	RuleChainEKU:            "chain_eku",
	RuleRootEKU:             "root_eku",
	RuleLeafKeyCertSign:     "leaf_key_cert_sign",
	RuleNotCA:               "issuer_not_ca",
	RuleDigitalSignature:    "digital_signature",
	RuleKeyEncipherment:     "key_encipherment",
	RuleCurveNotOffered:     "curve_not_offered",
	RuleAKI:                 "aki",
	RuleSKI:                 "ski",
	RuleKeyID:               "key_id",
	RuleSerial:              "serial",
	RuleSANMissing:          "san_missing",
	RuleSANCritical:         "san_critical",
	RuleCommonName:          "common_name",
	RuleDNSSyntax:           "dns_syntax",
	RuleDNSUnderscore:       "dns_underscore",
	RuleWildcard:            "wildcard",
	RuleWildcardSuffix:      "wildcard_public_suffix",
	RuleBasicConstraints:    "basic_constraints",
	RuleNameConstraintsLeaf: "name_constraints_leaf",
	RuleNameConstraintsCrit: "name_constraints_critical",
	RuleNameConstraintsSyn:  "name_constraints_syntax",
	RuleNameConstraintsWork: "name_constraints_work",
	RulePolicyConstraints:   "policy_constraints",
	RulePathDepth:           "path_depth",
	RuleValidity:            "validity",
	RuleNoPath:              "no_path",
	RulePathLenLimit:        "path_len_constraint",
	RulePolicy:              "policy",
	RuleNoSystemRoots:       "no_system_roots",
	RuleServerName:          "server_name",
	RuleNameConstraints:     "name_constraints",
	RulePin:                 "pin",
	RuleOCSPRevoked:         "ocsp_revoked",
	RuleCRLRevoked:          "crl_revoked",
	RuleMustStaple:          "must_staple",
	RuleOCSPMalformed:       "ocsp_malformed",
	RuleOCSPSignature:       "ocsp_signature",
	RuleOCSPResponder:       "ocsp_responder",
	RuleOCSPCertID:          "ocsp_cert_id",
	RuleOCSPStale:           "ocsp_stale",
	RuleOCSPStatus:          "ocsp_status",
	RuleCRLSignature:        "crl_signature",
	RuleCRLStale:            "crl_stale",
}

// String returns the rule's snake_case name ("leaf_eku"), fit for a metric
// label.
func (r Rule) String() string {
	if r < ruleCount {
		return ruleNames[r]
	}
	return fmt.Sprintf("rule(%d)", uint8(r))
}
