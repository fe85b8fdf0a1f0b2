package tlsclient_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/internal/offloadtest"
	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/record"
	. "github.com/tlsoffload/tlsoffload/tlsclient"
	"github.com/tlsoffload/tlsoffload/tlsclient/tlsstate"
)

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

// resumeConfig is a Config with a session cache on an offloader of the
// test's own, whose server counts what the handshakes asked of it.
func resumeConfig(t *testing.T) (*Config, *offloadtest.Offloader, *traceLog) {
	e := getRealEnv(t)
	off := offloadtest.New(t, e.device(), client.Config{Trace: t.Logf})
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
	states := make(chan tls.ConnectionState, 4)
	addr := serveTLS(t, tlsServerConfig(e.ecdsa), func(c *tls.Conn) {
		states <- c.ConnectionState()
		echo(c)
	})
	cfg, off, trace := resumeConfig(t)

	c1, err := handshakeEcho(t, addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c1.Close()
	if (<-states).DidResume || tlsstate.Convert(c1.ConnectionState()).DidResume {
		t.Fatal("first handshake resumed")
	}
	firstCurve := c1.ConnectionState().CurveID
	s, ok := cfg.SessionCache.Get(newKeyFor(t, cfg))
	if !ok || !s.HasTicket() || !s.EMS() {
		t.Fatalf("no ticket session cached after the full handshake: %v %+v", ok, s)
	}
	flights, reqs := off.Flights(), requests(off)
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
	cs := tlsstate.Convert(c2.ConnectionState())
	if !cs.DidResume {
		t.Error("DidResume false")
	}
	// The session's group is reported on resumption too (it read 0).
	if got := c2.ConnectionState().CurveID; got == 0 || got != firstCurve {
		t.Errorf("CurveID on resumption = %d, the full handshake's %d", got, firstCurve)
	}
	if n := off.Flights(); n != flights {
		t.Errorf("resumed handshake made %d offloader calls", n-flights)
	}
	if got := requests(off); got != reqs {
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
	if !ok || bytes.Equal(s2.Ticket(), s.Ticket()) {
		t.Fatal("ticket not renewed in the cache")
	}
	if !s2.Created().Equal(s.Created()) {
		t.Error("a renewed ticket restarted the session's age")
	}
	c3, err := handshakeEcho(t, addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c3.Close()
	if !(<-states).DidResume || !tlsstate.Convert(c3.ConnectionState()).DidResume {
		t.Error("renewed ticket did not resume")
	}
	if n := off.Flights(); n != flights {
		t.Errorf("%d offloader calls after two resumptions", n-flights)
	}
}

// newKeyFor is the cache key a handshake with cfg uses (the Start answer
// is cached, so this makes no offloader round trip).
func newKeyFor(t *testing.T, cfg *Config) string {
	t.Helper()
	key, err := SessionKey(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestResumeDeclinedRunsFullHandshake(t *testing.T) {
	e := getRealEnv(t)
	// A fresh server key per listener: the second server cannot decrypt
	// the first one's ticket.
	addr1 := serveTLS(t, tlsServerConfig(e.ecdsa), echo)
	addr2 := serveTLS(t, tlsServerConfig(e.ecdsa), echo)
	cfg, off, trace := resumeConfig(t)
	if _, err := handshakeEcho(t, addr1, cfg); err != nil {
		t.Fatal(err)
	}
	old, _ := cfg.SessionCache.Get(newKeyFor(t, cfg))
	flights := off.Flights()
	trace.reset()
	c, err := handshakeEcho(t, addr2, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if tlsstate.Convert(c.ConnectionState()).DidResume {
		t.Error("DidResume on a declined ticket")
	}
	if !trace.has("tls: resuming session (ticket)") || !trace.has("tls: server declined resumption") {
		t.Error("the ticket was not offered, or the decline not traced")
	}
	if off.Flights() == flights {
		t.Error("full handshake made no offloader call")
	}
	s, ok := cfg.SessionCache.Get(newKeyFor(t, cfg))
	if !ok || bytes.Equal(s.Ticket(), old.Ticket()) || bytes.Equal(s.Master(), old.Master()) {
		t.Error("the new session did not replace the old one")
	}
}

func TestResumeExpired(t *testing.T) {
	e := getRealEnv(t)
	addr := serveTLS(t, tlsServerConfig(e.ecdsa), echo)
	cfg, off, trace := resumeConfig(t)
	var mu sync.Mutex
	now := time.Now()
	cfg.Time = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	cfg.SessionTTL = time.Hour
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
	flights := off.Flights()
	c, err := handshakeEcho(t, addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if tlsstate.Convert(c.ConnectionState()).DidResume || trace.has("tls: resuming session") {
		t.Error("an expired session was offered")
	}
	if !trace.has("tls: session expired") {
		t.Error("no trace of the expiry")
	}
	if off.Flights() == flights {
		t.Error("no full handshake after expiry")
	}
}

func TestResumePolicyChangeIsNewKey(t *testing.T) {
	e := getRealEnv(t)
	addr := serveTLS(t, tlsServerConfig(e.ecdsa), echo)
	cfg, _, _ := resumeConfig(t)
	cfg.CipherSuites = []uint16{handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, handshake.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}
	if _, err := handshakeEcho(t, addr, cfg); err != nil {
		t.Fatal(err)
	}
	// The same suite stays offered, but the list differs: a policy change.
	cfg2, off2, trace2 := resumeConfig(t)
	cfg2.SessionCache = cfg.SessionCache
	cfg2.CipherSuites = []uint16{handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
	c, err := handshakeEcho(t, addr, cfg2)
	if err != nil {
		t.Fatal(err)
	}
	if tlsstate.Convert(c.ConnectionState()).DidResume || trace2.has("tls: resuming session") {
		t.Error("a session made under another suite list was resumed")
	}
	if off2.Flights() == 0 {
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
	if !tlsstate.Convert(c.ConnectionState()).DidResume {
		t.Error("the original policy did not resume")
	}
}

// TestResumeEMSMismatch: RFC 7627 §5.3, the client aborts a resumption
// whose ServerHello disagrees with the session about the extended master
// secret, and drops the session.
func TestResumeEMSMismatch(t *testing.T) {
	e := getRealEnv(t)
	addr := serveTLS(t, tlsServerConfig(e.ecdsa), echo)
	cfg, _, _ := resumeConfig(t)
	if _, err := handshakeEcho(t, addr, cfg); err != nil {
		t.Fatal(err)
	}
	key := newKeyFor(t, cfg)
	s, _ := cfg.SessionCache.Get(key)
	// The session claims no EMS; crypto/tls resumes with the extension.
	s.SetEMS(false)
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
	if err != nil || tlsstate.Convert(c.ConnectionState()).DidResume {
		t.Fatalf("after the drop: err %v, resumed %v", err, tlsstate.Convert(c.ConnectionState()).DidResume)
	}
}

// TestResumeEMSMissing is the other direction, against OpenSSL with the
// extension off: a session claiming EMS resumed without it is refused.
func TestResumeEMSMissing(t *testing.T) {
	addr := startOpenSSLServer(t, "-ExtendedMasterSecret", "-www")
	cfg, _, _ := resumeConfig(t)
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
	if !ok || s.EMS() {
		t.Fatalf("session %v ems %v", ok, ok && s.EMS())
	}
	s.SetEMS(true)
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
			cfg, off, trace := resumeConfig(t)
			if err := getPage(t, addr, cfg, false); err != nil {
				t.Fatal(err)
			}
			s, ok := cfg.SessionCache.Get(newKeyFor(t, cfg))
			if !ok || s.HasTicket() == (tc.arg == "-no_ticket") {
				t.Fatalf("cached %v, ticket %v", ok, ok && s.HasTicket())
			}
			flights, reqs := off.Flights(), requests(off)
			trace.reset()
			if err := getPage(t, addr, cfg, true); err != nil {
				t.Fatal(err)
			}
			if !trace.has(tc.trace) || !trace.has("tls: resumed: no offloader call") {
				t.Errorf("trace lacks %q", tc.trace)
			}
			if off.Flights() != flights || requests(off) != reqs {
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
	if tlsstate.Convert(c.ConnectionState()).DidResume != reused {
		t.Errorf("DidResume = %v, want %v", tlsstate.Convert(c.ConnectionState()).DidResume, reused)
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

// TestResumeConcurrent resumes one session from several connections at
// once (a ticket may be used again) while the cache renews it; run with
// -race it checks the cache and the session copies are safe to share.
func TestResumeConcurrent(t *testing.T) {
	e := getRealEnv(t)
	addr := serveTLS(t, tlsServerConfig(e.ecdsa), echo)
	cfg, off, _ := resumeConfig(t)
	cfg.Trace = nil
	if _, err := handshakeEcho(t, addr, cfg); err != nil {
		t.Fatal(err)
	}
	flights := off.Flights()
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
			if !tlsstate.Convert(c.ConnectionState()).DidResume {
				errs <- errors.New("not resumed")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := off.Flights(); n != flights {
		t.Errorf("%d offloader calls for resumed handshakes", n-flights)
	}
}

// TestResumeHTTPTransport: net/http over the Dialer, one connection per
// request, resumes every connection after the first without the offloader.
func TestResumeHTTPTransport(t *testing.T) {
	e := getRealEnv(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "resumed=%v", r.TLS.DidResume)
	}))
	srv.TLS = tlsServerConfig(e.ecdsa)
	srv.StartTLS()
	defer srv.Close()
	cfg, off, _ := resumeConfig(t)
	tr := &http.Transport{DialTLSContext: (&Dialer{Config: cfg}).DialContext, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	var flights uint64
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
			flights = off.Flights()
		}
	}
	if n := off.Flights(); n != flights {
		t.Errorf("%d offloader calls for resumed connections", n-flights)
	}
}

// startOpenSSLServer runs `openssl s_server` for TLS 1.2 with the test RSA
// leaf and the extra arguments; sslOptions go to an openssl.cnf Options line.
func startOpenSSLServer(t *testing.T, sslOptions string, args ...string) string {
	return opensslServer(t, getRealEnv(t).rsa, sslOptions, append([]string{"-tls1_2"}, args...)...)
}

// requests sums the operations off's server ran, over every op and result.
func requests(off *offloadtest.Offloader) uint64 {
	var sum uint64
	for _, op := range []string{"start", "auth", "keygen", "key"} {
		sum += off.Requests(op)
	}
	return sum
}
