package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Twin is a chain that breaks exactly one verification rule and its
// passing twin, made the same way but for that one difference. Rule names
// the rule ("eku/any-only"), Breaks says in words what Bad does; which
// profile refuses Bad, and with which reason, is the verifier's tests'
// business.
type Twin struct {
	Rule   string
	Breaks string
	Bad    func(now time.Time) (*Case, error)
	Good   func(now time.Time) (*Case, error)
}

// ec is the base of most twins: ECDSA P-256 keys throughout (fresh and
// fast), one intermediate.
func ec() Spec {
	return Spec{LeafKey: ECDSAP256, IntermediateKey: ECDSAP256, RootKey: ECDSAP256}
}

// specTwin makes a Twin from two edits of ec().
func specTwin(rule, breaks string, bad, good func(*Spec)) Twin {
	mk := func(edit func(*Spec)) func(time.Time) (*Case, error) {
		return func(now time.Time) (*Case, error) {
			s := ec()
			if edit != nil {
				edit(&s)
			}
			return Build(now, s)
		}
	}
	return Twin{Rule: rule, Breaks: breaks, Bad: mk(bad), Good: mk(good)}
}

// MustStapleExtension is the TLS Feature extension (RFC 7633) listing
// status_request: a certificate carrying it must come with a staple.
func MustStapleExtension() pkix.Extension {
	return pkix.Extension{Id: OIDTLSFeature, Value: []byte{0x30, 0x03, 0x02, 0x01, 0x05}}
}

