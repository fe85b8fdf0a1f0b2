package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"
)

// reasonInfo is indexed by Reason: its metric-label name and the words that
// open its error message.
var reasonInfo = [...]struct{ name, message string }{
	ReasonNone:             {"none", "certificate accepted"},
	ReasonExpired:          {"expired", "certificate expired"},
	ReasonNotYetValid:      {"not_yet_valid", "certificate not yet valid"},
	ReasonUnknownAuthority: {"unknown_authority", "certificate signed by unknown authority"},
	ReasonNameMismatch:     {"name_mismatch", "certificate is not valid for the server name"},
	ReasonKeyUsage:         {"key_usage", "certificate not allowed for TLS server authentication"},
	ReasonWeakKey:          {"weak_key", "certificate has a weak or unsupported key"},
	ReasonWeakSignature:    {"weak_signature", "certificate has a weak or unsupported signature"},
	ReasonMalformed:        {"malformed", "malformed certificate chain"},
	ReasonRevoked:          {"revoked", "certificate revoked"},
	ReasonPinMismatch:      {"pin_mismatch", "certificate does not match a pinned key"},
	ReasonNoCertificate:    {"no_certificate", "no certificate presented"},
}

// defaultMinRSABits is the smallest RSA modulus accepted when
// Verifier.MinRSABits is 0 (CA/Browser Forum baseline requirements 6.1.5).
const defaultMinRSABits = 2048

func (v *Verifier) now() time.Time {
	if v.Time != nil {
		return v.Time()
	}
	return time.Now()
}

func (v *Verifier) minRSABits() int {
	if v.MinRSABits > 0 {
		return v.MinRSABits
	}
	return defaultMinRSABits
}

// verify runs the checks in the order the contract fixes. The checks before
// path validation look at the leaf and at the intermediates that could be on
// its path (see pathCandidates), so that they decide the reason whatever
// crypto/x509 would have said first.
func (v *Verifier) verify(chain [][]byte, serverName string) ([]*x509.Certificate, error) {
	if len(chain) == 0 {
		return nil, &Error{Reason: ReasonNoCertificate, Detail: "empty chain"}
	}
	if len(chain) > MaxChainLen {
		return nil, &Error{Reason: ReasonMalformed,
			Detail: fmt.Sprintf("%d certificates, at most %d accepted", len(chain), MaxChainLen)}
	}
	now := v.now()
	var key cacheKey
	cacheable := false
	if v.Cache != nil {
		if key, cacheable = v.cacheKey(chain, serverName); cacheable {
			if verified := v.Cache.get(key, chain, now); verified != nil {
				return verified, nil
			}
			// Parse from a private copy: the certificates alias the bytes
			// they are parsed from, and an entry outlives the caller's.
			chain = cloneChain(chain)
		}
	}
	certs := make([]*x509.Certificate, 0, len(chain))
	for i, der := range chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, &Error{Reason: ReasonMalformed, Detail: clip(position(i) + ": " + trimX509(err)), Chain: certs, Err: err}
		}
		certs = append(certs, c)
	}
	refuse := func(r Reason, detail string, err error) ([]*x509.Certificate, error) {
		return nil, &Error{Reason: r, Detail: clip(detail), Chain: certs, Err: err, serverName: serverName}
	}

	checked := pathCandidates(certs)

	// Weak keys, then weak signatures.
	for _, i := range checked {
		if d := v.weakKey(certs[i]); d != "" {
			return refuse(ReasonWeakKey, describe(i, certs[i])+": "+d, nil)
		}
	}
	for _, i := range checked {
		if d := weakSignature(certs[i].SignatureAlgorithm); d != "" {
			return refuse(ReasonWeakSignature, describe(i, certs[i])+": "+d, nil)
		}
	}

	// The leaf's own usage: a CA is no server, and an extended key usage
	// that leaves out serverAuth forbids TLS servers (RFC 5280 4.2.1.12).
	leaf := certs[0]
	if leaf.BasicConstraintsValid && leaf.IsCA {
		return refuse(ReasonKeyUsage, describe(0, leaf)+": is a CA certificate", nil)
	}
	if !serverAuthAllowed(leaf) {
		return refuse(ReasonKeyUsage, describe(0, leaf)+": extended key usage lacks serverAuth", nil)
	}

	// Validity periods, before x509 so the reason says which bound failed.
	for _, i := range checked {
		if r, d := validity(certs[i], now); r != ReasonNone {
			return refuse(r, describe(i, certs[i])+": "+d, nil)
		}
	}

	// Path validation. The name is checked afterwards, not through
	// VerifyOptions.DNSName: x509 checks it before building the path, and
	// the contract puts unknown authority first.
	opts := x509.VerifyOptions{
		Roots:         v.Roots,
		Intermediates: x509.NewCertPool(),
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	chains, err := leaf.Verify(opts)
	if err != nil {
		r, d := classify(err, now)
		return refuse(r, d, err)
	}

	if serverName == "" {
		return refuse(ReasonNameMismatch, "no server name to verify", nil)
	}
	if err := leaf.VerifyHostname(serverName); err != nil {
		return refuse(ReasonNameMismatch, validNames(leaf), err)
	}
	if cacheable {
		v.Cache.put(key, chain, certs, chains[0], now)
	}
	return chains[0], nil
}

