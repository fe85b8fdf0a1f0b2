package tlsclient_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/internal/offloadtest"
	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/offloader/server"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
	"github.com/tlsoffload/tlsoffload/record"
	. "github.com/tlsoffload/tlsoffload/tlsclient"
	"github.com/tlsoffload/tlsoffload/tlsclient/tlsstate"
)

// testServerName is the name the test leaves are issued for; servers
// listen on loopback and the client dials 127.0.0.1 with this name.
const testServerName = "server.test"

// realEnv is a test PKI, made once per test binary (RSA key generation is
// slow); config gives each test an in-process offloader trusting its root
// (internal/offloadtest: the real server and client over net.Pipe).
type realEnv struct {
	pki     *testpki.PKI
	rsa     *testpki.Leaf
	ecdsa   *testpki.Leaf
	expired *testpki.Leaf
	unknown *testpki.Leaf
}

var (
	realOnce sync.Once
	realE    *realEnv
	realErr  error
)

func getRealEnv(t testing.TB) *realEnv {
	t.Helper()
	realOnce.Do(func() { realE, realErr = newRealEnv() })
	if realErr != nil {
		t.Fatal(realErr)
	}
	return realE
}

func newRealEnv() (*realEnv, error) {
	pki, err := testpki.New(time.Now())
	if err != nil {
		return nil, err
	}
	e := &realEnv{pki: pki}
	names := []string{testServerName, "127.0.0.1"}
	for _, l := range []struct {
		dst    **testpki.Leaf
		names  []string
		key    testpki.KeyType
		defect testpki.Defect
	}{
		{&e.rsa, names, testpki.RSA2048, testpki.Good},
		{&e.ecdsa, names, testpki.ECDSAP256, testpki.Good},
		{&e.expired, names, testpki.ECDSAP256, testpki.Expired},
		{&e.unknown, names, testpki.ECDSAP256, testpki.UnknownRoot},
	} {
		if *l.dst, err = pki.Issue(l.names, l.key, l.defect); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// device is the device entry of the test offloaders: trusting the test
// root, for any name.
func (e *realEnv) device() server.Device {
	return server.Device{ID: "dev", Roots: e.pki.Roots, AllowedNames: []string{"*"}}
}

// config returns a Config on an offloader of the test's own, whose
// server's counters say what the test's handshakes asked of it.
func (e *realEnv) config(t testing.TB) (*Config, *offloadtest.Offloader) {
	return e.configWith(t, e.device(), client.Config{})
}

// configWith is config for device dev and a client configured by cc
// (tracing into the test log).
func (e *realEnv) configWith(t testing.TB, dev server.Device, cc client.Config) (*Config, *offloadtest.Offloader) {
	cc.Trace = t.Logf
	off := offloadtest.New(t, dev, cc)
	return &Config{Offloader: off, ServerName: testServerName, Trace: t.Logf}, off
}

// serveTLS runs a crypto/tls server on loopback; handle runs for each
// connection after its handshake. It returns the address.
func serveTLS(t testing.TB, cfg *tls.Config, handle func(*tls.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				tc := tls.Server(c, cfg)
				if err := tc.Handshake(); err != nil {
					return
				}
				handle(tc)
			}()
		}
	}()
	return l.Addr().String()
}

func echo(c *tls.Conn) { io.Copy(c, c) }

func tlsServerConfig(leaf *testpki.Leaf) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{leaf.TLSCertificate()},
		MaxVersion:   tls.VersionTLS12,
	}
}

func dialClient(t testing.TB, addr string, cfg *Config) *Conn {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	raw.SetDeadline(time.Now().Add(20 * time.Second))
	return Client(raw, cfg)
}

// echoBothWays writes a message larger than one record and reads it back.
func echoBothWays(t testing.TB, c net.Conn) {
	t.Helper()
	msg := bytes.Repeat([]byte("tlsoffload echo "), 2000) // 32 000 bytes: two records
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		errc <- err
	}()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("echo differs")
	}
}