// Twins returns one twin per verification rule (see package certs'
// profile rules).
func Twins() []Twin {
	ext := func(id []int, critical bool, value ...byte) pkix.Extension {
		return pkix.Extension{Id: id, Critical: critical, Value: value}
	}
	names := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("h.d%d.example", i)
		}
		return out
	}
	domains := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("d%d.example", i)
		}
		return out
	}
	var bigSerial, maxSerial big.Int
	bigSerial.Lsh(big.NewInt(1), 159)                         // 21 octets in DER (a leading zero)
	maxSerial.Sub(&bigSerial, big.NewInt(1))                  // 20 octets
	policyConstraints := []byte{0x30, 0x03, 0x80, 0x01, 0x05} // requireExplicitPolicy 5: no effect on a short path

	return []Twin{
		// Extended key usage.
		specTwin("eku/absent", "a leaf without extendedKeyUsage",
			func(s *Spec) { s.Leaf = func(c *x509.Certificate) { c.ExtKeyUsage = nil } }, nil),
		specTwin("eku/any-only", "a leaf whose extendedKeyUsage is anyExtendedKeyUsage alone",
			func(s *Spec) {
				s.Leaf = func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageAny} }
			}, nil),
		specTwin("eku/empty", "a leaf with an empty extendedKeyUsage extension",
			func(s *Spec) {
				s.Leaf = func(c *x509.Certificate) {
					c.ExtKeyUsage = nil
					c.ExtraExtensions = append(c.ExtraExtensions, ext(OIDExtendedKeyUsage, false, 0x30, 0x00))
				}
			}, nil),
		specTwin("eku/client-only", "a leaf for clientAuth only",
			func(s *Spec) {
				s.Leaf = func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} }
			}, nil),
		specTwin("eku/intermediate", "an intermediate restricted to clientAuth",
			func(s *Spec) {
				s.Intermediate = func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} }
			},
			func(s *Spec) {
				s.Intermediate = func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }
			}),
		specTwin("eku/root", "a root with an extendedKeyUsage extension (serverAuth)",
			func(s *Spec) {
				s.Root = func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }
			}, nil),

		// Key identifiers.
		specTwin("aki/leaf", "a leaf without authorityKeyIdentifier",
			func(s *Spec) { s.LeafDER = func(t *TBS) { t.Remove(OIDAuthorityKeyID) } },
			func(s *Spec) { s.LeafDER = func(*TBS) {} }),
		specTwin("aki/intermediate", "an intermediate without authorityKeyIdentifier",
			func(s *Spec) { s.IntermediateDER = func(t *TBS) { t.Remove(OIDAuthorityKeyID) } },
			func(s *Spec) { s.IntermediateDER = func(*TBS) {} }),
		specTwin("aki/critical", "a leaf whose authorityKeyIdentifier is critical (crypto/x509 does not parse it)",
			func(s *Spec) { s.LeafDER = func(t *TBS) { t.Extension(OIDAuthorityKeyID).Critical = true } },
			func(s *Spec) { s.LeafDER = func(*TBS) {} }),
		specTwin("ski/intermediate", "an intermediate without subjectKeyIdentifier",
			func(s *Spec) { s.IntermediateDER = func(t *TBS) { t.Remove(OIDSubjectKeyID) } },
			func(s *Spec) { s.IntermediateDER = func(*TBS) {} }),
		specTwin("ski/root", "a root without subjectKeyIdentifier",
			func(s *Spec) { s.RootDER = func(t *TBS) { t.Remove(OIDSubjectKeyID) } },
			func(s *Spec) { s.RootDER = func(*TBS) {} }),
		specTwin("keyid/mismatch", "a leaf whose authorityKeyIdentifier is not its issuer's subjectKeyIdentifier",
			func(s *Spec) {
				s.LeafDER = func(t *TBS) {
					t.Extension(OIDAuthorityKeyID).Value = []byte{0x30, 0x06, 0x80, 0x04, 1, 2, 3, 4}
				}
			},
			func(s *Spec) { s.LeafDER = func(*TBS) {} }),

		// Serial numbers.
		specTwin("serial/zero", "a leaf with serial number 0",
			func(s *Spec) { s.Leaf = func(c *x509.Certificate) { c.SerialNumber = big.NewInt(0) } },
			func(s *Spec) { s.Leaf = func(c *x509.Certificate) { c.SerialNumber = big.NewInt(1) } }),
		specTwin("serial/21-octets", "a leaf serial of 21 octets",
			func(s *Spec) { s.Leaf = func(c *x509.Certificate) { c.SerialNumber = &bigSerial } },
			func(s *Spec) { s.Leaf = func(c *x509.Certificate) { c.SerialNumber = &maxSerial } }),
		specTwin("serial/negative", "a leaf with a negative serial number",
			func(s *Spec) { s.LeafDER = func(t *TBS) { t.Serial = big.NewInt(-1) } },
			func(s *Spec) { s.LeafDER = func(t *TBS) { t.Serial = big.NewInt(1) } }),

		// Names.
		specTwin("san/missing", "a leaf with a commonName and no subjectAltName",
			func(s *Spec) { s.Leaf = func(c *x509.Certificate) { c.DNSNames = nil } }, nil),
		specTwin("san/not-critical", "an empty subject and a non-critical subjectAltName",
			func(s *Spec) {
				s.Leaf = func(c *x509.Certificate) { c.Subject = pkix.Name{} }
				s.LeafDER = func(t *TBS) { t.Extension(OIDSubjectAltName).Critical = false }
			},
			func(s *Spec) {
				s.Leaf = func(c *x509.Certificate) { c.Subject = pkix.Name{} }
				s.LeafDER = func(*TBS) {}
			}),
		specTwin("cn/not-in-san", "a commonName that is not among the SAN entries",
			func(s *Spec) { s.Leaf = func(c *x509.Certificate) { c.Subject.CommonName = "other.example" } }, nil),
		specTwin("cn/case", "a commonName equal to a SAN entry but for case",
			func(s *Spec) { s.Leaf = func(c *x509.Certificate) { c.Subject.CommonName = "A.example" } }, nil),
		specTwin("cn/two", "two commonName attributes",
			func(s *Spec) {
				s.Leaf = func(c *x509.Certificate) {
					c.Subject.ExtraNames = []pkix.AttributeTypeAndValue{
						{Type: oidCommonName, Value: "a.example"}, {Type: oidCommonName, Value: "a.example"}}
				}
			}, nil),
		specTwin("dns/underscore", "a DNS name with an underscore",
			func(s *Spec) { s.Names = []string{"a.example", "x_y.example"} },
			func(s *Spec) { s.Names = []string{"a.example", "x-y.example"} }),
		specTwin("dns/syntax", "a DNS name with an empty label",
			func(s *Spec) { s.Names = []string{"a.example", "b..example"} },
			func(s *Spec) { s.Names = []string{"a.example", "b.c.example"} }),
		specTwin("dns/wildcard-suffix", "a wildcard directly on a public suffix",
			func(s *Spec) { s.Names = []string{"a.example", "*.co.uk"} },
			func(s *Spec) { s.Names = []string{"a.example", "*.example.co.uk"} }),
		specTwin("dns/wildcard-multi", "a wildcard of two labels",
			func(s *Spec) { s.Names = []string{"a.example", "*.*.example"} },
			func(s *Spec) { s.Names = []string{"a.example", "*.b.example"} }),
		specTwin("dns/wildcard-partial", "a wildcard within a label",
			func(s *Spec) { s.Names = []string{"a.example", "b*.example"} },
			func(s *Spec) { s.Names = []string{"a.example", "*.example"} }),
		specTwin("name/mismatch", "a leaf for another name",
			func(s *Spec) { s.ServerName = "b.example" }, nil),

		// Usage of the leaf, constraints of the CAs.
		specTwin("leaf/ca", "a CA certificate as the leaf",
			func(s *Spec) { s.Leaf = func(c *x509.Certificate) { c.IsCA = true } }, nil),
		specTwin("leaf/key-cert-sign", "a leaf whose key usage has keyCertSign",
			func(s *Spec) { s.Leaf = func(c *x509.Certificate) { c.KeyUsage |= x509.KeyUsageCertSign } }, nil),
		specTwin("bc/not-critical", "an intermediate whose basicConstraints is not critical",
			func(s *Spec) {
				s.Intermediate = func(c *x509.Certificate) {
					c.ExtraExtensions = append(c.ExtraExtensions, ext(OIDBasicConstraints, false, 0x30, 0x03, 0x01, 0x01, 0xff))
				}
			},
			func(s *Spec) {
				s.Intermediate = func(c *x509.Certificate) {
					c.ExtraExtensions = append(c.ExtraExtensions, ext(OIDBasicConstraints, true, 0x30, 0x03, 0x01, 0x01, 0xff))
				}
			}),
		specTwin("nc/leaf", "name constraints in the leaf",
			func(s *Spec) {
				s.Leaf = func(c *x509.Certificate) {
					c.PermittedDNSDomains, c.PermittedDNSDomainsCritical = []string{"a.example"}, true
				}
			}, nil),
		specTwin("nc/not-critical", "an intermediate whose name constraints are not critical",
			func(s *Spec) {
				s.Intermediate = func(c *x509.Certificate) { c.PermittedDNSDomains = []string{"example"} }
			},
			func(s *Spec) {
				s.Intermediate = func(c *x509.Certificate) {
					c.PermittedDNSDomains, c.PermittedDNSDomainsCritical = []string{"example"}, true
				}
			}),
		specTwin("nc/leading-period", "a DNS name constraint with a leading period",
			func(s *Spec) {
				s.Intermediate = func(c *x509.Certificate) {
					c.PermittedDNSDomains, c.PermittedDNSDomainsCritical = []string{".example"}, true
				}
			},
			func(s *Spec) {
				s.Intermediate = func(c *x509.Certificate) {
					c.PermittedDNSDomains, c.PermittedDNSDomainsCritical = []string{"example"}, true
				}
			}),
		specTwin("nc/violated", "a second SAN entry the intermediate's name constraints exclude",
			func(s *Spec) {
				s.Names = []string{"permitted.example", "forbidden.example"}
				s.Intermediate = func(c *x509.Certificate) {
					c.ExcludedDNSDomains, c.PermittedDNSDomainsCritical = []string{"forbidden.example"}, true
				}
			},
			func(s *Spec) {
				s.Names = []string{"permitted.example"}
				s.Intermediate = func(c *x509.Certificate) {
					c.ExcludedDNSDomains, c.PermittedDNSDomainsCritical = []string{"forbidden.example"}, true
				}
			}),
		specTwin("nc/work", "1024 names under 1024 name constraints (quadratic to check naively)",
			func(s *Spec) {
				s.Names = names(1024)
				s.Intermediate = func(c *x509.Certificate) {
					c.PermittedDNSDomains, c.PermittedDNSDomainsCritical = domains(1024), true
				}
			},
			func(s *Spec) {
				s.Names = names(200)
				s.Intermediate = func(c *x509.Certificate) {
					c.PermittedDNSDomains, c.PermittedDNSDomainsCritical = domains(1024), true
				}
			}),
		specTwin("pc/not-critical", "an intermediate whose policyConstraints is not critical",
			func(s *Spec) {
				s.Intermediate = func(c *x509.Certificate) {
					c.ExtraExtensions = append(c.ExtraExtensions, ext(OIDPolicyConstraints, false, policyConstraints...))
				}
			},
			func(s *Spec) {
				s.Intermediate = func(c *x509.Certificate) {
					c.ExtraExtensions = append(c.ExtraExtensions, ext(OIDPolicyConstraints, true, policyConstraints...))
				}
			}),
		specTwin("depth/7", "seven intermediates",
			func(s *Spec) { s.Intermediates = 7 },
			func(s *Spec) { s.Intermediates = 6 }),

		// Keys and signatures.
		specTwin("rsa/leaf-1024", "an RSA-1024 leaf",
			func(s *Spec) { s.LeafKey = RSA1024 },
			func(s *Spec) { s.LeafKey = RSA2048 }),
		specTwin("rsa/modulus", "an RSA leaf of 2052 bits, not a multiple of 8",
			func(s *Spec) { s.LeafKey = RSA2052 },
			func(s *Spec) { s.LeafKey = RSA2048 }),
		specTwin("rsa/intermediate-1024", "an RSA-1024 intermediate",
			func(s *Spec) { s.IntermediateKey = RSA1024 },
			func(s *Spec) { s.IntermediateKey = RSA2048 }),
		specTwin("rsa/root-1024", "an RSA-1024 root",
			func(s *Spec) { s.RootKey = RSA1024 },
			func(s *Spec) { s.RootKey = RSA2048 }),
		{
			Rule:   "rsa/self-issued-intermediate-1024",
			Breaks: "an RSA-1024 self-issued intermediate (same name as its issuer) on the path",
			Bad:    func(now time.Time) (*Case, error) { return SelfIssuedIntermediate(now, RSA1024) },
			Good:   func(now time.Time) (*Case, error) { return SelfIssuedIntermediate(now, RSA2048) },
		},
		specTwin("curve/p224", "a P-224 leaf",
			func(s *Spec) { s.LeafKey = ECDSAP224 }, nil),
		specTwin("sig/sha1-leaf", "a leaf signed with SHA-1",
			func(s *Spec) {
				s.IntermediateKey = RSA2048
				s.Leaf = func(c *x509.Certificate) { c.SignatureAlgorithm = x509.SHA1WithRSA }
			},
			func(s *Spec) {
				s.IntermediateKey = RSA2048
				s.Leaf = func(c *x509.Certificate) { c.SignatureAlgorithm = x509.SHA256WithRSA }
			}),
		specTwin("sig/sha1-intermediate", "an intermediate signed with SHA-1",
			func(s *Spec) {
				s.RootKey = RSA2048
				s.Intermediate = func(c *x509.Certificate) { c.SignatureAlgorithm = x509.SHA1WithRSA }
			},
			func(s *Spec) {
				s.RootKey = RSA2048
				s.Intermediate = func(c *x509.Certificate) { c.SignatureAlgorithm = x509.SHA256WithRSA }
			}),

		// Validity and trust.
		specTwin("validity/leaf-expired", "an expired leaf",
			func(s *Spec) {
				s.Leaf = func(c *x509.Certificate) { c.NotBefore, c.NotAfter = c.NotBefore.Add(-48*time.Hour), c.NotBefore }
			}, nil),
		specTwin("validity/leaf-not-yet-valid", "a leaf valid from tomorrow",
			func(s *Spec) {
				s.Leaf = func(c *x509.Certificate) { c.NotBefore = c.NotAfter.Add(-time.Hour) }
			}, nil),
		specTwin("validity/intermediate-expired", "an expired intermediate",
			func(s *Spec) {
				s.Intermediate = func(c *x509.Certificate) { c.NotAfter = c.NotBefore.Add(24 * time.Hour) }
			}, nil),
		{
			Rule:   "anchor/leaf-not-trusted",
			Breaks: "a self-signed CA:TRUE leaf (openssl req -x509) that is not among the roots",
			Bad: func(now time.Time) (*Case, error) {
				c, err := AnchorLeaf(now, ECDSAP256, nil)
				if err == nil {
					c.Roots, c.RootCerts = x509.NewCertPool(), nil
				}
				return c, err
			},
			Good: func(now time.Time) (*Case, error) { return AnchorLeaf(now, ECDSAP256, nil) },
		},
		{
			Rule:   "anchor/leaf-expired",
			Breaks: "a self-signed CA:TRUE leaf among the roots, expired",
			Bad: func(now time.Time) (*Case, error) {
				return AnchorLeaf(now, ECDSAP256, func(c *x509.Certificate) { c.NotAfter = now.Add(-time.Minute) })
			},
			Good: func(now time.Time) (*Case, error) { return AnchorLeaf(now, ECDSAP256, nil) },
		},
		{
			Rule:   "anchor/leaf-wrong-name",
			Breaks: "a self-signed CA:TRUE leaf among the roots, for another name",
			Bad: func(now time.Time) (*Case, error) {
				c, err := AnchorLeaf(now, ECDSAP256, nil)
				if err == nil {
					c.ServerName = "b.example"
				}
				return c, err
			},
			Good: func(now time.Time) (*Case, error) { return AnchorLeaf(now, ECDSAP256, nil) },
		},
	}
}

