package certs

import (
	"bytes"
	"crypto"
	_ "crypto/sha1" // OCSP CertIDs hash the issuer with SHA-1 most often
	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math/big"
	"slices"
	"sync"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"
)

// Revocation (RFC 6960 OCSP as stapled by RFC 6066 8, RFC 7633 must-staple,
// RFC 5280 CRLs in crl.go). Verify does not check revocation: a verdict it
// caches must not outlive a revocation. The offloader calls
// CheckRevocation on the path Verify returned, on every handshake.

const (
	// RevocationSkew is the clock difference allowed between the
	// verification time and the times in an OCSP response or a CRL.
	RevocationSkew = 5 * time.Minute
	// OCSPMaxAge is how long after its thisUpdate a response without a
	// nextUpdate is taken as fresh.
	OCSPMaxAge = 24 * time.Hour
	// MaxOCSPResponseBytes bounds a stapled response (real ones are 0.5 to
	// 4 KiB) before it is parsed.
	MaxOCSPResponseBytes = 64 << 10
)

// CheckRevocation checks what is known of the revocation of path (as
// Verify returned it: leaf first, root last) at now: the OCSP response the
// server stapled for the leaf (CheckOCSP; nil staple when the server sent
// none), and crls (nil: none) for every certificate below the root. A
// "revoked" answer from either wins over any other refusal. A leaf that is
// itself a root (a path of one) has no issuer to be revoked by: only its
// removal from the roots revokes it.
func CheckRevocation(path []*x509.Certificate, staple []byte, crls *CRLSet, now time.Time) error {
	return (*StapleCache)(nil).CheckRevocation(path, staple, crls, now)
}

// CheckRevocation is the package's CheckRevocation with the staple checked
// through c.
func (c *StapleCache) CheckRevocation(path []*x509.Certificate, staple []byte, crls *CRLSet, now time.Time) error {
	if len(path) < 2 {
		return nil
	}
	ocspErr := c.CheckOCSP(staple, path[0], path[1], now)
	var crlErr error
	if crls != nil {
		crlErr = crls.Check(path, now)
	}
	for _, err := range []error{ocspErr, crlErr} {
		var ce *Error
		if errors.As(err, &ce) && ce.Reason == ReasonRevoked {
			return err
		}
	}
	if ocspErr != nil {
		return ocspErr
	}
	return crlErr
}

// CheckOCSP checks a stapled OCSP response (the body of a CertificateStatus
// message of type ocsp: the DER OCSPResponse) for leaf, issued by issuer,
// at now:
//   - an empty staple passes, unless the leaf demands one (MustStaple):
//     ReasonRevocationUnknown;
//   - the response must be a successful basic response with a
//     SingleResponse for the leaf's serial whose CertID hashes name the
//     issuer, signed by the issuer itself or by a responder certificate
//     the issuer signed for OCSP signing (RFC 6960 4.2.2.2: the
//     id-kp-OCSPSigning extended key usage, valid at now), not with MD5
//     or SHA-1;
//   - "revoked" refuses with ReasonRevoked, even from a stale response;
//   - it must be fresh: thisUpdate not after now, nextUpdate (or
//     thisUpdate + OCSPMaxAge without one) not before now, each with
//     RevocationSkew;
//   - "unknown" refuses.
//
// Every other refusal is ReasonRevocationUnknown with a Rule saying which.
// CheckOCSP verifies the staple's signature every time; a StapleCache
// does so once per staple.
func CheckOCSP(staple []byte, leaf, issuer *x509.Certificate, now time.Time) error {
	return (*StapleCache)(nil).CheckOCSP(staple, leaf, issuer, now)
}

// stapleFacts is what an authentic staple says about a certificate, and
// how long its signer may say it.
type stapleFacts struct {
	status                            int
	thisUpdate, nextUpdate, revokedAt time.Time
	reason                            int
	// The delegated responder's validity; zero when the issuer signed.
	signerFrom, signerUntil time.Time
}

func refuseStaple(leaf *x509.Certificate, r Reason, rule Rule, format string, args ...any) error {
	return &Error{Reason: r, Rule: rule, Cert: leaf,
		Detail: clip(describe([]*x509.Certificate{leaf}, 0, false) + ": " + fmt.Sprintf(format, args...))}
}

