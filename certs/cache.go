package certs

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"hash/maphash"
	"slices"
	"sync"
	"time"
)

// VerifyCache remembers chains a Verifier accepted, so a server seen again
// is not parsed and path-validated again (two RSA or ECDSA signature checks
// and the parsing of every certificate, the largest share of an offloaded
// handshake's CPU after the key exchange).
//
// What is cached is a success only, keyed exactly by everything the answer
// depends on:
//   - the chain as presented: every certificate's DER, compared byte for
//     byte on a hit (a hash of the chain, seeded per process, only picks
//     the slot);
//   - the root pool, by identity (the *x509.CertPool pointer): a pool must
//     not be modified after it is first used with a cache, and its
//     constraint functions (AddCertWithConstraint), if any, must give the
//     same answer for the same chain every time;
//   - the server name, byte for byte;
//   - MinRSABits, the Profile and the Pins (in their order).
//
// Time is the one input that changes, and validity the one rule that
// reads it. An entry is used only while the verification time lies within
// the validity period of every certificate of the verified path (its root
// included) and before any certificate sent along but not valid yet
// becomes valid (it could open another path). A certificate sent along
// and unused, valid or expired, does not bound the window: it can only
// drop out of paths, never change the one chosen. Inside that window a
// fresh verification accepts the same path (a root of the pool that
// becomes valid meanwhile could give a second path; the cached one stays
// valid under every rule); outside it the chain is verified afresh.
// Refusals are never cached, so a failure always comes from a full
// verification, and a hostile server cannot fill the cache with chains no
// root vouches for.
//
// The cache holds at most max entries of public data (certificates), each
// chain at most MaxCachedChainBytes of DER; when full, an arbitrary entry
// (expired ones first) gives way. The verified chain returned on a hit
// shares its *x509.Certificate values with other callers: they are
// read-only. Revocation is not checked by Verify (CheckRevocation runs on
// every handshake, cached path or not), so caching changes nothing there.
//
// A VerifyCache is safe for concurrent use.
type VerifyCache struct {
	max int

	mu      sync.Mutex
	entries map[cacheKey]*cacheEntry
	hits    uint64 // lookups answered from the cache
	misses  uint64 // lookups verified afresh: no entry, or one not usable now
}

// MaxCachedChainBytes bounds the DER of one cached chain (real chains are
// 2 to 6 KiB); a larger chain is verified every time. With the parsed
// certificates, which alias the DER, an entry holds at most about twice
// this.
const MaxCachedChainBytes = 16 << 10

// DefaultVerifyCacheSize is the number of chains NewVerifyCache keeps when
// asked for 0.
const DefaultVerifyCacheSize = 512

type cacheKey struct {
	chain      uint64 // maphash of the chain, under seed
	roots      *x509.CertPool
	name       string
	minRSABits int
	profile    Profile
	pins       string // the pins' digests, concatenated
}

type cacheEntry struct {
	chain     [][]byte // as presented, for the exact comparison
	verified  []*x509.Certificate
	notBefore time.Time // latest NotBefore of every certificate involved
	notAfter  time.Time // earliest NotAfter
}

// NewVerifyCache returns a cache of at most max chains (0:
// DefaultVerifyCacheSize). A negative max gives nil, which caches nothing.
func NewVerifyCache(max int) *VerifyCache {
	if max < 0 {
		return nil
	}
	if max == 0 {
		max = DefaultVerifyCacheSize
	}
	return &VerifyCache{max: max, entries: make(map[cacheKey]*cacheEntry)}
}

// Len returns the number of chains held.
func (c *VerifyCache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// CacheStats is a snapshot of a VerifyCache's use since it was made. Only
// chains the cache may hold are looked up: a chain larger than
// MaxCachedChainBytes, or a verification without a cache, counts in
// neither Hits nor Misses.
type CacheStats struct {
	Entries int    // chains held now
	Max     int    // the most it holds
	Hits    uint64 // verifications answered from the cache
	Misses  uint64 // verifications done afresh (then remembered if they succeeded)
}

// Stats returns the cache's counts; a nil cache has none.
func (c *VerifyCache) Stats() CacheStats {
	if c == nil {
		return CacheStats{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Entries: len(c.entries), Max: c.max, Hits: c.hits, Misses: c.misses}
}

// seed keys the chain hash: unknown outside the process, so a server
// cannot make its chain share another's slot (which would cost evictions,
// never a wrong answer: a hit compares the bytes).
var seed = maphash.MakeSeed()

// cacheKey hashes the chain with each certificate's length, so two chains
// that split the same bytes differently never share a slot. ok is false for
// a chain too large to cache.
func (v *Verifier) cacheKey(chain [][]byte, serverName string) (k cacheKey, ok bool) {
	total := 0
	for _, der := range chain {
		total += len(der)
	}
	if total > MaxCachedChainBytes {
		return k, false
	}
	var h maphash.Hash
	h.SetSeed(seed)
	var n [4]byte
	for _, der := range chain {
		binary.BigEndian.PutUint32(n[:], uint32(len(der)))
		h.Write(n[:])
		h.Write(der)
	}
	k.chain = h.Sum64()
	k.roots = v.Roots
	k.name = serverName
	k.minRSABits = v.minRSABits()
	k.profile = v.Profile
	if len(v.Pins) > 0 {
		b := make([]byte, 0, len(v.Pins)*len(Pin{}))
		for _, p := range v.Pins {
			b = append(b, p[:]...)
		}
		k.pins = string(b)
	}
	return k, true
}

// get returns a copy of the verified chain of an entry for k whose chain is
// chain and whose window holds now.
func (c *VerifyCache) get(k cacheKey, chain [][]byte, now time.Time) []*x509.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		c.misses++
		return nil
	}
	if now.After(e.notAfter) {
		delete(c.entries, k)
		c.misses++
		return nil
	}
	if now.Before(e.notBefore) || !slices.EqualFunc(e.chain, chain, bytes.Equal) {
		c.misses++
		return nil
	}
	c.hits++
	return slices.Clone(e.verified)
}

func cloneChain(chain [][]byte) [][]byte {
	out := make([][]byte, len(chain))
	for i, der := range chain {
		out[i] = bytes.Clone(der)
	}
	return out
}

// put remembers that chain verified as verified at now. chain is the
// cache's own copy, which presented and verified were parsed from.
func (c *VerifyCache) put(k cacheKey, chain [][]byte, presented, verified []*x509.Certificate, now time.Time) {
	if len(verified) == 0 {
		return
	}
	e := &cacheEntry{verified: slices.Clone(verified), notBefore: verified[0].NotBefore, notAfter: verified[0].NotAfter}
	for _, cert := range verified[1:] {
		if cert.NotBefore.After(e.notBefore) {
			e.notBefore = cert.NotBefore
		}
		if cert.NotAfter.Before(e.notAfter) {
			e.notAfter = cert.NotAfter
		}
	}
	for _, cert := range presented {
		if cert.NotBefore.After(now) && cert.NotBefore.Before(e.notAfter) {
			e.notAfter = cert.NotBefore.Add(-time.Nanosecond)
		}
	}
	if now.Before(e.notBefore) || now.After(e.notAfter) {
		return // cannot happen for a path x509 just validated at now
	}
	e.chain = chain

	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[k] = e
}

// evict removes the expired entries, or one arbitrary entry if none is.
func (c *VerifyCache) evict(now time.Time) {
	for k, e := range c.entries {
		if now.After(e.notAfter) {
			delete(c.entries, k)
		}
	}
	if len(c.entries) < c.max {
		return
	}
	for k := range c.entries {
		delete(c.entries, k)
		return
	}
}