// AnchorLeaf makes what `openssl req -x509 -addext subjectAltName=...`
// makes: a self-signed CA:TRUE certificate for a.example with a subject
// key identifier, no key usage and no extended key usage, with a kt key,
// and trusts it as a root (the usual pinned self-signed set-up). edit
// changes the template.
func AnchorLeaf(now time.Time, kt KeyType, edit func(*x509.Certificate)) (*Case, error) {
	key, err := newKey(kt)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "a.example"},
		DNSNames:              []string{"a.example"},
		NotBefore:             now.Add(-leafBackdate),
		NotAfter:              now.Add(caLifetime),
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if edit != nil {
		edit(tmpl)
	}
	n, err := create(tmpl, nil, key, nil)
	if err != nil {
		return nil, err
	}
	c := &Case{
		Chain: [][]byte{n.der}, Roots: x509.NewCertPool(), RootCerts: []*x509.Certificate{n.cert}, RootKey: key,
		ServerName: "a.example", Leaf: n.cert, LeafKey: key,
	}
	c.Roots.AddCert(n.cert)
	return c, nil
}

// SelfIssuedIntermediate makes leaf -> X' -> X -> root, where X' is a CA
// with X's name (self-issued, as after a key rollover) and a kt key, signed
// by X's key. The chain sent is leaf, X', X.
func SelfIssuedIntermediate(now time.Time, kt KeyType) (*Case, error) {
	c, ns, err := build(now, Spec{LeafKey: ECDSAP256, IntermediateKey: ECDSAP256, RootKey: ECDSAP256})
	if err != nil {
		return nil, err
	}
	x := ns.mids[len(ns.mids)-1]
	key, err := newKey(kt)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               x.cert.Subject,
		NotBefore:             x.cert.NotBefore,
		NotAfter:              x.cert.NotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		AuthorityKeyId:        x.ski, // kept: x509 sets it only when the names differ
	}
	xs, err := create(tmpl, x, key, nil)
	if err != nil {
		return nil, err
	}
	leafTmpl, err := leafTemplate(now, []string{"a.example"}, ns.leaf.key)
	if err != nil {
		return nil, err
	}
	leaf, err := create(leafTmpl, xs, ns.leaf.key, nil)
	if err != nil {
		return nil, err
	}
	c.Chain = [][]byte{leaf.der, xs.der, x.der}
	c.Leaf, c.Issuer, c.IssuerKey = leaf.cert, xs.cert, xs.key
	return c, nil
}

