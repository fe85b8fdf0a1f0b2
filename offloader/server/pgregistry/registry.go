// Package pgregistry is the offloader's fleet registry on PostgreSQL
// (issue 13): devices, their policies and trust-root bundles in one
// database shared by every replica, with the secrets sealed under a
// key-encryption key only the replicas hold (seal.go). A policy holds
// what devices share, their negotiation policy included (schema version
// 3); a replica hands the server a server.Device filled from the device's
// row and its policy's, validated by server.PrepareDevice, so the YAML and
// PostgreSQL registries are enforced by the same code. Open refuses a KEK
// that is not the database's (kekcheck.go).
//
// A Registry is one replica's view, a server.DeviceSource. Lookups are
// served from a bounded cache with a TTL; a cached device never waits on
// the database (a stale entry is refreshed in the background, and kept
// while the database is down). A device not cached is read from the
// database with a deadline; when the database cannot answer it is refused
// with a logged, counted reason. A dedicated connection LISTENs on
// tlsoffload_registry: a changed or revoked device's entry is dropped and
// OnChange is told (the daemon closes its channels); after that connection
// is lost and made again, the cache is checked against the database
// (resync), making good any notification missed meanwhile.
//
// Only cmd/offloader links this package (and pgx): never ocurl or a device.
package pgregistry

import (
	"container/list"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/server"
)

// notifyChannel is the LISTEN/NOTIFY channel the schema's triggers use.
const notifyChannel = "tlsoffload_registry"

// Config configures a replica's Registry.
type Config struct {
	DSN string
	KEK *KEK
	// PreviousKEK, when set, opens the secrets KEK does not: the old key
	// while a rotation (Admin.Rekey) re-seals them under KEK.
	PreviousKEK *KEK
	// CacheSize bounds the devices cached (0: 200000); CacheTTL is how long
	// an entry is used before it is refreshed in the background (0: 5m).
	CacheSize int
	CacheTTL  time.Duration
	// LookupTimeout bounds reading a device that is not cached (0: 2s).
	LookupTimeout time.Duration
	// MaxConns bounds the pool's connections (0: 8).
	MaxConns int32
	// OnChange is told the id of each device whose entry changed or was
	// revoked, to close its live channels. It must not block for long.
	OnChange func(id string)
	Logger   *slog.Logger // nil: slog.Default()
}

// Stats are a replica's counters.
type Stats struct {
	Cached        int    // entries in the cache (devices and known-unknown ids)
	Hits, Misses  uint64 // lookups answered from the cache, or not
	Unavailable   uint64 // lookups refused because the database could not answer
	Unusable      uint64 // lookups refused because the entry read could not be used (ErrUnusable)
	Notifications uint64 // changes received over LISTEN
	Resyncs       uint64 // full checks after (re)connecting the listener
	Listening     bool   // the LISTEN connection is up
}

// Registry is one replica's view of the fleet.
//
// Locking: mu guards the cache (map, LRU list) and gen, which every
// invalidation bumps, so that a database read that began before an
// invalidation does not put its (maybe stale) answer into the cache.
// Database reads happen outside mu; fetches of one id are coalesced
// (flights). Counters are atomics.
type Registry struct {
	cfg  Config
	log  *slog.Logger
	pool *pgxpool.Pool

	mu      sync.Mutex
	entries map[string]*entry
	lru     *list.List // of *entry, most recent first
	gen     uint64
	flights map[string]*flight
	roots   map[[sha256.Size]byte]*x509.CertPool
	crls    map[[sha256.Size]byte]*certs.CRLSet
	// negatives counts the cached answers for unknown or revoked ids, at
	// most CacheSize/8: ids a client makes up cannot evict the fleet.
	negatives int

	hits, misses, unavailable, unusable, notifications, resyncs atomic.Uint64
	listening                                                   atomic.Bool

	cancel context.CancelFunc
	done   chan struct{}
}

// entry is a cached answer: a device, or (dev nil) an unknown or revoked id.
type entry struct {
	id            string
	dev           *server.Device
	policy        string
	version       int64
	policyVersion int64
	fetched       time.Time
	refreshing    bool
	elem          *list.Element
}

type flight struct {
	done chan struct{}
	dev  *server.Device
	err  error
}