// CheckOCSP is the package's CheckOCSP, remembering the staples it found
// authentic. A nil *StapleCache remembers nothing.
func (c *StapleCache) CheckOCSP(staple []byte, leaf, issuer *x509.Certificate, now time.Time) error {
	if leaf == nil || issuer == nil {
		return &Error{Reason: ReasonNoCertificate, Depth: -1, Detail: "no leaf or no issuer"}
	}
	must, err := MustStaple(leaf)
	if err != nil {
		return refuseStaple(leaf, ReasonMalformed, RuleParse, "%v", trimCerts(err))
	}
	if len(staple) == 0 {
		if must {
			return refuseStaple(leaf, ReasonRevocationUnknown, RuleMustStaple, "must-staple certificate (TLS Feature status_request) and no OCSP response stapled")
		}
		return nil
	}
	if len(staple) > MaxOCSPResponseBytes {
		return refuseStaple(leaf, ReasonRevocationUnknown, RuleOCSPMalformed, "stapled OCSP response of %d bytes, at most %d", len(staple), MaxOCSPResponseBytes)
	}
	if f, ok := c.get(staple, leaf, issuer, now); ok {
		return judgeStaple(f, leaf, now)
	}
	f, err := authenticateStaple(staple, leaf, issuer, now)
	if err != nil {
		return err
	}
	c.put(staple, leaf, issuer, f, now)
	return judgeStaple(f, leaf, now)
}

// authenticateStaple parses staple and checks that it speaks for leaf and
// is signed by issuer or its delegated responder (valid at now).
func authenticateStaple(staple []byte, leaf, issuer *x509.Certificate, now time.Time) (stapleFacts, error) {
	var f stapleFacts
	resp, err := ocsp.ParseResponseForCert(staple, leaf, nil)
	if err != nil {
		var re ocsp.ResponseError
		var pe ocsp.ParseError
		switch {
		case errors.As(err, &re):
			return f, refuseStaple(leaf, ReasonRevocationUnknown, RuleOCSPMalformed, "stapled OCSP response is an error: %s", re.Status)
		case errors.As(err, &pe) && string(pe) == "no response matching the supplied certificate":
			return f, refuseStaple(leaf, ReasonRevocationUnknown, RuleOCSPCertID, "stapled OCSP response is for another certificate")
		case errors.As(err, &pe) && bytes.HasPrefix([]byte(pe), []byte("bad signature")):
			return f, refuseStaple(leaf, ReasonRevocationUnknown, RuleOCSPSignature, "stapled OCSP response: %s", string(pe))
		}
		return f, refuseStaple(leaf, ReasonRevocationUnknown, RuleOCSPMalformed, "stapled OCSP response does not parse")
	}

	// The CertID must name this issuer, not only this serial: serials are
	// unique per issuer only.
	nameHash, keyHash, ok := certIDHashes(resp.TBSResponseData, leaf.SerialNumber)
	if !ok {
		return f, refuseStaple(leaf, ReasonRevocationUnknown, RuleOCSPMalformed, "stapled OCSP response data does not parse")
	}
	if !issuerHashesMatch(resp.IssuerHash, issuer, nameHash, keyHash) {
		return f, refuseStaple(leaf, ReasonRevocationUnknown, RuleOCSPCertID, "stapled OCSP response names another issuer than %s", quoteName(certName(issuer)))
	}

	// Who signed it. x/crypto/ocsp has checked the response's signature
	// under the embedded certificate, if any; nothing yet under the issuer.
	if d := weakSignature(resp.SignatureAlgorithm); d != "" {
		return f, refuseStaple(leaf, ReasonRevocationUnknown, RuleOCSPSignature, "stapled OCSP response %s", d)
	}
	switch r := resp.Certificate; {
	case r == nil:
		if err := issuer.CheckSignature(resp.SignatureAlgorithm, resp.TBSResponseData, resp.Signature); err != nil {
			return f, refuseStaple(leaf, ReasonRevocationUnknown, RuleOCSPSignature, "stapled OCSP response not signed by the issuer %s", quoteName(certName(issuer)))
		}
	case bytes.Equal(r.Raw, issuer.Raw):
		// Signed by the issuer, which sent itself along.
	default:
		if d := delegateDefect(r, issuer, now); d != "" {
			return f, refuseStaple(leaf, ReasonRevocationUnknown, RuleOCSPResponder, "stapled OCSP response signed by %s, %s", quoteName(certName(r)), d)
		}
		f.signerFrom, f.signerUntil = r.NotBefore, r.NotAfter
	}
	f.status, f.reason = resp.Status, resp.RevocationReason
	f.thisUpdate, f.nextUpdate, f.revokedAt = resp.ThisUpdate, resp.NextUpdate, resp.RevokedAt
	return f, nil
}