// CrossSignedExpiredRoot makes a sound chain leaf -> intermediate -> root
// and sends along, after the intermediate, an expired certificate for the
// root's name and key issued by another, untrusted root: the copy of an
// old cross-signature many servers kept sending after it expired. The
// path does not need it.
func CrossSignedExpiredRoot(now time.Time) (*Case, error) {
	c, ns, err := build(now, ec())
	if err != nil {
		return nil, err
	}
	oldKey, err := newKey(ECDSAP256)
	if err != nil {
		return nil, err
	}
	oldTmpl, err := caTemplate(now.Add(-3*caLifetime), "testpki old root "+randomTag())
	if err != nil {
		return nil, err
	}
	oldTmpl.SignatureAlgorithm = x509.UnknownSignatureAlgorithm
	old, err := create(oldTmpl, nil, oldKey, nil)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	cross := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               ns.root.cert.Subject,
		NotBefore:             now.Add(-2 * caLifetime),
		NotAfter:              now.Add(-24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          ns.root.ski,
	}
	x, err := create(cross, old, ns.root.key, nil)
	if err != nil {
		return nil, err
	}
	c.Chain = append(c.Chain, x.der)
	return c, nil
}

// TwoPaths makes a leaf under an intermediate certified twice, by two
// trusted roots: A, an RSA-1024 root (which profile webpki refuses as an
// anchor), and B, a P-256 root. The chain sent is leaf, intermediate by A,
// intermediate by B; RootCerts is [A, B].
func TwoPaths(now time.Time) (*Case, error) {
	tag := randomTag()
	var roots [2]*node
	for i, kt := range []KeyType{RSA1024, ECDSAP256} {
		key, err := newKey(kt)
		if err != nil {
			return nil, err
		}
		tmpl, err := caTemplate(now, fmt.Sprintf("testpki root %c %s", 'A'+i, tag))
		if err != nil {
			return nil, err
		}
		tmpl.SignatureAlgorithm = x509.UnknownSignatureAlgorithm
		if roots[i], err = create(tmpl, nil, key, nil); err != nil {
			return nil, err
		}
	}
	midKey, err := newKey(ECDSAP256)
	if err != nil {
		return nil, err
	}
	var mids [2]*node
	for i, r := range roots {
		tmpl, err := caTemplate(now, "testpki twice-certified intermediate "+tag)
		if err != nil {
			return nil, err
		}
		tmpl.SignatureAlgorithm = x509.UnknownSignatureAlgorithm
		tmpl.AuthorityKeyId = r.ski
		if mids[i], err = create(tmpl, r, midKey, nil); err != nil {
			return nil, err
		}
	}
	leafKey, err := newKey(ECDSAP256)
	if err != nil {
		return nil, err
	}
	leafTmpl, err := leafTemplate(now, []string{"a.example"}, leafKey)
	if err != nil {
		return nil, err
	}
	leaf, err := create(leafTmpl, mids[0], leafKey, nil)
	if err != nil {
		return nil, err
	}
	c := &Case{
		Chain:      [][]byte{leaf.der, mids[0].der, mids[1].der},
		Roots:      x509.NewCertPool(),
		RootCerts:  []*x509.Certificate{roots[0].cert, roots[1].cert},
		RootKey:    roots[0].key,
		ServerName: "a.example",
		Leaf:       leaf.cert, LeafKey: leafKey,
		Issuer: mids[0].cert, IssuerKey: midKey,
	}
	for _, r := range roots {
		c.Roots.AddCert(r.cert)
	}
	return c, nil
}