// Open connects to the database, checks its schema and the KEK (ErrKEKMismatch
// when neither KEK nor PreviousKEK is the database's) and starts listening
// for changes. Close stops it.
func Open(ctx context.Context, cfg Config) (*Registry, error) {
	if cfg.KEK == nil {
		return nil, errors.New("pgregistry: config: KEK is required")
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = 200000
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = 5 * time.Minute
	}
	if cfg.LookupTimeout == 0 {
		cfg.LookupTimeout = 2 * time.Second
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 8
	}
	if cfg.CacheSize < 0 || cfg.CacheTTL < 0 || cfg.LookupTimeout < 0 || cfg.MaxConns < 0 {
		return nil, errors.New("pgregistry: config: negative bound")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	pool, err := NewPool(ctx, cfg.DSN, cfg.MaxConns)
	if err != nil {
		return nil, err
	}
	if err := checkSchema(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	// A wrong KEK is refused here, once and by name, rather than on every
	// device (where it would look like a broken entry).
	_, verdict, err := checkKEK(ctx, pool, cfg.KEK, cfg.PreviousKEK)
	if err != nil {
		pool.Close()
		return nil, err
	}
	if verdict == kekUnprovable {
		cfg.Logger.Warn("pgregistry: the database has no KEK check value and no device: the KEK is not checked; 'offloader migrate' stores one")
	}
	lctx, cancel := context.WithCancel(context.Background())
	r := &Registry{
		cfg: cfg, log: cfg.Logger, pool: pool,
		entries: make(map[string]*entry), lru: list.New(),
		flights: make(map[string]*flight), roots: make(map[[sha256.Size]byte]*x509.CertPool),
		crls:   make(map[[sha256.Size]byte]*certs.CRLSet),
		cancel: cancel, done: make(chan struct{}),
	}
	ready := make(chan struct{})
	go r.listen(lctx, ready)
	select { // wait for the first LISTEN, so no change is missed after Open
	case <-ready:
	case <-ctx.Done():
		r.Close()
		return nil, ctx.Err()
	}
	return r, nil
}

// NewPool opens a connection pool on dsn (a libpq connection string or
// URL), checking that the database answers.
func NewPool(ctx context.Context, dsn string, maxConns int32) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgregistry: dsn: %s", redact(err)) // may quote the password
	}
	if maxConns > 0 {
		pc.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("pgregistry: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgregistry: connecting: %w", err)
	}
	return pool, nil
}

// redact words a DSN parse error without the DSN.
func redact(err error) string {
	s := err.Error()
	if i := strings.Index(s, "cannot parse"); i >= 0 {
		return "cannot parse the connection string"
	}
	return s
}

// Pool is the registry's connection pool (for Admin in the same process).
func (r *Registry) Pool() *pgxpool.Pool { return r.pool }

// Close stops listening and closes the pool.
func (r *Registry) Close() {
	r.cancel()
	<-r.done
	r.pool.Close()
}

// Stats returns the replica's counters.
func (r *Registry) Stats() Stats {
	r.mu.Lock()
	n := len(r.entries)
	r.mu.Unlock()
	return Stats{
		Cached: n, Hits: r.hits.Load(), Misses: r.misses.Load(), Unavailable: r.unavailable.Load(), Unusable: r.unusable.Load(),
		Notifications: r.notifications.Load(), Resyncs: r.resyncs.Load(), Listening: r.listening.Load(),
	}
}

// ErrUnavailable wraps the database's failure for a device not cached.
var ErrUnavailable = errors.New("pgregistry: device not cached and the database is unavailable")

// ErrUnusable wraps why an entry the database returned cannot be served:
// its secrets do not open under the KEK (ErrSealed: a wrong KEK, or a
// tampered row) or it does not validate (server.ErrInvalidDevice). It is
// not the database being unavailable, and is not logged or counted as such.
var ErrUnusable = errors.New("pgregistry: device entry cannot be used")

// dbError marks a failure of the database itself (no answer, a timeout),
// as opposed to what fetch found wrong in an answer.
type dbError struct{ err error }

func (e *dbError) Error() string { return e.err.Error() }
func (e *dbError) Unwrap() error { return e.err }

