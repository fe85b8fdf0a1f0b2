package certs_test

import (
	"crypto/x509"
	"fmt"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

// verifyAt verifies chain for name at t with cache.
func verifyAt(roots *x509.CertPool, cache *certs.VerifyCache, t time.Time, chain [][]byte, name string) ([]*x509.Certificate, error) {
	v := &certs.Verifier{Roots: roots, Time: func() time.Time { return t }, Cache: cache}
	return v.Verify(chain, name)
}

func sameChain(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if string(a[i].Raw) != string(b[i].Raw) {
			return false
		}
	}
	return true
}

// Every case of TestVerifyReasons, verified twice through one cache, gets
// the answer the uncached verifier gives: the cache never changes a reason
// nor the verified chain.
func TestVerifyCacheSameAnswers(t *testing.T) {
	f := newFixture(t)
	cache := certs.NewVerifyCache(0)
	for _, tt := range verifyCases() {
		t.Run(tt.name, func(t *testing.T) {
			chain := tt.chain(t, f)
			v := f.verifier()
			if tt.v != nil {
				v = tt.v(f)
			}
			server := tt.server
			switch server {
			case "":
				server = "a.example"
			case "-":
				server = ""
			}
			plain, plainErr := v.Verify(chain, server)
			cached := *v
			cached.Cache = cache
			for round := 0; round < 2; round++ {
				got, err := cached.Verify(chain, server)
				if reasonOf(t, err) != reasonOf(t, plainErr) {
					t.Fatalf("round %d: reason %v (%v), uncached %v", round, reasonOf(t, err), err, reasonOf(t, plainErr))
				}
				if !sameChain(got, plain) {
					t.Fatalf("round %d: verified chain differs from the uncached one", round)
				}
			}
		})
	}
	if cache.Hits() == 0 {
		t.Fatal("no case was answered from the cache")
	}
}

func TestVerifyCacheHitAndKey(t *testing.T) {
	f := newFixture(t)
	leaf, err := f.p.Issue([]string{"a.example"}, testpki.RSA2048, testpki.Good)
	if err != nil {
		t.Fatal(err)
	}
	cache := certs.NewVerifyCache(0)
	first, err := verifyAt(f.p.Roots, cache, now, leaf.Chain, "a.example")
	if err != nil {
		t.Fatal(err)
	}
	second, err := verifyAt(f.p.Roots, cache, now, leaf.Chain, "a.example")
	if err != nil {
		t.Fatal(err)
	}
	if cache.Hits() != 1 || cache.Len() != 1 {
		t.Fatalf("hits %d, len %d; want 1, 1", cache.Hits(), cache.Len())
	}
	if st := cache.Stats(); st != (certs.CacheStats{Entries: 1, Max: certs.DefaultVerifyCacheSize, Hits: 1, Misses: 1}) {
		t.Fatalf("stats %+v after one miss and one hit", st)
	}
	if !sameChain(first, second) || second[0] != first[0] {
		t.Fatal("the hit returned another chain")
	}
	// The caller owns the slice it gets.
	second[0] = nil
	if third, err := verifyAt(f.p.Roots, cache, now, leaf.Chain, "a.example"); err != nil || third[0] == nil {
		t.Fatalf("a caller's change reached the cache: %v", err)
	}

	// Each part of the key: the name, the roots, MinRSABits, the chain.
	if _, err := verifyAt(f.p.Roots, cache, now, leaf.Chain, "b.example"); reasonOf(t, err) != certs.ReasonNameMismatch {
		t.Errorf("another name: %v", err)
	}
	if _, err := verifyAt(x509.NewCertPool(), cache, now, leaf.Chain, "a.example"); reasonOf(t, err) != certs.ReasonUnknownAuthority {
		t.Errorf("other roots: %v", err)
	}
	strict := &certs.Verifier{Roots: f.p.Roots, Time: func() time.Time { return now }, Cache: cache, MinRSABits: 4096}
	if _, err := strict.Verify(leaf.Chain, "a.example"); reasonOf(t, err) != certs.ReasonWeakKey {
		t.Errorf("MinRSABits 4096: %v", err)
	}
	tampered := [][]byte{append([]byte(nil), leaf.Chain[0]...), leaf.Chain[1]}
	tampered[0][len(tampered[0])-1] ^= 1 // the leaf's signature
	if _, err := verifyAt(f.p.Roots, cache, now, tampered, "a.example"); err == nil {
		t.Error("a chain with a changed signature byte verified")
	}
	// Only the one success is held; no refusal was cached.
	if cache.Len() != 1 {
		t.Errorf("len %d after refusals, want 1", cache.Len())
	}
}

