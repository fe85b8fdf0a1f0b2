// Package server is the offloader's core: it holds the registry of
// devices (PSK, trust roots, allowed server names), opens PSK channels with
// them, and runs the four operations of package wire on handshake
// transcripts the devices send. It keeps no secret after it answers; state
// between the sequential mode's requests travels as a sealed token. No
// device-side package imports this one. It is transport-agnostic and
// embeddable (cmd/offloader serves it, cmd/ocurl embeds it).
//
// The operations (ops.go) implement, for TLS 1.2 and, where a device's
// policy allows them (Device.MinVersion, versions.go), TLS 1.0 and 1.1
// (RFC 2246, RFC 4346; their MD5+SHA-1 ServerKeyExchange signatures and
// PRF): the ECDHE key
// exchange of RFC 8422 (X25519, P-256, P-384; ServerKeyExchange signatures
// with RSA PKCS #1 v1.5, RSA-PSS and ECDSA, never SHA-1, per RFC 9155), the
// RSA key exchange of RFC 5246 §7.4.7.1, the master secret of RFC 5246 §8.1
// or RFC 7627 §4 and the key block of RFC 5246 §6.3, and client
// certificates held for the device (RFC 5246 §7.4.4, §7.4.6, §7.4.8:
// clientcert.go): the offloader answers a CertificateRequest and signs the
// CertificateVerify with RSA PKCS #1 v1.5, RSA-PSS or ECDSA. Verification
// (verify.go) is package certs' under the device's profile and pins, then
// revocation (an OCSP response stapled in a CertificateStatus, RFC 6066
// §8; the device's CRLs) and the leaf's key usage for the key exchange.
// Left out: SSL 3.0, finite-field DHE, and fetching revocation data (OCSP
// requests, CRL distribution points).
package server

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// Config configures a Server.
type Config struct {
	// Registry holds the devices in memory (the YAML file's, ocurl's).
	Registry *Registry
	// Devices, when set, is where devices are looked up instead of
	// Registry (a fleet registry: devices.go); one of the two is required.
	Devices DeviceSource
	// Logger; nil means slog.Default(). Never given secrets.
	Logger *slog.Logger
	// MaxInFlight bounds flights being processed at once (0: 64). A flight
	// that finds no slot waits its device's turn (limits.go) at most
	// FlightWait (0: 250ms), then is answered StatusRateLimited.
	MaxInFlight int
	FlightWait  time.Duration
	// FrameTimeout bounds reading one frame once its first byte arrived and
	// writing one frame (0: 10s); IdleTimeout closes a silent channel (0: 5m).
	FrameTimeout, IdleTimeout time.Duration
	// TokenKey seals sequential-mode state; replicas behind one load
	// balancer share it. nil: a random key per process. 32 bytes.
	TokenKey []byte
	// TokenTTL bounds a token's life (0: 30s).
	TokenTTL time.Duration
	// StartTTL is told to devices as the life of a Start answer (0: 5m).
	StartTTL time.Duration
	Rand     io.Reader        // nil: crypto/rand
	Time     func() time.Time // nil: time.Now
	// MaxConns bounds the connections served at once, opening or open
	// (0: 4096); MaxOpeningPerSource bounds those still opening from one
	// TCP source address (0: 32); OpenTimeout bounds an opening (0: 5s).
	// A connection past a cap is closed at once and counted (Stats.Refused).
	MaxConns, MaxOpeningPerSource int
	OpenTimeout                   time.Duration
	// DeviceLimits are the defaults of each device's Device.Limits.
	DeviceLimits DeviceLimits
	// FrameBudget bounds the bytes of frames being received on all
	// channels at once (0: 16 MiB); MinFrameRate is the slowest a frame may
	// arrive, in bytes a second, after its first second (0: 1024, negative:
	// none; framebudget.go).
	FrameBudget  int64
	MinFrameRate int
	// PlaintextUIDs, when not nil, narrow plaintext channels on a listener
	// declared secure to unix-socket peers running as one of these uids
	// (SO_PEERCRED, Linux); any other peer is refused plaintext
	// (plaintext.go). nil: the listener's declaration alone decides.
	PlaintextUIDs []uint32
	// VerifyCacheSize sizes the server chains remembered as verified, each
	// device having a share of its own (verifyshare.go)
	// (certs.VerifyCache: public data only, keyed by the exact chain, the
	// device's root pool, the name, used only within every certificate's
	// validity) so a server seen again is not path-validated again; 0:
	// certs.DefaultVerifyCacheSize, negative: no cache. Devices with the
	// system roots (Roots nil) are always verified afresh. It bounds the
	// stapled OCSP responses remembered as authentic the same way
	// (certs.StapleCache, judged afresh at every use).
	VerifyCacheSize int
	// MaxTrackedDevices bounds the device table the operator reads through
	// Devices (activity.go): 0: DefaultMaxTrackedDevices; a device beyond
	// it is not tracked while every row has a channel open.
	MaxTrackedDevices int
}