// pathCandidates returns the indexes of the certificates our own checks
// apply to: the leaf, and every presented certificate whose subject names
// the issuer of the leaf or of another such certificate. crypto/x509 links
// a path by those names, so any path it builds uses only these; certificates
// a server sends along needlessly (an old cross-sign, another site's chain)
// are not held against it. A self-issued certificate after the leaf is a
// root sent along: its key, signature and dates are the trust store's
// business, so it is left out too (the pool's copy is what x509 uses).
func pathCandidates(certs []*x509.Certificate) []int {
	linked := make([]bool, len(certs))
	linked[0] = true
	for grew := true; grew; {
		grew = false
		for i, c := range certs {
			if !linked[i] {
				continue
			}
			for j := 1; j < len(certs); j++ {
				if !linked[j] && bytes.Equal(certs[j].RawSubject, c.RawIssuer) {
					linked[j], grew = true, true
				}
			}
		}
	}
	out := []int{0}
	for j := 1; j < len(certs); j++ {
		if linked[j] && !bytes.Equal(certs[j].RawIssuer, certs[j].RawSubject) {
			out = append(out, j)
		}
	}
	return out
}

func (v *Verifier) weakKey(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < v.minRSABits() {
			return fmt.Sprintf("RSA key of %d bits, at least %d required", bits, v.minRSABits())
		}
		return ""
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return ""
		}
		return "ECDSA key on unsupported curve " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return ""
	}
	return "unsupported public key algorithm " + c.PublicKeyAlgorithm.String()
}

func weakSignature(alg x509.SignatureAlgorithm) string {
	switch alg {
	case x509.MD2WithRSA, x509.MD5WithRSA, x509.SHA1WithRSA, x509.ECDSAWithSHA1:
		return "signed with " + alg.String()
	case x509.DSAWithSHA1, x509.DSAWithSHA256:
		return "signed with unsupported " + alg.String()
	case x509.UnknownSignatureAlgorithm:
		return "signed with an unknown algorithm"
	}
	return ""
}

func serverAuthAllowed(c *x509.Certificate) bool {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return true // no restriction
	}
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageServerAuth || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

func validity(c *x509.Certificate, now time.Time) (Reason, string) {
	const layout = time.RFC3339
	if now.After(c.NotAfter) {
		return ReasonExpired, fmt.Sprintf("expired at %s, now %s",
			c.NotAfter.UTC().Format(layout), now.UTC().Format(layout))
	}
	if now.Before(c.NotBefore) {
		return ReasonNotYetValid, fmt.Sprintf("valid from %s, now %s",
			c.NotBefore.UTC().Format(layout), now.UTC().Format(layout))
	}
	return ReasonNone, ""
}