// Responder issues, under the leaf's issuer, a delegated OCSP responder
// certificate (RFC 6960 4.2.2.2) valid around now; without ocspSigning its
// extended key usage is clientAuth instead of id-kp-OCSPSigning.
func (c *Case) Responder(now time.Time, ocspSigning bool) (*x509.Certificate, crypto.Signer, error) {
	if c.Issuer == nil || c.IssuerKey == nil {
		return nil, nil, fmt.Errorf("testpki: Responder: the case has no issuer")
	}
	key, err := newKey(ECDSAP256)
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	eku := x509.ExtKeyUsageOCSPSigning
	if !ocspSigning {
		eku = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "testpki OCSP responder " + randomTag()},
		NotBefore:    now.Add(-leafBackdate),
		NotAfter:     now.Add(leafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{eku},
	}
	n, err := create(tmpl, &node{cert: c.Issuer, key: c.IssuerKey}, key, nil)
	if err != nil {
		return nil, nil, err
	}
	return n.cert, key, nil
}

// CRL returns a DER CRL signed by the leaf's issuer listing serials
// (revoked an hour before thisUpdate), valid from thisUpdate to nextUpdate.
func (c *Case) CRL(thisUpdate, nextUpdate time.Time, serials ...*big.Int) ([]byte, error) {
	if c.Issuer == nil || c.IssuerKey == nil {
		return nil, fmt.Errorf("testpki: CRL: the case has no issuer")
	}
	return MakeCRL(c.Issuer, c.IssuerKey, thisUpdate, nextUpdate, serials...)
}