// LookupDevice implements server.DeviceSource.
func (r *Registry) LookupDevice(id string) (*server.Device, error) {
	r.mu.Lock()
	if e, ok := r.entries[id]; ok {
		r.lru.MoveToFront(e.elem)
		if !e.refreshing && time.Since(e.fetched) > r.cfg.CacheTTL {
			e.refreshing = true
			go r.refresh(id)
		}
		dev := e.dev
		r.mu.Unlock()
		r.hits.Add(1)
		if dev == nil {
			return nil, server.ErrUnknownDevice
		}
		return dev, nil
	}
	r.mu.Unlock()
	r.misses.Add(1)
	dev, err := r.fetchCoalesced(id)
	var dbe *dbError
	switch {
	case err == nil, errors.Is(err, server.ErrUnknownDevice):
		return dev, err
	case errors.As(err, &dbe):
		r.unavailable.Add(1)
		r.log.Warn("pgregistry: device refused: not cached and the database is unavailable", "device", id, "err", err)
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	r.unusable.Add(1)
	r.log.Warn("pgregistry: device refused: its registry entry cannot be used", "device", id, "err", err)
	return nil, fmt.Errorf("%w: %w", ErrUnusable, err)
}

// fetchCoalesced reads id from the database once for all callers waiting
// on it, and caches the answer.
func (r *Registry) fetchCoalesced(id string) (*server.Device, error) {
	r.mu.Lock()
	if f, ok := r.flights[id]; ok {
		r.mu.Unlock()
		<-f.done
		return f.dev, f.err
	}
	f := &flight{done: make(chan struct{})}
	r.flights[id] = f
	gen := r.gen
	r.mu.Unlock()

	e, err := r.fetch(id)
	r.mu.Lock()
	delete(r.flights, id)
	if err == nil && r.gen == gen {
		r.put(e)
	}
	r.mu.Unlock()
	switch {
	case err != nil:
		f.err = err
	case e.dev == nil:
		f.err = server.ErrUnknownDevice
	default:
		f.dev = e.dev
	}
	close(f.done)
	return f.dev, f.err
}

// refresh re-reads a stale entry in the background; while the database is
// down the entry is kept, and tried again after another TTL.
func (r *Registry) refresh(id string) {
	r.mu.Lock()
	gen := r.gen
	r.mu.Unlock()
	e, err := r.fetch(id)
	r.mu.Lock()
	old, ok := r.entries[id]
	if err != nil {
		if ok {
			old.refreshing = false
			old.fetched = time.Now()
		}
		r.mu.Unlock()
		r.log.Warn("pgregistry: refreshing a cached device failed; keeping it", "device", id, "err", err)
		return
	}
	changed := ok && (old.version != e.version || old.policyVersion != e.policyVersion || (old.dev == nil) != (e.dev == nil))
	if r.gen == gen {
		r.put(e)
	} else if ok {
		old.refreshing = false
	}
	r.mu.Unlock()
	if changed { // a notification was missed: close the channels now
		r.changed(id)
	}
}

// put stores e, replacing id's entry, evicting the least recent past
// CacheSize. Called with mu held.
func (r *Registry) put(e *entry) {
	if old, ok := r.entries[e.id]; ok {
		r.remove(old)
	}
	if e.dev == nil {
		if r.negatives >= max(r.cfg.CacheSize/8, 1) {
			return // not cached: the next lookup asks the database again
		}
		r.negatives++
	}
	e.elem = r.lru.PushFront(e)
	r.entries[e.id] = e
	for len(r.entries) > r.cfg.CacheSize {
		r.remove(r.lru.Back().Value.(*entry))
	}
}

// remove takes e out of the cache. Called with mu held.
func (r *Registry) remove(e *entry) {
	r.lru.Remove(e.elem)
	delete(r.entries, e.id)
	if e.dev == nil {
		r.negatives--
	}
}

// drop removes id's entry. Called with mu held.
func (r *Registry) drop(id string) {
	r.gen++
	if e, ok := r.entries[id]; ok {
		r.remove(e)
	}
}

func (r *Registry) changed(id string) {
	if r.cfg.OnChange != nil {
		r.cfg.OnChange(id)
	}
}

const fetchQuery = `SELECT d.policy, d.psk_sealed, d.client_cert, d.client_key_sealed, d.revoked_at IS NOT NULL, d.version,
	p.allowed_names, p.min_version, p.roots, p.leaf_pins, p.version,
	p.profile, p.pins, p.crls, p.max_channels, p.max_in_flight, p.rate, p.burst, p.frame_bytes,
	p.max_version, p.cipher_suites, p.key_exchanges
	FROM devices d JOIN policies p ON p.name = d.policy WHERE d.id = $1`

// fetch reads id from the database: an entry with dev nil for an unknown
// or revoked device, or an error when the database did not answer.
func (r *Registry) fetch(id string) (*entry, error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.LookupTimeout)
	defer cancel()
	e := &entry{id: id, fetched: time.Now()}
	var (
		pskSealed, keySealed, roots, crls []byte
		chain, leafPins, pins             [][]byte
		revoked                           bool
		names                             []string
		minVersion                        int32
		profile                           string
		maxChannels, maxInFlight, burst   int32
		rate                              float64
		frameBytes                        int64
		neg                               storedNegotiation
	)
	err := r.pool.QueryRow(ctx, fetchQuery, id).Scan(&e.policy, &pskSealed, &chain, &keySealed, &revoked, &e.version,
		&names, &minVersion, &roots, &leafPins, &e.policyVersion,
		&profile, &pins, &crls, &maxChannels, &maxInFlight, &rate, &burst, &frameBytes,
		&neg.maxVersion, &neg.cipherSuites, &neg.keyExchanges)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, nil
	}
	if err != nil {
		return nil, &dbError{err}
	}
	if revoked {
		return e, nil
	}
	d := server.Device{ID: id, AllowedNames: names, MinVersion: uint16(minVersion), ClientCertificate: chain,
		Limits: server.DeviceLimits{MaxChannels: int(maxChannels), MaxInFlight: int(maxInFlight), Rate: rate, Burst: int(burst), FrameBytes: frameBytes}}
	if d.PSK, err = r.open(purposePSK, id, pskSealed); err != nil {
		return nil, err
	}
	defer clear(d.PSK)
	if d.LeafPins, d.Pins, err = decodePins(e.policy, leafPins, pins); err != nil {
		return nil, err
	}
	if d.MaxVersion, d.CipherSuites, d.KeyExchanges, err = neg.decode(e.policy); err != nil {
		return nil, err
	}
	if d.Profile, err = certs.ParseProfile(profile); err != nil {
		return nil, fmt.Errorf("pgregistry: policy %q: %w", e.policy, err)
	}
	if crls != nil {
		if d.CRLs, err = r.crlSet(ctx, crls); err != nil {
			return nil, err
		}
	}
	if keySealed != nil {
		der, err := r.open(purposeClientKey, id, keySealed)
		if err != nil {
			return nil, err
		}
		k, err := x509.ParsePKCS8PrivateKey(der)
		clear(der)
		if err != nil {
			return nil, fmt.Errorf("pgregistry: device %q: client key: %w", id, err)
		}
		signer, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("pgregistry: device %q: client key is not a signer", id)
		}
		d.ClientKey = signer
	}
	if roots != nil {
		if d.Roots, err = r.rootPool(ctx, roots); err != nil {
			return nil, err
		}
	}
	if e.dev, err = server.PrepareDevice(d); err != nil {
		return nil, err
	}
	return e, nil
}

