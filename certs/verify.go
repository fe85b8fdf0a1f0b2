package certs

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// reasonInfo is indexed by Reason: its metric-label name and the words that
// open its error message.
var reasonInfo = [...]struct{ name, message string }{
	ReasonNone:              {"none", "certificate accepted"},
	ReasonExpired:           {"expired", "certificate expired"},
	ReasonNotYetValid:       {"not_yet_valid", "certificate not yet valid"},
	ReasonUnknownAuthority:  {"unknown_authority", "certificate signed by unknown authority"},
	ReasonNameMismatch:      {"name_mismatch", "certificate is not valid for the server name"},
	ReasonKeyUsage:          {"key_usage", "certificate not allowed for TLS server authentication"},
	ReasonWeakKey:           {"weak_key", "certificate has a weak or unsupported key"},
	ReasonWeakSignature:     {"weak_signature", "certificate has a weak or unsupported signature"},
	ReasonMalformed:         {"malformed", "malformed certificate chain"},
	ReasonRevoked:           {"revoked", "certificate revoked"},
	ReasonPinMismatch:       {"pin_mismatch", "certificate does not match a pinned key"},
	ReasonNoCertificate:     {"no_certificate", "no certificate presented"},
	ReasonNonConforming:     {"nonconforming", "certificate does not conform to the verification profile"},
	ReasonRevocationUnknown: {"revocation_unknown", "certificate revocation status unknown"},
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

var serverAuthOnly = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}

// verify parses the chain, builds the paths with crypto/x509 and applies
// the profile to each until one passes.
func (v *Verifier) verify(chain [][]byte, serverName string) ([]*x509.Certificate, error) {
	if len(chain) == 0 {
		return nil, &Error{Reason: ReasonNoCertificate, Depth: -1, Detail: "empty chain"}
	}
	if len(chain) > MaxChainLen {
		return nil, &Error{Reason: ReasonMalformed, Rule: RuleChainLength, Depth: -1,
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
			return nil, &Error{Reason: ReasonMalformed, Rule: RuleParse, Depth: i,
				Detail: clip(position(i) + ": " + trimX509(err)), Chain: certs, Err: err}
		}
		certs = append(certs, c)
	}
	path, e := v.verifyParsed(certs, serverName, now)
	if e != nil {
		e.Detail = clip(e.Detail)
		e.Chain = certs
		if e.Rule == RuleServerName {
			e.serverName = serverName
		}
		return nil, e
	}
	if cacheable {
		v.Cache.put(key, chain, certs, path, now)
	}
	return path, nil
}

// verifyParsed builds every path crypto/x509 finds (RFC 5280 section 6:
// signatures, validity, basic and name constraints, policies, extended key
// usage nested down the chain) and returns the first that passes the
// profile, or the refusal of the first path.
func (v *Verifier) verifyParsed(certs []*x509.Certificate, serverName string, now time.Time) ([]*x509.Certificate, *Error) {
	opts := x509.VerifyOptions{
		Roots:         v.Roots,
		Intermediates: x509.NewCertPool(),
		CurrentTime:   now,
		KeyUsages:     serverAuthOnly,
	}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	paths, err := certs[0].Verify(opts)
	if err != nil {
		return nil, v.diagnose(certs, err, now)
	}
	var first *Error
	for _, p := range paths {
		e := v.checkPath(p, serverName)
		if e == nil {
			return p, nil
		}
		if first == nil {
			first = e
		}
	}
	return nil, first
}

