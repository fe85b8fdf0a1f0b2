package certs

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

const (
	// MaxCRLFileBytes bounds a CRL file, read before anything is parsed.
	MaxCRLFileBytes = 32 << 20
	// MaxCRLs bounds the CRLs of one set.
	MaxCRLs = 1024
)

var (
	oidExtDeltaCRLIndicator        = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidExtIssuingDistributionPoint = asn1.ObjectIdentifier{2, 5, 29, 28}
)

// CRLSet is a device's certificate revocation lists (RFC 5280 5), loaded
// from its crls_file. Check refuses a path holding a certificate one of
// them lists. A CRLSet is immutable once made and safe for concurrent use
// (it remembers, under a lock, which issuer keys its CRLs verified under).
//
// Only complete CRLs are taken: a delta CRL, or one with an issuing
// distribution point (a partitioned or indirect CRL), is refused at load,
// since checking a serial against it alone could miss a revocation.
type CRLSet struct {
	byIssuer map[string][]*crl // by the CRL's DER issuer name
	n        int
}

type crl struct {
	list    *x509.RevocationList
	revoked map[string]time.Time // serial (big-endian magnitude, "-" before a negative one) -> revocation time

	mu       sync.Mutex
	verified map[string]bool // issuer SubjectPublicKeyInfo -> signature verified
}

// maxVerifiedKeys bounds the issuer keys a CRL remembers its verdict for
// (a hostile server could present many issuers of one name).
const maxVerifiedKeys = 8

// LoadCRLFile reads a file of CRLs as ParseCRLs takes them, at most
// MaxCRLFileBytes.
func LoadCRLFile(path string) (*CRLSet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("certs: CRL file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxCRLFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("certs: CRL file %s: %w", path, err)
	}
	if len(data) > MaxCRLFileBytes {
		return nil, fmt.Errorf("certs: CRL file %s: larger than %d bytes", path, MaxCRLFileBytes)
	}
	s, err := ParseCRLs(data)
	if err != nil {
		return nil, fmt.Errorf("certs: CRL file %s: %s", path, trimCerts(err))
	}
	return s, nil
}

// ParseCRLs reads one or more CRLs: PEM blocks of type "X509 CRL", or DER
// CRLs one after another. It refuses an empty input, any other PEM block,
// trailing bytes, more than MaxCRLs lists, and CRLs it cannot take whole
// (delta, partitioned or indirect ones, or any unknown critical extension).
// Signatures are checked when a CRL is used, against the issuer on the
// path being checked.
func ParseCRLs(data []byte) (*CRLSet, error) {
	var ders [][]byte
	if bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("-----BEGIN")) {
		rest := data
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type != "X509 CRL" {
				return nil, fmt.Errorf("certs: PEM block %q, want \"X509 CRL\"", b.Type)
			}
			ders = append(ders, b.Bytes)
			if len(ders) > MaxCRLs {
				return nil, fmt.Errorf("certs: more than %d CRLs", MaxCRLs)
			}
		}
		if len(bytes.TrimSpace(rest)) != 0 {
			return nil, errors.New("certs: bytes after the last PEM block")
		}
	} else {
		in := cryptobyte.String(data)
		for !in.Empty() {
			var der cryptobyte.String
			if !in.ReadASN1Element(&der, cbasn1.SEQUENCE) {
				return nil, errors.New("certs: not a PEM or DER CRL")
			}
			ders = append(ders, der)
			if len(ders) > MaxCRLs {
				return nil, fmt.Errorf("certs: more than %d CRLs", MaxCRLs)
			}
		}
	}
	if len(ders) == 0 {
		return nil, errors.New("certs: no CRL")
	}
	s := &CRLSet{byIssuer: make(map[string][]*crl)}
	for i, der := range ders {
		rl, err := parseRevocationList(der)
		if err != nil {
			return nil, fmt.Errorf("certs: CRL %d: %s", i+1, trimX509(err))
		}
		for _, ext := range rl.Extensions {
			switch {
			case ext.Id.Equal(oidExtDeltaCRLIndicator):
				return nil, fmt.Errorf("certs: CRL %d is a delta CRL; only complete CRLs are taken", i+1)
			case ext.Id.Equal(oidExtIssuingDistributionPoint):
				return nil, fmt.Errorf("certs: CRL %d has an issuing distribution point; only complete CRLs are taken", i+1)
			case ext.Critical && !knownCRLExtension(ext.Id):
				return nil, fmt.Errorf("certs: CRL %d has an unknown critical extension %s", i+1, ext.Id)
			}
		}
		c := &crl{list: rl, revoked: make(map[string]time.Time, len(rl.RevokedCertificateEntries))}
		for _, e := range rl.RevokedCertificateEntries {
			for _, ext := range e.Extensions {
				if ext.Critical {
					// A critical entry extension (a certificate issuer:
					// an indirect CRL) changes what the entry means.
					return nil, fmt.Errorf("certs: CRL %d has a critical entry extension %s", i+1, ext.Id)
				}
			}
			if e.SerialNumber != nil {
				c.revoked[serialKey(e.SerialNumber.Sign() < 0, e.SerialNumber.Bytes())] = e.RevocationTime
			}
		}
		s.byIssuer[string(rl.RawIssuer)] = append(s.byIssuer[string(rl.RawIssuer)], c)
		s.n++
	}
	return s, nil
}

