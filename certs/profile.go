package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Profile is a set of verification rules beyond RFC 5280 path validation.
// docs/OFFLOADER.md lists every rule of each profile with its reference.
type Profile uint8

const (
	// ProfileWebPKI is the CA/Browser Forum Baseline Requirements as
	// browser-grade verifiers apply them: the zero value, and the default
	// of a device.
	ProfileWebPKI Profile = iota
	// ProfileRFC5280 is RFC 5280 alone, for private PKIs that predate the
	// Baseline Requirements, with the weak-key and weak-signature rules and
	// a bound on name-constraint work.
	ProfileRFC5280
)

// MaxIntermediates is the most certificates ProfileWebPKI accepts between
// the leaf and the root (rustls-webpki's bound; real paths have 1 to 3).
const MaxIntermediates = 6

// MaxNameConstraintWork bounds, in every profile, the name-constraint comparisons a path may cost: the names of its
// certificates (subjectAltName entries) times the constraints of its CAs.
// A path built to make constraint checking slow is refused before it is
// ground through; real paths cost a few hundred.
const MaxNameConstraintWork = 250_000

// ParseProfile reads a profile's name as a device's config gives it:
// "webpki" or "rfc5280"; "" is "webpki", the default.
func ParseProfile(s string) (Profile, error) {
	switch s {
	case "", "webpki":
		return ProfileWebPKI, nil
	case "rfc5280":
		return ProfileRFC5280, nil
	}
	return 0, fmt.Errorf("certs: unknown verification profile %q (want \"webpki\" or \"rfc5280\")", s)
}

// String returns "webpki" or "rfc5280", as ParseProfile reads them.
func (p Profile) String() string {
	switch p {
	case ProfileWebPKI:
		return "webpki"
	case ProfileRFC5280:
		return "rfc5280"
	}
	return fmt.Sprintf("profile(%d)", uint8(p))
}

// rules is what a profile applies beyond path validation; each flag names
// the rules of rules.go it switches on.
type rules struct {
	caAsLeaf     bool // RuleCAAsLeaf
	strictEKU    bool // RuleLeafEKU with serverAuth required (not anyEKU, not absent)
	emptyEKU     bool // RuleEmptyEKU
	rootEKU      bool // RuleRootEKU
	leafCertSign bool // RuleLeafKeyCertSign
	rootKey      bool // the key rules on the root too
	rsaModulus   bool // RuleRSAModulus
	rsaFloor     int  // MinRSABits cannot go below this (0: no floor)
	keyIDs       bool // RuleAKI, RuleSKI, RuleKeyID
	serial       bool // RuleSerial
	names        bool // RuleSANMissing, RuleSANCritical, RuleCommonName, RuleDNS*, RuleWildcard*
	criticality  bool // RuleBasicConstraints, RuleNameConstraints{Leaf,Crit,Syn}, RulePolicyConstraints
	depth        bool // RulePathDepth
	ncWork       bool // RuleNameConstraintsWork
}

func (p Profile) rules() rules {
	switch p {
	case ProfileWebPKI:
		return rules{
			caAsLeaf: true, strictEKU: true, emptyEKU: true, rootEKU: true, leafCertSign: true,
			rootKey: true, rsaModulus: true, rsaFloor: defaultMinRSABits,
			keyIDs: true, serial: true, names: true, criticality: true, depth: true, ncWork: true,
		}
	case ProfileRFC5280:
		return rules{emptyEKU: true, ncWork: true}
	}
	// An unknown profile (a value no constant names) gets the strictest:
	// nothing is let through by a mistake.
	return ProfileWebPKI.rules()
}

// Valid reports whether p is one of the profiles this package defines.
func (p Profile) Valid() bool { return p == ProfileWebPKI || p == ProfileRFC5280 }

var (
	oidExtSKI               = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidExtKeyUsage          = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtSAN               = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidExtBasicConstraints  = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidExtNameConstraints   = asn1.ObjectIdentifier{2, 5, 29, 30}
	oidExtAKI               = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidExtPolicyConstraints = asn1.ObjectIdentifier{2, 5, 29, 36}
	oidExtEKU               = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidExtTLSFeature        = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 24}
	oidCommonName           = asn1.ObjectIdentifier{2, 5, 4, 3}
)

// extension returns c's extension id: present, critical.
func extension(c *x509.Certificate, id asn1.ObjectIdentifier) (present, critical bool) {
	for i := range c.Extensions {
		if c.Extensions[i].Id.Equal(id) {
			return true, c.Extensions[i].Critical
		}
	}
	return false, false
}

