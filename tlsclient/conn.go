// Package tlsclient is a TLS 1.0–1.2 client (RFC 5246, RFC 7627, RFC 5746,
// RFC 7301) that performs no public-key operation: certificate and
// ServerKeyExchange verification, the ClientKeyExchange and the key
// derivation are done by an offloader (see Offloader), in one pipelined
// round trip after ServerHelloDone. The device hashes the transcript, runs
// the PRF for Finished, and does the symmetric record protection (package
// record).
//
// Session resumption stays on the device (Config.SessionCache): session
// IDs (RFC 5246 §7.3) and session tickets (RFC 5077, with a fresh session
// id sent alongside as §3.4 says), the extended master secret checked as
// RFC 7627 §5.3 says (a session without it is resumed only with
// Config.ResumeWithoutEMS). A resumed handshake makes no offloader call
// while the Start answer is cached; once that expires, one Start call
// refreshes the policy (overlapping the TCP dial under Dialer).
//
// The max_fragment_length extension of RFC 6066 §4
// (Config.MaxFragmentLength, 512 to 4096) caps the records both ways and
// the record layer's read buffer with them.
//
// The client offers status_request (RFC 6066 §8, an OCSP staple) unless
// Config.DisableStatusRequest; a CertificateStatus the server sends after
// echoing it goes to the offloader in the transcript, which checks the
// OCSP response (and refuses a must-staple certificate without one).
//
// TLS 1.0 and 1.1 (RFC 2246, RFC 4346) with the CBC suites are off by
// default (RFC 8996): Config.MinVersion enables them, the device's policy
// on the offloader must allow them too, and the RFC 8446 §4.1.3 downgrade
// sentinel is checked (versions.go).
//
// Client certificates are held by the offloader for the device: when the
// server sends a CertificateRequest, the offloader's KeyGen answer carries
// the Certificate and CertificateVerify to send (or an empty Certificate),
// still in the one pipelined round trip. ClientHello shaping (e.g. a
// browser's fingerprint) plugs in through Config.ShapeClientHello; see the
// fingerprint sub-package, the only one that links uTLS.
//
// Left out for now: TLS 1.3, stateless resumption of a session
// across processes (the cache lives in memory), RFC 8449
// record_size_limit, renegotiation (a HelloRequest
// is refused with a no_renegotiation warning).
package tlsclient

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/record"
)

// Conn is a TLS client connection; it implements net.Conn. Read and Write
// may be called from two goroutines at once; the first of them (or
// Handshake) runs the handshake.
//
// Locking: hsMu serialises the handshake and guards everything it
// produces (state); hsDone is set, after hsErr, once the handshake ended, so
// the data path checks it without the lock. After the handshake, the record
// layer's per-direction locks let one Read and one Write proceed at once;
// readMu additionally guards the application data left over from a record
// larger than a Read's buffer. dlMu guards the deadlines the caller set,
// which HandshakeContext restores after interrupting a handshake.
type Conn struct {
	conn       net.Conn
	rc         *record.Conn
	config     *Config
	serverName string

	hsMu   sync.Mutex
	hsDone atomic.Bool
	hsErr  error
	state  connState

	// Set by Dialer before the handshake: the Start answer it found
	// cached, or the one it runs while dialling (handshake_client.go).
	startReady   *startResult
	pendingStart <-chan startResult

	readMu  sync.Mutex
	pending []byte // application data not yet returned by Read; aliases the record layer's buffer
	readErr error  // sticky error of a post-handshake message refused

	dlMu                        sync.Mutex
	readDeadline, writeDeadline time.Time

	closeOnce sync.Once
	closeErr  error
}

// connState is what the handshake negotiated.
type connState struct {
	complete      bool
	version       uint16
	suite         uint16
	curve         uint16
	alpn          string
	ems           bool
	tlsUnique     []byte
	resumed       bool
	chain         [][]byte // as presented
	verifiedChain [][]byte // from the offloader's Auth
}

type startResult struct {
	params Offer
	err    error
}

var _ net.Conn = (*Conn)(nil)

// closeNotifyTimeout bounds how long Close waits to send close_notify.
const closeNotifyTimeout = 5 * time.Second

// Client returns a client connection over conn. The handshake runs on the
// first Read or Write, or on Handshake.
func Client(conn net.Conn, config *Config) *Conn {
	name := ""
	if config != nil {
		name = config.ServerName
	}
	return newConn(conn, config, name)
}

func newConn(conn net.Conn, config *Config, serverName string) *Conn {
	return &Conn{conn: conn, rc: record.NewConn(conn), config: config, serverName: serverName}
}

// Handshake runs the handshake if it has not run yet; it returns the
// handshake's error, the same on every call.
func (c *Conn) Handshake() error { return c.HandshakeContext(context.Background()) }