// judgeStaple applies an authentic staple's facts at now.
func judgeStaple(f stapleFacts, leaf *x509.Certificate, now time.Time) error {
	if f.status == ocsp.Revoked {
		return refuseStaple(leaf, ReasonRevoked, RuleOCSPRevoked, "revoked at %s (OCSP, reason %d)", f.revokedAt.UTC().Format(time.RFC3339), f.reason)
	}
	if f.thisUpdate.After(now.Add(RevocationSkew)) {
		return refuseStaple(leaf, ReasonRevocationUnknown, RuleOCSPStale, "stapled OCSP response from the future (thisUpdate %s)", f.thisUpdate.UTC().Format(time.RFC3339))
	}
	if until := f.until(); now.After(until.Add(RevocationSkew)) {
		return refuseStaple(leaf, ReasonRevocationUnknown, RuleOCSPStale, "stapled OCSP response stale since %s", until.UTC().Format(time.RFC3339))
	}
	if f.status != ocsp.Good {
		return refuseStaple(leaf, ReasonRevocationUnknown, RuleOCSPStatus, "stapled OCSP response says the status is unknown")
	}
	return nil
}

// until is the end of the staple's freshness.
func (f *stapleFacts) until() time.Time {
	if f.nextUpdate.IsZero() {
		return f.thisUpdate.Add(OCSPMaxAge)
	}
	return f.nextUpdate
}

// StapleCache remembers the stapled OCSP responses CheckOCSP found
// authentic (parsed, for this certificate and issuer, with a good
// signature), so a staple seen again costs no signature check: servers
// staple the same response for hours. Keyed by the staple, the leaf and
// the issuer, each compared byte for byte on a hit; what is kept is the
// response's content, judged afresh (revoked, fresh, good) at every call.
// An entry made from a delegated responder is used only within the
// responder certificate's validity. Refusals are never cached. At most max
// entries; when full, the stale go first, else an arbitrary one.
//
// A StapleCache is safe for concurrent use.
type StapleCache struct {
	max int

	mu      sync.Mutex
	entries map[uint64]*stapleEntry
	hits    uint64 // for tests
}

type stapleEntry struct {
	staple, leaf, issuer []byte
	facts                stapleFacts
}

// NewStapleCache returns a cache of at most max staples (0: 512). A
// negative max gives nil, which caches nothing.
func NewStapleCache(max int) *StapleCache {
	if max < 0 {
		return nil
	}
	if max == 0 {
		max = 512
	}
	return &StapleCache{max: max, entries: make(map[uint64]*stapleEntry)}
}

func stapleKey(staple []byte, leaf, issuer *x509.Certificate) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	var n [4]byte
	for _, b := range [][]byte{staple, leaf.Raw, issuer.Raw} {
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	return h.Sum64()
}

func (c *StapleCache) get(staple []byte, leaf, issuer *x509.Certificate, now time.Time) (stapleFacts, bool) {
	if c == nil {
		return stapleFacts{}, false
	}
	k := stapleKey(staple, leaf, issuer)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || !bytes.Equal(e.staple, staple) || !bytes.Equal(e.leaf, leaf.Raw) || !bytes.Equal(e.issuer, issuer.Raw) {
		return stapleFacts{}, false
	}
	if f := e.facts; !f.signerUntil.IsZero() && (now.Before(f.signerFrom) || now.After(f.signerUntil)) {
		return stapleFacts{}, false
	}
	c.hits++
	return e.facts, true
}

