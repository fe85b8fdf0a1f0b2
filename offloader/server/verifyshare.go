package server

import (
	"container/list"
	"sync"

	"github.com/tlsoffload/tlsoffload/certs"
)

// The verified-chain cache is shared fairly per device (issue 10): one
// shared cache let one device, by making handshakes with many servers its
// roots vouch for, evict every other device's entries. Each device gets a
// certs.VerifyCache of its own, of perDevice entries (VerifyCacheSize/16,
// at least 8), so a device churns only its own; at most maxDevices such
// caches are kept (4 × VerifyCacheSize / perDevice: the 64 devices most
// recently verifying with the defaults), the least recently used device's
// cache giving way. The whole holds at most 4 × VerifyCacheSize chains of
// public data.
//
// Locking: mu guards the LRU list and its index; each VerifyCache locks
// itself.
type deviceVerifyCaches struct {
	perDevice, maxDevices int

	mu    sync.Mutex
	lru   *list.List // of *deviceVerifyCache, most recent first
	index map[string]*list.Element
	// gone sums the hits and misses of evicted device caches, so that
	// Stats' counters never go back.
	gone certs.CacheStats
}

type deviceVerifyCache struct {
	id    string
	cache *certs.VerifyCache
}

// newDeviceVerifyCaches follows Config.VerifyCacheSize: negative, nil
// (no cache); 0, certs.DefaultVerifyCacheSize.
func newDeviceVerifyCaches(size int) *deviceVerifyCaches {
	if size < 0 {
		return nil
	}
	if size == 0 {
		size = certs.DefaultVerifyCacheSize
	}
	per := max(8, size/16)
	return &deviceVerifyCaches{perDevice: per, maxDevices: max(1, 4*size/per), lru: list.New(), index: make(map[string]*list.Element)}
}

// forDevice returns the device's cache (nil on a nil receiver: none).
func (c *deviceVerifyCaches) forDevice(id string) *certs.VerifyCache {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.index[id]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*deviceVerifyCache).cache
	}
	if c.lru.Len() >= c.maxDevices {
		old := c.lru.Back()
		st := old.Value.(*deviceVerifyCache).cache.Stats()
		c.gone.Hits += st.Hits
		c.gone.Misses += st.Misses
		c.lru.Remove(old)
		delete(c.index, old.Value.(*deviceVerifyCache).id)
	}
	d := &deviceVerifyCache{id: id, cache: certs.NewVerifyCache(c.perDevice)}
	c.index[id] = c.lru.PushFront(d)
	return d.cache
}

// Len returns the number of chains held across devices.
func (c *deviceVerifyCaches) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for e := c.lru.Front(); e != nil; e = e.Next() {
		n += e.Value.(*deviceVerifyCache).cache.Len()
	}
	return n
}

// Stats sums the device caches: the chains held now, the bound across
// devices, and every hit and miss since the server started, evicted
// devices' included.
func (c *deviceVerifyCaches) Stats() certs.CacheStats {
	if c == nil {
		return certs.CacheStats{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st := certs.CacheStats{Max: c.perDevice * c.maxDevices, Hits: c.gone.Hits, Misses: c.gone.Misses}
	for e := c.lru.Front(); e != nil; e = e.Next() {
		d := e.Value.(*deviceVerifyCache).cache.Stats()
		st.Entries += d.Entries
		st.Hits += d.Hits
		st.Misses += d.Misses
	}
	return st
}