// An entry is used only while every certificate is valid: the leaf's and
// the root's bounds both end it.
func TestVerifyCacheValidityWindow(t *testing.T) {
	f := newFixture(t)
	leaf, err := f.p.Issue([]string{"a.example"}, testpki.ECDSAP256, testpki.Good)
	if err != nil {
		t.Fatal(err)
	}
	cache := certs.NewVerifyCache(0)
	if _, err := verifyAt(f.p.Roots, cache, now, leaf.Chain, "a.example"); err != nil {
		t.Fatal(err)
	}
	if _, err := verifyAt(f.p.Roots, cache, now.Add(25*time.Hour), leaf.Chain, "a.example"); reasonOf(t, err) != certs.ReasonExpired {
		t.Errorf("after the leaf's NotAfter: %v", err)
	}
	if _, err := verifyAt(f.p.Roots, cache, now, leaf.Chain, "a.example"); err != nil {
		t.Fatal(err)
	}
	if _, err := verifyAt(f.p.Roots, cache, now.Add(-2*time.Hour), leaf.Chain, "a.example"); reasonOf(t, err) != certs.ReasonNotYetValid {
		t.Errorf("before the leaf's NotBefore: %v", err)
	}

	// A root (never sent) that expires before the leaf.
	chainFn, vFn := withRoot(nil, func(c *x509.Certificate) { c.NotAfter = now.Add(2 * time.Hour) }, false)
	chain := chainFn(t, f)
	roots := vFn(f).Roots
	if _, err := verifyAt(roots, cache, now, chain, "a.example"); err != nil {
		t.Fatal(err)
	}
	if _, err := verifyAt(roots, cache, now.Add(time.Hour), chain, "a.example"); err != nil {
		t.Fatal(err)
	}
	hits := cache.Hits()
	if _, err := verifyAt(roots, cache, now.Add(3*time.Hour), chain, "a.example"); reasonOf(t, err) != certs.ReasonExpired {
		t.Errorf("after the root's NotAfter: %v", err)
	}
	if cache.Hits() != hits {
		t.Error("answered from the cache after the root expired")
	}
}

func TestVerifyCacheBound(t *testing.T) {
	f := newFixture(t)
	cache := certs.NewVerifyCache(2)
	for i := 0; i < 5; i++ {
		leaf, err := f.p.Issue([]string{"a.example"}, testpki.ECDSAP256, testpki.Good)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verifyAt(f.p.Roots, cache, now, leaf.Chain, "a.example"); err != nil {
			t.Fatal(err)
		}
		if cache.Len() > 2 {
			t.Fatalf("cache holds %d chains, bound 2", cache.Len())
		}
	}
	if certs.NewVerifyCache(-1) != nil {
		t.Error("a negative size should give no cache")
	}
	var none *certs.VerifyCache
	if none.Len() != 0 {
		t.Error("nil cache length")
	}
}

// A cached chain does not depend on the caller's buffers: a caller that
// reuses them after Verify changes nothing the cache returns.
func TestVerifyCacheOwnsItsBytes(t *testing.T) {
	f := newFixture(t)
	leaf, err := f.p.Issue([]string{"a.example"}, testpki.ECDSAP256, testpki.Good)
	if err != nil {
		t.Fatal(err)
	}
	buf := [][]byte{append([]byte(nil), leaf.Chain[0]...), append([]byte(nil), leaf.Chain[1]...)}
	cache := certs.NewVerifyCache(0)
	if _, err := verifyAt(f.p.Roots, cache, now, buf, "a.example"); err != nil {
		t.Fatal(err)
	}
	for _, b := range buf {
		clear(b)
	}
	got, err := verifyAt(f.p.Roots, cache, now, leaf.Chain, "a.example")
	if err != nil {
		t.Fatal(err)
	}
	if cache.Hits() != 1 {
		t.Fatalf("hits %d, want 1", cache.Hits())
	}
	if string(got[0].Raw) != string(leaf.Chain[0]) || string(got[1].Raw) != string(leaf.Chain[1]) {
		t.Fatal("the cached chain changed with the caller's buffers")
	}
}

// A chain over MaxCachedChainBytes verifies as ever but is not kept.
func TestVerifyCacheSkipsLargeChains(t *testing.T) {
	f := newFixture(t)
	leaf, err := f.p.Issue([]string{"a.example"}, testpki.ECDSAP256, testpki.Good)
	if err != nil {
		t.Fatal(err)
	}
	// An unrelated certificate sent along, made large by its names.
	tmpl := caTemplate("bulky")
	for i := 0; len(tmpl.DNSNames)*40 < certs.MaxCachedChainBytes; i++ {
		tmpl.DNSNames = append(tmpl.DNSNames, fmt.Sprintf("name-%d.padding-for-the-cache-bound.example", i))
	}
	bulky := mk(t, tmpl, nil, ecP256(t))
	chain := append(append([][]byte{}, leaf.Chain...), bulky.cert.Raw)
	cache := certs.NewVerifyCache(0)
	for i := 0; i < 2; i++ {
		if _, err := verifyAt(f.p.Roots, cache, now, chain, "a.example"); err != nil {
			t.Fatal(err)
		}
	}
	if cache.Len() != 0 || cache.Hits() != 0 {
		t.Fatalf("a %d-byte chain was cached", len(chain[0])+len(chain[1])+len(chain[2]))
	}
}

