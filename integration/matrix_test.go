package integration

// The real-peer matrix (issue 3, item 9): OpenSSL s_server, gnutls-serv and
// nginx, across TLS 1.0, 1.1 and 1.2 and every suite the device supports
// and the peer does, with RSA-2048, RSA-4096, ECDSA P-256 and P-384
// certificates; each ECDHE group; max_fragment_length 512; session
// resumption by id and by ticket (no offloader call, counted by the client
// and by the offloader's own counters); client certificates held by the
// offloader, against each peer requiring one; bad certificates refused
// with the right reason; key usage bound to the key exchange and a pinned
// `openssl req -x509` certificate (matrix_verify_test.go); ocurl against
// nginx, file compared byte for byte. TestMatrix prints one line
// per cell and a total on stdout (go test -v -run TestMatrix ./integration/
// shows them; .ci/run does).
//
// Each cell is a row of a table: a (peer, version, key) group starts one
// server process with every suite of that key and version enabled, and each
// cell narrows the client's ClientHello to one suite, so a group costs one
// process however many suites it holds. Groups run in parallel; the cells of
// a group run in order (s_server serves one connection at a time). Every
// cell checks both sides: the client's ConnectionState and the server's own
// report of version, suite, resumption and client certificate.
//
// What the peers would not do, or do differently (each handled here):
//   - OpenSSL 3 (s_server, nginx) refuses TLS 1.0/1.1, SHA-1 signed and
//     RSA-1024 certificates at its default security level: the servers run
//     at @SECLEVEL=0.
//   - OpenSSL refuses an ECDHE-ECDSA handshake when the certificate's curve
//     is not among the client's groups (RFC 4492 §5.1): the group cells
//     offer it second. gnutls does not insist.
//   - s_server -www names, in "New, TLSv1.0, Cipher is X", the version that
//     introduced the suite, not the negotiated one (read from the session's
//     "Protocol :" line); it does not name the ECDHE group chosen.
//   - gnutls-serv reports resumption only in its log, requests a client
//     certificate unless told not to (--disable-client-cert), and cannot
//     report a port the kernel chose (it is polled on a free one).
//   - nginx with ssl_verify_client on completes the handshake without a
//     client certificate and answers 400, where the others send an alert.
//   - gnutls-serv 3.7 --http accepts max_fragment_length 512 and then
//     writes its page in larger records (openssl s_client fails on it too):
//     its mfl-512 cells pass when the device refuses them with
//     record_overflow, and say so on their line.
//   - No peer refused any suite of the table at any version it allows.

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/internal/peers"
	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/offloader/server"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
	"github.com/tlsoffload/tlsoffload/record"
	"github.com/tlsoffload/tlsoffload/tlsclient"
	"github.com/tlsoffload/tlsoffload/tlsclient/tlsstate"
)

// matrixVersion is one protocol version, named as each peer names it.
type matrixVersion struct {
	name        string // in the matrix's lines
	id          uint16
	opensslFlag string // s_server
	openssl     string // as s_server and nginx report it
	gnutls      string // priority keyword
	gnutlsName  string // as gnutls-serv reports it
	nginx       string // ssl_protocols
}

var (
	tls10 = &matrixVersion{"tls1.0", tls.VersionTLS10, "-tls1", "TLSv1", "VERS-TLS1.0", "TLS1.0", "TLSv1"}
	tls11 = &matrixVersion{"tls1.1", tls.VersionTLS11, "-tls1_1", "TLSv1.1", "VERS-TLS1.1", "TLS1.1", "TLSv1.1"}
	tls12 = &matrixVersion{"tls1.2", tls.VersionTLS12, "-tls1_2", "TLSv1.2", "VERS-TLS1.2", "TLS1.2", "TLSv1.2"}
)

// tlsAll is a server allowing every version it has, TLS 1.3 included, as
// servers are deployed: a TLS 1.3 server that negotiates 1.2 marks its
// random with DOWNGRD\x01, and 1.1 or below with DOWNGRD\x00 (RFC 8446
// §4.1.3), which the device must accept when it offered no higher.
var tlsAll = &matrixVersion{"tls1.0-1.3", 0, "", "", "VERS-TLS-ALL", "", "TLSv1 TLSv1.1 TLSv1.2 TLSv1.3"}

// matrixVersions are the versions the device speaks, each a column of the
// matrix.
var matrixVersions = []*matrixVersion{tls10, tls11, tls12}

// certKind is the kind of certificate a suite needs.
type certKind int

const (
	certRSA certKind = iota
	certECDSA
)

// matrixSuite is one cipher suite, named as each peer names it.
type matrixSuite struct {
	id      uint16
	openssl string // OpenSSL's (and so nginx's) name
	gnutls  string // as gnutls-serv reports it
	cert    certKind
	tls12   bool // a TLS 1.2-only suite (AEAD, SHA-256/384 MAC)
}