// MakeCRL returns a DER CRL signed by issuer with key, listing serials
// (revoked an hour before thisUpdate), valid from thisUpdate to nextUpdate.
func MakeCRL(issuer *x509.Certificate, key crypto.Signer, thisUpdate, nextUpdate time.Time, serials ...*big.Int) ([]byte, error) {
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(thisUpdate.Unix()),
		ThisUpdate: thisUpdate,
		NextUpdate: nextUpdate,
	}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: s, RevocationTime: thisUpdate.Add(-time.Hour)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, issuer, key)
	if err != nil {
		return nil, fmt.Errorf("testpki: CRL: %w", err)
	}
	return der, nil
}

func randomTag() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	return hex.EncodeToString(b)
}

// MakeCRLv1 returns a version 1 DER CRL (RFC 5280 5.1.2.1: no version
// field, no extensions, as `openssl ca -gencrl` makes without
// crl_extensions) signed by issuer with an ECDSA or RSA key over SHA-256,
// listing serials (revoked an hour before thisUpdate). crypto/x509 makes
// version 2 CRLs only, so this one is encoded here.
func MakeCRLv1(issuer *x509.Certificate, key crypto.Signer, thisUpdate, nextUpdate time.Time, serials ...*big.Int) ([]byte, error) {
	var alg []byte
	switch key.Public().(type) {
	case *ecdsa.PublicKey:
		alg = []byte{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02} // ecdsa-with-SHA256
	case *rsa.PublicKey:
		alg = []byte{0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00} // sha256WithRSAEncryption
	default:
		return nil, fmt.Errorf("testpki: CRL v1: key %T", key.Public())
	}
	utc := func(b *cryptobyte.Builder, t time.Time) { b.AddASN1UTCTime(t.UTC().Truncate(time.Second)) }
	var tb cryptobyte.Builder
	tb.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(alg)
		b.AddBytes(issuer.RawSubject)
		utc(b, thisUpdate)
		utc(b, nextUpdate)
		if len(serials) > 0 {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				for _, s := range serials {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1BigInt(s)
						utc(b, thisUpdate.Add(-time.Hour))
					})
				}
			})
		}
	})
	tbs, err := tb.Bytes()
	if err != nil {
		return nil, fmt.Errorf("testpki: CRL v1: %w", err)
	}
	digest := sha256.Sum256(tbs)
	sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("testpki: CRL v1: %w", err)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		b.AddBytes(alg)
		b.AddASN1BitString(sig)
	})
	return b.Bytes()
}
