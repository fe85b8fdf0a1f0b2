package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/server/metrics"
	"golang.org/x/time/rate"
)

// Access to the HTTP address (metrics_listen): the dashboard shows device
// ids, so /, /api/v1/ and /metrics alike need a credential when the
// config names one, and `offloader check` warns when the address is not
// private to the machine and none is named.
//
//   - http_token_file holds a bearer token (one line, 16 to 1024 printable
//     characters): what a Prometheus scraper sends (authorization:
//     credentials_file).
//   - http_basic_auth_file holds "user:password" on one line: what a
//     browser asks a person for.
//
// With both, either is accepted. /healthz stays open: a load balancer
// probes it, and it says only "ok". Credentials are compared in constant
// time (as SHA-256 digests, so their lengths leak nothing either) and
// never logged.

// httpAuth is the credentials the config names; zero: none.
type httpAuth struct {
	token          []byte
	user, password []byte
}

func (a httpAuth) set() bool { return a.token != nil || a.user != nil }

const (
	minTokenLen = 16
	maxTokenLen = 1024
)

// readToken reads a bearer token file.
func readToken(path string) ([]byte, error) {
	data, err := readSmall(path)
	if err != nil {
		return nil, err
	}
	tok := bytes.TrimSpace(data)
	if len(tok) < minTokenLen || len(tok) > maxTokenLen {
		return nil, fmt.Errorf("%s: want one token of %d to %d characters, got %d", path, minTokenLen, maxTokenLen, len(tok))
	}
	for _, c := range tok {
		if c <= ' ' || c > '~' {
			return nil, fmt.Errorf("%s: the token has a space, a line break or a character outside printable ASCII", path)
		}
	}
	return tok, nil
}

// readBasicAuth reads "user:password" from path.
func readBasicAuth(path string) (user, password []byte, err error) {
	data, err := readSmall(path)
	if err != nil {
		return nil, nil, err
	}
	line := bytes.TrimRight(data, "\r\n")
	if bytes.ContainsAny(line, "\r\n") {
		return nil, nil, fmt.Errorf("%s: want one line \"user:password\", got several", path)
	}
	u, p, ok := bytes.Cut(line, []byte(":"))
	switch {
	case !ok:
		return nil, nil, fmt.Errorf("%s: want \"user:password\", found no colon", path)
	case len(u) == 0:
		return nil, nil, fmt.Errorf("%s: the user name is empty", path)
	case len(p) < 8:
		return nil, nil, fmt.Errorf("%s: the password is shorter than 8 characters", path)
	}
	return u, p, nil
}

func digestEqual(a, b []byte) bool {
	da, db := sha256.Sum256(a), sha256.Sum256(b)
	return subtle.ConstantTimeCompare(da[:], db[:]) == 1
}

// allowed reports whether r carries a credential a accepts.
func (a httpAuth) allowed(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if a.token != nil {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") && digestEqual([]byte(strings.TrimSpace(tok)), a.token) {
			return true
		}
	}
	if a.user != nil {
		if u, p, ok := r.BasicAuth(); ok {
			// Both compared always, so the time says nothing of which failed.
			uok, pok := digestEqual([]byte(u), a.user), digestEqual([]byte(p), a.password)
			return uok && pok
		}
	}
	return false
}

// wrap requires a's credentials on every path but /healthz, throttling
// failed logins with g (nil only when a requires none).
func (a httpAuth) wrap(h http.Handler, g *loginGuard) http.Handler {
	return newLiveAuth(a).wrap(h, g)
}

// liveAuth holds the credentials the HTTP address requires now: a reload
// stores the new config's, and the next request is checked against them
// (rotating the dashboard's password needs no restart).
type liveAuth struct{ cur atomic.Pointer[httpAuth] }

func newLiveAuth(a httpAuth) *liveAuth {
	l := new(liveAuth)
	l.store(a)
	return l
}

func (l *liveAuth) store(a httpAuth) { l.cur.Store(&a) }