func (c *StapleCache) put(staple []byte, leaf, issuer *x509.Certificate, f stapleFacts, now time.Time) {
	if c == nil {
		return
	}
	k := stapleKey(staple, leaf, issuer)
	e := &stapleEntry{staple: bytes.Clone(staple), leaf: bytes.Clone(leaf.Raw), issuer: bytes.Clone(issuer.Raw), facts: f}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.max {
		for k, old := range c.entries {
			if now.After(old.facts.until().Add(RevocationSkew)) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.max {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[k] = e
}

// Len returns the number of staples held.
func (c *StapleCache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// delegateDefect says why r may not answer for issuer's certificates (RFC
// 6960 4.2.2.2), or "".
func delegateDefect(r, issuer *x509.Certificate, now time.Time) string {
	if !bytes.Equal(r.RawIssuer, issuer.RawSubject) || r.CheckSignatureFrom(issuer) != nil {
		return "a certificate the issuer did not sign"
	}
	if !slices.Contains(r.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
		return "a certificate without the OCSP signing extended key usage"
	}
	if reason, _ := validity(r, now); reason != ReasonNone {
		return "a certificate outside its validity period"
	}
	one := []*x509.Certificate{r}
	if (&Verifier{}).checkKey(one, 0, false, rules{}) != nil {
		return "a certificate with a weak key"
	}
	return ""
}

// MustStaple reports whether c carries the TLS Feature extension (RFC
// 7633) listing status_request (5): its server must staple an OCSP
// response. An extension that does not parse is an error.
func MustStaple(c *x509.Certificate) (bool, error) {
	for _, ext := range c.Extensions {
		if ext.Id.Equal(oidExtTLSFeature) {
			return parseTLSFeature(ext.Value)
		}
	}
	return false, nil
}

// parseTLSFeature reads Features ::= SEQUENCE OF INTEGER and reports
// whether status_request (5) is among them.
func parseTLSFeature(der []byte) (bool, error) {
	s := cryptobyte.String(der)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() {
		return false, errors.New("certs: malformed TLS Feature extension")
	}
	found := false
	for !seq.Empty() {
		var f int64
		if !seq.ReadASN1Integer(&f) {
			return false, errors.New("certs: malformed TLS Feature extension")
		}
		if f == 5 {
			found = true
		}
	}
	return found, nil
}

// certIDHashes reads a DER ResponseData (RFC 6960 4.2.1) and returns the
// issuerNameHash and issuerKeyHash of the first SingleResponse for serial,
// the one x/crypto/ocsp chose.
func certIDHashes(tbs []byte, serial *big.Int) (nameHash, keyHash []byte, ok bool) {
	in := cryptobyte.String(tbs)
	var data, responses, ignored cryptobyte.String
	var tag cbasn1.Tag
	if !in.ReadASN1(&data, cbasn1.SEQUENCE) || !in.Empty() ||
		!data.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!data.ReadAnyASN1(&ignored, &tag) || // responderID
		!data.SkipASN1(cbasn1.GeneralizedTime) || // producedAt
		!data.ReadASN1(&responses, cbasn1.SEQUENCE) {
		return nil, nil, false
	}
	for !responses.Empty() {
		var single, certID cryptobyte.String
		var nh, kh []byte
		sn := new(big.Int)
		if !responses.ReadASN1(&single, cbasn1.SEQUENCE) ||
			!single.ReadASN1(&certID, cbasn1.SEQUENCE) ||
			!certID.SkipASN1(cbasn1.SEQUENCE) || // hashAlgorithm
			!certID.ReadASN1Bytes(&nh, cbasn1.OCTET_STRING) ||
			!certID.ReadASN1Bytes(&kh, cbasn1.OCTET_STRING) ||
			!certID.ReadASN1Integer(sn) || !certID.Empty() {
			return nil, nil, false
		}
		if serial != nil && sn.Cmp(serial) == 0 {
			return nh, kh, true
		}
	}
	return nil, nil, false
}

// issuerHashesMatch compares a CertID's hashes with issuer's name (its
// DER subject) and key (the subjectPublicKey BIT STRING's bytes).
func issuerHashesMatch(h crypto.Hash, issuer *x509.Certificate, nameHash, keyHash []byte) bool {
	if !h.Available() {
		return false
	}
	key, ok := spkiKeyBytes(issuer.RawSubjectPublicKeyInfo)
	if !ok {
		return false
	}
	hn := h.New()
	hn.Write(issuer.RawSubject)
	hk := h.New()
	hk.Write(key)
	return bytes.Equal(hn.Sum(nil), nameHash) && bytes.Equal(hk.Sum(nil), keyHash)
}

// spkiKeyBytes returns the subjectPublicKey bits of a DER
// SubjectPublicKeyInfo.
func spkiKeyBytes(spki []byte) ([]byte, bool) {
	in := cryptobyte.String(spki)
	var info cryptobyte.String
	var key []byte
	if !in.ReadASN1(&info, cbasn1.SEQUENCE) || !in.Empty() ||
		!info.SkipASN1(cbasn1.SEQUENCE) ||
		!info.ReadASN1BitStringAsBytes(&key) || !info.Empty() {
		return nil, false
	}
	return key, true
}

// trimCerts drops the package prefix of one of our own errors quoted in a
// detail.
func trimCerts(err error) string {
	s := err.Error()
	if len(s) > len("certs: ") && s[:len("certs: ")] == "certs: " {
		return s[len("certs: "):]
	}
	return s
}