func TestHandshakeEverySuiteAndGroup(t *testing.T) {
	e := getRealEnv(t)
	groups := []struct {
		tls tls.CurveID
		id  uint16
	}{{tls.X25519, handshake.GroupX25519}, {tls.CurveP256, handshake.GroupP256}, {tls.CurveP384, handshake.GroupP384}}
	for _, s := range handshake.Suites {
		if !goTLSHasSuite(s.ID) {
			continue // against openssl in TestOpenSSLLegacyVersions
		}
		leaf := e.rsa
		if s.KeyExchange == handshake.KeyExchangeECDHEECDSA {
			leaf = e.ecdsa
		}
		gs := groups
		if s.KeyExchange == handshake.KeyExchangeRSA {
			gs = gs[:1] // the group plays no part
		}
		for _, g := range gs {
			t.Run(fmt.Sprintf("%s/%s", s.Name, g.tls), func(t *testing.T) {
				scfg := tlsServerConfig(leaf)
				scfg.CipherSuites = []uint16{s.ID}
				scfg.CurvePreferences = []tls.CurveID{g.tls}
				serverSuite := make(chan uint16, 1)
				addr := serveTLS(t, scfg, func(c *tls.Conn) {
					serverSuite <- c.ConnectionState().CipherSuite
					echo(c)
				})
				cfg, off := e.config(t)
				c := dialClient(t, addr, cfg)
				if err := c.Handshake(); err != nil {
					t.Fatal(err)
				}
				echoBothWays(t, c)
				if got := <-serverSuite; got != s.ID {
					t.Errorf("server negotiated %#04x", got)
				}
				cs := tlsstate.Convert(c.ConnectionState())
				if cs.Version != tls.VersionTLS12 || !cs.HandshakeComplete || cs.DidResume {
					t.Errorf("state: version %#x complete %v resumed %v", cs.Version, cs.HandshakeComplete, cs.DidResume)
				}
				if cs.CipherSuite != s.ID {
					t.Errorf("CipherSuite = %#04x, want %#04x", cs.CipherSuite, s.ID)
				}
				if s.KeyExchange != handshake.KeyExchangeRSA && cs.CurveID != g.tls {
					t.Errorf("CurveID = %v, want %v", cs.CurveID, g.tls)
				}
				if cs.ServerName != testServerName {
					t.Errorf("ServerName = %q", cs.ServerName)
				}
				if len(cs.PeerCertificates) != 2 || !cs.PeerCertificates[0].Equal(leaf.Cert) {
					t.Errorf("PeerCertificates: %d, leaf matches %v", len(cs.PeerCertificates), len(cs.PeerCertificates) > 0 && cs.PeerCertificates[0].Equal(leaf.Cert))
				}
				if len(cs.VerifiedChains) != 1 || len(cs.VerifiedChains[0]) < 2 ||
					!cs.VerifiedChains[0][len(cs.VerifiedChains[0])-1].Equal(e.pki.Root) {
					t.Errorf("VerifiedChains does not end at the test root: %v", cs.VerifiedChains)
				}
				if len(cs.TLSUnique) != 12 {
					t.Errorf("TLSUnique = %x, want the 12-byte client Finished (EMS on)", cs.TLSUnique)
				}
				if n := off.Flights(); n != 2 {
					t.Errorf("%d offloader flights, want 2 (start, then auth+keygen+key)", n)
				}
				// tlsclient's own state carries the chain as DER, unparsed.
				if own := c.ConnectionState(); len(own.PeerCertificates) != 2 || !bytes.Equal(own.PeerCertificates[0], leaf.Cert.Raw) {
					t.Error("ConnectionState.PeerCertificates is not the DER the server presented")
				}
			})
		}
	}
}

func TestALPN(t *testing.T) {
	e := getRealEnv(t)
	for _, tc := range []struct {
		server []string
		want   string
	}{
		{[]string{"h2", "http/1.1"}, "h2"},
		{[]string{"http/1.1"}, "http/1.1"},
		{nil, ""},
	} {
		t.Run(fmt.Sprint(tc.server), func(t *testing.T) {
			scfg := tlsServerConfig(e.ecdsa)
			scfg.NextProtos = tc.server
			addr := serveTLS(t, scfg, echo)
			cfg, _ := e.config(t)
			cfg.NextProtos = []string{"h2", "http/1.1"}
			c := dialClient(t, addr, cfg)
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			if got := tlsstate.Convert(c.ConnectionState()).NegotiatedProtocol; got != tc.want {
				t.Errorf("NegotiatedProtocol = %q, want %q", got, tc.want)
			}
			echoBothWays(t, c)
		})
	}
}