// matrixSuites is every suite issue 3 names. A row is a cell only while the
// device supports the suite (it is in handshake.Suites); TestMatrix fails if
// the device supports a suite that has no row here.
var matrixSuites = []*matrixSuite{
	{0xc02f, "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE_RSA_AES_128_GCM_SHA256", certRSA, true},
	{0xc030, "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE_RSA_AES_256_GCM_SHA384", certRSA, true},
	{0xcca8, "ECDHE-RSA-CHACHA20-POLY1305", "ECDHE_RSA_CHACHA20_POLY1305", certRSA, true},
	{0xc02b, "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE_ECDSA_AES_128_GCM_SHA256", certECDSA, true},
	{0xc02c, "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE_ECDSA_AES_256_GCM_SHA384", certECDSA, true},
	{0xcca9, "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE_ECDSA_CHACHA20_POLY1305", certECDSA, true},
	{0x009c, "AES128-GCM-SHA256", "RSA_AES_128_GCM_SHA256", certRSA, true},
	{0x009d, "AES256-GCM-SHA384", "RSA_AES_256_GCM_SHA384", certRSA, true},

	{0xc013, "ECDHE-RSA-AES128-SHA", "ECDHE_RSA_AES_128_CBC_SHA1", certRSA, false},
	{0xc014, "ECDHE-RSA-AES256-SHA", "ECDHE_RSA_AES_256_CBC_SHA1", certRSA, false},
	{0xc009, "ECDHE-ECDSA-AES128-SHA", "ECDHE_ECDSA_AES_128_CBC_SHA1", certECDSA, false},
	{0xc00a, "ECDHE-ECDSA-AES256-SHA", "ECDHE_ECDSA_AES_256_CBC_SHA1", certECDSA, false},
	{0x002f, "AES128-SHA", "RSA_AES_128_CBC_SHA1", certRSA, false},
	{0x0035, "AES256-SHA", "RSA_AES_256_CBC_SHA1", certRSA, false},
	{0xc027, "ECDHE-RSA-AES128-SHA256", "ECDHE_RSA_AES_128_CBC_SHA256", certRSA, true},
	{0xc028, "ECDHE-RSA-AES256-SHA384", "ECDHE_RSA_AES_256_CBC_SHA384", certRSA, true},
	{0xc023, "ECDHE-ECDSA-AES128-SHA256", "ECDHE_ECDSA_AES_128_CBC_SHA256", certECDSA, true},
	{0xc024, "ECDHE-ECDSA-AES256-SHA384", "ECDHE_ECDSA_AES_256_CBC_SHA384", certECDSA, true},
	{0x003c, "AES128-SHA256", "RSA_AES_128_CBC_SHA256", certRSA, true},
	{0x003d, "AES256-SHA256", "RSA_AES_256_CBC_SHA256", certRSA, true},
}

// deviceSupports reports whether the device's suite table holds the suite.
func (s *matrixSuite) deviceSupports() bool { return handshake.SuiteByID(s.id) != nil }

func (s *matrixSuite) at(v *matrixVersion) bool { return !s.tls12 || v.id == tls.VersionTLS12 }

// matrixCurves are the ECDHE groups, named as each peer reports them.
var matrixCurves = []struct {
	name   string // in the matrix's lines and nginx's $ssl_curve
	id     uint16
	gnutls string // in gnutls-serv's description of the session
}{
	{"X25519", handshake.GroupX25519, "ECDHE-X25519"},
	{"prime256v1", handshake.GroupP256, "ECDHE-SECP256R1"},
	{"secp384r1", handshake.GroupP384, "ECDHE-SECP384R1"},
}

// matrixKey is one server certificate key.
type matrixKey struct {
	name  string
	key   testpki.KeyType
	kind  certKind
	curve uint16 // an ECDSA key's group
}

var matrixKeys = []matrixKey{
	{"rsa2048", testpki.RSA2048, certRSA, 0},
	{"rsa4096", testpki.RSA4096, certRSA, 0},
	{"p256", testpki.ECDSAP256, certECDSA, handshake.GroupP256},
	{"p384", testpki.ECDSAP384, certECDSA, handshake.GroupP384},
}

var matrixPeers = []*matrixPeer{opensslPeer, gnutlsPeer, nginxPeer}

// suitesFor returns the suites a (peer, version, key) group runs: the device
// supports them, they exist at the version, fit the key, and the peer does
// them.
func suitesFor(p *matrixPeer, v *matrixVersion, kind certKind) []*matrixSuite {
	var out []*matrixSuite
	for _, s := range matrixSuites {
		if s.deviceSupports() && s.at(v) && s.cert == kind && p.would(s, v) == "" {
			out = append(out, s)
		}
	}
	return out
}

// matrixCell is one line of the matrix.
type matrixCell struct {
	peer, version, suite, key, mode string
	run                             func(t *testing.T, srv *peers.Server) error
	// note, set by run, qualifies an "ok" (how the peer behaved).
	note string
}

func (c *matrixCell) String() string {
	return strings.Join([]string{c.peer, c.version, c.suite, c.key, c.mode}, " ")
}