// classify maps an error of x509.Certificate.Verify to a reason and detail.
func classify(err error, now time.Time) (Reason, string) {
	var (
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		insecure x509.InsecureAlgorithmError
		hostname x509.HostnameError
		critical x509.UnhandledCriticalExtension
		system   x509.SystemRootsError
	)
	switch {
	case errors.As(err, &unknown):
		if unknown.Cert != nil {
			return ReasonUnknownAuthority, "no path to a trusted root from issuer " + quoteName(unknown.Cert.Issuer.String())
		}
		return ReasonUnknownAuthority, "no trusted root"
	case errors.As(err, &invalid):
		subject := "certificate"
		if invalid.Cert != nil {
			subject = quoteName(invalid.Cert.Subject.String())
		}
		switch invalid.Reason {
		case x509.Expired:
			// x509 says Expired for both bounds; only a root gets here.
			if invalid.Cert != nil {
				if r, d := validity(invalid.Cert, now); r != ReasonNone {
					return r, subject + ": " + d
				}
			}
			return ReasonExpired, subject + ": outside its validity period"
		case x509.IncompatibleUsage, x509.CANotAuthorizedForExtKeyUsage:
			return ReasonKeyUsage, subject + ": extended key usages along the chain do not allow serverAuth"
		case x509.NotAuthorizedToSign:
			return ReasonKeyUsage, subject + ": not allowed to sign certificates"
		case x509.CANotAuthorizedForThisName:
			return ReasonNameMismatch, subject + ": name not permitted by issuer's name constraints"
		case x509.TooManyIntermediates:
			return ReasonUnknownAuthority, subject + ": path length constraint exceeded"
		}
		return ReasonUnknownAuthority, subject + ": " + trimX509(err)
	case errors.As(err, &insecure):
		return ReasonWeakSignature, "signed with " + x509.SignatureAlgorithm(insecure).String()
	case errors.As(err, &hostname):
		return ReasonNameMismatch, trimX509(err)
	case errors.As(err, &critical):
		return ReasonMalformed, "unhandled critical extension"
	case errors.As(err, &system):
		return ReasonUnknownAuthority, "system roots unavailable"
	}
	return ReasonUnknownAuthority, trimX509(err)
}

// describe names certificate i of a chain for an error detail.
func describe(i int, c *x509.Certificate) string {
	name := c.Subject.CommonName
	if name == "" && len(c.DNSNames) > 0 {
		name = c.DNSNames[0]
	}
	if name == "" {
		name = c.Subject.String()
	}
	return position(i) + " " + quoteName(name)
}

func position(i int) string {
	if i == 0 {
		return "leaf"
	}
	return fmt.Sprintf("chain[%d]", i)
}

// quoteName quotes a name from a certificate, cut to a readable length.
func quoteName(s string) string {
	const max = 80
	if len(s) > max {
		s = s[:max] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// clip cuts a detail to MaxDetailLen bytes, on a UTF-8 boundary.
func clip(s string) string {
	if len(s) <= MaxDetailLen {
		return s
	}
	const ellipsis = "..."
	cut := MaxDetailLen - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

func trimX509(err error) string {
	return strings.TrimPrefix(err.Error(), "x509: ")
}

// validNames lists the names a leaf is valid for, at most a handful.
func validNames(c *x509.Certificate) string {
	const max = 5
	var names []string
	for _, n := range c.DNSNames {
		names = append(names, n)
	}
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return "certificate has no DNS or IP subject alternative names"
	}
	more := ""
	if len(names) > max {
		more = fmt.Sprintf(" and %d more", len(names)-max)
		names = names[:max]
	}
	for i, n := range names {
		names[i] = quoteName(n)
	}
	return "valid for " + strings.Join(names, ", ") + more
}

// matchName implements MatchName.
func matchName(patterns []string, serverName string) bool {
	name := normalizeName(serverName)
	if name == "" {
		return false
	}
	ip, ipErr := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(name, "["), "]"))
	isIP := ipErr == nil
	for _, p := range patterns {
		if p == "*" {
			return true
		}
		pat := normalizeName(p)
		if pat == "" {
			continue
		}
		if isIP {
			if pip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(pat, "["), "]")); err == nil &&
				pip.Unmap() == ip.Unmap() {
				return true
			}
			continue
		}
		if pat == name {
			return true
		}
		if suffix, ok := strings.CutPrefix(pat, "*."); ok && suffix != "" {
			label, rest, found := strings.Cut(name, ".")
			if found && label != "" && rest == suffix {
				return true
			}
		}
	}
	return false
}

// normalizeName lowercases ASCII letters (only those: Unicode case folding
// would let "\u212a" match "k") and drops one trailing dot.
func normalizeName(s string) string {
	s = strings.TrimSuffix(s, ".")
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
