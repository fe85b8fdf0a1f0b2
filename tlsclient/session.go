package tlsclient

import (
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"sync"
	"time"

	"github.com/tlsoffload/tlsoffload/internal/ascii"
)

// ClientSession is a TLS 1.2 session a later connection may resume
// (RFC 5246 §7.3 session IDs, RFC 5077 tickets): what the full handshake
// negotiated and the master secret, which is all an abbreviated handshake
// needs. The server's chain and the chain the offloader verified are kept
// so ConnectionState reports them on a resumed connection.
//
// A ClientSession is made by the handshake and read only by it; its fields
// are unexported because its master secret must not leak into logs or
// errors. A cache may keep the pointer it is given; the handshake never
// changes a session after putting it.
type ClientSession struct {
	// Negotiated by the full handshake.
	version uint16
	suite   uint16
	curve   uint16 // ECDHE group of the full handshake, 0 for RSA
	master  []byte // 48 bytes
	ems     bool   // RFC 7627: the master secret is the extended one
	alpn    string
	maxFrag uint8 // RFC 6066 max_fragment_length code the server echoed, 0 if none

	// How to resume: a ticket (RFC 5077), or the server's session id.
	sessionID []byte
	ticket    []byte

	// The server as it was verified by the offloader's Auth.
	chain         [][]byte
	verifiedChain [][]byte

	created time.Time // of the master secret (a renewed ticket keeps it)
	expires time.Time // created + SessionTTL, capped by the ticket lifetime hint
}

// Expires reports when the session stops being offered.
func (s *ClientSession) Expires() time.Time { return s.expires }

// HasTicket reports whether the session resumes by ticket rather than by
// session id.
func (s *ClientSession) HasTicket() bool { return len(s.ticket) > 0 }

// clone copies s with a master secret of its own, so one copy can be
// zeroed without disturbing the other.
func (s *ClientSession) clone() *ClientSession {
	c := *s
	c.master = append([]byte(nil), s.master...)
	return &c
}

// zero clears the master secret in place.
func (s *ClientSession) zero() { clear(s.master) }

// ClientSessionCache holds sessions by key for resumption. Keys are made
// by the client from the server name and a digest of everything that
// shaped the session (versions and suites offered, groups, signature
// algorithms, the offloader's Start answer), so a policy change never
// resumes an old session. Put with a nil session removes the key.
// Implementations must be safe for concurrent use.
type ClientSessionCache interface {
	Get(key string) (*ClientSession, bool)
	Put(key string, s *ClientSession)
}

// LRUSessionCache is a ClientSessionCache holding at most a fixed number of
// sessions; adding one more evicts the least recently used. An evicted,
// replaced or removed session has its master secret zeroed, so Get returns
// copies: a handshake never sees a session zeroed under it.
//
// Locking: mu guards the list and the map; no call runs outside it.
type LRUSessionCache struct {
	capacity int

	mu    sync.Mutex
	order *list.List               // front: most recently used; values *lruEntry
	byKey map[string]*list.Element // key -> element of order
}

type lruEntry struct {
	key     string
	session *ClientSession
}

// NewLRUSessionCache returns an empty cache of the given capacity (at least 1).
func NewLRUSessionCache(capacity int) *LRUSessionCache {
	if capacity < 1 {
		capacity = 1
	}
	return &LRUSessionCache{capacity: capacity, order: list.New(), byKey: make(map[string]*list.Element)}
}

// Get returns a copy of the session under key and marks it recently used.
func (c *LRUSessionCache) Get(key string) (*ClientSession, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*lruEntry).session.clone(), true
}

// Put stores s under key (nil s removes the key), evicting the least
// recently used session when full. The cache owns s from then on: it
// zeroes its master secret when it is evicted, replaced or removed.
func (c *LRUSessionCache) Put(key string, s *ClientSession) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		e := el.Value.(*lruEntry)
		if e.session != s {
			e.session.zero()
		}
		if s == nil {
			c.order.Remove(el)
			delete(c.byKey, key)
			return
		}
		e.session = s
		c.order.MoveToFront(el)
		return
	}
	if s == nil {
		return
	}
	if c.order.Len() >= c.capacity {
		oldest := c.order.Back()
		e := oldest.Value.(*lruEntry)
		e.session.zero()
		c.order.Remove(oldest)
		delete(c.byKey, e.key)
	}
	c.byKey[key] = c.order.PushFront(&lruEntry{key: key, session: s})
}

// Len reports how many sessions the cache holds.
func (c *LRUSessionCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// DefaultSessionTTL is how long a session is offered when
// Config.SessionTTL is zero (RFC 5246 §F.1.4 suggests at most 24 hours).
const DefaultSessionTTL = 24 * time.Hour

func (c *Config) sessionTTL() time.Duration {
	if c.SessionTTL > 0 {
		return c.SessionTTL
	}
	return DefaultSessionTTL
}

// sessionKey is the cache key of a handshake: the server name, then a
// digest of the parameters the ClientHello offers (versions, suites, groups
// and signature algorithms: the Config's lists intersected with the
// offloader's Start answer), the ALPN
// list and the max_fragment_length setting. Any change to one of them
// makes a new key, so the old session is never offered under the new
// policy.
func (hs *clientHandshakeState) sessionKey() string {
	h := sha256.New()
	put16s := func(l []uint16) {
		var b [2]byte
		binary.BigEndian.PutUint16(b[:], uint16(len(l)))
		h.Write(b[:])
		for _, v := range l {
			binary.BigEndian.PutUint16(b[:], v)
			h.Write(b[:])
		}
	}
	put16s(hs.params.Versions)
	put16s(hs.params.CipherSuites)
	put16s(hs.params.Groups)
	put16s(hs.params.SignatureAlgorithms)
	for _, p := range hs.config.NextProtos {
		h.Write([]byte{byte(len(p))})
		h.Write([]byte(p))
	}
	h.Write([]byte{0, byte(hs.config.MaxFragmentLength >> 8), byte(hs.config.MaxFragmentLength)})
	return ascii.ToLower(verifyName(hs.serverName)) + " " + hex.EncodeToString(h.Sum(nil))
}