// HandshakeContext is Handshake bound to ctx: the offloader calls use ctx,
// and if ctx ends first the connection's I/O is interrupted (a deadline in
// the past, restored afterwards) and the error wraps ctx.Err().
func (c *Conn) HandshakeContext(ctx context.Context) error {
	if c.hsDone.Load() {
		return c.hsErr
	}
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.hsDone.Load() {
		return c.hsErr
	}
	c.hsErr = c.runHandshake(ctx)
	c.rc.ReleaseBuffers() // an idle connection holds no record buffer
	c.hsDone.Store(true)
	return c.hsErr
}

func (c *Conn) runHandshake(ctx context.Context) (err error) {
	if ctx.Done() != nil {
		interrupted := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			defer close(interrupted)
			c.conn.SetDeadline(time.Unix(1, 0))
		})
		defer func() {
			if !stop() {
				<-interrupted
				c.restoreDeadlines()
			}
			if err != nil && ctx.Err() != nil {
				err = wrapf("tlsclient: handshake", ctx.Err())
			}
		}()
	}
	// The offloader's calls honour the connection's deadline too.
	opCtx := ctx
	if dl := c.earliestDeadline(); !dl.IsZero() {
		var cancel context.CancelFunc
		opCtx, cancel = context.WithDeadline(ctx, dl)
		defer cancel()
	}

	if c.config == nil {
		return errors.New("tlsclient: nil Config")
	}
	hs := &clientHandshakeState{c: c, ctx: opCtx, config: c.config, serverName: c.serverName}
	defer hs.releaseRaw()
	if err := hs.handshake(); err != nil {
		return err
	}
	c.state = connState{
		complete: true,
		version:  hs.serverHello.Version,
		suite:    hs.suite.ID,
		curve:    hs.curve,
		alpn:     hs.serverHello.ALPNProtocol,
		ems:      hs.serverHello.ExtendedMasterSecret,
	}
	if !c.config.DiscardPeerCertificates {
		c.state.chain, c.state.verifiedChain = hs.chain, hs.verifiedChain
	}
	if c.state.ems {
		// RFC 5929 §3.1, safe only with the extended master secret: the
		// first Finished of the handshake (the server's when resuming).
		c.state.tlsUnique = hs.clientFinished
		if hs.res.didResume {
			c.state.tlsUnique = hs.res.serverFinished
		}
	}
	c.state.resumed = hs.res.didResume
	return nil
}

// Read reads application data, running the handshake first if needed. A
// HelloRequest is refused with a no_renegotiation warning and reading
// continues; any other handshake message ends the connection with
// unexpected_message. close_notify from the server reads as io.EOF.
func (c *Conn) Read(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if len(b) == 0 {
		return 0, nil
	}
	for len(c.pending) == 0 {
		if c.readErr != nil {
			return 0, c.readErr
		}
		typ, msg, err := c.rc.ReadMessage()
		if err != nil {
			return 0, err
		}
		switch typ {
		case record.TypeApplicationData:
			if len(msg) == 0 {
				continue // the record layer bounds a run of empty records
			}
			if len(msg) <= len(b) {
				n := copy(b, msg)
				c.rc.ReleaseBuffers()
				return n, nil
			}
			// Only Read reads after the handshake (under readMu), so
			// msg stays valid until pending is used up.
			c.pending = msg
		case record.TypeHandshake:
			c.readErr = c.handlePostHandshake(msg)
		default:
			c.rc.SendAlert(record.AlertUnexpectedMessage)
			c.readErr = &ProtocolError{Detail: "unexpected " + contentName(typ) + " after the handshake",
				Alert: &record.AlertError{Alert: record.AlertUnexpectedMessage}}
		}
	}
	n := copy(b, c.pending)
	c.pending = c.pending[n:]
	if len(c.pending) == 0 {
		c.pending = nil
		c.rc.ReleaseBuffers()
	}
	return n, nil
}

// handlePostHandshake answers a handshake message after the handshake: a
// HelloRequest gets a no_renegotiation warning (RFC 5746 §4.2), anything
// else is fatal.
func (c *Conn) handlePostHandshake(msg []byte) error {
	if len(msg) > 0 && msg[0] == handshake.TypeHelloRequest {
		if err := new(handshake.HelloRequest).Unmarshal(msg); err != nil {
			c.rc.SendAlert(record.AlertDecodeError)
			return &ProtocolError{Detail: "bad HelloRequest", Alert: &record.AlertError{Alert: record.AlertDecodeError}, Err: err}
		}
		c.config.trace("tls: HelloRequest refused (no renegotiation)")
		c.rc.SendAlert(record.AlertNoRenegotiation)
		return nil
	}
	name := "empty handshake message"
	if len(msg) > 0 {
		name = messageName(msg[0])
	}
	c.rc.SendAlert(record.AlertUnexpectedMessage)
	return &ProtocolError{Detail: "unexpected " + name + " after the handshake",
		Alert: &record.AlertError{Alert: record.AlertUnexpectedMessage}}
}

