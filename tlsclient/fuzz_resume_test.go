package tlsclient_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	. "github.com/tlsoffload/tlsoffload/tlsclient"
)

// oneSessionCache offers the same session under every key (the key digests
// the Start answer, which the fuzz function need not reproduce) and keeps
// nothing it is given, so every fuzz run starts from the same session
// (the handshake zeroes only what an LRUSessionCache hands it).
type oneSessionCache struct {
	mu   sync.Mutex
	sess *ClientSession
	put  *ClientSession // the last session Put, for the seed capture
}

func (c *oneSessionCache) Get(string) (*ClientSession, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return nil, false
	}
	return c.sess, true
}

func (c *oneSessionCache) Put(_ string, s *ClientSession) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s != nil {
		c.put = s
	}
}

// resumeRand is the fixed randomness of every resumption attempt, so the
// captured ClientHello and the fuzzed ones are the same bytes.
func resumeRand() io.Reader { return bytes.NewReader(bytes.Repeat([]byte{0x5a}, 4096)) }

// captureResumption runs a full handshake with a crypto/tls server through
// the real offloader, then one resuming its session (crypto/tls resumes by
// RFC 5077 ticket) with resumeRand, and returns the session and what the
// server sent in the resumed handshake.
func captureResumption(t testing.TB) (*ClientSession, []byte) {
	e := getRealEnv(t)
	scfg := tlsServerConfig(e.ecdsa)
	cache := &oneSessionCache{}
	run := func(rand io.Reader) []byte {
		cc, sc := net.Pipe()
		defer cc.Close()
		go func() {
			defer sc.Close()
			sc.SetDeadline(time.Now().Add(5 * time.Second))
			srv := tls.Server(sc, scfg)
			if srv.Handshake() == nil {
				io.Copy(io.Discard, srv)
			}
		}()
		rc := &RecordingConn{Conn: cc}
		cfg, _ := e.config(t)
		cfg.Trace, cfg.SessionCache, cfg.Rand = nil, cache, rand
		c := Client(rc, cfg)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if err := c.Handshake(); err != nil {
			t.Fatalf("handshake with crypto/tls: %v", err)
		}
		c.Close()
		return rc.Bytes()
	}
	run(nil)
	if cache.put == nil {
		t.Fatal("the full handshake left no session")
	}
	cache.sess = cache.put
	flight := run(resumeRand())
	return cache.sess, flight
}

// FuzzResumedServerFlight feeds arbitrary bytes as the server's answer to
// a ClientHello offering a session (the abbreviated handshake of RFC 5246
// §7.3 and RFC 5077 §3.1), seeded with a real crypto/tls resumption: the
// handshake must end, with an error unless the bytes resume the session
// correctly, never a panic nor a hang.
func FuzzResumedServerFlight(f *testing.F) {
	sess, flight := captureResumption(f)
	f.Add(flight)
	f.Add(flight[:len(flight)/2])
	f.Add([]byte{})
	e := getRealEnv(f)

	f.Fuzz(func(t *testing.T, server []byte) {
		cfg, _ := e.config(t)
		cfg.Trace, cfg.SessionCache, cfg.Rand = nil, &oneSessionCache{sess: sess}, resumeRand()
		c := Client(&replayConn{r: bytes.NewReader(server)}, cfg)
		done := make(chan error, 1)
		go func() { done <- c.Handshake() }()
		select {
		case err := <-done:
			if bytes.Equal(server, flight) && (err != nil || !c.ConnectionState().DidResume) {
				// The replay is exact: same session, same ClientHello.
				t.Fatalf("the captured resumption did not resume: %v", err)
			}
			if err == nil && !c.ConnectionState().DidResume {
				// A full handshake cannot succeed: nobody here holds the
				// server's key for a fresh flight.
				t.Fatal("a full handshake succeeded against arbitrary bytes")
			}
		case <-time.After(20 * time.Second):
			t.Fatal("handshake did not return")
		}
		c.Close()
	})
}

// replayConn is a transport that reads the given server bytes, then EOF,
// and takes every write: the client can finish a handshake whose whole
// answer it was handed in advance, and cannot block.
type replayConn struct{ r *bytes.Reader }

func (c *replayConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c *replayConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c *replayConn) Close() error                     { return nil }
func (c *replayConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *replayConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *replayConn) SetDeadline(time.Time) error      { return nil }
func (c *replayConn) SetReadDeadline(time.Time) error  { return nil }
func (c *replayConn) SetWriteDeadline(time.Time) error { return nil }