// open opens a sealed secret with the KEK, or else the previous KEK.
func (r *Registry) open(purpose, id string, sealed []byte) ([]byte, error) {
	pt, err := r.cfg.KEK.open(purpose, id, sealed)
	if err != nil && r.cfg.PreviousKEK != nil {
		return r.cfg.PreviousKEK.open(purpose, id, sealed)
	}
	return pt, err
}

// maxParsed bounds the parsed root bundles, and the parsed CRL sets, kept;
// both are shared by policies, so a fleet has few.
const maxParsed = 1024

// byDigest returns m's value for the stored object with digest sum,
// parsing it with load on a miss (outside r.mu: load reads the database);
// what names the object in errors. A full m is emptied, not grown.
func byDigest[T any](r *Registry, m map[[sha256.Size]byte]T, sum []byte, what string, load func() (T, error)) (T, error) {
	var zero T
	if len(sum) != sha256.Size {
		return zero, errors.New("pgregistry: bad " + what + " digest")
	}
	key := [sha256.Size]byte(sum)
	r.mu.Lock()
	v, ok := m[key]
	r.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := load()
	if err != nil {
		return zero, err
	}
	r.mu.Lock()
	if len(m) >= maxParsed {
		clear(m)
	}
	m[key] = v
	r.mu.Unlock()
	return v, nil
}