// refusal builds the *Error for certificate i of path p; anchored says
// whether p's last certificate is the root.
func refusal(r Reason, rule Rule, p []*x509.Certificate, i int, anchored bool, format string, args ...any) *Error {
	return &Error{Reason: r, Rule: rule, Cert: p[i], Depth: i,
		Detail: describe(p, i, anchored) + ": " + fmt.Sprintf(format, args...)}
}

// checkKey applies the weak-key rules to certificate i of p.
func (v *Verifier) checkKey(p []*x509.Certificate, i int, anchored bool, rs rules) *Error {
	c := p[i]
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		bits, min := k.N.BitLen(), v.minRSABits()
		if min < rs.rsaFloor {
			min = rs.rsaFloor
		}
		if bits < min {
			return refusal(ReasonWeakKey, RuleRSASize, p, i, anchored, "RSA key of %d bits, at least %d required", bits, min)
		}
		if rs.rsaModulus && bits%8 != 0 {
			return refusal(ReasonWeakKey, RuleRSAModulus, p, i, anchored, "RSA modulus of %d bits, not a multiple of 8", bits)
		}
		return nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		return refusal(ReasonWeakKey, RuleCurve, p, i, anchored, "ECDSA key on unsupported curve %s", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return nil
	}
	return refusal(ReasonWeakKey, RuleKeyAlgorithm, p, i, anchored, "unsupported public key algorithm %s", c.PublicKeyAlgorithm)
}

// checkUsage applies the leaf's usage rules, and the root's EKU rule when p
// is anchored. p is not a lone anchor.
func checkUsage(p []*x509.Certificate, anchored bool, rs rules) *Error {
	leaf := p[0]
	if rs.caAsLeaf && leaf.BasicConstraintsValid && leaf.IsCA {
		return refusal(ReasonKeyUsage, RuleCAAsLeaf, p, 0, anchored, "is a CA certificate")
	}
	if rs.strictEKU {
		if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
			what := "has no extended key usage"
			if present, _ := extension(leaf, oidExtEKU); present {
				what = "extended key usage lacks serverAuth"
				if slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
					what = "extended key usage has anyExtendedKeyUsage but not serverAuth"
				}
			}
			return refusal(ReasonKeyUsage, RuleLeafEKU, p, 0, anchored, "%s", what)
		}
	} else if !serverAuthAllowed(leaf) {
		return refusal(ReasonKeyUsage, RuleLeafEKU, p, 0, anchored, "extended key usage lacks serverAuth")
	}
	if rs.leafCertSign && leaf.KeyUsage&x509.KeyUsageCertSign != 0 {
		return refusal(ReasonKeyUsage, RuleLeafKeyCertSign, p, 0, anchored, "key usage keyCertSign in a leaf")
	}
	if rs.rootEKU && anchored && len(p) > 1 {
		root := len(p) - 1
		if present, _ := extension(p[root], oidExtEKU); present {
			return refusal(ReasonKeyUsage, RuleRootEKU, p, root, anchored, "a root with an extendedKeyUsage extension")
		}
	}
	return nil
}

// checkEmptyEKU refuses an extendedKeyUsage extension that lists nothing
// (crypto/x509 parses it as no restriction) on the certificates below the
// root.
func checkEmptyEKU(p []*x509.Certificate, anchored bool) *Error {
	for i, c := range below(p, anchored) {
		if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
			if present, _ := extension(c, oidExtEKU); present {
				return refusal(ReasonMalformed, RuleEmptyEKU, p, i, anchored, "an empty extendedKeyUsage extension")
			}
		}
	}
	return nil
}

// below returns the certificates of p other than its root.
func below(p []*x509.Certificate, anchored bool) []*x509.Certificate {
	if anchored {
		return p[:len(p)-1]
	}
	return p
}

// checkConformance applies the nonconforming rules. When anchored, p ends
// at the root and the path-wide rules (depth, name-constraint work) apply
// too; otherwise p is the path the presented certificates would form.
// p is not a lone anchor.
func checkConformance(p []*x509.Certificate, anchored bool, rs rules) *Error {
	n := len(p)
	if rs.depth && anchored && n-2 > MaxIntermediates {
		return &Error{Reason: ReasonNonConforming, Rule: RulePathDepth, Depth: -1,
			Detail: fmt.Sprintf("path of %d intermediates, at most %d accepted", n-2, MaxIntermediates)}
	}
	if rs.names {
		if e := checkLeafNames(p, anchored); e != nil {
			return e
		}
	}
	for i, c := range p {
		isRoot := anchored && i == n-1
		if !isRoot && rs.serial {
			if d := serialDefect(c); d != "" {
				return refusal(ReasonNonConforming, RuleSerial, p, i, anchored, "%s", d)
			}
		}
		if rs.keyIDs {
			if e := checkKeyIDs(p, i, anchored); e != nil {
				return e
			}
		}
		if rs.criticality {
			if e := checkCriticality(p, i, anchored); e != nil {
				return e
			}
		}
	}
	if rs.ncWork && anchored {
		if e := checkNameConstraintWork(p); e != nil {
			return e
		}
	}
	return nil
}