// Server is the offloader. Serve and ServeConn may be called from many
// goroutines.
//
// Locking: the fields set by New are read-only afterwards. mu guards the
// lifecycle: closed, the listeners and the connections being served; every
// goroutine the server starts is counted in wg under mu, so Close can wait
// for all of them. limits (limits.go, its own lock) bounds the connections
// and the flights processed at once, per device and across every channel.
// On one channel, one goroutine reads frames and each flight runs inline,
// or in its own goroutine when another frame already waits (see
// ServeConn); responses are written under the channel's write mutex. The
// counters are atomics, updated by any goroutine (stats.go).
type Server struct {
	// Set by New, read-only.
	cfg       Config
	log       *slog.Logger
	tokenAEAD cipher.AEAD
	verified  *deviceVerifyCaches // nil: none (verifyshare.go)
	staples   *certs.StapleCache  // nil: none
	ctx       context.Context     // canceled by Close
	cancel    context.CancelFunc
	drain     chan struct{} // closed by Shutdown: channels end once their flights are answered
	drainOnce sync.Once

	counters    counters     // atomics, from New to the end
	limits                   // resource control: its own lock (limits.go)
	logSample   sampler      // refusals logged sampled (logsample.go)
	auditSample sampler      // audit lines sampled (audit.go)
	tokensSeen  seenTokens   // single-use tokens (tokenreplay.go)
	activity    activity     // the dashboard's counters (activity.go)
	live        liveChannels // open channels by device, for CloseDevice (devices.go)

	// Lifecycle, under mu.
	mu        sync.Mutex
	closed    bool
	stopping  bool // Shutdown began: accept nothing more
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup
}

// Defaults of Config's zero fields.
const (
	defaultMaxInFlight  = 64
	defaultFrameTimeout = 10 * time.Second
	defaultIdleTimeout  = 5 * time.Minute
	defaultTokenTTL     = 30 * time.Second
	defaultStartTTL     = 5 * time.Minute
)

// TokenKeyLen is the length of Config.TokenKey (an XChaCha20-Poly1305 key).
const TokenKeyLen = 32

