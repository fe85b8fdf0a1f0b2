package tlsclient

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/server"
	"github.com/tlsoffload/tlsoffload/record"
)

// meteredEnv is an offloader of its own whose counters the test reads,
// behind a counting wrapper: two independent witnesses that a resumed
// handshake calls no offloader.
type meteredEnv struct {
	srv *server.Server
}

func newMeteredEnv(t *testing.T) *meteredEnv {
	t.Helper()
	e := getRealEnv(t)
	devices := server.NewRegistry()
	if err := devices.Add(server.Device{ID: "dev", PSK: bytes.Repeat([]byte{9}, 32), Roots: e.pki.Roots, AllowedNames: []string{"*"}}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{
		Registry: devices,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &meteredEnv{srv: srv}
}

// requests sums the operations the offloader ran, over every op and result.
func (m *meteredEnv) requests(t *testing.T) uint64 {
	t.Helper()
	var sum uint64
	for _, op := range m.srv.Stats().Ops {
		for _, n := range op.Results {
			sum += n
		}
	}
	return sum
}

// traceLog collects trace lines so a test can look for one.
type traceLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *traceLog) config(t *testing.T, cfg *Config) *traceLog {
	cfg.Trace = func(format string, args ...any) {
		t.Logf(format, args...)
		l.mu.Lock()
		l.lines = append(l.lines, format)
		l.mu.Unlock()
	}
	return l
}

func (l *traceLog) has(prefix string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func (l *traceLog) reset() {
	l.mu.Lock()
	l.lines = nil
	l.mu.Unlock()
}

// resumeConfig is a Config on the metered offloader with a session cache.
func resumeConfig(t *testing.T, m *meteredEnv) (*Config, *countingOffloader, *traceLog) {
	off := &countingOffloader{next: m.srv.Local("dev")}
	cfg := &Config{
		Offloader:    off,
		ServerName:   testServerName,
		SessionCache: NewLRUSessionCache(8),
	}
	return cfg, off, new(traceLog).config(t, cfg)
}

// handshakeEcho dials addr, completes the handshake and echoes data.
func handshakeEcho(t *testing.T, addr string, cfg *Config) (*Conn, error) {
	t.Helper()
	c := dialClient(t, addr, cfg)
	if err := c.Handshake(); err != nil {
		return c, err
	}
	echoBothWays(t, c)
	return c, nil
}

func TestResumeTicketNoOffloaderCall(t *testing.T) {
	e := getRealEnv(t)
	m := newMeteredEnv(t)
	states := make(chan tls.ConnectionState, 4)
	addr := serveTLS(t, tlsServerConfig(e.ecdsa), func(c *tls.Conn) {
		states <- c.ConnectionState()
		echo(c)
	})
	cfg, off, trace := resumeConfig(t, m)

	c1, err := handshakeEcho(t, addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c1.Close()
	if (<-states).DidResume || c1.ConnectionState().DidResume {
		t.Fatal("first handshake resumed")
	}
	s, ok := cfg.SessionCache.Get(newKeyFor(t, cfg))
	if !ok || !s.HasTicket() || !s.ems {
		t.Fatalf("no ticket session cached after the full handshake: %v %+v", ok, s)
	}
	flights, reqs := off.flights.Load(), m.requests(t)
	if reqs == 0 {
		t.Fatal("the metrics counted no request for a full handshake")
	}

	trace.reset()
	c2, err := handshakeEcho(t, addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	ss := <-states
	if !ss.DidResume {
		t.Error("server did not resume")
	}
	cs := c2.ConnectionState()
	if !cs.DidResume {
		t.Error("DidResume false")
	}
	if n := off.flights.Load(); n != flights {
		t.Errorf("resumed handshake made %d offloader calls", n-flights)
	}
	if got := m.requests(t); got != reqs {
		t.Errorf("the offloader's request count went from %v to %v on a resumed handshake", reqs, got)
	}
	for _, line := range []string{"tls: resuming session (ticket)", "tls: resumed: no offloader call"} {
		if !trace.has(line) {
			t.Errorf("no trace line %q", line)
		}
	}
	// The resumed connection still reports the server it verified.
	if len(cs.PeerCertificates) != 2 || !cs.PeerCertificates[0].Equal(e.ecdsa.Cert) {
		t.Errorf("PeerCertificates on resumption: %d", len(cs.PeerCertificates))
	}
	if len(cs.VerifiedChains) != 1 || !cs.VerifiedChains[0][len(cs.VerifiedChains[0])-1].Equal(e.pki.Root) {
		t.Errorf("VerifiedChains on resumption: %v", cs.VerifiedChains)
	}
	// RFC 5929 §3.1: the first Finished, the server's when resuming.
	if len(cs.TLSUnique) != 12 || !bytes.Equal(cs.TLSUnique, ss.TLSUnique) {
		t.Errorf("TLSUnique = %x, server's %x", cs.TLSUnique, ss.TLSUnique)
	}

	// The server renewed the ticket (crypto/tls sends a new one on every
	// resumption): the cache holds the new one, which resumes in turn.
	s2, ok := cfg.SessionCache.Get(newKeyFor(t, cfg))
	if !ok || bytes.Equal(s2.ticket, s.ticket) {
		t.Fatal("ticket not renewed in the cache")
	}
	if !s2.created.Equal(s.created) {
		t.Error("a renewed ticket restarted the session's age")
	}
	c3, err := handshakeEcho(t, addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c3.Close()
	if !(<-states).DidResume || !c3.ConnectionState().DidResume {
		t.Error("renewed ticket did not resume")
	}
	if n := off.flights.Load(); n != flights {
		t.Errorf("%d offloader calls after two resumptions", n-flights)
	}
}

// newKeyFor is the cache key a handshake with cfg uses (the Start answer
// is cached, so this makes no offloader call).
func newKeyFor(t *testing.T, cfg *Config) string {
	t.Helper()
	p, err := cfg.start(t.Context(), cfg.ServerName)
	if err != nil {
		t.Fatal(err)
	}
	hs := &clientHandshakeState{config: cfg, serverName: cfg.ServerName, params: p}
	return hs.sessionKey()
}

func TestResumeDeclinedRunsFullHandshake(t *testing.T) {
	e := getRealEnv(t)
	m := newMeteredEnv(t)
	// A fresh server key per listener: the second server cannot decrypt
	// the first one's ticket.
	addr1 := serveTLS(t, tlsServerConfig(e.ecdsa), echo)
	addr2 := serveTLS(t, tlsServerConfig(e.ecdsa), echo)
	cfg, off, trace := resumeConfig(t, m)
	if _, err := handshakeEcho(t, addr1, cfg); err != nil {
		t.Fatal(err)
	}
	old, _ := cfg.SessionCache.Get(newKeyFor(t, cfg))
	flights := off.flights.Load()
	trace.reset()
	c, err := handshakeEcho(t, addr2, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.ConnectionState().DidResume {
		t.Error("DidResume on a declined ticket")
	}
	if !trace.has("tls: resuming session (ticket)") || !trace.has("tls: server declined resumption") {
		t.Error("the ticket was not offered, or the decline not traced")
	}
	if off.flights.Load() == flights {
		t.Error("full handshake made no offloader call")
	}
	s, ok := cfg.SessionCache.Get(newKeyFor(t, cfg))
	if !ok || bytes.Equal(s.ticket, old.ticket) || bytes.Equal(s.master, old.master) {
		t.Error("the new session did not replace the old one")
	}
}

func TestResumeExpired(t *testing.T) {
	e := getRealEnv(t)
	m := newMeteredEnv(t)
	addr := serveTLS(t, tlsServerConfig(e.ecdsa), echo)
	cfg, off, trace := resumeConfig(t, m)
	var mu sync.Mutex
	now := time.Now()
	cfg.Time = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	cfg.SessionTTL = time.Hour
	cfg.StartCache = NewStartCache(4)
	if _, err := handshakeEcho(t, addr, cfg); err != nil {
		t.Fatal(err)
	}
	s, _ := cfg.SessionCache.Get(newKeyFor(t, cfg))
	if want := now.Add(time.Hour); s.Expires().After(want) {
		t.Errorf("session expires %v, after the TTL's %v", s.Expires(), want)
	}
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	flights := off.flights.Load()
	c, err := handshakeEcho(t, addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.ConnectionState().DidResume || trace.has("tls: resuming session") {
		t.Error("an expired session was offered")
	}
	if !trace.has("tls: session expired") {
		t.Error("no trace of the expiry")
	}
	if off.flights.Load() == flights {
		t.Error("no full handshake after expiry")
	}
}

func TestResumePolicyChangeIsNewKey(t *testing.T) {
	e := getRealEnv(t)
	m := newMeteredEnv(t)
	addr := serveTLS(t, tlsServerConfig(e.ecdsa), echo)
	cfg, _, _ := resumeConfig(t, m)
	cfg.CipherSuites = []uint16{handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, handshake.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}
	if _, err := handshakeEcho(t, addr, cfg); err != nil {
		t.Fatal(err)
	}
	// The same suite stays offered, but the list differs: a policy change.
	cfg2, off2, trace2 := resumeConfig(t, m)
	cfg2.SessionCache = cfg.SessionCache
	cfg2.CipherSuites = []uint16{handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
	c, err := handshakeEcho(t, addr, cfg2)
	if err != nil {
		t.Fatal(err)
	}
	if c.ConnectionState().DidResume || trace2.has("tls: resuming session") {
		t.Error("a session made under another suite list was resumed")
	}
	if off2.flights.Load() == 0 {
		t.Error("no offloader call")
	}
	if n := cfg.SessionCache.(*LRUSessionCache).Len(); n != 2 {
		t.Errorf("cache holds %d sessions, want one per policy", n)
	}
	// The original policy still resumes its own session.
	c, err = handshakeEcho(t, addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !c.ConnectionState().DidResume {
		t.Error("the original policy did not resume")
	}
}

// TestResumeEMSMismatch: RFC 7627 §5.3, the client aborts a resumption
// whose ServerHello disagrees with the session about the extended master
// secret, and drops the session.
func TestResumeEMSMismatch(t *testing.T) {
	e := getRealEnv(t)
	m := newMeteredEnv(t)
	addr := serveTLS(t, tlsServerConfig(e.ecdsa), echo)
	cfg, _, _ := resumeConfig(t, m)
	if _, err := handshakeEcho(t, addr, cfg); err != nil {
		t.Fatal(err)
	}
	key := newKeyFor(t, cfg)
	s, _ := cfg.SessionCache.Get(key)
	// The session claims no EMS; crypto/tls resumes with the extension.
	s.ems = false
	cfg.ResumeWithoutEMS = true
	cfg.SessionCache.Put(key, s)
	c := dialClient(t, addr, cfg)
	err := c.Handshake()
	if !errors.Is(err, record.AlertHandshakeFailure) {
		t.Fatalf("err = %v, want handshake_failure", err)
	}
	if _, ok := cfg.SessionCache.Get(key); ok {
		t.Error("session kept after a failed resumption")
	}
	// The next handshake is a full one and succeeds.
	c, err = handshakeEcho(t, addr, cfg)
	if err != nil || c.ConnectionState().DidResume {
		t.Fatalf("after the drop: err %v, resumed %v", err, c.ConnectionState().DidResume)
	}
}

// TestResumeEMSMissing is the other direction, against OpenSSL with the
// extension off: a session claiming EMS resumed without it is refused.
func TestResumeEMSMissing(t *testing.T) {
	addr := startOpenSSLServer(t, "-ExtendedMasterSecret", "-www")
	m := newMeteredEnv(t)
	cfg, _, _ := resumeConfig(t, m)
	// By default a session without EMS is not kept (RFC 7627 §5.3).
	if err := getPage(t, addr, cfg, false); err != nil {
		t.Fatal(err)
	}
	key := newKeyFor(t, cfg)
	if _, ok := cfg.SessionCache.Get(key); ok {
		t.Fatal("a session without EMS was kept")
	}
	if err := getPage(t, addr, cfg, false); err != nil {
		t.Fatal(err)
	}
	// Kept for a legacy server when the Config allows it.
	cfg.ResumeWithoutEMS = true
	if err := getPage(t, addr, cfg, false); err != nil {
		t.Fatal(err)
	}
	if err := getPage(t, addr, cfg, true); err != nil {
		t.Fatal(err)
	}
	s, ok := cfg.SessionCache.Get(key)
	if !ok || s.ems {
		t.Fatalf("session %v ems %v", ok, ok && s.ems)
	}
	s.ems = true
	cfg.SessionCache.Put(key, s)
	err := getPage(t, addr, cfg, true)
	if !errors.Is(err, record.AlertHandshakeFailure) {
		t.Fatalf("err = %v, want handshake_failure", err)
	}
	if _, ok := cfg.SessionCache.Get(key); ok {
		t.Error("session kept after a failed resumption")
	}
}

// TestResumeOpenSSL resumes by session id (tickets off: OpenSSL's session
// cache) and by ticket against OpenSSL s_server, whose status page says
// whether it reused the session.
func TestResumeOpenSSL(t *testing.T) {
	for _, tc := range []struct {
		name, arg, trace string
	}{
		{"session id", "-no_ticket", "tls: resuming session (id)"},
		{"ticket", "", "tls: resuming session (ticket)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var args []string
			if tc.arg != "" {
				args = append(args, tc.arg)
			}
			addr := startOpenSSLServer(t, "", append(args, "-www")...)
			m := newMeteredEnv(t)
			cfg, off, trace := resumeConfig(t, m)
			if err := getPage(t, addr, cfg, false); err != nil {
				t.Fatal(err)
			}
			s, ok := cfg.SessionCache.Get(newKeyFor(t, cfg))
			if !ok || s.HasTicket() == (tc.arg == "-no_ticket") {
				t.Fatalf("cached %v, ticket %v", ok, ok && s.HasTicket())
			}
			flights, reqs := off.flights.Load(), m.requests(t)
			trace.reset()
			if err := getPage(t, addr, cfg, true); err != nil {
				t.Fatal(err)
			}
			if !trace.has(tc.trace) || !trace.has("tls: resumed: no offloader call") {
				t.Errorf("trace lacks %q", tc.trace)
			}
			if off.flights.Load() != flights || m.requests(t) != reqs {
				t.Error("the resumed handshake called the offloader")
			}
		})
	}
}

// getPage fetches s_server -www's status page and checks it says the
// session was reused (or new).
func getPage(t *testing.T, addr string, cfg *Config, reused bool) error {
	t.Helper()
	c := dialClient(t, addr, cfg)
	defer c.Close()
	if err := c.Handshake(); err != nil {
		return err
	}
	if c.ConnectionState().DidResume != reused {
		t.Errorf("DidResume = %v, want %v", c.ConnectionState().DidResume, reused)
	}
	if _, err := io.WriteString(c, "GET / HTTP/1.0\r\n\r\n"); err != nil {
		return err
	}
	page, err := io.ReadAll(c)
	if err != nil && len(page) == 0 {
		return err
	}
	want := "\nNew, "
	if reused {
		want = "\nReused, "
	}
	if !bytes.Contains(page, []byte(want)) {
		t.Errorf("s_server page lacks %q", want)
	}
	return nil
}

func TestLRUSessionCacheBounded(t *testing.T) {
	c := NewLRUSessionCache(2)
	mk := func(b byte) *ClientSession {
		return &ClientSession{master: bytes.Repeat([]byte{b}, 48), sessionID: []byte{b}}
	}
	a, b, d := mk(1), mk(2), mk(3)
	c.Put("a", a)
	c.Put("b", b)
	if _, ok := c.Get("a"); !ok { // a is now the most recently used
		t.Fatal("a missing")
	}
	c.Put("d", d)
	if c.Len() != 2 {
		t.Fatalf("Len = %d, want 2", c.Len())
	}
	if _, ok := c.Get("b"); ok {
		t.Error("the least recently used session was not evicted")
	}
	if !bytes.Equal(b.master, make([]byte, 48)) {
		t.Error("evicted session's master secret not zeroed")
	}
	got, ok := c.Get("a")
	if !ok || !bytes.Equal(got.master, bytes.Repeat([]byte{1}, 48)) {
		t.Fatal("a lost or damaged")
	}
	// Get hands out copies: zeroing the cache's does not reach them.
	c.Put("a", nil)
	if !bytes.Equal(a.master, make([]byte, 48)) || !bytes.Equal(got.master, bytes.Repeat([]byte{1}, 48)) {
		t.Error("removal: the stored secret is not zeroed, or the copy was")
	}
	if _, ok := c.Get("a"); ok || c.Len() != 1 {
		t.Error("Put(nil) did not remove")
	}
	// Replacing a key zeroes the replaced session, but not when it is the same.
	e := mk(4)
	c.Put("d", e)
	if !bytes.Equal(d.master, make([]byte, 48)) {
		t.Error("replaced session not zeroed")
	}
	c.Put("d", e)
	if !bytes.Equal(e.master, bytes.Repeat([]byte{4}, 48)) {
		t.Error("putting the same session again zeroed it")
	}
}

// TestResumeConcurrent resumes one session from several connections at
// once (a ticket may be used again) while the cache renews it; run with
// -race it checks the cache and the session copies are safe to share.
func TestResumeConcurrent(t *testing.T) {
	e := getRealEnv(t)
	m := newMeteredEnv(t)
	addr := serveTLS(t, tlsServerConfig(e.ecdsa), echo)
	cfg, off, _ := resumeConfig(t, m)
	cfg.Trace = nil
	if _, err := handshakeEcho(t, addr, cfg); err != nil {
		t.Fatal(err)
	}
	flights := off.flights.Load()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			raw, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer raw.Close()
			raw.SetDeadline(time.Now().Add(20 * time.Second))
			c := Client(raw, cfg)
			if err := c.Handshake(); err != nil {
				errs <- err
				return
			}
			if !c.ConnectionState().DidResume {
				errs <- errors.New("not resumed")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := off.flights.Load(); n != flights {
		t.Errorf("%d offloader calls for resumed handshakes", n-flights)
	}
}

// TestResumeHTTPTransport: net/http over the Dialer, one connection per
// request, resumes every connection after the first without the offloader.
func TestResumeHTTPTransport(t *testing.T) {
	e := getRealEnv(t)
	m := newMeteredEnv(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "resumed=%v", r.TLS.DidResume)
	}))
	srv.TLS = tlsServerConfig(e.ecdsa)
	srv.StartTLS()
	defer srv.Close()
	cfg, off, _ := resumeConfig(t, m)
	tr := &http.Transport{DialTLSContext: (&Dialer{Config: cfg}).DialContext, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	var flights int32
	for i := range 3 {
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("resumed=%v", i > 0); string(body) != want {
			t.Errorf("request %d: %q, want %q", i, body, want)
		}
		if i == 0 {
			flights = off.flights.Load()
		}
	}
	if n := off.flights.Load(); n != flights {
		t.Errorf("%d offloader calls for resumed connections", n-flights)
	}
}

// startOpenSSLServer runs `openssl s_server` for TLS 1.2 with the test RSA
// leaf and the extra arguments; sslOptions go to an openssl.cnf Options line.
func startOpenSSLServer(t *testing.T, sslOptions string, args ...string) string {
	return opensslServer(t, getRealEnv(t).rsa, sslOptions, append([]string{"-tls1_2"}, args...)...)
}