// sortKey orders the summary: by peer, version, kind of cell, key, suite.
func (c *matrixCell) sortKey() string {
	peer := map[string]string{"openssl": "0", "gnutls": "1", "nginx": "2"}[c.peer]
	kind := "9"
	for i, prefix := range []string{"full", "group", "mfl", "sequential", "offer", "resume", "client-cert", "ocurl", "refuse"} {
		if strings.HasPrefix(c.mode, prefix) {
			kind = fmt.Sprint(i)
		}
	}
	return strings.Join([]string{peer, c.version, kind, c.key, c.suite, c.mode}, " ")
}

// matrixGroup is the cells that share one server process.
type matrixGroup struct {
	name  string
	peer  *matrixPeer
	opts  func(t *testing.T) peerOpts
	cells []*matrixCell
}

// matrixResults collects every cell's outcome for the summary.
type matrixResults struct {
	mu    sync.Mutex
	lines []matrixLine
}

type matrixLine struct {
	cell *matrixCell
	err  error
}

func (r *matrixResults) add(cell *matrixCell, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, matrixLine{cell, err})
}

// countingOffloader counts a connection's round trips to its offloader
// (client.WithRoundTripHook).
type countingOffloader struct {
	inner tlsclient.Offloader
	calls atomic.Int64
}

// CachedStart lets the Dialer see the client's Start cache, as without
// the counter.
func (c *countingOffloader) CachedStart(name string, offer tlsclient.Offer) (tlsclient.Offer, bool) {
	if sc, ok := c.inner.(tlsclient.StartCacher); ok {
		return sc.CachedStart(name, offer)
	}
	return tlsclient.Offer{}, false
}

func (c *countingOffloader) Start(ctx context.Context, name string, offer tlsclient.Offer) (tlsclient.Offer, error) {
	return c.inner.Start(client.WithRoundTripHook(ctx, c.count), name, offer)
}

func (c *countingOffloader) KeyExchange(ctx context.Context, sf *tlsclient.ServerFlight) (*tlsclient.ClientFlight, error) {
	return c.inner.KeyExchange(client.WithRoundTripHook(ctx, c.count), sf)
}

func (c *countingOffloader) count(string, time.Duration, error) { c.calls.Add(1) }

// keepingCache is a session cache that also remembers the last session put.
type keepingCache struct {
	*tlsclient.LRUSessionCache
	mu   sync.Mutex
	last *tlsclient.ClientSession
}

func (k *keepingCache) Put(key string, s *tlsclient.ClientSession) {
	k.mu.Lock()
	if s != nil {
		k.last = s
	}
	k.mu.Unlock()
	k.LRUSessionCache.Put(key, s)
}

// exchange is what one connection through tlsoffload saw.
type exchange struct {
	state    tls.ConnectionState
	bodies   [][]byte // one per path
	uploaded []byte   // the body of a "PUT /path", if any
	calls    int64    // offloader flights this connection sent
}

// uploadLen is the size of a PUT body: several records from the device.
const uploadLen = 150_000 + 3

// fetchPaths connects to addr through tlsoffload, GETs each path in turn on
// one connection (HTTP/1.1, the last with Connection: close), and returns
// the bodies and the connection's state. A path "PUT /p" uploads
// uploadLen random bytes to /p instead.
func fetchPaths(cfg *tlsclient.Config, addr string, paths []string) (*exchange, error) {
	counter := &countingOffloader{inner: cfg.Offloader}
	c2 := *cfg
	c2.Offloader = counter
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := (&tlsclient.Dialer{Config: &c2}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return &exchange{calls: counter.calls.Load()}, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	ex := &exchange{state: tlsstate.Convert(conn.(*tlsclient.Conn).ConnectionState()), calls: counter.calls.Load()}
	br := bufio.NewReader(conn)
	for i, p := range paths {
		closing := ""
		if i == len(paths)-1 {
			closing = "Connection: close\r\n"
		}
		method, path, body := "GET", p, []byte(nil)
		if put, ok := strings.CutPrefix(p, "PUT "); ok {
			method, path = "PUT", put
			ex.uploaded = make([]byte, uploadLen)
			rand.Read(ex.uploaded)
			body = ex.uploaded
			closing += fmt.Sprintf("Content-Length: %d\r\n", len(body))
		}
		req := fmt.Appendf(nil, "%s %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n", method, path, closing)
		if _, err := conn.Write(append(req, body...)); err != nil {
			return ex, fmt.Errorf("write request %s: %w", p, err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return ex, fmt.Errorf("read response %s: %w", p, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return ex, fmt.Errorf("read body %s (%d bytes so far): %w", p, len(got), err)
		}
		if resp.StatusCode != 200 && !(method == "PUT" && (resp.StatusCode == 201 || resp.StatusCode == 204)) {
			return ex, fmt.Errorf("%s: status %s: %.200q", p, resp.Status, got)
		}
		ex.bodies = append(ex.bodies, got)
	}
	return ex, nil
}

// matrixDevice is the matrix's device as its offloader knows it.
func matrixDevice(p *testpki.PKI) server.Device {
	// TLS 1.0 and 1.1 are off unless the device's policy allows them.
	return server.Device{ID: deviceID, Roots: p.Roots, AllowedNames: []string{"*"}, MinVersion: tls.VersionTLS10}
}

// offloaderRequests sums the operations srv ran, over every op and
// result: the offloader's own count of what it served.
func offloaderRequests(srv *server.Server) uint64 {
	var sum uint64
	for _, op := range srv.Stats().Ops {
		for _, n := range op.Results {
			sum += n
		}
	}
	return sum
}

// moreMatrixGroups are groups defined in other files (one feature each).
var moreMatrixGroups []func(t *testing.T, e *matrixEnv) []*matrixGroup

// newMatrixOffloader is an in-process offloader serving one device, d,
// given a fresh PSK, and the device's client for it.
func newMatrixOffloader(t *testing.T, d server.Device) *offloaderEnv {
	t.Helper()
	d.PSK = make([]byte, 32)
	rand.Read(d.PSK)
	reg := server.NewRegistry()
	if err := reg.Add(d); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l, false)
	cl, err := client.New(client.Config{Addrs: []string{l.Addr().String()}, DeviceID: d.ID, PSK: d.PSK})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close(); srv.Close() })
	return &offloaderEnv{srv: srv, addr: l.Addr().String(), psk: d.PSK, client: cl}
}