// After a temporary accept error (out of file descriptors or memory: see
// acceptRetryable), Serve waits before the next Accept: from
// acceptBackoffMin, doubling, at most acceptBackoffMax.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// New checks cfg and fills its zero fields with the defaults documented on
// Config.
func New(cfg Config) (*Server, error) {
	if cfg.Devices == nil && cfg.Registry != nil {
		cfg.Devices = cfg.Registry
	}
	if cfg.Devices == nil {
		return nil, errors.New("offloader: config: Registry or Devices is required")
	}
	if cfg.MaxInFlight < 0 || cfg.MaxConns < 0 || cfg.MaxOpeningPerSource < 0 || cfg.FrameBudget < 0 {
		return nil, errors.New("offloader: config: negative limit")
	}
	if cfg.MaxTrackedDevices < 0 {
		return nil, errors.New("offloader: config: MaxTrackedDevices is negative")
	}
	if cfg.MaxTrackedDevices == 0 {
		cfg.MaxTrackedDevices = DefaultMaxTrackedDevices
	}
	if err := checkLimits(cfg.DeviceLimits); err != nil {
		return nil, fmt.Errorf("offloader: config: DeviceLimits: %w", err)
	}
	if cfg.FrameTimeout < 0 || cfg.IdleTimeout < 0 || cfg.TokenTTL < 0 || cfg.StartTTL < 0 ||
		cfg.OpenTimeout < 0 || cfg.FlightWait < 0 {
		return nil, errors.New("offloader: config: negative duration")
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = defaultMaxConns
	}
	if cfg.MaxOpeningPerSource == 0 {
		cfg.MaxOpeningPerSource = defaultMaxOpeningPerSource
	}
	if cfg.OpenTimeout == 0 {
		cfg.OpenTimeout = defaultOpenTimeout
	}
	if cfg.FlightWait == 0 {
		cfg.FlightWait = defaultFlightWait
	}
	if cfg.FrameBudget == 0 {
		cfg.FrameBudget = defaultFrameBudget
	}
	if cfg.MinFrameRate == 0 {
		cfg.MinFrameRate = defaultMinFrameRate
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = defaultMaxInFlight
	}
	if cfg.FrameTimeout == 0 {
		cfg.FrameTimeout = defaultFrameTimeout
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = defaultIdleTimeout
	}
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = defaultTokenTTL
	}
	if cfg.StartTTL == 0 {
		cfg.StartTTL = defaultStartTTL
	}
	if cfg.StartTTL%time.Second != 0 {
		return nil, errors.New("offloader: config: StartTTL must be whole seconds")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Time == nil {
		cfg.Time = time.Now
	}
	if cfg.TokenKey == nil {
		cfg.TokenKey = make([]byte, TokenKeyLen)
		if _, err := io.ReadFull(rand.Reader, cfg.TokenKey); err != nil {
			return nil, fmt.Errorf("offloader: token key: %w", err)
		}
	} else {
		if len(cfg.TokenKey) != TokenKeyLen {
			return nil, fmt.Errorf("offloader: config: TokenKey must be %d bytes", TokenKeyLen)
		}
		cfg.TokenKey = bytes.Clone(cfg.TokenKey)
	}
	aead, err := newTokenAEAD(cfg.TokenKey)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:         cfg,
		log:         cfg.Logger,
		tokenAEAD:   aead,
		verified:    newDeviceVerifyCaches(cfg.VerifyCacheSize),
		staples:     certs.NewStapleCache(cfg.VerifyCacheSize),
		limits:      limits{devices: make(map[string]*deviceState), opening: make(map[string]int)},
		ctx:         ctx,
		cancel:      cancel,
		drain:       make(chan struct{}),
		auditSample: sampler{burst: auditBurst, perSecond: auditPerSecond},
		listeners:   make(map[net.Listener]struct{}),
		conns:       make(map[net.Conn]struct{}),
	}
	s.activity.devices = deviceTable{max: cfg.MaxTrackedDevices, rows: make(map[string]*deviceActivity)}
	return s, nil
}

func (s *Server) rand() io.Reader { return s.cfg.Rand }
func (s *Server) now() time.Time  { return s.cfg.Time() }

// Serve accepts channels on l until Close. plaintextOK declares the
// listener's path secure (a unix socket or loopback), allowing devices to
// open plaintext channels on it. It returns nil after Close, or the
// listener's error.
func (s *Server) Serve(l net.Listener, plaintextOK bool) error {
	s.mu.Lock()
	if s.closed || s.stopping {
		s.mu.Unlock()
		l.Close()
		return nil
	}
	s.listeners[l] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		s.wg.Done()
	}()

	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return nil
			}
			if acceptRetryable(err) {
				backoff = min(max(2*backoff, acceptBackoffMin), acceptBackoffMax)
				s.log.Warn("offloader: accept", "err", err, "retry_in", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("offloader: accept: %w", err)
		}
		backoff = 0
		go s.ServeConn(s.ctx, c, plaintextOK)
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed || s.stopping
}