// rootPool returns the parsed bundle with that digest, read once.
func (r *Registry) rootPool(ctx context.Context, sum []byte) (*x509.CertPool, error) {
	return byDigest(r, r.roots, sum, "roots", func() (*x509.CertPool, error) {
		var pem string
		if err := r.pool.QueryRow(ctx, "SELECT pem FROM trust_bundles WHERE sha256 = $1", sum).Scan(&pem); err != nil {
			return nil, &dbError{err}
		}
		p := x509.NewCertPool()
		if !p.AppendCertsFromPEM([]byte(pem)) {
			return nil, errors.New("pgregistry: a stored roots bundle holds no certificate")
		}
		return p, nil
	})
}

// crlSet returns the parsed CRL set with that digest, read once (a
// CRLSet is immutable and shared by the devices of every policy using it).
func (r *Registry) crlSet(ctx context.Context, sum []byte) (*certs.CRLSet, error) {
	return byDigest(r, r.crls, sum, "crls", func() (*certs.CRLSet, error) {
		var der []byte
		if err := r.pool.QueryRow(ctx, "SELECT der FROM crl_sets WHERE sha256 = $1", sum).Scan(&der); err != nil {
			return nil, &dbError{err}
		}
		s, err := certs.ParseCRLs(der)
		if err != nil {
			return nil, fmt.Errorf("pgregistry: a stored CRL set: %w", err)
		}
		return s, nil
	})
}

// Reconnection backoff of the LISTEN connection.
const (
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 5 * time.Second
)

// listen keeps a connection LISTENing, resyncing after each (re)connect;
// ready is closed after the first LISTEN (or when ctx ends).
func (r *Registry) listen(ctx context.Context, ready chan struct{}) {
	defer close(r.done)
	var readyOnce sync.Once
	defer readyOnce.Do(func() { close(ready) })
	backoff := listenBackoffMin
	for ctx.Err() == nil {
		err := r.listenOnce(ctx, func() { readyOnce.Do(func() { close(ready) }); backoff = listenBackoffMin })
		r.listening.Store(false)
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("pgregistry: listener lost; cached devices keep working", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, listenBackoffMax)
	}
}

func (r *Registry) listenOnce(ctx context.Context, up func()) error {
	conn, err := pgx.Connect(ctx, r.cfg.DSN)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	// Listening now: anything changed from here on is notified; what
	// changed before (while disconnected) is found by the resync.
	if err := r.resync(ctx); err != nil {
		return fmt.Errorf("resync: %w", err)
	}
	r.listening.Store(true)
	up()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		r.notifications.Add(1)
		r.handle(n.Payload)
	}
}

// handle acts on a notification: "d:<device id>" or "p:<policy name>".
func (r *Registry) handle(payload string) {
	kind, name, _ := strings.Cut(payload, ":")
	var ids []string
	r.mu.Lock()
	switch kind {
	case "d":
		r.drop(name)
		ids = []string{name} // its channels may be open with the entry evicted
	case "p":
		for id, e := range r.entries {
			if e.policy == name {
				r.drop(id)
				ids = append(ids, id)
			}
		}
		clear(r.roots) // emptied, not replaced: byDigest holds the maps
		clear(r.crls)
	}
	r.mu.Unlock()
	for _, id := range ids {
		r.changed(id)
	}
}