// The profile and the pins are part of the key: an answer cached under one
// never answers for another.
func TestVerifyCacheKeyProfileAndPins(t *testing.T) {
	var tw builtTwin
	for _, x := range builtTwins(t) {
		if x.Rule == "eku/absent" {
			tw = x
		}
	}
	cache := certs.NewVerifyCache(0)
	at := func(p certs.Profile, pins ...certs.Pin) error {
		v := &certs.Verifier{Roots: tw.bad.Roots, Time: func() time.Time { return now }, Cache: cache, Profile: p, Pins: pins}
		_, err := v.Verify(tw.bad.Chain, tw.bad.ServerName)
		return err
	}
	if err := at(certs.ProfileRFC5280); err != nil {
		t.Fatal(err)
	}
	if err := at(certs.ProfileRFC5280); err != nil || cache.Hits() != 1 {
		t.Fatalf("second rfc5280: %v, hits %d", err, cache.Hits())
	}
	if err := at(certs.ProfileWebPKI); reasonOf(t, err) != certs.ReasonKeyUsage {
		t.Errorf("webpki after rfc5280 was cached: %v", err)
	}
	other := certs.PinOf(tw.good.Leaf)
	if err := at(certs.ProfileRFC5280, other); reasonOf(t, err) != certs.ReasonPinMismatch {
		t.Errorf("with a pin of another key: %v", err)
	}
	if err := at(certs.ProfileRFC5280, other, certs.PinOf(tw.bad.Leaf)); err != nil {
		t.Errorf("with the leaf's pin: %v", err)
	}
}

// Every twin, under every profile, gets through a cache the answer it gets
// without one.
func TestVerifyCacheSameAnswersTwins(t *testing.T) {
	cache := certs.NewVerifyCache(0)
	for _, tw := range builtTwins(t) {
		for _, c := range []*testpki.Case{tw.bad, tw.good} {
			for _, p := range profiles {
				plain, plainErr := verifyTwin(c, p)
				v := &certs.Verifier{Roots: c.Roots, Time: func() time.Time { return now }, Cache: cache, Profile: p}
				for round := 0; round < 2; round++ {
					got, err := v.Verify(c.Chain, c.ServerName)
					if reasonOf(t, err) != reasonOf(t, plainErr) || !sameChain(got, plain) {
						t.Fatalf("%s %v round %d: %v, uncached %v", tw.Rule, p, round, err, plainErr)
					}
				}
			}
		}
	}
}

// An unused certificate sent along does not keep a chain out of the cache
// (expired, it can never be used), but one not valid yet ends the entry
// when it becomes valid: it could open another path.
func TestVerifyCacheUnusedCertificates(t *testing.T) {
	c, err := testpki.CrossSignedExpiredRoot(now)
	if err != nil {
		t.Fatal(err)
	}
	cache := certs.NewVerifyCache(0)
	for i := 0; i < 2; i++ {
		if _, err := verifyAt(c.Roots, cache, now, c.Chain, c.ServerName); err != nil {
			t.Fatal(err)
		}
	}
	if cache.Hits() != 1 {
		t.Errorf("chain with an unused expired certificate: hits %d, want 1", cache.Hits())
	}

	f := newFixture(t)
	leaf, err := f.p.Issue([]string{"a.example"}, testpki.ECDSAP256, testpki.Good)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := *f.mid.cert
	tmpl.NotBefore = now.Add(2 * time.Hour)
	future := mk(t, &tmpl, f.root, f.mid.key)
	chain := append(append([][]byte{}, leaf.Chain...), future.cert.Raw)
	cache = certs.NewVerifyCache(0)
	for _, at := range []time.Duration{0, time.Hour, 3 * time.Hour} {
		if _, err := verifyAt(f.p.Roots, cache, now.Add(at), chain, "a.example"); err != nil {
			t.Fatalf("at +%v: %v", at, err)
		}
	}
	if cache.Hits() != 1 {
		t.Errorf("hits %d, want 1 (at +1h, not at +3h once the unused copy is valid)", cache.Hits())
	}
}
