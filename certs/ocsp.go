package certs

import (
	"bytes"
	"crypto"
	_ "crypto/sha1" // OCSP CertIDs hash the issuer with SHA-1 most often
	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
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
	if len(path) < 2 {
		return nil
	}
	ocspErr := CheckOCSP(staple, path[0], path[1], now)
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
func CheckOCSP(staple []byte, leaf, issuer *x509.Certificate, now time.Time) error {
	if leaf == nil || issuer == nil {
		return &Error{Reason: ReasonNoCertificate, Depth: -1, Detail: "no leaf or no issuer"}
	}
	refuse := func(r Reason, rule Rule, format string, args ...any) error {
		return &Error{Reason: r, Rule: rule, Cert: leaf,
			Detail: clip(describe([]*x509.Certificate{leaf}, 0, false) + ": " + fmt.Sprintf(format, args...))}
	}
	must, err := MustStaple(leaf)
	if err != nil {
		return refuse(ReasonMalformed, RuleParse, "%v", trimCerts(err))
	}
	if len(staple) == 0 {
		if must {
			return refuse(ReasonRevocationUnknown, RuleMustStaple, "must-staple certificate (TLS Feature status_request) and no OCSP response stapled")
		}
		return nil
	}
	if len(staple) > MaxOCSPResponseBytes {
		return refuse(ReasonRevocationUnknown, RuleOCSPMalformed, "stapled OCSP response of %d bytes, at most %d", len(staple), MaxOCSPResponseBytes)
	}
	resp, err := ocsp.ParseResponseForCert(staple, leaf, nil)
	if err != nil {
		var re ocsp.ResponseError
		var pe ocsp.ParseError
		switch {
		case errors.As(err, &re):
			return refuse(ReasonRevocationUnknown, RuleOCSPMalformed, "stapled OCSP response is an error: %s", re.Status)
		case errors.As(err, &pe) && string(pe) == "no response matching the supplied certificate":
			return refuse(ReasonRevocationUnknown, RuleOCSPCertID, "stapled OCSP response is for another certificate")
		case errors.As(err, &pe) && bytes.HasPrefix([]byte(pe), []byte("bad signature")):
			return refuse(ReasonRevocationUnknown, RuleOCSPSignature, "stapled OCSP response: %s", string(pe))
		}
		return refuse(ReasonRevocationUnknown, RuleOCSPMalformed, "stapled OCSP response does not parse")
	}

	// The CertID must name this issuer, not only this serial: serials are
	// unique per issuer only.
	nameHash, keyHash, ok := certIDHashes(resp.TBSResponseData, leaf.SerialNumber)
	if !ok {
		return refuse(ReasonRevocationUnknown, RuleOCSPMalformed, "stapled OCSP response data does not parse")
	}
	if !issuerHashesMatch(resp.IssuerHash, issuer, nameHash, keyHash) {
		return refuse(ReasonRevocationUnknown, RuleOCSPCertID, "stapled OCSP response names another issuer than %s", quoteName(certName(issuer)))
	}

	// Who signed it. x/crypto/ocsp has checked the response's signature
	// under the embedded certificate, if any; nothing yet under the issuer.
	if d := weakSignature(resp.SignatureAlgorithm); d != "" {
		return refuse(ReasonRevocationUnknown, RuleOCSPSignature, "stapled OCSP response %s", d)
	}
	switch r := resp.Certificate; {
	case r == nil:
		if err := issuer.CheckSignature(resp.SignatureAlgorithm, resp.TBSResponseData, resp.Signature); err != nil {
			return refuse(ReasonRevocationUnknown, RuleOCSPSignature, "stapled OCSP response not signed by the issuer %s", quoteName(certName(issuer)))
		}
	case bytes.Equal(r.Raw, issuer.Raw):
		// Signed by the issuer, which sent itself along.
	default:
		if d := delegateDefect(r, issuer, now); d != "" {
			return refuse(ReasonRevocationUnknown, RuleOCSPResponder, "stapled OCSP response signed by %s, %s", quoteName(certName(r)), d)
		}
	}

	if resp.Status == ocsp.Revoked {
		return refuse(ReasonRevoked, RuleOCSPRevoked, "revoked at %s (OCSP, reason %d)", resp.RevokedAt.UTC().Format(time.RFC3339), resp.RevocationReason)
	}
	if resp.ThisUpdate.After(now.Add(RevocationSkew)) {
		return refuse(ReasonRevocationUnknown, RuleOCSPStale, "stapled OCSP response from the future (thisUpdate %s)", resp.ThisUpdate.UTC().Format(time.RFC3339))
	}
	until := resp.NextUpdate
	if until.IsZero() {
		until = resp.ThisUpdate.Add(OCSPMaxAge)
	}
	if now.After(until.Add(RevocationSkew)) {
		return refuse(ReasonRevocationUnknown, RuleOCSPStale, "stapled OCSP response stale since %s", until.UTC().Format(time.RFC3339))
	}
	if resp.Status != ocsp.Good {
		return refuse(ReasonRevocationUnknown, RuleOCSPStatus, "stapled OCSP response says the status is unknown")
	}
	return nil
}

// delegateDefect says why r may not answer for issuer's certificates (RFC
// 6960 4.2.2.2), or "".
func delegateDefect(r, issuer *x509.Certificate, now time.Time) string {
	if !bytes.Equal(r.RawIssuer, issuer.RawSubject) || r.CheckSignatureFrom(issuer) != nil {
		return "a certificate the issuer did not sign"
	}
	if !slicesContainsEKU(r.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
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