func TestCertificateRequestAnsweredEmpty(t *testing.T) {
	e := getRealEnv(t)
	scfg := tlsServerConfig(e.rsa)
	scfg.ClientAuth = tls.RequestClientCert
	gotCerts := make(chan int, 1)
	addr := serveTLS(t, scfg, func(c *tls.Conn) {
		gotCerts <- len(c.ConnectionState().PeerCertificates)
		echo(c)
	})
	cfg, _ := e.config(t)
	c := dialClient(t, addr, cfg)
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	echoBothWays(t, c)
	if n := <-gotCerts; n != 0 {
		t.Errorf("server saw %d client certificates", n)
	}
}

func TestSessionTicketAccepted(t *testing.T) {
	e := getRealEnv(t)
	for _, tickets := range []bool{true, false} {
		t.Run(fmt.Sprint("tickets=", tickets), func(t *testing.T) {
			scfg := tlsServerConfig(e.ecdsa)
			scfg.SessionTicketsDisabled = !tickets
			addr := serveTLS(t, scfg, echo)
			cfg, _ := e.config(t)
			var sawTicket atomic.Bool
			trace := cfg.Trace
			cfg.Trace = func(format string, args ...any) {
				if bytes.HasPrefix([]byte(format), []byte("tls: session ticket received")) {
					sawTicket.Store(true)
				}
				trace(format, args...)
			}
			c := dialClient(t, addr, cfg)
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			echoBothWays(t, c)
			if sawTicket.Load() != tickets {
				t.Errorf("ticket received = %v, want %v", sawTicket.Load(), tickets)
			}
		})
	}
}

func TestSequentialMode(t *testing.T) {
	e := getRealEnv(t)
	addr := serveTLS(t, tlsServerConfig(e.rsa), echo)
	var states []tls.ConnectionState
	for _, seq := range []bool{false, true} {
		cfg, off := e.configWith(t, e.device(), client.Config{Sequential: seq})
		c := dialClient(t, addr, cfg)
		if err := c.Handshake(); err != nil {
			t.Fatalf("sequential=%v: %v", seq, err)
		}
		echoBothWays(t, c)
		want := uint64(2)
		if seq {
			want = 4
		}
		if n := off.Flights(); n != want {
			t.Errorf("sequential=%v: %d flights, want %d", seq, n, want)
		}
		for _, op := range []string{"start", "auth", "keygen", "key"} {
			if n := off.Requests(op); n != 1 {
				t.Errorf("sequential=%v: %s requested %d times", seq, op, n)
			}
		}
		states = append(states, tlsstate.Convert(c.ConnectionState()))
	}
	a, b := states[0], states[1]
	if a.CipherSuite != b.CipherSuite || a.Version != b.Version || !a.PeerCertificates[0].Equal(b.PeerCertificates[0]) ||
		len(a.VerifiedChains[0]) != len(b.VerifiedChains[0]) {
		t.Errorf("pipelined and sequential states differ: %+v / %+v", a, b)
	}
}

func TestStartCacheHit(t *testing.T) {
	e := getRealEnv(t)
	addr := serveTLS(t, tlsServerConfig(e.ecdsa), echo)
	cfg, off := e.config(t)
	for i := 0; i < 2; i++ {
		c := dialClient(t, addr, cfg)
		if err := c.Handshake(); err != nil {
			t.Fatal(err)
		}
		echoBothWays(t, c)
		c.Close()
	}
	if n := off.Requests("start"); n != 1 {
		t.Errorf("Start called %d times for two handshakes, want 1", n)
	}
	if n := off.Requests("auth"); n != 2 {
		t.Errorf("Auth called %d times, want 2", n)
	}
	// Another list offered is another entry.
	cfg2 := *cfg
	cfg2.CipherSuites = []uint16{handshake.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}
	c := dialClient(t, addr, &cfg2)
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	if n := off.Requests("start"); n != 2 {
		t.Errorf("Start called %d times after a new suite list, want 2", n)
	}
}

