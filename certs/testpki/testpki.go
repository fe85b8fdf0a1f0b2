// Package testpki generates certificate authorities and server certificates
// for tests: a root, an intermediate, RSA and ECDSA leaves, and each bad case
// the verifier must refuse. Nothing here is for production use.
//
// CONTRACT: the exported API in this file is relied on by tests across the
// module; implementations may change, signatures may not without updating
// every caller.
package testpki

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
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
}

// New makes a fresh PKI valid around now.
func New(now time.Time) (*PKI, error) { panic("TODO") }

// Leaf is a server certificate with its chain and key.
type Leaf struct {
	// Chain is DER, leaf first, intermediate next (unless the defect removes it).
	Chain [][]byte
	Key   crypto.Signer
	Cert  *x509.Certificate
}

// Issue makes a leaf for names (DNS names or IP literals) with the given key
// and defect.
func (p *PKI) Issue(names []string, key KeyType, defect Defect) (*Leaf, error) { panic("TODO") }

// TLSCertificate returns the leaf as a crypto/tls certificate for a test server.
func (l *Leaf) TLSCertificate() tls.Certificate { panic("TODO") }

// RootPEM returns the root certificate PEM-encoded (for --cacert and configs).
func (p *PKI) RootPEM() []byte { panic("TODO") }

// ChainPEM returns the chain PEM-encoded, leaf first; KeyPEM the key in
// PKCS#8 PEM. Together they configure openssl s_server or nginx.
func (l *Leaf) ChainPEM() []byte { panic("TODO") }
func (l *Leaf) KeyPEM() []byte   { panic("TODO") }

// WriteFiles writes the leaf's chain and key PEM files into dir as
// NAME.crt and NAME.key and returns their paths.
func (l *Leaf) WriteFiles(dir, name string) (certFile, keyFile string, err error) { panic("TODO") }