// matrixEnv is what every cell shares: the PKI and one in-process offloader.
type matrixEnv struct {
	pki   *testpki.PKI
	off   *offloaderEnv
	peers []*matrixPeer // the installed ones
}

func (e *matrixEnv) config(v *matrixVersion, s *matrixSuite) *tlsclient.Config {
	cfg := e.off.config("localhost")
	cfg.MinVersion, cfg.MaxVersion = v.id, v.id
	if s != nil {
		cfg.CipherSuites = []uint16{s.id}
	}
	return cfg
}

// checkFull checks what both sides say of a full handshake: the client's
// state, the server's report, the offloader's one flight and, for nginx,
// the file byte for byte.
func checkFull(p *matrixPeer, v *matrixVersion, s *matrixSuite, ex *exchange, wantResumed bool) error {
	st := ex.state
	if !st.HandshakeComplete || st.Version != v.id || st.CipherSuite != s.id {
		return fmt.Errorf("client state: version %#04x suite %#04x complete %v", st.Version, st.CipherSuite, st.HandshakeComplete)
	}
	if st.DidResume != wantResumed {
		return fmt.Errorf("client DidResume %v, want %v", st.DidResume, wantResumed)
	}
	if wantResumed && ex.calls != 0 {
		return fmt.Errorf("resumed handshake made %d offloader calls, want 0", ex.calls)
	}
	if !wantResumed && ex.calls == 0 {
		return errors.New("full handshake made no offloader call")
	}
	page := string(ex.bodies[len(ex.bodies)-1])
	version, suite, reused, err := p.report(page)
	if err != nil {
		return err
	}
	wantVersion, wantSuite := v.openssl, s.openssl
	if p == gnutlsPeer {
		wantVersion, wantSuite = v.gnutlsName, s.gnutls
	}
	if version != wantVersion || suite != wantSuite {
		return fmt.Errorf("%s reports %s %s, want %s %s", p.name, version, suite, wantVersion, wantSuite)
	}
	if p != gnutlsPeer && reused != wantResumed {
		return fmt.Errorf("%s reports reused=%v, want %v", p.name, reused, wantResumed)
	}
	if p == nginxPeer {
		// nginxPeer.paths: PUT /up/echo.bin, GET it back, GET /blob.bin.
		if string(ex.bodies[1]) != string(ex.uploaded) {
			return fmt.Errorf("nginx returned %d bytes of the %d uploaded, not the same", len(ex.bodies[1]), len(ex.uploaded))
		}
		if string(ex.bodies[2]) != string(nginxBlob) {
			return fmt.Errorf("nginx /blob.bin differs: %d bytes, want %d", len(ex.bodies[2]), len(nginxBlob))
		}
	}
	return nil
}

// fullCell is one full handshake with one suite.
func (e *matrixEnv) fullCell(p *matrixPeer, v *matrixVersion, k matrixKey, s *matrixSuite) *matrixCell {
	return &matrixCell{peer: p.name, version: v.name, suite: s.openssl, key: k.name, mode: "full",
		run: func(t *testing.T, srv *peers.Server) error {
			ex, err := fetchPaths(e.config(v, s), srv.Addr, p.paths)
			if err != nil {
				return err
			}
			return checkFull(p, v, s, ex, false)
		}}
}

