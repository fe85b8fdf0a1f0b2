package tlsclient

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// Offloader is the device's seam to its offloader: every public-key
// operation of a handshake goes through Do. offloader/client.Client
// implements it over the PSK channel; tests may use an in-process
// implementation (offloader/server.Local).
type Offloader interface {
	Do(ctx context.Context, f *wire.Flight) (*wire.FlightResponse, error)
}

// Config configures a client. A Config may be shared by many connections
// and must not be modified after first use.
type Config struct {
	// Offloader does the public-key work. Required.
	Offloader Offloader

	// ServerName is sent in SNI and is the name the offloader verifies the
	// certificate for. SNI is sent only for DNS names, never IP literals.
	ServerName string

	// CipherSuites, in preference order; nil means the default list
	// (handshake.Suites). Only suites of the table are accepted.
	CipherSuites []uint16
	// Groups for ECDHE, in preference order; nil: X25519, P-256, P-384.
	Groups []uint16
	// SignatureAlgorithms offered; nil: the default list.
	SignatureAlgorithms []uint16
	// MinVersion and MaxVersion bound the versions offered: TLS 1.0
	// (0x0301) to TLS 1.2 (0x0303); zero means TLS 1.2 for both, so TLS
	// 1.0 and 1.1 are off unless MinVersion lowers it (RFC 8996), and the
	// device's policy on the offloader must allow them too. See versions.go.
	MinVersion, MaxVersion uint16

	// NextProtos is the ALPN list, e.g. {"h2", "http/1.1"}.
	NextProtos []string

	// Sequential makes the handshake send Auth, KeyGen and Key one at a
	// time (the patent's sequence) instead of one pipelined flight.
	Sequential bool

	// StartCache holds Start answers by server name; nil means a cache
	// private to this Config (made on first use).
	StartCache *StartCache

	// Rand is the source of client randoms and handshake ids; nil means
	// crypto/rand.
	Rand io.Reader
	// Time returns the current time; nil means time.Now.
	Time func() time.Time

	// Trace, when set, receives a line for each handshake step and each
	// offloader call with its duration (ocurl -v prints them).
	Trace func(format string, args ...any)

	// ShapeClientHello, when set, may rewrite the ClientHello before it is
	// sent (reorder or add extensions, e.g. from a uTLS spec). The client
	// still checks the ServerHello against what was actually sent.
	ShapeClientHello func(*handshake.ClientHello) error

	// SessionCache keeps sessions for resumption (session ids and RFC
	// 5077 tickets): a resumed handshake makes no offloader call. Nil
	// means no resumption. See session.go and resume.go.
	SessionCache ClientSessionCache
	// SessionTTL bounds how long a session is offered after its full
	// handshake; zero means DefaultSessionTTL (24h). A ticket's lifetime
	// hint shortens it.
	SessionTTL time.Duration
	// ResumeWithoutEMS also keeps and offers sessions whose master secret
	// is not the extended one (RFC 7627 §5.3 says a client SHOULD NOT:
	// such a resumption is open to the triple-handshake attack). For
	// legacy servers only.
	ResumeWithoutEMS bool

	// MaxFragmentLength, when set, offers RFC 6066 max_fragment_length:
	// 512, 1024, 2048 or 4096 (anything else is a Config error). If the
	// server echoes it, records both ways carry at most that much
	// plaintext and the record buffers stay that small; see mfl.go.
	MaxFragmentLength int
	// RequireMaxFragmentLength fails the handshake with
	// *MaxFragmentLengthError when the server does not echo it.
	RequireMaxFragmentLength bool

	// privateCache is the cache made on first use when StartCache is nil;
	// guarded by privateCacheMu (a Config must stay copyable).
	privateCache *StartCache
}

// privateCacheMu guards Config.privateCache of every Config: it is held for
// a pointer check only.
var privateCacheMu sync.Mutex

// defaultStartCacheSize bounds a cache made on first use.
const defaultStartCacheSize = 128

func (c *Config) rand() io.Reader {
	if c.Rand != nil {
		return c.Rand
	}
	return rand.Reader
}

func (c *Config) now() time.Time {
	if c.Time != nil {
		return c.Time()
	}
	return time.Now()
}

func (c *Config) trace(format string, args ...any) {
	if c.Trace != nil {
		c.Trace(format, args...)
	}
}

func (c *Config) startCache() *StartCache {
	if c.StartCache != nil {
		return c.StartCache
	}
	privateCacheMu.Lock()
	defer privateCacheMu.Unlock()
	if c.privateCache == nil {
		c.privateCache = NewStartCache(defaultStartCacheSize)
	}
	return c.privateCache
}

