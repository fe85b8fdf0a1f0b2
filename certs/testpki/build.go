package testpki

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Spec describes a chain for Build: a leaf under Intermediates CAs under a
// self-signed root, each made from a sound template the Spec's functions
// may edit before signing, or whose encoding they may edit after (for what
// crypto/x509 will not create). The defaults give a chain every profile of
// package certs accepts: serverAuth leaf with SAN and matching CN, key
// identifiers linking every certificate, critical basic constraints,
// 127-bit serials.
type Spec struct {
	// Names are the leaf's SAN entries (DNS names or IP literals); the
	// first is also its commonName. nil: "a.example".
	Names []string
	// ServerName is the name to verify; "": Names[0].
	ServerName string
	// Keys of the leaf, the intermediates and the root. The zero KeyType
	// is RSA2048.
	LeafKey, IntermediateKey, RootKey KeyType
	// Intermediates is the number of CAs between leaf and root: 0 means
	// 1, a negative number none.
	Intermediates int
	// Leaf, Intermediate (the leaf's issuer only) and Root edit the
	// templates before they are signed.
	Leaf, Intermediate, Root func(*x509.Certificate)
	// LeafDER, IntermediateDER and RootDER edit the signed certificate's
	// TBSCertificate, which is then signed again by the same issuer key.
	LeafDER, IntermediateDER, RootDER func(*TBS)
	// SendRoot appends the root to the chain the server sends.
	SendRoot bool
}

// Case is a chain made by Build or one of the builders of twins.go: what a
// server sends and what a device trusts.
type Case struct {
	// Chain is DER, leaf first, as a Certificate message carries it.
	Chain [][]byte
	// Roots holds RootCerts, the device's trust anchors; RootKey is the
	// key of RootCerts[0].
	Roots     *x509.CertPool
	RootCerts []*x509.Certificate
	RootKey   crypto.Signer
	// ServerName is the name the chain is for.
	ServerName string
	// Leaf is the parsed leaf (nil if its encoding does not parse: a
	// negative serial), LeafKey its key.
	Leaf    *x509.Certificate
	LeafKey crypto.Signer
	// Issuer is the leaf's issuer and IssuerKey its key (nil for a leaf
	// that is a root).
	Issuer    *x509.Certificate
	IssuerKey crypto.Signer
}

// TBS is what an encoding edit may change in a signed certificate.
type TBS struct {
	Serial     *big.Int
	Extensions []pkix.Extension
}

// Remove drops the extension id.
func (t *TBS) Remove(id asn1.ObjectIdentifier) {
	out := t.Extensions[:0]
	for _, e := range t.Extensions {
		if !e.Id.Equal(id) {
			out = append(out, e)
		}
	}
	t.Extensions = out
}

// Extension returns the extension id, nil if absent.
func (t *TBS) Extension(id asn1.ObjectIdentifier) *pkix.Extension {
	for i := range t.Extensions {
		if t.Extensions[i].Id.Equal(id) {
			return &t.Extensions[i]
		}
	}
	return nil
}

// Extension ids for encoding edits.
var (
	OIDSubjectKeyID      = asn1.ObjectIdentifier{2, 5, 29, 14}
	OIDSubjectAltName    = asn1.ObjectIdentifier{2, 5, 29, 17}
	OIDBasicConstraints  = asn1.ObjectIdentifier{2, 5, 29, 19}
	OIDAuthorityKeyID    = asn1.ObjectIdentifier{2, 5, 29, 35}
	OIDPolicyConstraints = asn1.ObjectIdentifier{2, 5, 29, 36}
	OIDExtendedKeyUsage  = asn1.ObjectIdentifier{2, 5, 29, 37}
	OIDTLSFeature        = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 24}
	oidCommonName        = asn1.ObjectIdentifier{2, 5, 4, 3}
)

// node is a certificate made by Build: its DER, parsed form (nil if it
// does not parse), key, and the subject key id it had before any encoding
// edit (its children's authority key id).
type node struct {
	der  []byte
	cert *x509.Certificate
	key  crypto.Signer
	ski  []byte
}

// Build makes the chain s describes, valid around now.
func Build(now time.Time, s Spec) (*Case, error) {
	c, _, err := build(now, s)
	return c, err
}