func TestCertificateRefused(t *testing.T) {
	e := getRealEnv(t)
	for _, tc := range []struct {
		name   string
		leaf   *testpki.Leaf
		sni    string
		alert  record.Alert
		reason CertificateReason
		wire   wire.Reason
	}{
		{"expired", e.expired, testServerName, record.AlertCertificateExpired, ReasonExpired, wire.ReasonExpired},
		{"unknown root", e.unknown, testServerName, record.AlertUnknownCA, ReasonUnknownAuthority, wire.ReasonUnknownAuthority},
		{"wrong name", e.ecdsa, "other.test", record.AlertBadCertificate, ReasonNameMismatch, wire.ReasonNameMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serverErr := make(chan error, 1)
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				c, err := l.Accept()
				if err != nil {
					serverErr <- err
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				serverErr <- tls.Server(c, tlsServerConfig(tc.leaf)).Handshake()
			}()
			cfg, _ := e.config(t)
			cfg.ServerName = tc.sni
			c := dialClient(t, l.Addr().String(), cfg)
			err = c.Handshake()
			var ce *CertificateError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *CertificateError", err)
			}
			if ce.Reason != tc.reason || len(ce.Chain) != len(tc.leaf.Chain) || ce.ServerName != tc.sni {
				t.Errorf("CertificateError %+v, want reason %v", ce, tc.reason)
			}
			var werr *wire.Error
			if !errors.As(err, &werr) || werr.Status != wire.StatusInvalidCertificate || werr.Reason != tc.wire {
				t.Errorf("errors.As wire.Error: %v", werr)
			}
			if !errors.Is(err, tc.alert) || ce.Alert != tc.alert {
				t.Errorf("errors.Is(err, %v) false; CertificateError.Alert = %v", tc.alert, ce.Alert)
			}
			serr := <-serverErr
			if serr == nil || !bytes.Contains([]byte(serr.Error()), []byte(tc.alert.Error()[len("tls: "):])) {
				t.Errorf("server error %v, want alert %v", serr, tc.alert)
			}
			if err2 := c.Handshake(); err2 != err {
				t.Errorf("second Handshake returned %v, want the same error", err2)
			}
		})
	}
}

func TestIPAddressTarget(t *testing.T) {
	e := getRealEnv(t)
	sni := make(chan string, 1)
	scfg := tlsServerConfig(e.ecdsa)
	scfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		sni <- h.ServerName
		return nil, nil
	}
	addr := serveTLS(t, scfg, echo)
	cfg, _ := e.config(t)
	cfg.ServerName = ""
	d := &Dialer{Config: cfg}
	c, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := <-sni; got != "" {
		t.Errorf("SNI %q sent for an IP target", got)
	}
	if got := c.(*Conn).ConnectionState().ServerName; got != "127.0.0.1" {
		t.Errorf("ServerName = %q", got)
	}
	echoBothWays(t, c)

	// Without a Dialer, an empty ServerName is refused.
	cfg2, _ := e.config(t)
	cfg2.ServerName = ""
	if err := dialClient(t, addr, cfg2).Handshake(); err == nil {
		t.Error("handshake with no ServerName succeeded")
	}
}