// curveCell is a full handshake offering one ECDHE group: the client and,
// where the peer says, the server agree on it.
func (e *matrixEnv) curveCell(p *matrixPeer, v *matrixVersion, k matrixKey, s *matrixSuite, ci int) *matrixCell {
	c := matrixCurves[ci]
	return &matrixCell{peer: p.name, version: v.name, suite: s.openssl, key: k.name, mode: "group-" + c.name,
		run: func(t *testing.T, srv *peers.Server) error {
			cfg := e.config(v, s)
			cfg.Groups = []uint16{c.id}
			// An ECDSA certificate's own curve must be among the groups
			// offered (RFC 4492 §5.1, kept by RFC 8422 for TLS 1.2):
			// OpenSSL, and so nginx, refuse the handshake otherwise. It
			// goes second, so the server still picks c.
			if k.curve != 0 && k.curve != c.id {
				cfg.Groups = append(cfg.Groups, k.curve)
			}
			ex, err := fetchPaths(cfg, srv.Addr, p.paths)
			if err != nil {
				return err
			}
			if err := checkFull(p, v, s, ex, false); err != nil {
				return err
			}
			if uint16(ex.state.CurveID) != c.id {
				return fmt.Errorf("client state: group %d, want %d", ex.state.CurveID, c.id)
			}
			page := string(ex.bodies[len(ex.bodies)-1])
			switch p {
			case nginxPeer:
				if f := strings.Split(strings.TrimSpace(page), "|"); f[len(f)-1] != c.name {
					return fmt.Errorf("nginx reports group %q, want %s", f[len(f)-1], c.name)
				}
			case gnutlsPeer:
				if !strings.Contains(page, "("+c.gnutls+")") {
					return fmt.Errorf("gnutls does not report %s", c.gnutls)
				}
			}
			// s_server -www names the groups both sides support, not the
			// one chosen: the client's state is the witness there.
			return nil
		}}
}

// offerCell connects to a server allowing TLS 1.0 to 1.3 with the device
// offering min..max and its default suites: both sides end at want.
func (e *matrixEnv) offerCell(p *matrixPeer, k matrixKey, min, max, want *matrixVersion) *matrixCell {
	return &matrixCell{peer: p.name, version: want.name, suite: "-", key: k.name,
		mode: "offer-" + strings.TrimPrefix(min.name, "tls") + "-" + strings.TrimPrefix(max.name, "tls") + "-to-tls1.0-1.3",
		run: func(t *testing.T, srv *peers.Server) error {
			cfg := e.off.config("localhost")
			cfg.MinVersion, cfg.MaxVersion = min.id, max.id
			ex, err := fetchPaths(cfg, srv.Addr, p.paths)
			if err != nil {
				return err
			}
			if ex.state.Version != want.id {
				return fmt.Errorf("client negotiated %#04x, want %#04x", ex.state.Version, want.id)
			}
			version, _, _, err := p.report(string(ex.bodies[len(ex.bodies)-1]))
			if err != nil {
				return err
			}
			wantVersion := want.openssl
			if p == gnutlsPeer {
				wantVersion = want.gnutlsName
			}
			if version != wantVersion {
				return fmt.Errorf("%s reports %s, want %s", p.name, version, wantVersion)
			}
			return nil
		}}
}

// sequentialCell is a full handshake in the patent's sequential mode: Auth,
// KeyGen and Key one round trip each instead of one pipelined flight.
func (e *matrixEnv) sequentialCell(p *matrixPeer, v *matrixVersion, k matrixKey, s *matrixSuite) *matrixCell {
	return &matrixCell{peer: p.name, version: v.name, suite: s.openssl, key: k.name, mode: "sequential",
		run: func(t *testing.T, srv *peers.Server) error {
			cfg := e.config(v, s)
			cfg.Offloader = e.off.sequentialClient(t)
			ex, err := fetchPaths(cfg, srv.Addr, p.paths)
			if err != nil {
				return err
			}
			// Start, then Auth, KeyGen and Key (Start may be cached).
			if ex.calls < 3 {
				return fmt.Errorf("sequential handshake made %d offloader calls, want at least 3", ex.calls)
			}
			return checkFull(p, v, s, ex, false)
		}}
}

// mflCell is a full handshake that requires max_fragment_length 512 (RFC
// 6066): every record both ways carries at most 512 bytes of plaintext,
// through the same requests (for nginx, 150 kB up and 350 kB down).
func (e *matrixEnv) mflCell(p *matrixPeer, v *matrixVersion, k matrixKey, s *matrixSuite) *matrixCell {
	c := &matrixCell{peer: p.name, version: v.name, suite: s.openssl, key: k.name, mode: "mfl-512"}
	c.run = func(t *testing.T, srv *peers.Server) error {
		cfg := e.config(v, s)
		cfg.MaxFragmentLength, cfg.RequireMaxFragmentLength = 512, true
		ex, err := fetchPaths(cfg, srv.Addr, p.paths)
		var ae *record.AlertError
		if p.mflOversize && ex.state.HandshakeComplete && errors.As(err, &ae) &&
			!ae.Remote && ae.Alert == record.AlertRecordOverflow {
			// The peer agreed to 512 and then wrote larger records: the
			// device refused them, as RFC 6066 §4 says it must.
			c.note = "peer agreed to 512 but wrote larger records: refused with record_overflow"
			return nil
		}
		if err != nil {
			return err
		}
		return checkFull(p, v, s, ex, false)
	}
	return c
}

// resumeCell is a full handshake, then a second connection that resumes
// its session (by id or ticket, as the server allows) with no offloader
// call, and the server agrees it resumed.
func (e *matrixEnv) resumeCell(p *matrixPeer, v *matrixVersion, k matrixKey, s *matrixSuite, mode resumeMode) *matrixCell {
	name := "resume-id"
	if mode == resumeTickets {
		name = "resume-ticket"
	}
	return &matrixCell{peer: p.name, version: v.name, suite: s.openssl, key: k.name, mode: name,
		run: func(t *testing.T, srv *peers.Server) error {
			return e.resumeRun(t, srv, p, v, s, mode, matrixDevice(e.pki), nil)
		}}
}