func (c *Config) cipherSuites() ([]uint16, error) {
	if c.CipherSuites == nil {
		ids := make([]uint16, 0, len(handshake.Suites))
		for _, s := range handshake.Suites {
			ids = append(ids, s.ID)
		}
		return ids, nil
	}
	for _, id := range c.CipherSuites {
		if handshake.SuiteByID(id) == nil {
			return nil, fmt.Errorf("tlsclient: Config.CipherSuites: suite %#04x is not implemented", id)
		}
	}
	if len(c.CipherSuites) == 0 {
		return nil, errors.New("tlsclient: Config.CipherSuites is empty")
	}
	return c.CipherSuites, nil
}

func (c *Config) groups() []uint16 {
	if c.Groups != nil {
		return c.Groups
	}
	return handshake.DefaultGroups
}

func (c *Config) signatureAlgorithms() []uint16 {
	if c.SignatureAlgorithms != nil {
		return c.SignatureAlgorithms
	}
	return handshake.DefaultSignatureAlgorithms
}

// startRequest builds the Start request for serverName from the Config,
// checking the Config on the way.
func (c *Config) startRequest(serverName string) (*wire.StartRequest, error) {
	if c.Offloader == nil {
		return nil, errors.New("tlsclient: Config.Offloader is required")
	}
	if serverName == "" {
		return nil, errors.New("tlsclient: Config.ServerName is required (an IP literal for an IP address target)")
	}
	if len(serverName) > wire.MaxServerName {
		return nil, errors.New("tlsclient: Config.ServerName is too long")
	}
	versions, err := c.versions()
	if err != nil {
		return nil, err
	}
	if _, err := c.maxFragmentCode(); err != nil {
		return nil, err
	}
	suites, err := c.cipherSuites()
	if err != nil {
		return nil, err
	}
	if suites = suitesForVersions(suites, versions); len(suites) == 0 {
		return nil, fmt.Errorf("tlsclient: Config.CipherSuites: no suite allowed in %s", versionNames(versions))
	}
	for _, l := range [][]uint16{suites, c.groups(), c.signatureAlgorithms()} {
		if len(l) > wire.MaxListLen {
			return nil, fmt.Errorf("tlsclient: Config lists at most %d entries", wire.MaxListLen)
		}
	}
	return &wire.StartRequest{
		ServerName:          serverName,
		Versions:            versions,
		CipherSuites:        suites,
		Groups:              c.groups(),
		SignatureAlgorithms: c.signatureAlgorithms(),
	}, nil
}

// verifyName is the name the offloader verifies: the server name without a
// trailing dot (an IP literal unchanged).
func verifyName(serverName string) string {
	return strings.TrimSuffix(serverName, ".")
}

// sniName is the name sent in server_name: empty for an IP literal (RFC
// 6066 §3 allows DNS host names only), without a trailing dot otherwise.
func sniName(serverName string) string {
	name := verifyName(serverName)
	if net.ParseIP(strings.Trim(name, "[]")) != nil {
		return ""
	}
	return name
}

// StartCache caches Start answers per server name for their TTL. It is safe
// for concurrent use.
//
// Entries are keyed by the server name and a hash of the lists offered (a
// Config offering other suites gets its own answer). The cache holds at
// most max entries; adding one more evicts the oldest.
type StartCache struct {
	max int

	mu      sync.Mutex
	entries map[startKey]*startEntry
	seq     uint64 // insertion counter, to find the oldest
}

type startKey struct {
	name   string
	offers [32]byte
}

type startEntry struct {
	resp    *wire.StartResponse
	expires time.Time
	seq     uint64
}

// NewStartCache returns an empty cache holding at most max names.
func NewStartCache(max int) *StartCache {
	if max < 1 {
		max = 1
	}
	return &StartCache{max: max, entries: make(map[startKey]*startEntry)}
}

func keyOf(req *wire.StartRequest) startKey {
	h := sha256.New()
	for _, l := range [][]uint16{req.Versions, req.CipherSuites, req.Groups, req.SignatureAlgorithms} {
		var b [2]byte
		binary.BigEndian.PutUint16(b[:], uint16(len(l)))
		h.Write(b[:])
		for _, v := range l {
			binary.BigEndian.PutUint16(b[:], v)
			h.Write(b[:])
		}
	}
	k := startKey{name: strings.ToLower(req.ServerName)}
	h.Sum(k.offers[:0])
	return k
}

func (sc *StartCache) get(req *wire.StartRequest, now time.Time) *wire.StartResponse {
	k := keyOf(req)
	sc.mu.Lock()
	defer sc.mu.Unlock()
	e, ok := sc.entries[k]
	if !ok {
		return nil
	}
	if !now.Before(e.expires) {
		delete(sc.entries, k)
		return nil
	}
	return e.resp
}

func (sc *StartCache) put(req *wire.StartRequest, resp *wire.StartResponse, now time.Time) {
	if resp.TTL <= 0 {
		return
	}
	k := keyOf(req)
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if _, ok := sc.entries[k]; !ok && len(sc.entries) >= sc.max {
		var oldest startKey
		first := true
		var oldSeq uint64
		for key, e := range sc.entries {
			if first || e.seq < oldSeq {
				oldest, oldSeq, first = key, e.seq, false
			}
		}
		delete(sc.entries, oldest)
	}
	sc.seq++
	sc.entries[k] = &startEntry{resp: resp, expires: now.Add(resp.TTL), seq: sc.seq}
}

