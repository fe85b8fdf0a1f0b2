package certs_test

import (
	"crypto/x509"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

// The offloader verifies on every full handshake that misses the cache.
// These benchmarks put each profile beside crypto/x509 doing the same
// path validation (parse, build, name), so the profiles' own cost reads
// as the difference; BenchmarkProfileRules isolates it.

func benchChains(b *testing.B) map[string]*testpki.Case {
	b.Helper()
	out := map[string]*testpki.Case{}
	for name, s := range map[string]testpki.Spec{
		"rsa2048": {LeafKey: testpki.RSA2048, IntermediateKey: testpki.RSA2048, RootKey: testpki.RSA2048},
		"ecdsa":   {LeafKey: testpki.ECDSAP256, IntermediateKey: testpki.ECDSAP384, RootKey: testpki.ECDSAP384},
	} {
		c, err := testpki.Build(now, s)
		if err != nil {
			b.Fatal(err)
		}
		out[name] = c
	}
	return out
}

func BenchmarkVerify(b *testing.B) {
	for name, c := range benchChains(b) {
		b.Run(name+"/crypto-x509", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				leaf, err := x509.ParseCertificate(c.Chain[0])
				if err != nil {
					b.Fatal(err)
				}
				inter := x509.NewCertPool()
				for _, der := range c.Chain[1:] {
					ic, err := x509.ParseCertificate(der)
					if err != nil {
						b.Fatal(err)
					}
					inter.AddCert(ic)
				}
				if _, err := leaf.Verify(x509.VerifyOptions{Roots: c.Roots, Intermediates: inter, CurrentTime: now,
					DNSName: c.ServerName, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, p := range profiles {
			b.Run(name+"/"+p.String(), func(b *testing.B) {
				v := &certs.Verifier{Roots: c.Roots, Time: func() time.Time { return now }, Profile: p}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := v.Verify(c.Chain, c.ServerName); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(name+"/webpki-pinned", func(b *testing.B) {
			v := &certs.Verifier{Roots: c.Roots, Time: func() time.Time { return now }, Profile: certs.ProfileWebPKI,
				Pins: []certs.Pin{{1}, {2}, certs.PinOf(c.RootCerts[0])}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(c.Chain, c.ServerName); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/webpki-cached", func(b *testing.B) {
			v := &certs.Verifier{Roots: c.Roots, Time: func() time.Time { return now }, Profile: certs.ProfileWebPKI,
				Cache: certs.NewVerifyCache(0)}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(c.Chain, c.ServerName); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkProfileRules is the profile's own work on a built path: the
// rules, the name, and (pinned) three SHA-256 of public keys.
func BenchmarkProfileRules(b *testing.B) {
	c := benchChains(b)["rsa2048"]
	path, err := (&certs.Verifier{Roots: c.Roots, Time: func() time.Time { return now }}).Verify(c.Chain, c.ServerName)
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range profiles {
		b.Run(p.String(), func(b *testing.B) {
			v := &certs.Verifier{Profile: p}
			b.ReportAllocs()
			for b.Loop() {
				if err := v.CheckPath(path, c.ServerName); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("webpki-pinned", func(b *testing.B) {
		v := &certs.Verifier{Profile: certs.ProfileWebPKI, Pins: []certs.Pin{certs.PinOf(c.RootCerts[0])}}
		b.ReportAllocs()
		for b.Loop() {
			if err := v.CheckPath(path, c.ServerName); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkNameConstraintWork: the chain of 1024 names under 1024
// constraints is refused; crypto/x509 alone beside it.
func BenchmarkNameConstraintWork(b *testing.B) {
	var c *testpki.Case
	for _, tw := range testpki.Twins() {
		if tw.Rule == "nc/work" {
			var err error
			if c, err = tw.Bad(now); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("webpki-refuses", func(b *testing.B) {
		v := &certs.Verifier{Roots: c.Roots, Time: func() time.Time { return now }, Profile: certs.ProfileWebPKI}
		for b.Loop() {
			if _, err := v.Verify(c.Chain, c.ServerName); err == nil {
				b.Fatal("accepted")
			}
		}
	})
	b.Run("crypto-x509-accepts", func(b *testing.B) {
		for b.Loop() {
			if err := x509Verify(c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkCheckRevocation(b *testing.B) {
	c := ecCase(b, nil)
	path := []*x509.Certificate{c.Leaf, c.Issuer, c.RootCerts[0]}
	st := makeStaple(b, c, staple{status: ocsp.Good, thisUpdate: -time.Hour, next: time.Hour})
	der, err := c.CRL(now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	crls, err := certs.ParseCRLs(der)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("ocsp-staple", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := certs.CheckRevocation(path, st, nil, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ocsp-staple-cached", func(b *testing.B) {
		cache := certs.NewStapleCache(0)
		b.ReportAllocs()
		for b.Loop() {
			if err := cache.CheckRevocation(path, st, nil, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("crl", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := certs.CheckRevocation(path, nil, crls, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("key-usage-and-curve", func(b *testing.B) {
		for b.Loop() {
			if certs.CheckKeyUsage(c.Leaf, certs.KeyExchangeSigned) != nil || certs.CheckCurve(c.Leaf, []uint16{29, 23}) != nil {
				b.Fatal("refused")
			}
		}
	})
}