// nodes are the certificates of a built chain, for the builders that
// extend one.
type nodes struct {
	root *node
	mids []*node // from the root down
	leaf *node
}

func build(now time.Time, s Spec) (*Case, *nodes, error) {
	tagBytes := make([]byte, 6)
	if _, err := rand.Read(tagBytes); err != nil {
		return nil, nil, fmt.Errorf("testpki: %w", err)
	}
	tag := hex.EncodeToString(tagBytes)

	rootKey, err := newKey(s.RootKey)
	if err != nil {
		return nil, nil, err
	}
	rootTmpl, err := caTemplate(now, "testpki case root "+tag)
	if err != nil {
		return nil, nil, err
	}
	rootTmpl.SignatureAlgorithm = x509.UnknownSignatureAlgorithm // the key's default
	if s.Root != nil {
		s.Root(rootTmpl)
	}
	root, err := create(rootTmpl, nil, rootKey, s.RootDER)
	if err != nil {
		return nil, nil, err
	}

	n := s.Intermediates
	if n == 0 {
		n = 1
	}
	parent := root
	var mids []*node
	for i := 0; i < n; i++ {
		key, err := newKey(s.IntermediateKey)
		if err != nil {
			return nil, nil, err
		}
		tmpl, err := caTemplate(now, fmt.Sprintf("testpki case intermediate %d %s", n-i, tag))
		if err != nil {
			return nil, nil, err
		}
		tmpl.SignatureAlgorithm = x509.UnknownSignatureAlgorithm
		tmpl.AuthorityKeyId = parent.ski
		var edit func(*TBS)
		if i == n-1 {
			if s.Intermediate != nil {
				s.Intermediate(tmpl)
			}
			edit = s.IntermediateDER
		}
		mid, err := create(tmpl, parent, key, edit)
		if err != nil {
			return nil, nil, err
		}
		mids = append(mids, mid)
		parent = mid
	}

	names := s.Names
	if len(names) == 0 {
		names = []string{"a.example"}
	}
	leafKey, err := newKey(s.LeafKey)
	if err != nil {
		return nil, nil, err
	}
	leafTmpl, err := leafTemplate(now, names, leafKey)
	if err != nil {
		return nil, nil, err
	}
	leafTmpl.AuthorityKeyId = parent.ski
	if s.Leaf != nil {
		s.Leaf(leafTmpl)
	}
	leaf, err := create(leafTmpl, parent, leafKey, s.LeafDER)
	if err != nil {
		return nil, nil, err
	}

	c := &Case{
		Chain:      [][]byte{leaf.der},
		Roots:      x509.NewCertPool(),
		RootCerts:  []*x509.Certificate{root.cert},
		RootKey:    root.key,
		ServerName: s.ServerName,
		Leaf:       leaf.cert,
		LeafKey:    leafKey,
		Issuer:     parent.cert,
		IssuerKey:  parent.key,
	}
	if c.ServerName == "" {
		c.ServerName = names[0]
	}
	c.Roots.AddCert(root.cert)
	for i := len(mids) - 1; i >= 0; i-- {
		c.Chain = append(c.Chain, mids[i].der)
	}
	if s.SendRoot {
		c.Chain = append(c.Chain, root.der)
	}
	return c, &nodes{root: root, mids: mids, leaf: leaf}, nil
}

// leafTemplate is a sound server certificate for names around now.
func leafTemplate(now time.Time, names []string, key crypto.Signer) (*x509.Certificate, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	t := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"tlsoffload testpki"}, CommonName: names[0]},
		NotBefore:             now.Add(-leafBackdate),
		NotAfter:              now.Add(leafLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	if _, ok := key.(*rsa.PrivateKey); ok {
		t.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			t.IPAddresses = append(t.IPAddresses, ip)
		} else {
			t.DNSNames = append(t.DNSNames, n)
		}
	}
	return t, nil
}