// resumeRun runs a full handshake and a resumed one for dev, checking each
// connection with check too when it is not nil.
func (e *matrixEnv) resumeRun(t *testing.T, srv *peers.Server, p *matrixPeer, v *matrixVersion, s *matrixSuite,
	mode resumeMode, dev server.Device, check func(*exchange) error) error {
	cache := &keepingCache{LRUSessionCache: tlsclient.NewLRUSessionCache(4)}
	cfg := e.config(v, s)
	cfg.SessionCache = cache
	// An offloader of the cell's own, whose counters are a second
	// witness (beside the client's count) that resumption asks it
	// nothing.
	off := newMatrixOffloader(t, dev)
	cfg.Offloader = off.client
	// One device, one client: its Start answer is cached by the
	// full handshake, so the resumed one needs no Start either.
	resumedBefore := 0
	if srv.Out != nil {
		resumedBefore = strings.Count(srv.Out.String(), gnutlsResumedMarker)
	}
	ex, err := fetchPaths(cfg, srv.Addr, p.paths)
	if err != nil {
		return fmt.Errorf("first connection: %w", err)
	}
	if err := checkFull(p, v, s, ex, false); err != nil {
		return fmt.Errorf("first connection: %w", err)
	}
	if check != nil {
		if err := check(ex); err != nil {
			return fmt.Errorf("first connection: %w", err)
		}
	}
	cache.mu.Lock()
	sess := cache.last
	cache.mu.Unlock()
	if sess == nil {
		return errors.New("no session cached after the full handshake")
	}
	if sess.HasTicket() != (mode == resumeTickets) {
		return fmt.Errorf("cached session has ticket %v, want %v", sess.HasTicket(), mode == resumeTickets)
	}
	served := offloaderRequests(off.srv)
	if served == 0 {
		return errors.New("the offloader counted no request for a full handshake")
	}
	ex, err = fetchPaths(cfg, srv.Addr, p.paths)
	if err != nil {
		return fmt.Errorf("resumed connection: %w", err)
	}
	if err := checkFull(p, v, s, ex, true); err != nil {
		return fmt.Errorf("resumed connection: %w", err)
	}
	if check != nil {
		if err := check(ex); err != nil {
			return fmt.Errorf("resumed connection: %w", err)
		}
	}
	if after := offloaderRequests(off.srv); after != served {
		return fmt.Errorf("the offloader counted %d requests for the resumed handshake, want 0", after-served)
	}
	if p == gnutlsPeer {
		// gnutls-serv logs the resumption after the handshake; wait
		// for the line rather than race it.
		deadline := time.Now().Add(5 * time.Second)
		for strings.Count(srv.Out.String(), gnutlsResumedMarker) != resumedBefore+1 {
			if time.Now().After(deadline) {
				return errors.New("gnutls-serv did not log a resumed session")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// badCertCases are the certificates that must be refused, and the reason.
var badCertCases = []struct {
	name   string
	defect testpki.Defect
	key    testpki.KeyType
	reason wire.Reason
}{
	{"expired", testpki.Expired, testpki.ECDSAP256, wire.ReasonExpired},
	{"not-yet-valid", testpki.NotYetValid, testpki.ECDSAP256, wire.ReasonNotYetValid},
	{"wrong-name", testpki.WrongName, testpki.ECDSAP256, wire.ReasonNameMismatch},
	{"unknown-root", testpki.UnknownRoot, testpki.ECDSAP256, wire.ReasonUnknownAuthority},
	{"self-signed", testpki.SelfSigned, testpki.ECDSAP256, wire.ReasonUnknownAuthority},
	{"missing-intermediate", testpki.MissingIntermediate, testpki.ECDSAP256, wire.ReasonUnknownAuthority},
	{"ca-as-leaf", testpki.CAAsLeaf, testpki.ECDSAP256, wire.ReasonKeyUsage},
	{"no-server-auth", testpki.NoServerAuth, testpki.ECDSAP256, wire.ReasonKeyUsage},
	{"sha1-signed", testpki.SHA1Signed, testpki.RSA2048, wire.ReasonWeakSignature},
	{"rsa1024", testpki.Good, testpki.RSA1024, wire.ReasonWeakKey},
}

func keyName(k testpki.KeyType) string {
	switch k {
	case testpki.RSA1024:
		return "rsa1024"
	case testpki.RSA2048:
		return "rsa2048"
	case testpki.RSA4096:
		return "rsa4096"
	case testpki.ECDSAP256:
		return "p256"
	case testpki.ECDSAP384:
		return "p384"
	}
	return fmt.Sprint(k)
}

// badCertCell dials a server presenting a bad certificate: the handshake
// fails with *tlsclient.CertificateError carrying the right reason.
func (e *matrixEnv) badCertCell(p *matrixPeer, name string, key testpki.KeyType, reason wire.Reason) *matrixCell {
	return &matrixCell{peer: p.name, version: tls12.name, suite: "-", key: keyName(key), mode: "refuse-" + name,
		run: func(t *testing.T, srv *peers.Server) error {
			ex, err := fetchPaths(e.config(tls12, nil), srv.Addr, p.paths)
			if err == nil {
				return errors.New("handshake succeeded")
			}
			var ce *tlsclient.CertificateError
			if !errors.As(err, &ce) {
				return fmt.Errorf("want *tlsclient.CertificateError, got %T: %v", err, err)
			}
			if wireErr(ce).Status != wire.StatusInvalidCertificate || wireErr(ce).Reason != reason {
				return fmt.Errorf("got status %v reason %v, want reason %v", wireErr(ce).Status, wireErr(ce).Reason, reason)
			}
			if ex.calls == 0 {
				return errors.New("refused without asking the offloader")
			}
			return nil
		}}
}

// ocurlCell runs the built ocurl against nginx (which allows only the
// version v) and compares the file it writes byte for byte.
func (e *matrixEnv) ocurlCell(v *matrixVersion, k matrixKey, rootFile string) *matrixCell {
	return &matrixCell{peer: "nginx", version: v.name, suite: "-", key: k.name, mode: "ocurl",
		run: func(t *testing.T, srv *peers.Server) error {
			out := filepath.Join(t.TempDir(), "got.bin")
			_, port, _ := net.SplitHostPort(srv.Addr)
			code, _, stderr := runOcurl(t, "-sS", "--cacert", rootFile, "-o", out, "--"+strings.Replace(v.name, "tls", "tlsv", 1),
				"--resolve", "localhost:"+port+":127.0.0.1", "https://localhost:"+port+"/blob.bin")
			if code != 0 {
				return fmt.Errorf("ocurl exit %d: %s", code, stderr)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				return err
			}
			if string(got) != string(nginxBlob) {
				return fmt.Errorf("ocurl wrote %d bytes that differ from the %d served", len(got), len(nginxBlob))
			}
			return nil
		}}
}

// matrixGroups builds the whole matrix as groups of cells.
func (e *matrixEnv) matrixGroups(t *testing.T) []*matrixGroup {
	var groups []*matrixGroup
	leafOpts := func(v *matrixVersion, key testpki.KeyType, d testpki.Defect, suites []*matrixSuite, mode resumeMode) func(t *testing.T) peerOpts {
		return func(t *testing.T) peerOpts {
			return peerOpts{version: v, leaf: issue(t, key, d), suites: suites, resume: mode}
		}
	}

	// ocurl fetches nginx's file in each of its groups.
	rootFile := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(rootFile, e.pki.RootPEM(), 0o644); err != nil {
		t.Fatal(err)
	}

	// Full handshakes: every suite of each (peer, version, key).
	for _, p := range e.peers {
		for _, v := range matrixVersions {
			for _, k := range matrixKeys {
				suites := suitesFor(p, v, k.kind)
				if len(suites) == 0 {
					continue
				}
				g := &matrixGroup{name: p.name + "/" + v.name + "/" + k.name, peer: p,
					opts: leafOpts(v, k.key, testpki.Good, suites, resumeDefault)}
				for _, s := range suites {
					g.cells = append(g.cells, e.fullCell(p, v, k, s))
				}
				// Each ECDHE group, with the key's first ECDHE suite.
				for _, s := range suites {
					if strings.HasPrefix(s.openssl, "ECDHE") {
						for ci := range matrixCurves {
							g.cells = append(g.cells, e.curveCell(p, v, k, s, ci))
						}
						break
					}
				}
				if k.key == testpki.RSA2048 {
					g.cells = append(g.cells, e.mflCell(p, v, k, suites[0]), e.sequentialCell(p, v, k, suites[0]))
				} else {
					// The other keys resume too, by ticket (which these
					// servers prefer); RSA-2048 has groups of its own for
					// ids and tickets below.
					g.cells = append(g.cells, e.resumeCell(p, v, k, suites[0], resumeTickets))
				}
				if p == nginxPeer {
					g.cells = append(g.cells, e.ocurlCell(v, k, rootFile))
				}
				groups = append(groups, g)
			}
		}
	}

	// Resumption by session id and by ticket, each with an ECDHE suite and
	// an RSA key-exchange suite where the device has one at that version.
	rsa2048 := matrixKeys[0]
	for _, p := range e.peers {
		for _, v := range matrixVersions {
			suites := resumeSuites(p, v)
			if len(suites) == 0 {
				continue
			}
			for _, mode := range []resumeMode{resumeIDs, resumeTickets} {
				g := &matrixGroup{name: fmt.Sprintf("%s/%s/resume-%d", p.name, v.name, mode), peer: p,
					opts: leafOpts(v, rsa2048.key, testpki.Good, suites, mode)}
				for _, s := range suites {
					g.cells = append(g.cells, e.resumeCell(p, v, rsa2048, s, mode))
				}
				groups = append(groups, g)
			}
		}
	}

	// Servers as deployed (every version, TLS 1.3 included), and the device
	// offering 1.2 only (its default), 1.0 to 1.1, and 1.0 to 1.2.
	for _, p := range e.peers {
		k := matrixKeys[0]
		groups = append(groups, &matrixGroup{name: p.name + "/" + tlsAll.name + "/" + k.name, peer: p,
			opts: leafOpts(tlsAll, k.key, testpki.Good, nil, resumeDefault),
			cells: []*matrixCell{
				e.offerCell(p, k, tls12, tls12, tls12),
				e.offerCell(p, k, tls10, tls11, tls11),
				e.offerCell(p, k, tls10, tls12, tls12),
			}})
	}

	// Bad certificates, against every peer.
	for _, p := range e.peers {
		for _, bc := range badCertCases {
			g := &matrixGroup{name: p.name + "/refuse/" + bc.name, peer: p,
				opts:  leafOpts(tls12, bc.key, bc.defect, nil, resumeDefault),
				cells: []*matrixCell{e.badCertCell(p, bc.name, bc.key, bc.reason)}}
			groups = append(groups, g)
		}
	}
	return groups
}

// resumeSuites picks the resumption suites at v: the first ECDHE-RSA and
// the first RSA key-exchange suite the device and the peer support.
func resumeSuites(p *matrixPeer, v *matrixVersion) []*matrixSuite {
	var ecdhe, rsaKX *matrixSuite
	for _, s := range suitesFor(p, v, certRSA) {
		isRSAKX := !strings.HasPrefix(s.openssl, "ECDHE")
		if isRSAKX && rsaKX == nil {
			rsaKX = s
		}
		if !isRSAKX && ecdhe == nil {
			ecdhe = s
		}
	}
	var out []*matrixSuite
	for _, s := range []*matrixSuite{ecdhe, rsaKX} {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

func TestMatrix(t *testing.T) {
	// Every suite the device supports has a row: a suite added to the
	// device without one would silently be left out of the matrix.
	for _, s := range handshake.Suites {
		found := false
		for _, m := range matrixSuites {
			found = found || m.id == s.ID
		}
		if !found {
			t.Errorf("the device supports %s (%#04x) but the matrix has no row for it", s.Name, s.ID)
		}
	}
	// A peer that is not installed leaves out its cells, saying so, unless
	// TLSOFFLOAD_REQUIRE_PEERS=1 (CI), where requirePeer fails the test.
	var installed []*matrixPeer
	for _, p := range matrixPeers {
		if peers.Installed(p.bin) || os.Getenv("TLSOFFLOAD_REQUIRE_PEERS") == "1" {
			requirePeer(t, p.bin)
			installed = append(installed, p)
		} else {
			fmt.Printf("matrix: %s not installed: its cells are left out\n", p.bin)
		}
	}
	if len(installed) == 0 {
		t.Skip("no peer installed")
	}

	p := testPKI(t)
	env := &matrixEnv{pki: p, off: newMatrixOffloader(t, matrixDevice(p)), peers: installed}
	groups := env.matrixGroups(t)
	for _, more := range moreMatrixGroups {
		groups = append(groups, more(t, env)...)
	}
	results := &matrixResults{}
	var noServerMu sync.Mutex
	noServer := map[*matrixGroup]bool{} // groups whose server did not start
	start := time.Now()
	t.Run("cells", func(t *testing.T) {
		for _, g := range groups {
			t.Run(g.name, func(t *testing.T) {
				t.Parallel()
				started := false
				defer func() {
					if !started {
						noServerMu.Lock()
						noServer[g] = true
						noServerMu.Unlock()
					}
				}()
				srv := g.peer.start(t, g.opts(t))
				started = true
				for _, c := range g.cells {
					t.Run(c.suite+"/"+c.mode, func(t *testing.T) {
						err := errors.New("stopped by a fatal error (see the test log)")
						defer func() { results.add(c, err) }()
						if err = c.run(t, srv); err != nil {
							t.Errorf("matrix: %s: %v", c, err)
						}
					})
				}
			})
		}
	})

	// A group whose server would not start recorded none of its cells:
	// count them as failed so the total is honest. (A cell -run left out
	// is neither.)
	for _, g := range groups {
		for _, c := range g.cells {
			if noServer[g] {
				results.add(c, errors.New("not run: its server did not start (see the test log)"))
			}
		}
	}

	lines := results.lines
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].cell.sortKey() < lines[j].cell.sortKey() })
	passed, failed := 0, 0
	for _, l := range lines {
		if l.err == nil {
			passed++
			if l.cell.note != "" {
				fmt.Printf("matrix: %s ok (%s)\n", l.cell.String(), l.cell.note)
			} else {
				fmt.Printf("matrix: %s ok\n", l.cell.String())
			}
		} else {
			failed++
			fmt.Printf("matrix: %s FAIL: %v\n", l.cell.String(), l.err)
		}
	}
	fmt.Printf("matrix: %d cells, %d passed, %d failed (%s)\n", len(lines), passed, failed, time.Since(start).Round(time.Second))
	if failed > 0 {
		t.Errorf("matrix: %d of %d cells failed", failed, len(lines))
	}
}