// wrap requires the current credentials on every path but /healthz,
// throttling failed logins with g; while none are set, requests go
// straight to h.
func (l *liveAuth) wrap(h http.Handler, g *loginGuard) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := l.cur.Load()
		if !a.set() || r.URL.Path == "/healthz" {
			h.ServeHTTP(w, r)
			return
		}
		key := sourceKey(r.RemoteAddr)
		if wait, ok := g.throttle.admit(key, time.Now()); !ok {
			// Not checked: the answer says nothing of the credential,
			// and a flood of guesses costs no hashing.
			secs := max(int64((wait+time.Second-1)/time.Second), 1)
			g.refused(metrics.HTTPAuthThrottled, r, key, "retry_after_s", secs)
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
			http.Error(w, "offloader: too many failed logins from this address; retry later", http.StatusTooManyRequests)
			return
		}
		if a.allowed(r) {
			h.ServeHTTP(w, r)
			return
		}
		if r.Header.Get("Authorization") == "" {
			// What a browser sends first, to be shown the challenge: no guess.
			g.counts.Add(metrics.HTTPAuthNoCredential)
		} else {
			g.throttle.fail(key, time.Now())
			g.refused(metrics.HTTPAuthBadCredential, r, key)
		}
		challenge := `Bearer realm="offloader"`
		if a.user != nil {
			challenge = `Basic realm="offloader", charset="UTF-8"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
		http.Error(w, "offloader: this address needs a credential (see http_token_file, http_basic_auth_file)", http.StatusUnauthorized)
	})
}

// Failed logins to the HTTP address are throttled per source: a source
// may fail http_auth_failures times at once, then earns one more try per
// http_auth_refill. Meanwhile its requests are answered 429 with
// Retry-After, without looking at the credential, the right one included:
// a guesser learns nothing more, and whoever shares its address waits too.
// A source is an IPv4 address or an IPv6 /64 (what one host is usually
// given); all peers of a unix socket are one source. Forwarded-for headers
// are not trusted: behind a proxy, the proxy is the source.
//
// Only a failure puts a source in the table; a request with a right
// credential or none only reads it. The table is bounded (maxLoginSources,
// about 110 bytes each, measured: 450 KB at most): a source whose bucket
// is full again is forgotten when room is needed, and while the table is
// full of sources still throttled, the sources not in it share one bucket
// (global), so a spray from many addresses costs no memory past the bound
// and gets no more guesses than one source. Only then can a source be
// throttled by others' failures.
//
// The buckets are our own, not rate.Limiters: the table's mutex already
// serializes them, an entry is 32 bytes instead of 80, and a sweep reads
// them in place.
const (
	maxLoginSources = 4096
	// loginSweepEvery bounds how often a full table is swept.
	loginSweepEvery = time.Second
)

// loginThrottle holds a token bucket of failed logins per source.
//
// Locking: mu guards everything below it.
type loginThrottle struct {
	burst float64       // tokens a bucket holds when full
	every time.Duration // the time to earn one token back
	max   int           // sources held at most

	mu        sync.Mutex
	sources   map[netip.Prefix]*loginBucket
	global    loginBucket // the sources not in a full table
	lastSweep time.Time
}

// loginBucket holds tokens as of at.
type loginBucket struct {
	tokens float64
	at     time.Time
}

func newLoginThrottle(burst int, every time.Duration, max int) *loginThrottle {
	t := &loginThrottle{burst: float64(burst), every: every, max: max, sources: make(map[netip.Prefix]*loginBucket)}
	t.global.tokens = t.burst
	return t
}

// sourceKey is the source a remote address counts under: its IPv4
// address, its IPv6 /64, or the zero prefix for what is not an IP
// address (a unix socket's peer).
func sourceKey(remote string) netip.Prefix {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Prefix{}
	}
	a := ap.Addr().Unmap().WithZone("")
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}

// fill brings b's tokens up to now. Locked.
func (t *loginThrottle) fill(b *loginBucket, now time.Time) {
	if now.After(b.at) {
		b.tokens = min(t.burst, b.tokens+float64(now.Sub(b.at))/float64(t.every))
		b.at = now
	}
}

// admit reports whether source may try a credential at now, or how long
// until it may. A source not in the table has its whole burst, unless
// the table is full: then it has the shared bucket's.
func (t *loginThrottle) admit(source netip.Prefix, now time.Time) (wait time.Duration, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.bucket(source, now, false)
	if b == nil {
		return 0, true
	}
	t.fill(b, now)
	if b.tokens < 1 {
		return time.Duration((1 - b.tokens) * float64(t.every)), false
	}
	return 0, true
}

// fail charges source one failed try at now. Tries admitted together and
// failed together may take the bucket below zero: the debt is paid in
// waiting, so a source's failures average one per every however it
// times them (and concurrent tries are bounded by metrics_max_conns).
func (t *loginThrottle) fail(source netip.Prefix, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.bucket(source, now, true)
	t.fill(b, now)
	b.tokens--
}

// bucket is source's bucket, or the shared one when the table is full
// even after a sweep; nil when source has none and create is false but
// there is room for one. Locked.
func (t *loginThrottle) bucket(source netip.Prefix, now time.Time, create bool) *loginBucket {
	if b := t.sources[source]; b != nil {
		return b
	}
	if len(t.sources) >= t.max {
		t.sweep(now)
	}
	switch {
	case len(t.sources) >= t.max:
		return &t.global
	case !create:
		return nil
	}
	b := &loginBucket{tokens: t.burst, at: now}
	t.sources[source] = b
	return b
}

// sweep forgets the sources whose bucket is full again (forgetting them
// changes nothing), at most once per loginSweepEvery. Locked.
func (t *loginThrottle) sweep(now time.Time) {
	if now.Sub(t.lastSweep) < loginSweepEvery {
		return
	}
	t.lastSweep = now
	for k, b := range t.sources {
		if t.fill(b, now); b.tokens >= t.burst {
			delete(t.sources, k)
		}
	}
}

// size is how many sources the table holds.
func (t *loginThrottle) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.sources)
}

// loginGuard is the HTTP address's defence against guessing: the
// throttle, its counters (tlsoffload_http_auth_refused_total) and its log
// lines, sampled as refused channel openings are (loginLogBurst lines, then
// one a second, the next one saying how many were left out).
type loginGuard struct {
	throttle *loginThrottle
	counts   *metrics.HTTPAuthRefusals
	log      *slog.Logger

	sample     *rate.Limiter
	suppressed atomic.Uint64
}

const (
	loginLogBurst = 10
	loginLogEvery = time.Second
)

func newLoginGuard(l serviceLimits, counts *metrics.HTTPAuthRefusals, log *slog.Logger) *loginGuard {
	return &loginGuard{
		throttle: newLoginThrottle(l.httpAuthFailures, l.httpAuthRefill, maxLoginSources),
		counts:   counts,
		log:      log,
		sample:   rate.NewLimiter(rate.Every(loginLogEvery), loginLogBurst),
	}
}

// refused counts a refused login and logs it, sampled, with its source
// and never its credential (nor the user name, often a mistyped password).
func (g *loginGuard) refused(reason string, r *http.Request, source netip.Prefix, attrs ...any) {
	g.counts.Add(reason)
	if !g.sample.Allow() {
		g.suppressed.Add(1)
		return
	}
	remote := r.RemoteAddr
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		remote = ap.Addr().String()
	}
	attrs = append([]any{"reason", reason, "remote", remote, "source", source.String()}, attrs...)
	if n := g.suppressed.Swap(0); n > 0 {
		attrs = append(attrs, "suppressed", n)
	}
	g.log.Warn("offloader: http login refused", attrs...)
}

// exposureWarning is what check prints, and serve logs, when the HTTP
// address is reachable from other machines and nothing guards it; "" if
// it is private or guarded.
func exposureWarning(c *config) string {
	if c.metricsListen == "" || c.metricsLoopback || c.httpAuth.set() {
		return ""
	}
	return fmt.Sprintf("metrics_listen %q is not a loopback address and neither http_token_file nor http_basic_auth_file is set: whoever reaches it sees device ids on the dashboard and in the API", c.metricsListen)
}
