package client

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"

	"github.com/tlsoffload/tlsoffload/internal/ascii"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
	"github.com/tlsoffload/tlsoffload/tlsclient"
)

// startCache keeps a Client's Start answers for their TTL, so that a
// device asks its offloader at most once per TTL what it may offer a
// server (and a resumed handshake makes no round trip at all).
//
// Entries are keyed by the server name (case-folded) and a digest of the
// lists offered: another offer gets its own answer. The cache holds at most
// max entries; adding one more evicts the oldest. An answer with a zero TTL
// is not kept. Locking: mu guards entries and seq, and is held for map
// work only.
type startCache struct {
	max int

	mu      sync.Mutex
	entries map[startKey]*startEntry
	seq     uint64 // insertion counter, to find the oldest
}

// startCacheSize bounds a Client's cache: a device talks to few servers.
const startCacheSize = 128

type startKey struct {
	name   string
	offers [sha256.Size]byte
}

type startEntry struct {
	allowed tlsclient.Offer
	expires time.Time
	seq     uint64
}

// newStartCache returns a cache of at most max answers (0: startCacheSize),
// or nil, which keeps none, for a negative max.
func newStartCache(max int) *startCache {
	switch {
	case max < 0:
		return nil
	case max == 0:
		max = startCacheSize
	}
	return &startCache{max: max, entries: make(map[startKey]*startEntry)}
}

func cacheKey(req *wire.StartRequest) startKey {
	h := sha256.New()
	var b [2]byte
	for _, l := range [][]uint16{req.Versions, req.CipherSuites, req.Groups, req.SignatureAlgorithms} {
		binary.BigEndian.PutUint16(b[:], uint16(len(l)))
		h.Write(b[:])
		for _, v := range l {
			binary.BigEndian.PutUint16(b[:], v)
			h.Write(b[:])
		}
	}
	k := startKey{name: ascii.ToLower(req.ServerName)}
	h.Sum(k.offers[:0])
	return k
}

func (sc *startCache) get(k startKey, now time.Time) (tlsclient.Offer, bool) {
	if sc == nil {
		return tlsclient.Offer{}, false
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	e, ok := sc.entries[k]
	if !ok {
		return tlsclient.Offer{}, false
	}
	if !now.Before(e.expires) {
		delete(sc.entries, k)
		return tlsclient.Offer{}, false
	}
	return e.allowed, true
}

func (sc *startCache) put(k startKey, allowed tlsclient.Offer, expires time.Time) {
	if sc == nil {
		return
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if _, ok := sc.entries[k]; !ok && len(sc.entries) >= sc.max {
		var oldest startKey
		oldSeq := ^uint64(0)
		for key, e := range sc.entries {
			if e.seq < oldSeq {
				oldest, oldSeq = key, e.seq
			}
		}
		delete(sc.entries, oldest)
	}
	sc.seq++
	sc.entries[k] = &startEntry{allowed: allowed, expires: expires, seq: sc.seq}
}

func (sc *startCache) len() int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return len(sc.entries)
}