func TestCloseSendsCloseNotify(t *testing.T) {
	e := getRealEnv(t)
	readErr := make(chan error, 1)
	addr := serveTLS(t, tlsServerConfig(e.ecdsa), func(c *tls.Conn) {
		_, err := io.ReadAll(c) // nil only if close_notify arrived (io.EOF)
		readErr <- err
	})
	cfg, _ := e.config(t)
	c := dialClient(t, addr, cfg)
	if _, err := c.Write([]byte("bye")); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-readErr; err != nil {
		t.Errorf("server read: %v, want a clean io.EOF", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestServerCloseNotifyIsEOF(t *testing.T) {
	e := getRealEnv(t)
	addr := serveTLS(t, tlsServerConfig(e.ecdsa), func(c *tls.Conn) {
		c.Write([]byte("last words"))
		c.CloseWrite()
		io.Copy(io.Discard, c)
	})
	cfg, _ := e.config(t)
	c := dialClient(t, addr, cfg)
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "last words" {
		t.Errorf("ReadAll = %q, %v", got, err)
	}
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("Read after close_notify = %d, %v; want io.EOF", n, err)
	}
}

func TestConcurrentReadWrite(t *testing.T) {
	e := getRealEnv(t)
	addr := serveTLS(t, tlsServerConfig(e.ecdsa), echo)
	cfg, _ := e.config(t)
	c := dialClient(t, addr, cfg)
	const n = 200
	msg := bytes.Repeat([]byte{'x'}, 1000)
	var wg sync.WaitGroup
	wg.Add(2)
	var werr, rerr error
	go func() { // the first Write runs the handshake, racing the Read
		defer wg.Done()
		for i := 0; i < n; i++ {
			if _, werr = c.Write(msg); werr != nil {
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		_, rerr = io.ReadFull(c, make([]byte, n*len(msg)))
	}()
	wg.Wait()
	if werr != nil || rerr != nil {
		t.Fatalf("write %v, read %v", werr, rerr)
	}
	if !tlsstate.Convert(c.ConnectionState()).HandshakeComplete {
		t.Error("handshake not complete")
	}
}

func TestHTTPTransport(t *testing.T) {
	e := getRealEnv(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	scfg := tlsServerConfig(e.ecdsa)
	scfg.NextProtos = []string{"http/1.1"}
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello %s over %s", r.Host, r.Proto)
		}),
		TLSConfig: scfg,
	}
	go hs.ServeTLS(l, "", "")
	defer hs.Close()

	cfg, _ := e.config(t)
	cfg.ServerName = ""
	cfg.NextProtos = []string{"http/1.1"}
	d := &Dialer{Config: cfg}
	tr := &http.Transport{DialTLSContext: d.DialContext}
	defer tr.CloseIdleConnections()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	// The name resolves through the Dialer: dial the IP, verify for it.
	resp, err := (&http.Client{Transport: tr, Timeout: 20 * time.Second}).Get("https://127.0.0.1:" + port + "/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello 127.0.0.1:"+port+" over HTTP/1.1" {
		t.Errorf("GET: %d %q", resp.StatusCode, body)
	}
}

func TestDialerStartsWhileDialling(t *testing.T) {
	e := getRealEnv(t)
	addr := serveTLS(t, tlsServerConfig(e.ecdsa), echo)
	cfg, off := e.config(t)
	d := &Dialer{Config: cfg}
	for i := 0; i < 2; i++ {
		c, err := d.DialContext(context.Background(), "tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		echoBothWays(t, c)
		c.Close()
	}
	if n := off.Requests("start"); n != 1 {
		t.Errorf("Start called %d times for two dials, want 1 (then cached)", n)
	}
	// A dial that fails closes nothing it should not and reports the error.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	if _, err := d.DialContext(context.Background(), "tcp", dead); err == nil {
		t.Error("dial to a closed port succeeded")
	}
}

// startGate is an Offloader whose Start answers only once the server has
// accepted the TCP connection: a Dialer that ran Start before dialling
// would fail it.
type startGate struct {
	next     Offloader
	accepted <-chan struct{}
}

func (g *startGate) Start(ctx context.Context, name string, offer Offer) (Offer, error) {
	select {
	case <-g.accepted:
	case <-time.After(5 * time.Second):
		return Offer{}, errors.New("start: the TCP connection was not dialled meanwhile")
	}
	return g.next.Start(ctx, name, offer)
}

func (g *startGate) KeyExchange(ctx context.Context, f *ServerFlight) (*ClientFlight, error) {
	return g.next.KeyExchange(ctx, f)
}

func TestDialerStartConcurrentWithDial(t *testing.T) {
	e := getRealEnv(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan struct{})
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		close(accepted)
		defer c.Close()
		tc := tls.Server(c, tlsServerConfig(e.ecdsa))
		if tc.Handshake() == nil {
			echo(tc)
		}
	}()
	cfg, _ := e.config(t)
	cfg.Offloader = &startGate{next: cfg.Offloader, accepted: accepted}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := (&Dialer{Config: cfg}).DialContext(ctx, "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echoBothWays(t, c)
}