// resync checks every cached entry against the database: entries whose
// device or policy changed, or whose device is gone or revoked, are
// dropped and reported; answers for unknown ids are all dropped.
func (r *Registry) resync(ctx context.Context) error {
	r.resyncs.Add(1)
	type want struct{ version, policyVersion int64 }
	r.mu.Lock()
	r.gen++ // reads begun before now must not land in the cache
	cached := make(map[string]want, len(r.entries))
	var ids []string
	for id, e := range r.entries {
		if e.dev == nil {
			r.drop(id)
			continue
		}
		cached[id] = want{e.version, e.policyVersion}
		ids = append(ids, id)
	}
	r.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	rows, err := r.pool.Query(ctx, `SELECT d.id, d.version, p.version FROM devices d JOIN policies p ON p.name = d.policy
		WHERE d.id = ANY($1) AND d.revoked_at IS NULL`, ids)
	if err != nil {
		return err
	}
	current := make(map[string]want, len(ids))
	for rows.Next() {
		var id string
		var w want
		if err := rows.Scan(&id, &w.version, &w.policyVersion); err != nil {
			rows.Close()
			return err
		}
		current[id] = w
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var stale []string
	for id, w := range cached {
		if current[id] != w {
			stale = append(stale, id)
		}
	}
	r.mu.Lock()
	for _, id := range stale {
		r.drop(id)
	}
	r.mu.Unlock()
	if len(stale) > 0 {
		r.log.Info("pgregistry: resync dropped changed devices", "devices", len(stale))
	}
	for _, id := range stale {
		r.changed(id)
	}
	return nil
}

// decodePins checks and converts a policy's stored leaf pins and pins
// (bytea arrays of SHA-256 digests), for a device lookup and for show.
func decodePins(policy string, leafPins, pins [][]byte) ([][sha256.Size]byte, []certs.Pin, error) {
	var lp [][sha256.Size]byte
	for _, p := range leafPins {
		if len(p) != sha256.Size {
			return nil, nil, fmt.Errorf("pgregistry: policy %q: a leaf pin is not %d bytes", policy, sha256.Size)
		}
		lp = append(lp, [sha256.Size]byte(p))
	}
	var ps []certs.Pin
	for _, p := range pins {
		if len(p) != sha256.Size {
			return nil, nil, fmt.Errorf("pgregistry: policy %q: a pin is not %d bytes", policy, sha256.Size)
		}
		ps = append(ps, certs.Pin(p))
	}
	return lp, ps, nil
}

// storedNegotiation is a policy's negotiation columns as stored (schema
// version 3): NULL for the default.
type storedNegotiation struct {
	maxVersion   *int32
	cipherSuites []int32
	keyExchanges []string
}

// negotiationColumns is p's negotiation policy as the columns store it.
func negotiationColumns(maxVersion uint16, suites []uint16, kxs []handshake.KeyExchange) storedNegotiation {
	var n storedNegotiation
	if maxVersion != 0 {
		v := int32(maxVersion)
		n.maxVersion = &v
	}
	for _, id := range suites {
		n.cipherSuites = append(n.cipherSuites, int32(id))
	}
	for _, kx := range kxs {
		n.keyExchanges = append(n.keyExchanges, server.KeyExchangeName(kx))
	}
	return n
}

// decode converts the stored columns, for a device lookup and for show;
// what they hold is validated by server.Device.Check (PrepareDevice) for
// a lookup, here only converted.
func (n storedNegotiation) decode(policy string) (maxVersion uint16, suites []uint16, kxs []handshake.KeyExchange, err error) {
	if n.maxVersion != nil {
		if *n.maxVersion < 0 || *n.maxVersion > 0xffff {
			return 0, nil, nil, fmt.Errorf("pgregistry: policy %q: max_version %d out of range", policy, *n.maxVersion)
		}
		maxVersion = uint16(*n.maxVersion)
	}
	for i, id := range n.cipherSuites {
		if id < 0 || id > 0xffff {
			return 0, nil, nil, fmt.Errorf("pgregistry: policy %q: cipher_suites[%d]: %d out of range", policy, i, id)
		}
		suites = append(suites, uint16(id))
	}
	for i, name := range n.keyExchanges {
		kx, ok := server.ParseKeyExchange(name)
		if !ok {
			return 0, nil, nil, fmt.Errorf("pgregistry: policy %q: key_exchanges[%d]: %q is not a key exchange", policy, i, name)
		}
		kxs = append(kxs, kx)
	}
	return maxVersion, suites, kxs, nil
}