// serialDefect says what is wrong with c's serial number under the
// Baseline Requirements (7.1: greater than zero) and RFC 5280 4.1.2.2 (at
// most 20 octets, a leading zero octet counted). crypto/x509 refuses
// negative serials when parsing.
func serialDefect(c *x509.Certificate) string {
	s := c.SerialNumber
	if s == nil || s.Sign() <= 0 {
		return "serial number is not positive"
	}
	octets := (s.BitLen() + 8) / 8 // DER: one more bit for the sign
	if octets > 20 {
		return fmt.Sprintf("serial number of %d octets, at most 20", octets)
	}
	return ""
}

// checkKeyIDs: every certificate below the root carries an
// authorityKeyIdentifier with a keyIdentifier; every CA a
// subjectKeyIdentifier; and the two agree along the path.
func checkKeyIDs(p []*x509.Certificate, i int, anchored bool) *Error {
	c := p[i]
	isRoot := anchored && i == len(p)-1
	// crypto/x509 refuses a critical authority key identifier when parsing.
	if !isRoot && len(c.AuthorityKeyId) == 0 {
		return refusal(ReasonNonConforming, RuleAKI, p, i, anchored, "no authority key identifier")
	}
	if i > 0 && len(c.SubjectKeyId) == 0 {
		return refusal(ReasonNonConforming, RuleSKI, p, i, anchored, "a CA without a subject key identifier")
	}
	if i+1 < len(p) && len(c.AuthorityKeyId) > 0 && len(p[i+1].SubjectKeyId) > 0 &&
		!bytes.Equal(c.AuthorityKeyId, p[i+1].SubjectKeyId) {
		return refusal(ReasonNonConforming, RuleKeyID, p, i, anchored, "authority key identifier differs from its issuer's subject key identifier")
	}
	return nil
}

// checkCriticality: basicConstraints critical in every CA below the root;
// name constraints only in CAs, critical and well-formed (the root's
// included: they constrain the path as much); policyConstraints critical.
func checkCriticality(p []*x509.Certificate, i int, anchored bool) *Error {
	c := p[i]
	isRoot := anchored && i == len(p)-1
	if i > 0 && !isRoot {
		if present, critical := extension(c, oidExtBasicConstraints); !present || !critical {
			return refusal(ReasonNonConforming, RuleBasicConstraints, p, i, anchored, "basicConstraints not critical in a CA")
		}
	}
	if present, critical := extension(c, oidExtNameConstraints); present {
		if i == 0 {
			return refusal(ReasonNonConforming, RuleNameConstraintsLeaf, p, i, anchored, "name constraints in a certificate that is not a CA")
		}
		if !critical {
			return refusal(ReasonNonConforming, RuleNameConstraintsCrit, p, i, anchored, "name constraints not critical")
		}
		for _, list := range [][]string{c.PermittedDNSDomains, c.ExcludedDNSDomains} {
			for _, d := range list {
				if d == "" {
					continue // an empty excluded dNSName excludes every name (BR 7.1.2.10.8)
				}
				if rule, why := dnsNameDefect(d, false); rule != RuleNone {
					return refusal(ReasonNonConforming, RuleNameConstraintsSyn, p, i, anchored, "DNS name constraint %s: %s", quoteName(d), why)
				}
			}
		}
	}
	if !isRoot {
		if present, critical := extension(c, oidExtPolicyConstraints); present && !critical {
			return refusal(ReasonNonConforming, RulePolicyConstraints, p, i, anchored, "policyConstraints not critical")
		}
	}
	return nil
}

// checkNameConstraintWork bounds names times constraints over the path.
func checkNameConstraintWork(p []*x509.Certificate) *Error {
	constraints := 0
	for _, c := range p[1:] {
		constraints += len(c.PermittedDNSDomains) + len(c.ExcludedDNSDomains) +
			len(c.PermittedIPRanges) + len(c.ExcludedIPRanges) +
			len(c.PermittedEmailAddresses) + len(c.ExcludedEmailAddresses) +
			len(c.PermittedURIDomains) + len(c.ExcludedURIDomains)
	}
	if constraints == 0 {
		return nil
	}
	names := 0
	for _, c := range p[:len(p)-1] {
		names += len(c.DNSNames) + len(c.IPAddresses) + len(c.EmailAddresses) + len(c.URIs)
	}
	if names*constraints > MaxNameConstraintWork {
		return &Error{Reason: ReasonNonConforming, Rule: RuleNameConstraintsWork, Depth: -1,
			Detail: fmt.Sprintf("%d names under %d name constraints: more than %d comparisons", names, constraints, MaxNameConstraintWork)}
	}
	return nil
}

