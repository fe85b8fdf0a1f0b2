// Package testpki generates certificate authorities and server certificates
// for tests: a root, an intermediate, RSA and ECDSA leaves, and each bad case
// the verifier must refuse. Nothing here is for production use.
//
// New makes a root and an intermediate with unique subject names (so chains
// of two PKIs never cross-verify, even where keys repeat); Issue makes a leaf
// signed by the intermediate with SHA-256, valid from Now-1h to Now+24h, for
// DNS names and IP literals, with serverAuth extended key usage. Each Defect
// gives one specific bad leaf; see the constants.
//
// RSA keys come from a process-wide ring per key size so that tests across the
// module stay fast: consecutive leaves get different keys, but keys repeat
// after 16 draws of RSA-2048 (4 of RSA-1024 or RSA-4096; see keys.go). A test that needs a key
// no other certificate shares should use an ECDSA key type, which is always
// freshly generated.
//
// SHA1Signed: crypto/x509 (Go 1.26) still signs with SHA1WithRSA when asked;
// it only refuses to verify such signatures, so no GODEBUG setting is needed.
// RSA1024 keys are at crypto/rsa's minimum (1024 bits), so neither is
// rsa1024min=0 needed.
package testpki

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// KeyType selects a leaf key.
type KeyType int

const (
	RSA2048 KeyType = iota
	RSA4096
	ECDSAP256
	ECDSAP384
	RSA1024 // weak: must be refused
	// RSA2052 is a modulus that is not a multiple of 8 bits (profile
	// webpki refuses it, rfc5280 takes it).
	RSA2052
	// ECDSAP224 is a curve TLS does not use: must be refused.
	ECDSAP224
)

// Defect selects a bad leaf.
type Defect int

const (
	Good                Defect = iota
	Expired                    // NotAfter in the past
	NotYetValid                // NotBefore in the future
	WrongName                  // SAN names another host
	UnknownRoot                // issued by a root that is not in Roots
	SelfSigned                 // the leaf signs itself
	NoServerAuth               // ExtKeyUsage clientAuth only
	CAAsLeaf                   // the leaf is a CA certificate
	SHA1Signed                 // signed with SHA1WithRSA by the intermediate (needs an RSA intermediate)
	MissingIntermediate        // the chain omits the intermediate
)

// PKI is a root and an intermediate (both RSA-2048 unless said otherwise)
// made once per New; leaves are issued by the intermediate.
type PKI struct {
	Root            *x509.Certificate
	RootKey         crypto.Signer
	Intermediate    *x509.Certificate
	IntermediateKey crypto.Signer
	// Roots holds only Root.
	Roots *x509.CertPool
	// Now is the reference time: certificates are valid from Now-1h to
	// Now+24h unless the defect says otherwise.
	Now time.Time

	// other is a second root and intermediate, not in Roots, made on the
	// first UnknownRoot leaf.
	other func() (*ca, error)
}

// ca is one issuing certificate and its key.
type ca struct {
	cert *x509.Certificate
	key  crypto.Signer
}

const (
	leafLifetime = 24 * time.Hour
	leafBackdate = time.Hour
	// CAs outlive their leaves on both sides, so a leaf defect is never
	// masked by its issuer's validity.
	caBackdate = 7 * 24 * time.Hour
	caLifetime = 365 * 24 * time.Hour
)

// New makes a fresh PKI valid around now.
func New(now time.Time) (*PKI, error) {
	root, inter, err := newHierarchy(now, "")
	if err != nil {
		return nil, err
	}
	p := &PKI{
		Root:            root.cert,
		RootKey:         root.key,
		Intermediate:    inter.cert,
		IntermediateKey: inter.key,
		Roots:           x509.NewCertPool(),
		Now:             now,
	}
	p.Roots.AddCert(root.cert)
	p.other = sync.OnceValues(func() (*ca, error) {
		_, otherInter, err := newHierarchy(now, "untrusted ")
		return otherInter, err
	})
	return p, nil
}

// newHierarchy makes a self-signed root and an intermediate under it. Their
// subject names carry a random tag: chain building (Go's, OpenSSL's) looks
// issuers up by name, so two PKIs never vouch for each other.
func newHierarchy(now time.Time, label string) (root, inter *ca, err error) {
	tagBytes := make([]byte, 6)
	if _, err := rand.Read(tagBytes); err != nil {
		return nil, nil, fmt.Errorf("testpki: %w", err)
	}
	tag := hex.EncodeToString(tagBytes)

	rootKey, err := newKey(RSA2048)
	if err != nil {
		return nil, nil, err
	}
	rootTmpl, err := caTemplate(now, "testpki "+label+"root "+tag)
	if err != nil {
		return nil, nil, err
	}
	root, err = sign(rootTmpl, nil, rootKey)
	if err != nil {
		return nil, nil, err
	}

	interKey, err := newKey(RSA2048)
	if err != nil {
		return nil, nil, err
	}
	interTmpl, err := caTemplate(now, "testpki "+label+"intermediate "+tag)
	if err != nil {
		return nil, nil, err
	}
	interTmpl.MaxPathLen = 0
	interTmpl.MaxPathLenZero = true
	inter, err = sign(interTmpl, root, interKey)
	if err != nil {
		return nil, nil, err
	}
	return root, inter, nil
}

func caTemplate(now time.Time, commonName string) (*x509.Certificate, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"tlsoffload testpki"}, CommonName: commonName},
		NotBefore:             now.Add(-caBackdate),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SignatureAlgorithm:    x509.SHA256WithRSA,
	}, nil
}

