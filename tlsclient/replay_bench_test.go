package tlsclient_test

// Replay benchmarks: the device's TLS work per handshake, with no network,
// no server and no offloader process, side by side with crypto/tls's client
// doing the same handshake the same way.
//
// Each case is recorded once per run, in process: a real handshake with a
// crypto/tls server over net.Pipe (and, for the device, the real offloader
// core of offloader/server), with a fixed Rand and Time, keeping every byte
// the client read from the server and every answer of the offloader. Each
// benchmark iteration then runs the same client with the same Rand and Time
// over a transport that hands it the recorded bytes and swallows its
// writes: the client sends the same ClientHello, so the recorded server
// flight (and its Finished) verify, and the handshake completes for real
// (Finished checked, keys installed, close_notify sealed). The iteration is
// Client, Handshake, Close.
//
// What is measured is the client's own work: hashing, PRF, record
// protection, parsing and building messages, allocations; for crypto/tls
// also its public-key work (ECDHE, chain verification, the server's
// signature, RSA encryption), which is exactly what the device hands to the
// offloader. The offloader stand-in returns the recorded Start answer and a
// copy of the recorded key exchange: offloader/client's own work (flight
// encoding, the channel's AEAD and I/O) is not in the device's figures;
// cmd/offbench measures the real round trip.
//
//	go test -run '^$' -bench 'Handshake' -benchmem -count 10 ./tlsclient/ > bench.txt
//	benchstat -col /client bench.txt
//
// crypto/tls honours a custom Rand for its key shares and RSA padding only
// with GODEBUG=cryptocustomrand=1 since Go 1.26; the crypto/tls benchmarks
// set it for their own duration (as crypto/tls's own recorded tests do).

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/internal/offloadtest"
	"github.com/tlsoffload/tlsoffload/offloader/client"
	. "github.com/tlsoffload/tlsoffload/tlsclient"
)

// benchKex is one key exchange measured on both clients: the same suite,
// group and server certificate.
type benchKex struct {
	name  string
	suite uint16
	group uint16 // 0 for the RSA key exchange
	ecdsa bool   // the server's leaf is ECDSA P-256, else RSA-2048
}

var benchKexes = []benchKex{
	{"ECDHE-RSA-X25519", handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, handshake.GroupX25519, false},
	{"ECDHE-RSA-P256", handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, handshake.GroupP256, false},
	{"ECDHE-ECDSA-P256", handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, handshake.GroupP256, true},
	{"RSA", handshake.TLS_RSA_WITH_AES_128_GCM_SHA256, 0, false},
}

func (k benchKex) leaf(e *realEnv) *testpki.Leaf {
	if k.ecdsa {
		return e.ecdsa
	}
	return e.rsa
}

// constRand is a Rand that yields the same byte forever, so every
// iteration draws the same client random, key share and ids. Not zero:
// a zero P-256 scalar would be rejected and drawn again forever.
type constRand struct{}

func (constRand) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = 0x5a
	}
	return len(b), nil
}

// benchClock is the fixed Time of a run: inside the test PKI's validity.
var benchClock = sync.OnceValue(func() time.Time { return time.Now().Truncate(time.Second) })

func benchNow() time.Time { return benchClock() }

// replayOffloader answers from a recording: Start with the recorded
// Offer, KeyExchange with a copy of the recorded ClientFlight (the
// handshake zeroes the secrets it is handed). It is the only part of these
// benchmarks that sees the Offloader interface.
type replayOffloader struct {
	start Offer
	kx    *ClientFlight
}

func (r *replayOffloader) Start(context.Context, string, Offer) (Offer, error) { return r.start, nil }

func (r *replayOffloader) KeyExchange(context.Context, *ServerFlight) (*ClientFlight, error) {
	return cloneFlight(r.kx), nil
}

// cloneFlight copies f, as offloader/client builds a fresh one from each
// answer it decodes.
func cloneFlight(f *ClientFlight) *ClientFlight {
	c := *f
	c.ClientKeyExchange, c.Certificate = bytes.Clone(f.ClientKeyExchange), bytes.Clone(f.Certificate)
	c.CertificateVerify = bytes.Clone(f.CertificateVerify)
	c.MasterSecret, c.KeyBlock = bytes.Clone(f.MasterSecret), bytes.Clone(f.KeyBlock)
	c.Peer.Chain = slices.Clone(f.Peer.Chain)
	return &c
}

// recordingOffloader passes calls to next and keeps its answers, as
// replayOffloader gives them back.
type recordingOffloader struct {
	next Offloader
	rec  replayOffloader
}

func (r *recordingOffloader) Start(ctx context.Context, name string, offer Offer) (Offer, error) {
	o, err := r.next.Start(ctx, name, offer)
	r.rec.start = o
	return o, err
}

func (r *recordingOffloader) KeyExchange(ctx context.Context, sf *ServerFlight) (*ClientFlight, error) {
	f, err := r.next.KeyExchange(ctx, sf)
	if err == nil {
		r.rec.kx = cloneFlight(f)
	}
	return f, err
}