// checkLeafNames: a subjectAltName, critical when the subject is empty; at
// most one commonName, equal byte for byte to a SAN entry; every DNS name
// a valid host name with a sound wildcard.
func checkLeafNames(p []*x509.Certificate, anchored bool) *Error {
	leaf := p[0]
	present, critical := extension(leaf, oidExtSAN)
	if !present {
		return refusal(ReasonNonConforming, RuleSANMissing, p, 0, anchored, "no subjectAltName")
	}
	if len(leaf.Subject.Names) == 0 && !critical {
		return refusal(ReasonNonConforming, RuleSANCritical, p, 0, anchored, "an empty subject and a non-critical subjectAltName")
	}
	cns := 0
	for _, atv := range leaf.Subject.Names {
		if atv.Type.Equal(oidCommonName) {
			cns++
		}
	}
	if cns > 1 {
		return refusal(ReasonNonConforming, RuleCommonName, p, 0, anchored, "%d commonName attributes", cns)
	}
	if cns == 1 && !cnInSAN(leaf) {
		return refusal(ReasonNonConforming, RuleCommonName, p, 0, anchored, "commonName %s is not one of its subjectAltName entries", quoteName(leaf.Subject.CommonName))
	}
	for _, name := range leaf.DNSNames {
		if rule, why := dnsNameDefect(name, true); rule != RuleNone {
			return refusal(ReasonNonConforming, rule, p, 0, anchored, "DNS name %s: %s", quoteName(name), why)
		}
	}
	return nil
}

func cnInSAN(c *x509.Certificate) bool {
	cn := c.Subject.CommonName
	if slices.Contains(c.DNSNames, cn) {
		return true
	}
	for _, ip := range c.IPAddresses {
		if ip.String() == cn {
			return true
		}
	}
	return false
}

// dnsNameDefect checks name as a preferred-syntax host name (RFC 1034
// 3.5, RFC 5280 4.2.1.6): labels of 1 to 63 letters, digits and hyphens,
// no hyphen at either end, at most 253 bytes, no trailing dot. With
// wildcards, "*" may be the whole leftmost label of a name of two labels
// or more, not directly on a public suffix of the ICANN section.
func dnsNameDefect(name string, wildcards bool) (Rule, string) {
	switch {
	case name == "":
		return RuleDNSSyntax, "empty"
	case len(name) > 253:
		return RuleDNSSyntax, "longer than 253 bytes"
	case strings.IndexByte(name, '_') >= 0:
		return RuleDNSUnderscore, "has an underscore"
	case name[0] == '.':
		return RuleDNSSyntax, "has a leading period"
	case name[len(name)-1] == '.':
		return RuleDNSSyntax, "has a trailing period"
	}
	wildcard := false
	for start, first := 0, true; start <= len(name); first = false {
		end := strings.IndexByte(name[start:], '.')
		if end < 0 {
			end = len(name)
		} else {
			end += start
		}
		label := name[start:end]
		start = end + 1
		if strings.IndexByte(label, '*') >= 0 {
			if !wildcards {
				return RuleDNSSyntax, "has a wildcard"
			}
			if !first || label != "*" {
				return RuleWildcard, "a wildcard that is not the whole leftmost label"
			}
			wildcard = true
			continue
		}
		if why := labelDefect(label); why != "" {
			return RuleDNSSyntax, why
		}
	}
	if wildcard {
		if name == "*" {
			return RuleWildcard, "a wildcard alone"
		}
		if publicSuffixICANN(name[2:]) {
			return RuleWildcardSuffix, "a wildcard directly on a public suffix"
		}
	}
	return RuleNone, ""
}

// publicSuffixICANN reports whether domain is itself a public suffix of
// the list's ICANN section ("com", "co.uk"), as Chromium refuses wildcards
// on registry-controlled domains. Names under a TLD the list does not know
// ("*.example", "*.internal") and the list's private section
// ("*.github.io") are not refused: Chromium refuses neither.
func publicSuffixICANN(domain string) bool {
	d := strings.ToLower(domain)
	suffix, icann := publicsuffix.PublicSuffix(d)
	return icann && suffix == d
}

func labelDefect(label string) string {
	if label == "" {
		return "has an empty label"
	}
	if len(label) > 63 {
		return "has a label longer than 63 bytes"
	}
	for i := 0; i < len(label); i++ {
		b := label[i]
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case b == '-':
			if i == 0 || i == len(label)-1 {
				return "has a label beginning or ending with a hyphen"
			}
		default:
			return fmt.Sprintf("has the byte %q", b)
		}
	}
	return ""
}