// checkPath applies the profile to a path crypto/x509 built: p ends at a
// root, and is the root alone when the leaf is itself one. Validity was
// checked by x509 on every certificate of p.
func (v *Verifier) checkPath(p []*x509.Certificate, serverName string) *Error {
	if e := v.checkRules(p, true, time.Time{}); e != nil {
		return e
	}
	leaf := p[0]
	if serverName == "" {
		return &Error{Reason: ReasonNameMismatch, Rule: RuleServerName, Cert: leaf, Detail: "no server name to verify"}
	}
	if err := leaf.VerifyHostname(serverName); err != nil {
		return &Error{Reason: ReasonNameMismatch, Rule: RuleServerName, Cert: leaf,
			Detail: describe(p, 0, true) + ": " + validNames(leaf), Err: err}
	}
	if len(v.Pins) > 0 && !pinned(p, v.Pins) {
		return &Error{Reason: ReasonPinMismatch, Rule: RulePin, Depth: -1,
			Detail: fmt.Sprintf("no key of the %d certificates of the path is pinned", len(p))}
	}
	return nil
}

// checkRules applies the rules about the certificates themselves, in the
// order of Verify's doc: weak key, weak signature, key usage,
// nonconforming, and validity when not anchored (x509 checked it on an
// anchored path). anchored says whether p ends at a root (a path x509
// built) or is the path the presented certificates would form (no path
// was found). A lone anchor (the leaf is a root) gets the key rules only.
func (v *Verifier) checkRules(p []*x509.Certificate, anchored bool, now time.Time) *Error {
	rs := v.Profile.rules()
	lone := anchored && len(p) == 1
	if rs.emptyEKU && !lone {
		if e := checkEmptyEKU(p, anchored); e != nil {
			return e
		}
	}
	for i := range p {
		if anchored && i == len(p)-1 && !lone && !rs.rootKey {
			continue // the root's key is the trust store's business
		}
		if e := v.checkKey(p, i, anchored, rs); e != nil {
			return e
		}
	}
	if lone {
		return nil
	}
	for i, c := range below(p, anchored) {
		if d := weakSignature(c.SignatureAlgorithm); d != "" {
			return refusal(ReasonWeakSignature, RuleSignature, p, i, anchored, "%s", d)
		}
	}
	if e := checkUsage(p, anchored, rs); e != nil {
		return e
	}
	if e := checkConformance(p, anchored, rs); e != nil {
		return e
	}
	if !anchored {
		for i, c := range p {
			if r, d := validity(c, now); r != ReasonNone {
				return refusal(r, RuleValidity, p, i, anchored, "%s", d)
			}
		}
	}
	return nil
}

// diagnose explains why crypto/x509 found no path: the profile's rules
// over the path the presented certificates would form by their names come
// first (so a weak key is called weak whatever x509 tripped on), then
// x509's own error.
func (v *Verifier) diagnose(certs []*x509.Certificate, xerr error, now time.Time) *Error {
	var invalid x509.CertificateInvalidError
	if errors.As(xerr, &invalid) && invalid.Cert == certs[0] && invalid.Reason == x509.Expired && v.isAnchor(certs[0]) {
		// A root used as the leaf and out of its validity period: only
		// validity applies to it.
		p := certs[:1]
		if r, d := validity(certs[0], now); r != ReasonNone {
			return refusal(r, RuleValidity, p, 0, true, "%s", d)
		}
	}
	if selfSigned(certs[0]) {
		// A self-signed leaf has no path but as a root itself: whatever
		// else is wrong with it, what to say is that it is not trusted.
		p := certs[:1]
		return &Error{Reason: ReasonUnknownAuthority, Rule: RuleNoPath, Cert: certs[0], Err: xerr,
			Detail: describe(p, 0, false) + ": self-signed and not among the roots"}
	}
	p := v.presentedPath(certs, now)
	if e := v.checkRules(p, false, now); e != nil {
		return e
	}
	return classify(xerr, p, now)
}