// pipeServer runs a crypto/tls server handshake (then drains) on the far
// end of a pipe; the returned func closes the client end and waits.
func pipeServer(b *testing.B, scfg *tls.Config) (net.Conn, func()) {
	cc, sc := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer sc.Close()
		sc.SetDeadline(time.Now().Add(10 * time.Second))
		srv := tls.Server(sc, scfg)
		if srv.Handshake() == nil {
			buf := make([]byte, 512)
			for {
				if _, err := srv.Read(buf); err != nil {
					return
				}
			}
		}
	}()
	return cc, func() { cc.Close(); <-done }
}

func benchServerConfig(e *realEnv, k benchKex) *tls.Config {
	scfg := tlsServerConfig(k.leaf(e))
	scfg.Time = benchNow
	scfg.CipherSuites = []uint16{k.suite} // Go's defaults leave out the RSA key exchange
	return scfg
}

// deviceRecording is what a device replay needs: the server's bytes, the
// offloader's answers and, for a resumption, the session offered.
type deviceRecording struct {
	server []byte
	off    replayOffloader
	sess   *ClientSession
}

func (e *realEnv) deviceBenchConfig(k benchKex, off Offloader) *Config {
	cfg := &Config{Offloader: off, ServerName: testServerName, CipherSuites: []uint16{k.suite},
		Rand: constRand{}, Time: benchNow}
	if k.group != 0 {
		cfg.Groups = []uint16{k.group}
	}
	return cfg
}

// recordDevice records a warm full handshake of the device (Start already
// answered once), or with resume a resumption of the session of a full
// handshake before it.
func recordDevice(b *testing.B, k benchKex, resume bool) *deviceRecording {
	e := getRealEnv(b)
	scfg := benchServerConfig(e, k)
	roff := &recordingOffloader{next: offloadtest.New(b, e.device(), client.Config{})}
	cfg := e.deviceBenchConfig(k, roff)
	var cache *oneSessionCache
	if resume {
		cache = &oneSessionCache{}
		cfg.SessionCache = cache
	}
	run := func() []byte {
		cc, stop := pipeServer(b, scfg)
		defer stop()
		rc := &RecordingConn{Conn: cc}
		c := Client(rc, cfg)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if err := c.Handshake(); err != nil {
			b.Fatalf("recording %s: %v", k.name, err)
		}
		if got := c.ConnectionState().DidResume; got != (resume && cache.sess != nil) {
			b.Fatalf("recording %s: resumed %v", k.name, got)
		}
		c.Close()
		return rc.Bytes()
	}
	run() // fills the Start cache (and, with resume, makes the session)
	if resume {
		if cache.put == nil {
			b.Fatal("the full handshake left no session")
		}
		cache.sess = cache.put
	}
	r := &deviceRecording{server: run(), off: roff.rec}
	if resume {
		r.sess = cache.sess
	}
	return r
}

// replayDevice runs the recorded handshake (see replayLoop).
func replayDevice(b *testing.B, k benchKex, r *deviceRecording, discard bool) {
	e := getRealEnv(b)
	off := &replayOffloader{start: r.off.start, kx: r.off.kx}
	cfg := e.deviceBenchConfig(k, off)
	cfg.DiscardPeerCertificates = discard
	if r.sess != nil {
		cfg.SessionCache = &oneSessionCache{sess: r.sess}
	}
	replayLoop(b, func(check bool) net.Conn {
		c := Client(&replayConn{r: bytes.NewReader(r.server)}, cfg)
		if err := c.Handshake(); err != nil {
			b.Fatalf("replay %s: %v", k.name, err)
		}
		// ConnectionState parses the peer's chain: not in the timed loop.
		if check && c.ConnectionState().DidResume != (r.sess != nil) {
			b.Fatalf("replay %s: resumed %v", k.name, c.ConnectionState().DidResume)
		}
		return c
	})
}

// idleConns is how many connections replayLoop holds open to weigh what
// an idle connection keeps.
const idleConns = 100