// track counts a connection in the server; false once closed or
// shutting down.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.stopping {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// ServeConn runs one channel to completion: the opening under an
// OpenTimeout deadline, then frames until the device closes, the channel
// stays silent for IdleTimeout, a frame fails, the device is removed or
// its PSK changed, ctx ends or Close. A connection past the server's caps
// (limits.go) is closed at once.
func (s *Server) ServeConn(ctx context.Context, conn net.Conn, plaintextOK bool) {
	if !s.track(conn) {
		conn.Close()
		return
	}
	defer s.untrack(conn)
	lingering := false // conn handed to closeWithReason's linger, which closes it
	defer func() {
		if !lingering {
			conn.Close()
		}
	}()

	src, reason, ok := s.admit(conn.RemoteAddr())
	if !ok {
		s.countFailure(nil, outcomeOverCap)
		s.refuse(reason, "", conn.RemoteAddr())
		return
	}
	defer s.connDone()

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopServer := context.AfterFunc(s.ctx, cancel)
	defer stopServer()
	stopConn := context.AfterFunc(ctx, func() { conn.Close() })
	defer stopConn()

	// The opening: lookup remembers the device id claimed and whether the
	// registry knows it, for the counters and the log.
	var (
		claimed   string
		dev       *Device
		lookupErr error // the device source's failure, if that is why
	)
	lookup := func(id string) ([]byte, bool) {
		claimed = id
		d, err := s.cfg.Devices.LookupDevice(id)
		if err != nil {
			if !errors.Is(err, ErrUnknownDevice) {
				lookupErr = err
			}
			return nil, false
		}
		dev = d
		return d.PSK, true
	}
	_ = conn.SetDeadline(time.Now().Add(s.cfg.OpenTimeout))
	bc := &budgetConn{Conn: conn, s: s}
	ch, deviceID, err := wire.ServerOpen(bc, lookup, plaintextOK && s.plaintextPeer(conn), s.rand())
	s.opened(src)
	if err != nil {
		result := openingResult(err)
		s.counters.channels[result].Add(1)
		if dev != nil {
			s.countOpeningRefused(result, claimed)
		} else {
			s.countOpeningRefused(result, "")
		}
		switch {
		case lookupErr != nil:
			s.log.Warn("offloader: channel refused: the registry could not answer", "device", claimed, "remote", addrString(conn.RemoteAddr()), "err", lookupErr)
		case result == channelTimeout:
			s.refuse(refusedOpenTimeout, claimed, conn.RemoteAddr())
		case result == channelAuthFailed && dev == nil:
			s.refuse(refusedUnknownDevice, claimed, conn.RemoteAddr())
		case result == channelAuthFailed:
			s.refuse(refusedWrongPSK, claimed, conn.RemoteAddr())
		default:
			s.refusedOpening(result.String(), claimed, conn.RemoteAddr())
		}
		return
	}
	if dev == nil || dev.ID != deviceID { // not expected: lookup found it
		return
	}
	// Why the channel ends, when it ends on purpose: sent to the device in
	// a close frame (wire.CloseReason; 0: none, the channel broke).
	var why atomic.Uint32
	because := func(r wire.CloseReason) { why.CompareAndSwap(0, uint32(r)) }
	// Registered, then looked up again: a device revoked while its channel
	// was opening either finds its channel here (CloseDevice) or is seen
	// revoked now (a source drops its entry before calling CloseDevice).
	defer s.live.add(deviceID, func() { because(wire.CloseDeviceChanged); cancel() })()
	if _, err := s.cfg.Devices.LookupDevice(deviceID); errors.Is(err, ErrUnknownDevice) {
		s.log.Info("offloader: channel closed: device revoked while opening", "device", deviceID)
		return
	}
	_ = conn.SetDeadline(time.Time{})
	if ch.Plaintext() && dev.cc != nil {
		// Whoever reaches a plaintext listener may claim any id: never
		// for a device the offloader signs for.
		s.refuse(refusedPlaintextClientKey, deviceID, conn.RemoteAddr())
		return
	}
	ds, ok := s.openChannel(dev)
	if !ok {
		s.countFailure(s.activity.devices.row(deviceID, s.now(), false), outcomeOverCap)
		s.refuse(refusedDeviceChannels, deviceID, conn.RemoteAddr())
		return
	}
	defer s.closeChannel(ds)
	bc.ds = ds
	defer bc.frameDone()
	var revoked atomic.Bool
	stopGone := afterClose(dev.gone, func() { revoked.Store(true); because(wire.CloseDeviceChanged); cancel() })
	defer stopGone()

	// Ending the channel on purpose (shutdown.go). stop makes the loop
	// below read no further frame: a past read deadline interrupts a read
	// in progress, and the loop checks stopped after each deadline it sets.
	// Shutdown stops every channel with reason shutting_down, and the
	// flights already read finish; ctx ending (Close, the device changed
	// or revoked) stops it too, and cuts them. Writes are then bounded by
	// closeWriteTimeout, so a device that does not read cannot hold Close.
	if !stopConn() { // ctx ended during the opening: conn is closed
		return
	}
	var (
		stopped atomic.Bool
		dmu     sync.Mutex // orders stop's deadlines before closing's own
		closing bool       // under dmu: stop no longer touches deadlines
	)
	stop := func(r wire.CloseReason, cut bool) {
		because(r)
		stopped.Store(true)
		dmu.Lock()
		defer dmu.Unlock()
		if !closing {
			_ = conn.SetReadDeadline(time.Unix(1, 0))
			if cut {
				_ = conn.SetWriteDeadline(time.Now().Add(s.closeWriteTimeout()))
			}
		}
	}
	stopDrain := afterClose(s.drain, func() { stop(wire.CloseShuttingDown, false) })
	defer stopDrain()
	stopCut := context.AfterFunc(ctx, func() {
		var r wire.CloseReason // 0: ended for a reason given before, or broken
		if s.ctx.Err() != nil || parent.Err() != nil {
			r = wire.CloseShuttingDown // Close, or the caller's ctx
		}
		stop(r, true)
	})
	defer stopCut()
	s.counters.channels[channelOK].Add(1)
	s.counters.channelsOpen.Add(1)
	defer s.counters.channelsOpen.Add(-1)
	act := s.activity.devices.row(deviceID, s.now(), true) // nil: not tracked
	defer func() { s.activity.devices.closed(act, s.now()) }()
	s.log.Info("offloader: channel open", "device", deviceID, "remote", addrString(conn.RemoteAddr()))
	binding := make([]byte, 16)
	if _, err := io.ReadFull(s.rand(), binding); err != nil {
		s.log.Error("offloader: channel binding", "device", deviceID, "err", err)
		return
	}
	ctx = withChannelBinding(ctx, binding)

	var (
		wmu     sync.Mutex // one writer at a time
		flights sync.WaitGroup
	)
	write := func(resp *wire.FlightResponse) {
		b, err := resp.Marshal()
		if err != nil {
			s.log.Error("offloader: marshal response", "device", deviceID, "err", err)
			b, err = internalResponse(resp).Marshal()
			if err != nil {
				return
			}
		}
		wmu.Lock()
		defer wmu.Unlock()
		_ = conn.SetWriteDeadline(time.Now().Add(s.cfg.FrameTimeout))
		if ctx.Err() != nil {
			// Cut (checked after setting the deadline, which the cut
			// bounds): the flight's answer is not sent.
			clear(b)
			return
		}
		err = ch.WriteFrame(b)
		clear(b) // a Key result holds the master secret and key block
		if err != nil {
			s.log.Debug("offloader: write response", "device", deviceID, "err", err)
			cancel()
		}
	}

	// serve answers one flight that holds a slot (acquireFlight), and
	// frees it.
	serve := func(f *wire.Flight, arrived time.Time) {
		defer s.releaseFlight(ds)
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("offloader: panic serving a flight", "device", deviceID, "panic", fmt.Sprint(r))
			}
		}()
		begin := time.Now()
		resp := s.do(ctx, act, deviceID, f, arrived)
		s.audit(deviceID, f, resp, time.Since(begin)) // before the answer: a device that got it finds it logged
		write(resp)
		for _, r := range resp.Results { // sent: the keys are no longer needed here
			if k, ok := r.Body.(*wire.KeyResponse); ok {
				clear(k.MasterSecret)
				clear(k.KeyBlock)
			}
		}
	}

	end := "closed"
	for ctx.Err() == nil && !stopped.Load() {
		// IdleTimeout for a frame to begin, FrameTimeout for the rest of it.
		_ = conn.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		if stopped.Load() { // stop's deadline may have come before this one
			break
		}
		if err := ch.WaitFrame(); err != nil {
			end = readEnd(ctx, err)
			if end == "timeout" && !stopped.Load() {
				end = "idle"
				because(wire.CloseIdle)
			}
			break
		}
		_ = conn.SetReadDeadline(time.Now().Add(s.cfg.FrameTimeout))
		if stopped.Load() {
			// A frame began: it is not read, and the device, told why
			// the channel ends, sends it again elsewhere.
			break
		}
		// Flight.Unmarshal copies what it keeps, so the frame can be read
		// into the channel's reused buffer.
		f := new(wire.Flight)
		var parseErr error
		err := ch.ReadFrameFunc(func(b []byte) error { parseErr = f.Unmarshal(b); return nil })
		bc.frameDone()
		if err != nil {
			end = readEnd(ctx, err)
			switch {
			case errors.Is(err, errFrameBudget):
				end = "frame_budget"
				s.refuse(refusedFrameBudget, deviceID, conn.RemoteAddr())
			case errors.Is(err, errSlowFrame):
				end = "slow_frame"
				s.refuse(refusedSlowFrame, deviceID, conn.RemoteAddr())
			}
			break
		}
		if parseErr != nil {
			end = "malformed"
			s.log.Warn("offloader: malformed flight", "device", deviceID, "err", parseErr)
			break
		}
		arrived := time.Now()
		// Wait for a slot here, not in a goroutine: a channel has at most
		// one flight waiting, and a device flooding its channels stops
		// being read while it waits.
		if err := s.acquireFlight(ctx, ds); err != nil {
			if ctx.Err() != nil {
				end = readEnd(ctx, err)
				break
			}
			s.countRefusedFlight(act, outcomeRateLimited) // before the answer, as the audit line
			write(rateLimitedResponse(f, retryAfterOf(err)))
			continue
		}
		if !ch.Buffered() {
			// Nothing else is waiting on this channel: serve the flight
			// here, sparing a goroutine hand-off and a wake-up per
			// handshake. A frame that arrives meanwhile waits for this one;
			// when frames queue up, the next ones get goroutines.
			serve(f, arrived)
			continue
		}
		flights.Add(1)
		go func() {
			defer flights.Done()
			serve(f, arrived)
		}()
	}
	closeReason := wire.CloseReason(why.Load())
	if closeReason == 0 || ctx.Err() != nil {
		// Broken, or cut: the flights running answer nobody.
		cancel()
	}
	flights.Wait() // stopped on purpose: the flights read are answered first
	dmu.Lock()
	closing = true
	dmu.Unlock()
	cancel()
	switch closeReason {
	case wire.CloseShuttingDown:
		end = "shutdown"
	case wire.CloseDeviceChanged:
		end = "device_changed"
	}
	if revoked.Load() {
		end = "revoked"
		s.refused[refusedRevoked].Add(1) // counted before the close's linger
	}
	if closeReason != 0 {
		lingering = s.closeWithReason(conn, ch, closeReason)
	} else {
		ch.Close()
	}
	s.log.Info("offloader: channel close", "device", deviceID, "result", end)
}