// create signs tmpl for key by parent (nil: self-signed), then applies
// edit to its encoding and signs that again.
func create(tmpl *x509.Certificate, parent *node, key crypto.Signer, edit func(*TBS)) (*node, error) {
	parentCert, signer := tmpl, key
	if parent != nil {
		if parent.cert == nil {
			return nil, errors.New("testpki: an issuer that does not parse")
		}
		parentCert, signer = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("testpki: creating %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("testpki: parsing %q: %w", tmpl.Subject.CommonName, err)
	}
	n := &node{der: der, cert: cert, key: key, ski: cert.SubjectKeyId}
	if edit == nil {
		return n, nil
	}
	if n.der, err = Resign(der, cert.SignatureAlgorithm, signer, edit); err != nil {
		return nil, err
	}
	n.cert, _ = x509.ParseCertificate(n.der) // nil for an edit x509 refuses to parse
	return n, nil
}

// Resign applies edit to the TBSCertificate of der and signs it again with
// signer under alg (PKCS #1 v1.5 or ECDSA with SHA-1, SHA-256 or SHA-384).
func Resign(der []byte, alg x509.SignatureAlgorithm, signer crypto.Signer, edit func(*TBS)) ([]byte, error) {
	in := cryptobyte.String(der)
	var cert, tbs cryptobyte.String
	var sigAlg cryptobyte.String
	if !in.ReadASN1(&cert, cbasn1.SEQUENCE) || !cert.ReadASN1(&tbs, cbasn1.SEQUENCE) ||
		!cert.ReadASN1Element(&sigAlg, cbasn1.SEQUENCE) {
		return nil, errors.New("testpki: Resign: not a certificate")
	}
	var version, serial, sig, issuer, validity, subject, spki, exts cryptobyte.String
	var hasExts bool
	extTag := cbasn1.Tag(3).Constructed().ContextSpecific()
	if !tbs.ReadASN1Element(&version, cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!tbs.ReadASN1Element(&serial, cbasn1.INTEGER) ||
		!tbs.ReadASN1Element(&sig, cbasn1.SEQUENCE) ||
		!tbs.ReadASN1Element(&issuer, cbasn1.SEQUENCE) ||
		!tbs.ReadASN1Element(&validity, cbasn1.SEQUENCE) ||
		!tbs.ReadASN1Element(&subject, cbasn1.SEQUENCE) ||
		!tbs.ReadASN1Element(&spki, cbasn1.SEQUENCE) ||
		!tbs.ReadOptionalASN1(&exts, &hasExts, extTag) || !tbs.Empty() {
		return nil, errors.New("testpki: Resign: unexpected TBSCertificate")
	}
	t := &TBS{}
	if _, err := asn1.Unmarshal(serial, &t.Serial); err != nil {
		return nil, fmt.Errorf("testpki: Resign: serial: %w", err)
	}
	if hasExts {
		if _, err := asn1.Unmarshal(exts, &t.Extensions); err != nil {
			return nil, fmt.Errorf("testpki: Resign: extensions: %w", err)
		}
	}
	edit(t)
	serialDER, err := asn1.Marshal(t.Serial)
	if err != nil {
		return nil, fmt.Errorf("testpki: Resign: %w", err)
	}
	var extDER []byte
	if len(t.Extensions) > 0 {
		if extDER, err = asn1.Marshal(t.Extensions); err != nil {
			return nil, fmt.Errorf("testpki: Resign: %w", err)
		}
	}
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, part := range [][]byte{version, serialDER, sig, issuer, validity, subject, spki} {
			b.AddBytes(part)
		}
		if extDER != nil {
			b.AddASN1(extTag, func(b *cryptobyte.Builder) { b.AddBytes(extDER) })
		}
	})
	newTBS, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("testpki: Resign: %w", err)
	}
	var h crypto.Hash
	switch alg {
	case x509.SHA1WithRSA, x509.ECDSAWithSHA1:
		h = crypto.SHA1
	case x509.SHA256WithRSA, x509.ECDSAWithSHA256:
		h = crypto.SHA256
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384:
		h = crypto.SHA384
	default:
		return nil, fmt.Errorf("testpki: Resign: unsupported signature algorithm %v", alg)
	}
	hh := h.New()
	hh.Write(newTBS)
	signature, err := signer.Sign(rand.Reader, hh.Sum(nil), h)
	if err != nil {
		return nil, fmt.Errorf("testpki: Resign: %w", err)
	}
	out := cryptobyte.NewBuilder(nil)
	out.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(newTBS)
		b.AddBytes(sigAlg)
		b.AddASN1BitString(signature)
	})
	return out.Bytes()
}