// newSerial returns a random positive 127-bit serial number.
func newSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("testpki: serial: %w", err)
	}
	return serial.Add(serial, big.NewInt(1)), nil
}

// sign creates tmpl for key, signed by parent (nil: self-signed).
func sign(tmpl *x509.Certificate, parent *ca, key crypto.Signer) (*ca, error) {
	parentCert, signer := tmpl, key
	if parent != nil {
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
	return &ca{cert: cert, key: key}, nil
}

// Leaf is a server certificate with its chain and key.
type Leaf struct {
	// Chain is DER, leaf first, intermediate next (unless the defect removes it).
	Chain [][]byte
	Key   crypto.Signer
	Cert  *x509.Certificate
}

// wrongName is the SAN of a WrongName leaf: a host under .invalid (RFC 2606),
// which no test dials.
const wrongName = "wrong-name.testpki.invalid"

// Issue makes a leaf for names (DNS names or IP literals) with the given key
// and defect.
func (p *PKI) Issue(names []string, key KeyType, defect Defect) (*Leaf, error) {
	if p == nil || p.Intermediate == nil || p.IntermediateKey == nil {
		return nil, errors.New("testpki: Issue on a PKI not made by New")
	}
	if len(names) == 0 {
		return nil, errors.New("testpki: Issue needs at least one name")
	}
	if defect < Good || defect > MissingIntermediate {
		return nil, fmt.Errorf("testpki: unknown defect %d", int(defect))
	}
	leafKey, err := newKey(key)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}

	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"tlsoffload testpki"}, CommonName: names[0]},
		NotBefore:    p.Now.Add(-leafBackdate),
		NotAfter:     p.Now.Add(leafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		// Set explicitly: the defaults would pick by the signer's key, and
		// a SelfSigned ECDSA leaf signs with its own ECDSA key.
		SignatureAlgorithm:    x509.SHA256WithRSA,
		BasicConstraintsValid: true,
	}
	if _, ok := leafKey.(*rsa.PrivateKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	sans := names
	if defect == WrongName {
		sans = []string{wrongName}
		tmpl.Subject.CommonName = wrongName
	}
	for _, n := range sans {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}

	issuer := &ca{cert: p.Intermediate, key: p.IntermediateKey}
	switch defect {
	case Expired:
		tmpl.NotBefore = p.Now.Add(-2 * leafLifetime)
		tmpl.NotAfter = p.Now.Add(-leafBackdate)
	case NotYetValid:
		tmpl.NotBefore = p.Now.Add(leafBackdate)
		tmpl.NotAfter = p.Now.Add(2 * leafLifetime)
	case UnknownRoot:
		if p.other == nil {
			return nil, errors.New("testpki: UnknownRoot on a PKI not made by New")
		}
		if issuer, err = p.other(); err != nil {
			return nil, err
		}
	case SelfSigned:
		issuer = nil
		tmpl.SignatureAlgorithm = x509.UnknownSignatureAlgorithm // the leaf key's default
	case NoServerAuth:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case CAAsLeaf:
		tmpl.IsCA = true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	case SHA1Signed:
		if _, ok := issuer.key.(*rsa.PrivateKey); !ok {
			return nil, errors.New("testpki: SHA1Signed needs an RSA intermediate")
		}
		tmpl.SignatureAlgorithm = x509.SHA1WithRSA
	}

	leaf, err := sign(tmpl, issuer, leafKey)
	if err != nil {
		return nil, err
	}
	l := &Leaf{Chain: [][]byte{leaf.cert.Raw}, Key: leafKey, Cert: leaf.cert}
	if issuer != nil && defect != MissingIntermediate {
		l.Chain = append(l.Chain, issuer.cert.Raw)
	}
	return l, nil
}

// TLSCertificate returns the leaf as a crypto/tls certificate for a test server.
func (l *Leaf) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: l.Chain, PrivateKey: l.Key, Leaf: l.Cert}
}

// RootPEM returns the root certificate PEM-encoded (for --cacert and configs).
func (p *PKI) RootPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Root.Raw})
}

// ChainPEM returns the chain PEM-encoded, leaf first; KeyPEM the key in
// PKCS#8 PEM. Together they configure openssl s_server or nginx.
func (l *Leaf) ChainPEM() []byte {
	var out []byte
	for _, der := range l.Chain {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return out
}

// KeyPEM returns nil only for a key type PKCS#8 cannot hold, which Issue
// never makes.
func (l *Leaf) KeyPEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(l.Key)
	if err != nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// WriteFiles writes the leaf's chain and key PEM files into dir as
// NAME.crt and NAME.key and returns their paths.
func (l *Leaf) WriteFiles(dir, name string) (certFile, keyFile string, err error) {
	if name == "" || name != filepath.Base(name) || name == "." || name == ".." {
		return "", "", fmt.Errorf("testpki: file name %q is not a plain name", name)
	}
	keyPEM := l.KeyPEM()
	if keyPEM == nil {
		return "", "", errors.New("testpki: key cannot be encoded as PKCS#8")
	}
	certFile = filepath.Join(dir, name+".crt")
	keyFile = filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, l.ChainPEM(), 0o644); err != nil {
		return "", "", fmt.Errorf("testpki: %w", err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return "", "", fmt.Errorf("testpki: %w", err)
	}
	return certFile, keyFile, nil
}

// WriteRoot writes the root certificate PEM into dir as root.pem and returns
// its path.
func (p *PKI) WriteRoot(dir string) (string, error) {
	path := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(path, p.RootPEM(), 0o644); err != nil {
		return "", fmt.Errorf("testpki: %w", err)
	}
	return path, nil
}