// parseRevocationList parses a CRL with crypto/x509, which takes version 2
// CRLs only. A version 1 CRL (no version field, RFC 5280 5.1.2.1: what
// `openssl ca -gencrl` makes unless crl_extensions are configured) is
// parsed as the version 2 CRL with the same fields, then given back its
// own encoding so that its signature is checked over the bytes signed. A
// version 1 CRL has no extensions, nor have its entries: one that has is
// refused.
func parseRevocationList(der []byte) (*x509.RevocationList, error) {
	rl, err := x509.ParseRevocationList(der)
	if err == nil {
		return rl, nil
	}
	v2, tbs, ok := asVersion2CRL(der)
	if !ok {
		return nil, err
	}
	rl, err2 := x509.ParseRevocationList(v2)
	if err2 != nil {
		return nil, err2
	}
	if len(rl.Extensions) > 0 {
		return nil, errors.New("x509: version 1 CRL with extensions")
	}
	for _, e := range rl.RevokedCertificateEntries {
		if len(e.Extensions) > 0 {
			return nil, errors.New("x509: version 1 CRL with entry extensions")
		}
	}
	rl.Raw, rl.RawTBSRevocationList = der, tbs
	return rl, nil
}

// asVersion2CRL re-encodes a CertificateList whose TBSCertList has no
// version field with version v2 (1) inserted, and returns the original
// TBSCertList element; ok is false for anything else.
func asVersion2CRL(der []byte) (v2, tbs []byte, ok bool) {
	in := cryptobyte.String(der)
	var list, tbsElem, rest cryptobyte.String
	if !in.ReadASN1(&list, cbasn1.SEQUENCE) || !in.Empty() ||
		!list.ReadASN1Element(&tbsElem, cbasn1.SEQUENCE) {
		return nil, nil, false
	}
	rest = list
	body := tbsElem
	var fields cryptobyte.String
	if !body.ReadASN1(&fields, cbasn1.SEQUENCE) || fields.PeekASN1Tag(cbasn1.INTEGER) {
		return nil, nil, false
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(1)
			b.AddBytes(fields)
		})
		b.AddBytes(rest)
	})
	out, err := b.Bytes()
	if err != nil {
		return nil, nil, false
	}
	return out, tbsElem, true
}

// knownCRLExtension: CRL extensions crypto/x509 parses (authority key
// identifier, CRL number).
func knownCRLExtension(id asn1.ObjectIdentifier) bool {
	return id.Equal(oidExtAKI) || id.Equal(asn1.ObjectIdentifier{2, 5, 29, 20})
}

func serialKey(negative bool, magnitude []byte) string {
	if negative {
		return "-" + string(magnitude)
	}
	return string(magnitude)
}

// Len returns the number of CRLs in s.
func (s *CRLSet) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// Check checks every certificate of path below the root (path as Verify
// returned it) against the CRLs its issuer (the next certificate) signed:
//   - a CRL counts for a certificate when its issuer name is the
//     certificate's issuer name byte for byte and its signature (not MD5
//     or SHA-1) verifies under the issuer's key, which must allow cRLSign
//     if it has a key usage; CRLs of that name that do not verify are
//     ignored;
//   - a serial listed by such a CRL refuses with ReasonRevoked, however
//     old the CRL;
//   - CRLs of the issuer's name but none verifying refuse with
//     ReasonRevocationUnknown, and so do CRLs all past their nextUpdate
//     (with RevocationSkew): the operator meant the issuer covered;
//   - an issuer no CRL names is not checked.
func (s *CRLSet) Check(path []*x509.Certificate, now time.Time) error {
	if s == nil {
		return nil
	}
	for i := 0; i+1 < len(path); i++ {
		c, issuer := path[i], path[i+1]
		lists := s.byIssuer[string(c.RawIssuer)]
		if len(lists) == 0 {
			continue
		}
		refuse := func(r Reason, rule Rule, format string, args ...any) error {
			return &Error{Reason: r, Rule: rule, Cert: c, Depth: i,
				Detail: clip(describe(path, i, true) + ": " + fmt.Sprintf(format, args...))}
		}
		usable, fresh := 0, false
		key := serialKey(c.SerialNumber.Sign() < 0, c.SerialNumber.Bytes())
		for _, l := range lists {
			if !l.signedBy(issuer) {
				continue
			}
			usable++
			if at, ok := l.revoked[key]; ok {
				return refuse(ReasonRevoked, RuleCRLRevoked, "revoked at %s (CRL of %s)", at.UTC().Format(time.RFC3339), quoteName(certName(issuer)))
			}
			next := l.list.NextUpdate
			if !l.list.ThisUpdate.After(now.Add(RevocationSkew)) && (next.IsZero() || !now.After(next.Add(RevocationSkew))) {
				fresh = true
			}
		}
		switch {
		case usable == 0:
			return refuse(ReasonRevocationUnknown, RuleCRLSignature, "no CRL of its issuer %s verifies under the issuer's key", quoteName(certName(issuer)))
		case !fresh:
			return refuse(ReasonRevocationUnknown, RuleCRLStale, "every CRL of its issuer %s is past its nextUpdate", quoteName(certName(issuer)))
		}
	}
	return nil
}

// signedBy reports whether l verifies under issuer, remembering the answer
// for a few issuer keys.
func (l *crl) signedBy(issuer *x509.Certificate) bool {
	k := string(issuer.RawSubjectPublicKeyInfo)
	l.mu.Lock()
	ok, seen := l.verified[k]
	l.mu.Unlock()
	if seen {
		return ok
	}
	ok = weakSignature(l.list.SignatureAlgorithm) == "" && l.list.CheckSignatureFrom(issuer) == nil
	l.mu.Lock()
	if l.verified == nil {
		l.verified = make(map[string]bool)
	}
	if len(l.verified) < maxVerifiedKeys {
		l.verified[k] = ok
	}
	l.mu.Unlock()
	return ok
}