// replayLoop runs hs once to warm up (the Start cache, as on a device that
// has talked to this server before; and checks it), then b.N times, each
// connection closed (close_notify sealed and written), reporting besides
// ns/op the process's CPU per handshake as cpu-ns/op (getrusage, the GC's
// threads included): on a shared machine, wall time also counts the time
// other processes held the cores. Then, untimed, it
// opens idleConns connections and reports the live heap they hold, per
// connection after a GC, as retained-B/conn: the client's state and its
// transport's (a replayConn and its bytes.Reader, 56 bytes, the same for
// both clients).
func replayLoop(b *testing.B, hs func(check bool) net.Conn) {
	hs(true).Close()
	b.ReportAllocs()
	runtime.GC()
	b.ResetTimer()
	cpu0, ok0 := processCPU()
	for range b.N {
		hs(false).Close()
	}
	cpu1, ok1 := processCPU()
	b.StopTimer()
	if ok0 && ok1 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
	conns := make([]net.Conn, idleConns)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range conns {
		conns[i] = hs(false)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	for _, c := range conns {
		c.Close()
	}
	b.ReportMetric((float64(after.HeapAlloc)-float64(before.HeapAlloc))/idleConns, "retained-B/conn")
}

// goTLSBenchConfig is crypto/tls's client for k: the same suite, group,
// roots and name; it verifies the chain itself.
func goTLSBenchConfig(e *realEnv, k benchKex) *tls.Config {
	cfg := &tls.Config{
		RootCAs:      e.pki.Roots,
		ServerName:   testServerName,
		MinVersion:   tls.VersionTLS12,
		MaxVersion:   tls.VersionTLS12,
		CipherSuites: []uint16{k.suite},
		Rand:         constRand{},
		Time:         benchNow,
	}
	if k.group != 0 {
		cfg.CurvePreferences = []tls.CurveID{tls.CurveID(k.group)}
	}
	return cfg
}

// fixedGoSessions offers one crypto/tls session under every key and keeps
// nothing (so every replay offers the same ticket).
type fixedGoSessions struct {
	sess *tls.ClientSessionState
	put  *tls.ClientSessionState
}

func (f *fixedGoSessions) Get(string) (*tls.ClientSessionState, bool) { return f.sess, f.sess != nil }
func (f *fixedGoSessions) Put(_ string, s *tls.ClientSessionState) {
	if s != nil {
		f.put = s
	}
}

// cryptoCustomRand makes crypto/tls use Config.Rand for the rest of b.
func cryptoCustomRand(b *testing.B) {
	b.Setenv("GODEBUG", "cryptocustomrand=1,"+os.Getenv("GODEBUG"))
}

// recordGoTLS records crypto/tls's full handshake, or a resumption.
func recordGoTLS(b *testing.B, k benchKex, resume bool) (server []byte, sessions *fixedGoSessions) {
	e := getRealEnv(b)
	scfg := benchServerConfig(e, k)
	cfg := goTLSBenchConfig(e, k)
	if resume {
		sessions = &fixedGoSessions{}
		cfg.ClientSessionCache = sessions
	}
	run := func() []byte {
		cc, stop := pipeServer(b, scfg)
		defer stop()
		rc := &RecordingConn{Conn: cc}
		c := tls.Client(rc, cfg)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if err := c.Handshake(); err != nil {
			b.Fatalf("recording crypto/tls %s: %v", k.name, err)
		}
		c.Close()
		return rc.Bytes()
	}
	if resume {
		run()
		if sessions.put == nil {
			b.Fatal("crypto/tls's full handshake left no session")
		}
		sessions.sess = sessions.put
	}
	return run(), sessions
}

func replayGoTLS(b *testing.B, k benchKex, server []byte, sessions *fixedGoSessions) {
	cfg := goTLSBenchConfig(getRealEnv(b), k)
	if sessions != nil {
		cfg.ClientSessionCache = sessions
	}
	replayLoop(b, func(check bool) net.Conn {
		c := tls.Client(&replayConn{r: bytes.NewReader(server)}, cfg)
		if err := c.Handshake(); err != nil {
			b.Fatalf("replay crypto/tls %s: %v", k.name, err)
		}
		if check && c.ConnectionState().DidResume != (sessions != nil) {
			b.Fatalf("replay crypto/tls %s: resumed %v", k.name, c.ConnectionState().DidResume)
		}
		return c
	})
}

// BenchmarkFullHandshake: one full handshake of each key exchange, the
// device (client=offloaded) and crypto/tls (client=cryptotls) replaying
// the same kind of recorded server flight. crypto/tls runs first, so
// benchstat -col /client takes it as the base and shows the device's
// figures as a change from it.
func BenchmarkFullHandshake(b *testing.B) {
	for _, k := range benchKexes {
		b.Run("kex="+k.name, func(b *testing.B) {
			b.Run("client=cryptotls", func(b *testing.B) {
				cryptoCustomRand(b)
				server, _ := recordGoTLS(b, k, false)
				replayGoTLS(b, k, server, nil)
			})
			b.Run("client=offloaded", func(b *testing.B) {
				replayDevice(b, k, recordDevice(b, k, false), false)
			})
			b.Run("client=offloaded-discard", func(b *testing.B) {
				replayDevice(b, k, recordDevice(b, k, false), true)
			})
		})
	}
}

// BenchmarkResumedHandshake: an abbreviated handshake resuming an RFC 5077
// ticket from a crypto/tls server (ECDHE-RSA-X25519 for the full one): no
// offloader call on the device, no public-key operation on either client.
func BenchmarkResumedHandshake(b *testing.B) {
	k := benchKexes[0]
	b.Run("resume=ticket", func(b *testing.B) {
		b.Run("client=cryptotls", func(b *testing.B) {
			cryptoCustomRand(b)
			server, sessions := recordGoTLS(b, k, true)
			replayGoTLS(b, k, server, sessions)
		})
		b.Run("client=offloaded", func(b *testing.B) {
			replayDevice(b, k, recordDevice(b, k, true), false)
		})
	})
}