// Write writes application data, running the handshake first if needed.
func (c *Conn) Write(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	return c.rc.Write(b)
}

// Close sends close_notify if the handshake completed (best effort, within
// a short write deadline) and closes the transport. It is idempotent.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		if c.hsDone.Load() && c.hsErr == nil {
			c.conn.SetWriteDeadline(time.Now().Add(closeNotifyTimeout))
			c.rc.SendAlert(record.AlertCloseNotify)
		}
		c.closeErr = c.conn.Close()
	})
	return c.closeErr
}

func (c *Conn) LocalAddr() net.Addr  { return c.conn.LocalAddr() }
func (c *Conn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }
func (c *Conn) NetConn() net.Conn    { return c.conn }

// SetDeadline sets the transport's deadlines; they apply during and after
// the handshake.
func (c *Conn) SetDeadline(t time.Time) error {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	c.readDeadline, c.writeDeadline = t, t
	return c.conn.SetDeadline(t)
}

func (c *Conn) SetReadDeadline(t time.Time) error {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	c.readDeadline = t
	return c.conn.SetReadDeadline(t)
}

func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	c.writeDeadline = t
	return c.conn.SetWriteDeadline(t)
}

func (c *Conn) restoreDeadlines() {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	c.conn.SetReadDeadline(c.readDeadline)
	c.conn.SetWriteDeadline(c.writeDeadline)
}

func (c *Conn) earliestDeadline() time.Time {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	r, w := c.readDeadline, c.writeDeadline
	switch {
	case r.IsZero():
		return w
	case w.IsZero() || r.Before(w):
		return r
	}
	return w
}

// ConnectionState is what a connection negotiated, in the device's own
// terms: certificates stay DER, as the device parses none (the offloader
// verified them). tlsclient/tlsstate converts it to crypto/tls's
// ConnectionState with parsed certificates, for programs that want that.
type ConnectionState struct {
	Version           uint16
	HandshakeComplete bool
	CipherSuite       uint16
	// CurveID is the ECDHE group of the session's full handshake (kept on
	// resumption), 0 for RSA key exchange.
	CurveID            uint16
	NegotiatedProtocol string // ALPN; "" if none
	ServerName         string // the name verified, without a trailing dot
	DidResume          bool
	TLSUnique          []byte // RFC 5929; nil without extended master secret
	// PeerCertificates is the server's chain as it presented it (DER,
	// leaf first), also on resumption.
	PeerCertificates [][]byte
	// Verified is the offloader's verdict on the server.
	Verified PeerVerification
}

// ConnectionState returns what the connection negotiated; before the
// handshake completes, only what is known.
func (c *Conn) ConnectionState() ConnectionState {
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	s := &c.state
	cs := ConnectionState{
		Version:            s.version,
		HandshakeComplete:  s.complete,
		CipherSuite:        s.suite,
		CurveID:            s.curve,
		NegotiatedProtocol: s.alpn,
		ServerName:         verifyName(c.serverName),
		TLSUnique:          s.tlsUnique,
		DidResume:          s.resumed,
	}
	if s.complete {
		cs.PeerCertificates = s.chain
		cs.Verified = PeerVerification{Chain: s.verifiedChain}
	}
	return cs
}

// Dialer dials TCP and runs the handshake; its DialContext fits
// http.Transport.DialTLSContext.
type Dialer struct {
	// NetDialer dials the TCP connection; nil means a zero net.Dialer.
	NetDialer *net.Dialer
	// Config is the template; ServerName is taken from the address when empty.
	Config *Config
}

// DialContext connects to addr and completes the handshake within ctx. The
// offloader's Start runs while the TCP connection is dialled, so it adds no
// round trip of its own, unless the Offloader has the answer cached
// (StartCacher).
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	cfg := d.Config
	if cfg == nil {
		return nil, errors.New("tlsclient: Dialer.Config is nil")
	}
	serverName := cfg.ServerName
	if serverName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, wrapf("tlsclient", err)
		}
		serverName = host
	}
	offer, err := cfg.offer(verifyName(serverName))
	if err != nil {
		return nil, err
	}

	// A cached Start answer needs no goroutine (a goroutine per dial costs
	// the device more CPU, in scheduler wake-ups, than the look-up).
	var ready *startResult
	var startCh chan startResult
	if sc, ok := cfg.Offloader.(StartCacher); ok {
		if allowed, ok := sc.CachedStart(verifyName(serverName), offer); ok {
			p, err := narrow(offer, allowed)
			ready = &startResult{p, err}
		}
	}
	if ready == nil {
		startCh = make(chan startResult, 1)
		go func() {
			p, err := cfg.start(ctx, serverName)
			startCh <- startResult{p, err}
		}()
	}

	nd := d.NetDialer
	if nd == nil {
		nd = new(net.Dialer)
	}
	raw, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c := newConn(raw, cfg, serverName)
	c.startReady, c.pendingStart = ready, startCh
	if err := c.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	return c, nil
}