// afterClose calls f in its own goroutine once c is closed, unless stop
// is called first; a nil c never closes.
func afterClose(c <-chan struct{}, f func()) (stop func()) {
	if c == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-c:
			f()
		case <-done:
		}
	}()
	return func() { close(done) }
}

func readEnd(ctx context.Context, err error) string {
	switch {
	case ctx.Err() != nil:
		return "shutdown"
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, io.ErrClosedPipe):
		return "closed"
	case errors.Is(err, wire.StatusAuthFailed):
		return "auth_failed"
	case errors.As(err, new(*wire.CloseError)):
		return "closed" // the device said why; nothing went wrong
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "error"
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// rateLimitedResponse answers every request of f StatusRateLimited, with
// the retry-after hint retryAfter (0: none).
func rateLimitedResponse(f *wire.Flight, retryAfter time.Duration) *wire.FlightResponse {
	resp := &wire.FlightResponse{ID: f.ID, Results: make([]wire.Result, len(f.Requests))}
	for i, r := range f.Requests {
		resp.Results[i] = wire.Result{Err: &wire.Error{Op: opOf(r), Status: wire.StatusRateLimited, RetryAfter: retryAfter}}
	}
	return resp
}

// internalResponse replaces a response that could not be marshalled.
func internalResponse(r *wire.FlightResponse) *wire.FlightResponse {
	resp := &wire.FlightResponse{ID: r.ID, Results: make([]wire.Result, len(r.Results))}
	for i, res := range r.Results {
		resp.Results[i] = wire.Result{Err: &wire.Error{Op: res.Op(), Status: wire.StatusInternal}}
	}
	return resp
}

// Close stops Serve loops and closes open channels, then waits for every
// goroutine the server started.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var ls []net.Listener
	for l := range s.listeners {
		ls = append(ls, l)
	}
	s.mu.Unlock()

	s.cancel()
	for _, l := range ls {
		l.Close()
	}
	// Canceling s.ctx ends every connection: one still opening is closed,
	// an open channel is sent a close frame (shutting_down) and closed,
	// its writes bounded by closeWriteTimeout (ServeConn).
	s.wg.Wait()
	return nil
}

// Local returns an in-process tlsclient.Offloader for one device that calls
// Do directly, with no channel: for unit tests only.
func (s *Server) Local(deviceID string) *LocalOffloader { return &LocalOffloader{s: s, id: deviceID} }

// LocalOffloader implements tlsclient.Offloader in process.
type LocalOffloader struct {
	s  *Server
	id string
}

func (l *LocalOffloader) Do(ctx context.Context, f *wire.Flight) (*wire.FlightResponse, error) {
	return l.s.Do(ctx, l.id, f), nil
}