// isAnchor reports whether leaf is itself one of the roots, asking x509
// at a time within the leaf's validity (x509 then answers the leaf alone,
// without a signature check).
func (v *Verifier) isAnchor(leaf *x509.Certificate) bool {
	paths, err := leaf.Verify(x509.VerifyOptions{
		Roots:       v.Roots,
		CurrentTime: leaf.NotBefore,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	return err == nil && len(paths) == 1 && len(paths[0]) == 1
}

// presentedPath links the presented certificates from the leaf by names
// (each one's issuer is the next one's subject), preferring at each step
// an issuer that is sound now (key, signature, validity), and stops at a
// self-signed certificate after the leaf: a root sent along, whose pool
// copy would be the anchor, is left out. It is the path x509 would have
// tried; certificates sent along for nothing stay out of it.
func (v *Verifier) presentedPath(certs []*x509.Certificate, now time.Time) []*x509.Certificate {
	rs := v.Profile.rules()
	path := []*x509.Certificate{certs[0]}
	used := make([]bool, len(certs))
	used[0] = true
	for cur := certs[0]; ; {
		pick := -1
		for j := 1; j < len(certs); j++ {
			if used[j] || !bytes.Equal(certs[j].RawSubject, cur.RawIssuer) {
				continue
			}
			if pick < 0 {
				pick = j
			}
			cand := append(path[:len(path):len(path)], certs[j])
			if v.checkKey(cand, len(path), false, rs) == nil && weakSignature(certs[j].SignatureAlgorithm) == "" {
				if r, _ := validity(certs[j], now); r == ReasonNone {
					pick = j
					break
				}
			}
		}
		if pick < 0 {
			return path
		}
		next := certs[pick]
		if selfSigned(next) {
			return path
		}
		used[pick] = true
		path = append(path, next)
		cur = next
	}
}

// selfSigned reports whether c is signed by its own key under its own
// name: a root.
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) &&
		c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
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

// classify maps an error of x509.Certificate.Verify to a refusal; p is
// the path the presented certificates would form, to name certificates by
// their position on it.
func classify(err error, p []*x509.Certificate, now time.Time) *Error {
	var (
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		insecure x509.InsecureAlgorithmError
		hostname x509.HostnameError
		critical x509.UnhandledCriticalExtension
		system   x509.SystemRootsError
	)
	e := &Error{Err: err, Depth: -1}
	switch {
	case errors.As(err, &unknown):
		e.Reason, e.Rule = ReasonUnknownAuthority, RuleNoPath
		if unknown.Cert != nil {
			e.Cert, e.Depth = unknown.Cert, locate(p, unknown.Cert)
			e.Detail = "no path to a trusted root from issuer " + quoteName(unknown.Cert.Issuer.String())
		} else {
			e.Detail = "no trusted root"
		}
	case errors.As(err, &invalid):
		e.Reason, e.Rule = ReasonUnknownAuthority, RuleNoPath
		subject := "certificate"
		if c := invalid.Cert; c != nil {
			e.Cert, e.Depth = c, locate(p, c)
			subject = describeLocated(p, e.Depth, c)
		}
		switch invalid.Reason {
		case x509.Expired:
			// x509 says Expired for both bounds.
			e.Reason, e.Rule, e.Detail = ReasonExpired, RuleValidity, subject+": outside its validity period"
			if invalid.Cert != nil {
				if r, d := validity(invalid.Cert, now); r != ReasonNone {
					e.Reason, e.Detail = r, subject+": "+d
				}
			}
		case x509.IncompatibleUsage, x509.CANotAuthorizedForExtKeyUsage:
			e.Reason, e.Rule = ReasonKeyUsage, RuleChainEKU
			e.Detail = subject + ": extended key usages along the chain do not allow serverAuth"
		case x509.NotAuthorizedToSign:
			e.Reason, e.Rule = ReasonKeyUsage, RuleNotCA
			e.Detail = subject + ": not allowed to sign certificates"
		case x509.CANotAuthorizedForThisName:
			// x509 blames the leaf and names the first name outside the
			// constraints in its detail: name that name and the
			// certificate that holds it.
			e.Reason, e.Rule = ReasonNameMismatch, RuleNameConstraints
			if i, c := nameHolder(p, invalid.Detail); c != nil {
				e.Cert, e.Depth, subject = c, i, describeLocated(p, i, c)
			}
			e.Detail = subject + ": " + invalid.Detail
		case x509.TooManyIntermediates:
			e.Rule = RulePathLenLimit
			e.Detail = subject + ": path length constraint exceeded"
		case x509.NoValidChains:
			e.Rule = RulePolicy
			e.Detail = subject + ": " + trimX509(err)
		default:
			e.Detail = subject + ": " + trimX509(err)
		}
	case errors.As(err, &insecure):
		e.Reason, e.Rule = ReasonWeakSignature, RuleSignature
		e.Detail = "signed with " + x509.SignatureAlgorithm(insecure).String()
	case errors.As(err, &hostname):
		e.Reason, e.Rule, e.Detail = ReasonNameMismatch, RuleServerName, trimX509(err)
	case errors.As(err, &critical):
		e.Reason, e.Rule, e.Detail = ReasonMalformed, RuleCriticalExtension, "unhandled critical extension"
		for i, c := range p {
			if len(c.UnhandledCriticalExtensions) > 0 {
				e.Cert, e.Depth = c, i
				e.Detail = describe(p, i, false) + ": unhandled critical extension " + c.UnhandledCriticalExtensions[0].String()
				break
			}
		}
	case errors.As(err, &system):
		e.Reason, e.Rule, e.Detail = ReasonUnknownAuthority, RuleNoSystemRoots, "system roots unavailable"
	default:
		e.Reason, e.Rule, e.Detail = ReasonUnknownAuthority, RuleNoPath, trimX509(err)
	}
	return e
}

// locate returns c's position on p, or len(p) for a certificate not on it
// (a root from the pool, the next step after p).
func locate(p []*x509.Certificate, c *x509.Certificate) int {
	for i, x := range p {
		if x == c || bytes.Equal(x.Raw, c.Raw) {
			return i
		}
	}
	return len(p)
}

// describeLocated names c at position i of p, or as a root beyond it.
func describeLocated(p []*x509.Certificate, i int, c *x509.Certificate) string {
	if i < len(p) {
		return describe(p, i, false)
	}
	return "root " + quoteName(certName(c))
}

// nameHolder finds the certificate of p that holds the name x509 quoted
// first in a constraint violation's detail.
func nameHolder(p []*x509.Certificate, detail string) (int, *x509.Certificate) {
	q := strings.IndexByte(detail, '"')
	if q < 0 {
		return 0, nil
	}
	quoted, err := strconv.QuotedPrefix(detail[q:])
	if err != nil {
		return 0, nil
	}
	name, err := strconv.Unquote(quoted)
	if err != nil {
		return 0, nil
	}
	for i, c := range p {
		if slices.Contains(c.DNSNames, name) || slices.Contains(c.EmailAddresses, name) {
			return i, c
		}
		for _, ip := range c.IPAddresses {
			if ip.String() == name {
				return i, c
			}
		}
		for _, u := range c.URIs {
			if u.String() == name {
				return i, c
			}
		}
	}
	return 0, nil
}

// describe names certificate i of path p for an error detail: "leaf",
// "root" (the last of an anchored path) or "path[i]", and its name.
func describe(p []*x509.Certificate, i int, anchored bool) string {
	var pos string
	switch {
	case i == 0:
		pos = "leaf"
	case anchored && i == len(p)-1:
		pos = "root"
	default:
		pos = fmt.Sprintf("path[%d]", i)
	}
	return pos + " " + quoteName(certName(p[i]))
}

// certName is the name a certificate is best known by: its commonName,
// else its first DNS name, else its whole subject.
func certName(c *x509.Certificate) string {
	name := c.Subject.CommonName
	if name == "" && len(c.DNSNames) > 0 {
		name = c.DNSNames[0]
	}
	if name == "" {
		name = c.Subject.String()
	}
	return name
}

// position names certificate i of the chain as presented.
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