// Len reports how many answers the cache holds (expired ones included
// until looked up).
func (sc *StartCache) Len() int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return len(sc.entries)
}

// startParams are the parameters a ClientHello may offer: the Start answer
// intersected with the Config's lists, in the Config's (device) order.
type startParams struct {
	versions                []uint16 // highest first
	suites, groups, sigAlgs []uint16
}

// start returns the ClientHello parameters for serverName: from the cache,
// or from one Start call to the offloader.
func (c *Config) start(ctx context.Context, serverName string) (*startParams, error) {
	req, err := c.startRequest(verifyName(serverName))
	if err != nil {
		return nil, err
	}
	cache := c.startCache()
	if resp := cache.get(req, c.now()); resp != nil {
		c.trace("offloader: start for %q from cache", req.ServerName)
		return paramsFrom(req, resp)
	}
	var hid [16]byte
	if _, err := io.ReadFull(c.rand(), hid[:]); err != nil {
		return nil, fmt.Errorf("tlsclient: reading random: %w", err)
	}
	f := &wire.Flight{
		ID:          flightID(hid),
		HandshakeID: hid,
		Requests:    []wire.Request{{Op: wire.OpStart, Start: req}},
	}
	t0 := time.Now()
	fr, err := c.Offloader.Do(ctx, f)
	c.trace("offloader: start in 1 round trip, %s", roundDuration(time.Since(t0)))
	if err != nil {
		return nil, &OffloaderError{Op: "start", Err: err}
	}
	res, err := checkResults(f, fr)
	if err != nil {
		return nil, err
	}
	if res[0].Err != nil {
		return nil, &OffloaderError{Op: "start", Err: res[0].Err}
	}
	resp := res[0].Start
	p, err := paramsFrom(req, resp)
	if err != nil {
		return nil, err
	}
	cache.put(req, resp, c.now())
	return p, nil
}

// paramsFrom intersects a Start answer with the request, keeping the
// request's order, and checks something usable is left.
func paramsFrom(req *wire.StartRequest, resp *wire.StartResponse) (*startParams, error) {
	p := &startParams{
		versions: intersect(req.Versions, resp.Versions),
		suites:   intersect(req.CipherSuites, resp.CipherSuites),
		groups:   intersect(req.Groups, resp.Groups),
		sigAlgs:  intersect(req.SignatureAlgorithms, resp.SignatureAlgorithms),
	}
	if len(p.versions) == 0 {
		return nil, &OffloaderError{Op: "start", Err: fmt.Errorf("none of %s allowed for this server", versionNames(req.Versions))}
	}
	if len(p.suites) == 0 {
		return nil, &OffloaderError{Op: "start", Err: errors.New("no cipher suite allowed for this server")}
	}
	if len(p.sigAlgs) == 0 {
		return nil, &OffloaderError{Op: "start", Err: errors.New("no signature algorithm allowed for this server")}
	}
	return p, nil
}

func intersect(want, allowed []uint16) []uint16 {
	var out []uint16
	for _, v := range want {
		if contains(allowed, v) && !contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func contains[T comparable](l []T, v T) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

func flightID(hid [16]byte) uint32 { return binary.BigEndian.Uint32(hid[:4]) }

func roundDuration(d time.Duration) time.Duration {
	if d > time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d
}

// checkResults checks a FlightResponse answers f: one result per request,
// in order, each failed or with the body of its op.
func checkResults(f *wire.Flight, fr *wire.FlightResponse) ([]wire.Result, error) {
	op := "flight"
	if len(f.Requests) == 1 {
		op = f.Requests[0].Op.String()
	}
	if fr == nil {
		return nil, &OffloaderError{Op: op, Err: errors.New("empty response")}
	}
	if len(fr.Results) != len(f.Requests) {
		return nil, &OffloaderError{Op: op, Err: fmt.Errorf("%d results for %d requests", len(fr.Results), len(f.Requests))}
	}
	for i, r := range fr.Results {
		want := f.Requests[i].Op
		if r.Op != want {
			return nil, &OffloaderError{Op: op, Err: fmt.Errorf("result %d is for %s, want %s", i, r.Op, want)}
		}
		if r.Err != nil {
			continue
		}
		var ok bool
		switch want {
		case wire.OpStart:
			ok = r.Start != nil
		case wire.OpAuth:
			ok = r.Auth != nil
		case wire.OpKeyGen:
			ok = r.KeyGen != nil
		case wire.OpKey:
			ok = r.Key != nil
		}
		if !ok {
			return nil, &OffloaderError{Op: want.String(), Err: errors.New("result without a body")}
		}
	}
	return fr.Results, nil
}
