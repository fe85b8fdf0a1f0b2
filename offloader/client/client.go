// Package client is the device's side of the offloader protocol. It
// implements tlsclient.Offloader (offload.go): Start answered from a
// per-Client cache or by one Start flight, the key exchange as one
// pipelined flight or the patent's sequence (Config.Sequential) with the
// offloader's state token between flights. Under it, one long-lived PSK
// channel at a time, flights multiplexed on it by id, reconnection on
// failure and fail-over across the offloader's addresses (failover.go),
// every call bound to the caller's context. It imports no server code.
package client

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tlsoffload/tlsoffload/internal/wrap"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// Config configures a Client.
type Config struct {
	// Addrs are the offloader's addresses ("host:port" or "unix:/path"),
	// at least one: replicas sharing token_key, or a load balancer.
	// The Client starts at a random one and moves round-robin; see
	// failover.go for when it moves and what it resends.
	Addrs    []string
	DeviceID string
	PSK      []byte
	// Plaintext asks for a plaintext channel (only a path the offloader
	// declares secure accepts it).
	Plaintext bool
	// Dial overrides how an address is reached (tests, the embedded
	// offloader over net.Pipe); nil means net.Dialer.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// DialTimeout bounds connecting and opening one channel (0: 5s).
	DialTimeout time.Duration
	Rand        io.Reader // nil: crypto/rand

	// Sequential makes KeyExchange send Auth, KeyGen and Key one flight
	// at a time (the patent's sequence, three round trips) instead of one
	// pipelined flight.
	Sequential bool
	// StartCacheSize bounds the Start answers kept for their TTL (0: 128);
	// a negative size keeps none, so every handshake asks Start.
	StartCacheSize int
	// Trace, when set, receives a line for each offloader round trip with
	// its duration, for each Start answered from the cache, and for each
	// busy retry (ocurl -v prints them).
	Trace func(format string, args ...any)

	// A flight of Start or KeyExchange that the offloader answers rate
	// limited (busy, or the device over its rate) is sent again after a
	// wait: BusyBackoff (0: 50ms) doubled per attempt up to BusyBackoffMax
	// (0: 1s), jittered, or the offloader's retry-after hint when that is
	// longer (still at most BusyBackoffMax), at most BusyAttempts times in
	// all (0: 5; 1: never
	// resent), and never past the caller's deadline; then it fails with a
	// *BusyError (errors.Is(err, ErrBusy)). busy.go says why resending is
	// safe.
	BusyAttempts                int
	BusyBackoff, BusyBackoffMax time.Duration

	// Fail-over across Addrs (failover.go). An address that could not be
	// reached, whose channel broke under a flight, or that answered a
	// flight busy is passed over for DownFor (0: 2s), jittered to between
	// half and all of it, while another address is up. A channel takes
	// new flights for MaxChannelAge (0: 10 minutes; negative: no limit),
	// jittered likewise; then the next flight opens a channel to the next
	// address, so that load spreads back onto a replica that returned.
	DownFor       time.Duration
	MaxChannelAge time.Duration
}

const (
	defaultDialTimeout   = 5 * time.Second
	defaultDownFor       = 2 * time.Second
	defaultMaxChannelAge = 10 * time.Minute
)

// Client is safe for concurrent use.
//
// Locking. A Client sends new flights on at most one live channel (type
// conn), c.cur; channels retired from that role (past MaxChannelAge, or
// their replica answered busy) finish their calls and close (failover.go).
// c.mu guards c.cur, c.closed, the rotation (c.next, c.down) and
// c.retired only, and is never held across I/O. Opening a channel
// is serialized by c.dialSem (a one-slot semaphore a caller can give up on
// when its ctx ends), so concurrent first calls share one dial instead of
// racing to open several channels. Each conn has its own mu guarding the
// pending map, the id counter, its sticky error and who reads; writeSem
// admits one frame writer at a time (again abandonable on ctx). At most
// one reader reads a conn's frames at a time (conn.reading): a call whose
// answer is awaited and that finds no reader reads itself, so a lone call
// (the device's usual case) gets its answer without a goroutine hand-off;
// other calls wait on the buffered channel of their id, to which the
// reader hands each response (it never blocks on a caller). A reading call
// that gets its answer, or whose ctx ends, hands reading over to a
// goroutine while other calls still wait; that goroutine stops once none
// does. An idle channel has no reader: a channel the offloader closed
// while idle is found out by the next call (which Do then resends).
// The first error a conn sees (transport, alert, malformed frame, Close)
// is recorded once, fails every pending call and closes the transport;
// readerDone closes once no reader is left on the dead conn; the next Do
// then opens a new channel. Lock order: c.mu before conn.mu; neither is
// held while dialing, writing or reading.
type Client struct {
	cfg Config // a private copy, fixed after New

	// closeCtx ends when Close is called; it aborts dials in progress.
	closeCtx context.Context
	cancel   context.CancelFunc

	dialSem chan struct{}
	cache   *startCache // Start answers (offload.go)
	// Fail-over counts (stats.go).
	resends, downs, busies, drains atomic.Uint64

	mu      sync.Mutex
	cur     *conn // nil before the first Do and after Close
	closed  bool
	next    int                // index into cfg.Addrs where the next opening starts
	down    []time.Time        // per address: passed over until then
	retired map[*conn]struct{} // channels taking no new flight, still answering some
}

// New checks cfg and returns a Client; no connection is made until the
// first Do.
func New(cfg Config) (*Client, error) {
	if len(cfg.Addrs) == 0 {
		return nil, errors.New("client: no offloader address")
	}
	for _, a := range cfg.Addrs {
		if a == "" || a == "unix:" {
			return nil, errors.New("client: empty offloader address")
		}
	}
	if cfg.DeviceID == "" || len(cfg.DeviceID) > wire.MaxDeviceID {
		return nil, errors.New("client: device id must be 1.." + strconv.Itoa(int(wire.MaxDeviceID)) + " bytes")
	}
	if !cfg.Plaintext || len(cfg.PSK) > 0 {
		if len(cfg.PSK) < wire.MinPSKLen || len(cfg.PSK) > wire.MaxPSKLen {
			return nil, errors.New("client: psk must be " + strconv.Itoa(int(wire.MinPSKLen)) + ".." + strconv.Itoa(int(wire.MaxPSKLen)) + " bytes")
		}
	}
	if cfg.DialTimeout < 0 {
		return nil, errors.New("client: negative dial timeout")
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = defaultDialTimeout
	}
	if cfg.BusyAttempts < 0 || cfg.BusyBackoff < 0 || cfg.BusyBackoffMax < 0 {
		return nil, errors.New("client: negative busy retry setting")
	}
	if cfg.BusyAttempts == 0 {
		cfg.BusyAttempts = defaultBusyAttempts
	}
	if cfg.BusyBackoff == 0 {
		cfg.BusyBackoff = defaultBusyBackoff
	}
	if cfg.BusyBackoffMax == 0 {
		cfg.BusyBackoffMax = max(defaultBusyBackoffMax, cfg.BusyBackoff)
	}
	if cfg.BusyBackoffMax < cfg.BusyBackoff {
		return nil, errors.New("client: busy backoff above its maximum")
	}
	if cfg.DownFor < 0 {
		return nil, errors.New("client: negative down time")
	}
	if cfg.DownFor == 0 {
		cfg.DownFor = defaultDownFor
	}
	if cfg.MaxChannelAge == 0 {
		cfg.MaxChannelAge = defaultMaxChannelAge
	}
	cfg.Addrs = append([]string(nil), cfg.Addrs...)
	cfg.PSK = append([]byte(nil), cfg.PSK...)
	ctx, cancel := context.WithCancel(context.Background())
	return &Client{
		cfg:      cfg,
		closeCtx: ctx,
		cancel:   cancel,
		dialSem:  make(chan struct{}, 1),
		cache:    newStartCache(cfg.StartCacheSize),
		next:     mrand.N(len(cfg.Addrs)),
		down:     make([]time.Time, len(cfg.Addrs)),
		retired:  make(map[*conn]struct{}),
	}, nil
}

func (c *Client) rand() io.Reader {
	if c.cfg.Rand != nil {
		return c.cfg.Rand
	}
	return rand.Reader
}

// errClosed is returned by Do after Close and to the calls Close fails.
var errClosed = wrapf("client", net.ErrClosed)

// Do sends one flight and waits for its answer or ctx: the protocol-level
// call under Start and KeyExchange, for tools and tests that speak the
// protocol themselves. A transport failure fails the calls in flight on
// that channel; each is sent once more on a fresh channel, to another
// address when there is one (failover.go). The answer holds one result
// per request, in order, each failed or with its op's body. Errors:
// *wire.Error with StatusAuthFailed for a refused PSK, StatusMalformed for
// an answer of the wrong shape; a wrapped net error for an offloader that
// is down; ctx.Err() when the context ends first.
//
// Do overwrites f.ID with an id unique on the channel it is sent on.
func (c *Client) Do(ctx context.Context, f *wire.Flight) (*wire.FlightResponse, error) {
	resp, _, err := c.doHooked(ctx, f)
	return resp, err
}

// doHooked is Do, also returning the channel that answered.
func (c *Client) doHooked(ctx context.Context, f *wire.Flight) (resp *wire.FlightResponse, cn *conn, err error) {
	if f == nil {
		return nil, nil, errors.New("client: nil flight")
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if hook := roundTripHook(ctx); hook != nil {
		t0 := time.Now()
		defer func() { hook(opsOf(f), time.Since(t0), err) }()
	}
	return c.do(ctx, f)
}

// opsOf names a flight's operations for WithRoundTripHook: "auth+keygen+key"
// (by hand, as tlsclient's versionNames: no strings.Join in a device
// program).
func opsOf(f *wire.Flight) string {
	var b []byte
	for i, r := range f.Requests {
		if i > 0 {
			b = append(b, '+')
		}
		b = append(b, r.Op().String()...)
	}
	return string(b)
}

// doOnce sends f on the current channel (opening one if none is alive) and
// waits for its answer. cn is the channel it was sent on (nil if none
// could be had); reused says that channel was opened before this call.
func (c *Client) doOnce(ctx context.Context, f *wire.Flight) (resp *wire.FlightResponse, cn *conn, reused bool, err error) {
	// A conn can die between being handed out and the call registering on
	// it (nothing was sent yet): then try once more on a fresh channel.
	var (
		id   uint32
		wait chan result
	)
	for attempt := 0; ; attempt++ {
		prev := c.current()
		cn, err = c.conn(ctx)
		if err != nil {
			return nil, nil, false, err
		}
		reused = cn == prev
		id, wait, err = cn.register()
		if err == nil {
			break
		}
		if attempt == 1 {
			return nil, cn, reused, err
		}
	}
	f.ID = id
	// The flight is encoded into a pooled buffer: it holds only what the
	// device sends (transcript, names, sealed token), so it needs no wipe.
	box := payloadPool.Get().(*[]byte)
	payload, err := f.MarshalTo(*box)
	if err == nil && len(payload) > wire.MaxFrame {
		err = &wire.Error{Status: wire.StatusMalformed, Detail: "client: flight larger than a frame"}
	}
	if err == nil {
		err = cn.write(ctx, payload)
	}
	if cap(payload) <= maxPooledPayload {
		*box = payload[:0]
	}
	payloadPool.Put(box)
	if err != nil {
		cn.forget(id)
		return nil, cn, reused, err
	}
	r := cn.await(ctx, id, wait)
	if r.err != nil {
		return nil, cn, reused, r.err
	}
	if err := checkResponse(f, r.resp); err != nil {
		return nil, cn, reused, err
	}
	return r.resp, cn, reused, nil
}

// payloadPool holds buffers flights are encoded into; one larger than
// maxPooledPayload is not kept.
var payloadPool = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledPayload = 64 << 10

// checkResponse holds the offloader to one Result per request, in order.
func checkResponse(f *wire.Flight, r *wire.FlightResponse) error {
	if len(r.Results) != len(f.Requests) {
		return &wire.Error{Status: wire.StatusMalformed,
			Detail: "client: " + strconv.Itoa(len(r.Results)) + " results for " + strconv.Itoa(len(f.Requests)) + " requests"}
	}
	for i := range r.Results {
		if r.Results[i].Op() != f.Requests[i].Op() {
			return &wire.Error{Op: f.Requests[i].Op(), Status: wire.StatusMalformed,
				Detail: "client: result " + strconv.Itoa(i) + " is for op " + r.Results[i].Op().String()}
		}
	}
	return nil
}

// Close closes the channel; calls in flight fail.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	conns := []*conn{c.cur}
	c.cur = nil
	for cn := range c.retired {
		conns = append(conns, cn)
	}
	clear(c.retired)
	c.mu.Unlock()
	c.cancel()
	for _, cn := range conns {
		if cn != nil {
			cn.fail(errClosed)
			<-cn.readerDone
		}
	}
	return nil
}

// conn returns the live channel, opening one if there is none.
func (c *Client) conn(ctx context.Context) (*conn, error) {
	if cn, err := c.live(); cn != nil || err != nil {
		return cn, err
	}
	if old := c.current(); old != nil && old.alive() {
		c.retire(old) // past its age: the next address takes over
	}
	select {
	case c.dialSem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.closeCtx.Done():
		return nil, errClosed
	}
	defer func() { <-c.dialSem }()
	// Another call may have opened one while this one waited.
	if cn, err := c.live(); cn != nil || err != nil {
		return cn, err
	}
	cn, err := c.open(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cn.fail(errClosed)
		<-cn.readerDone
		return nil, errClosed
	}
	c.cur = cn
	c.mu.Unlock()
	return cn, nil
}

// live returns the current channel if it has not failed and is not past
// its age, or errClosed.
func (c *Client) live() (*conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errClosed
	}
	if c.cur != nil && c.cur.alive() && (c.cur.retireAt.IsZero() || time.Now().Before(c.cur.retireAt)) {
		return c.cur, nil
	}
	return nil, nil
}

// current returns the channel new flights go to, alive or not.
func (c *Client) current() *conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

// open tries the addresses in the rotation's order, those up before those
// down (dialOrder), and returns a channel to the first that opens one. An
// address that cannot be reached is marked down. A channel refused by the
// offloader (wrong PSK, plaintext refused, version) is final: it is
// returned as is, without trying the other addresses, since replicas
// share one registry.
func (c *Client) open(ctx context.Context) (*conn, error) {
	var errs []error
	for _, i := range c.dialOrder(time.Now()) {
		addr := c.cfg.Addrs[i]
		cn, err := c.openOne(ctx, addr)
		if err == nil {
			cn.idx = i
			if c.cfg.MaxChannelAge > 0 {
				cn.retireAt = time.Now().Add(jitter(c.cfg.MaxChannelAge))
			}
			c.opened(i)
			return cn, nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		if c.closeCtx.Err() != nil {
			return nil, errClosed
		}
		if we, ok := errors.AsType[*wire.Error](err); ok {
			return nil, we
		}
		c.markDown(i, err)
		errs = append(errs, err)
	}
	return nil, &unreachableError{errs: errs}
}

// openOne dials addr and runs the channel opening, both under DialTimeout,
// ctx and Close.
func (c *Client) openOne(ctx context.Context, addr string) (*conn, error) {
	dctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	stop := context.AfterFunc(c.closeCtx, cancel)
	defer stop()

	nc, err := c.dial(dctx, addr)
	if err != nil {
		return nil, err
	}
	// ClientOpen takes no context: bound it with the deadline, and cut it
	// short when dctx ends early.
	if dl, ok := dctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	stopAbort := context.AfterFunc(dctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	ch, err := wire.ClientOpen(nc, wire.ChannelConfig{
		DeviceID:  c.cfg.DeviceID,
		PSK:       c.cfg.PSK,
		Plaintext: c.cfg.Plaintext,
		Rand:      c.cfg.Rand,
	})
	aborted := !stopAbort()
	if err != nil {
		nc.Close()
		if _, ok := errors.AsType[*wire.Error](err); ok {
			return nil, err
		}
		if (aborted || errors.Is(err, os.ErrDeadlineExceeded)) && ctx.Err() == nil && c.closeCtx.Err() == nil {
			return nil, errors.New("opening channel to " + addr + ": timed out after " + c.cfg.DialTimeout.String())
		}
		return nil, wrapf("opening channel to "+addr, err)
	}
	if aborted {
		ch.Close()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("opening channel to " + addr + ": timed out after " + c.cfg.DialTimeout.String())
	}
	nc.SetDeadline(time.Time{})
	return newConn(ch, nc, addr), nil
}

func (c *Client) dial(ctx context.Context, addr string) (net.Conn, error) {
	if c.cfg.Dial != nil {
		return c.cfg.Dial(ctx, addr)
	}
	var d net.Dialer
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		return d.DialContext(ctx, "unix", path)
	}
	return d.DialContext(ctx, "tcp", addr)
}

// unreachableError lists why each address failed; errors.Is sees through
// to every one of them (e.g. syscall.ECONNREFUSED).
type unreachableError struct {
	errs []error
}

func (e *unreachableError) Error() string {
	var b strings.Builder
	b.WriteString("client: offloader unreachable: ")
	for i, err := range e.errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

func (e *unreachableError) Unwrap() []error { return e.errs }

// result is what a waiting call receives: a response or the channel's error.
type result struct {
	resp *wire.FlightResponse
	err  error
}

// conn is one opened channel and the calls waiting on it.
type conn struct {
	ch       *wire.Channel
	nc       net.Conn // the transport under ch, for write deadlines
	addr     string
	idx      int       // addr's index in Config.Addrs
	retireAt time.Time // takes no new flight from then (zero: no limit)

	writeSem   chan struct{} // one frame writer at a time
	dead       chan struct{} // closed when the channel dies
	readerDone chan struct{} // closed once the channel died and no reader is left

	mu         sync.Mutex
	pending    map[uint32]chan result
	nextID     uint32
	err        error // sticky: set once when the channel dies
	reading    bool  // a call or the reader goroutine reads frames
	doneClosed bool  // readerDone is closed
	retired    bool  // takes no new call; closes once none is pending

	drained atomic.Bool // its close(shutting_down) was counted (failover.go)
}

func newConn(ch *wire.Channel, nc net.Conn, addr string) *conn {
	return &conn{
		ch:         ch,
		nc:         nc,
		addr:       addr,
		writeSem:   make(chan struct{}, 1),
		dead:       make(chan struct{}),
		readerDone: make(chan struct{}),
		pending:    make(map[uint32]chan result),
	}
}

func (cn *conn) alive() bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.err == nil
}

// register reserves a fresh id and the channel its answer will arrive on.
func (cn *conn) register() (uint32, chan result, error) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.err != nil {
		return 0, nil, cn.err
	}
	if cn.retired {
		return 0, nil, errRetired
	}
	for {
		cn.nextID++
		if _, busy := cn.pending[cn.nextID]; !busy {
			break
		}
	}
	wait := make(chan result, 1)
	cn.pending[cn.nextID] = wait
	return cn.nextID, wait, nil
}

// forget drops a call that no longer waits; a late answer is discarded.
func (cn *conn) forget(id uint32) {
	cn.mu.Lock()
	delete(cn.pending, id)
	idle := cn.retired && len(cn.pending) == 0
	cn.mu.Unlock()
	if idle {
		cn.fail(errRetired)
	}
}

// write sends one frame. A write cut short by ctx leaves a partial frame on
// the stream, so it kills the channel.
func (cn *conn) write(ctx context.Context, payload []byte) error {
	select {
	case cn.writeSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-cn.dead:
		return cn.deadErr()
	}
	defer func() { <-cn.writeSem }()
	if err := cn.deadErr(); err != nil {
		return err
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		cn.nc.SetWriteDeadline(time.Unix(1, 0))
		close(fired)
	})
	err := cn.ch.WriteFrame(payload)
	if !stop() {
		<-fired
		if err != nil {
			// Cut short: the stream may hold a partial frame.
			cn.fail(wrapf("client: channel to "+cn.addr+": write abandoned", ctx.Err()))
			return ctx.Err()
		}
		// The frame went out whole before the deadline bit: the channel
		// is intact once the deadline is lifted (the caller then sees ctx).
		cn.nc.SetWriteDeadline(time.Time{})
	}
	if err != nil {
		if ce := cn.closeBehind(); ce != nil {
			err = ce // the offloader closed the channel on purpose, and said why
		}
		cn.fail(wrapf("client: channel to "+cn.addr, err))
		return cn.deadErr()
	}
	return nil
}

// closeBehindWait bounds how long a failed write looks for a close frame
// the offloader sent before it closed its side (closeBehind).
const closeBehindWait = 50 * time.Millisecond

// closeBehind is called when a write failed: an offloader that closed
// the channel with a reason (docs/PROTOCOL.md §6.1) may have sent its
// close frame before the transport broke under the write (a reset after
// it closed). If a reader is at work, it is given closeBehindWait to come
// upon the close; otherwise this call reads what is already there, within
// closeBehindWait, answering the calls whose answers come first. It
// returns the close, or nil.
func (cn *conn) closeBehind() *wire.CloseError {
	cn.mu.Lock()
	if cn.err != nil {
		cn.mu.Unlock()
		return nil
	}
	if cn.reading {
		cn.mu.Unlock()
		select {
		case <-cn.dead:
		case <-time.After(closeBehindWait):
		}
		return nil // the reader failed the channel with what it found
	}
	cn.reading = true
	cn.mu.Unlock()
	cn.nc.SetReadDeadline(time.Now().Add(closeBehindWait))
	var err error
	for err == nil {
		err = cn.readOne()
	}
	cn.nc.SetReadDeadline(time.Time{})
	cn.mu.Lock()
	cn.reading = false
	if cn.err != nil {
		cn.closeReaderDone()
	}
	cn.mu.Unlock()
	if ce, ok := errors.AsType[*wire.CloseError](err); ok {
		return ce
	}
	return nil
}

func (cn *conn) deadErr() error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.err
}

// fail kills the channel once: every pending call gets err, the transport
// is closed, and the reader goroutine returns.
func (cn *conn) fail(err error) {
	cn.mu.Lock()
	if cn.err != nil {
		cn.mu.Unlock()
		return
	}
	cn.err = err
	pending := cn.pending
	cn.pending = nil
	close(cn.dead)
	if !cn.reading {
		cn.closeReaderDone()
	}
	cn.mu.Unlock()
	for _, w := range pending {
		w <- result{err: err}
	}
	cn.ch.Close()
}

// closeReaderDone closes readerDone once; cn.mu is held.
func (cn *conn) closeReaderDone() {
	if !cn.doneClosed {
		cn.doneClosed = true
		close(cn.readerDone)
	}
}

// stopReading gives up reading: to a reader goroutine while calls still
// wait for answers, to nobody otherwise. cn.mu is held.
func (cn *conn) stopReading() {
	if cn.err == nil && len(cn.pending) > 0 {
		go cn.readLoop() // reading stays true: the goroutine reads now
		return
	}
	cn.reading = false
	if cn.err != nil {
		cn.closeReaderDone()
	}
}

// await returns the answer to call id: read by this call itself when no
// one else reads, or handed over by the reader.
func (cn *conn) await(ctx context.Context, id uint32, wait chan result) result {
	cn.mu.Lock()
	if cn.err == nil && !cn.reading {
		cn.reading = true
		cn.mu.Unlock()
		return cn.readOwn(ctx, id, wait)
	}
	cn.mu.Unlock()
	select {
	case r := <-wait:
		return r
	case <-ctx.Done():
		cn.forget(id)
		return result{err: ctx.Err()}
	}
}

// readOwn reads frames, handing each answer to its call, until call id's
// own has come; the caller holds reading. If ctx ends first, the read is
// interrupted by a past deadline: before a frame's first byte the channel
// stays usable (the call is forgotten, a late answer dropped); inside a
// frame the channel is dead.
func (cn *conn) readOwn(ctx context.Context, id uint32, wait chan result) result {
	// lift disarms the ctx interruption and lifts its past deadline. It
	// runs before reading is handed over: a reader goroutine started
	// while the deadline is still in the past would time out at once and
	// kill the channel.
	lift := func() {}
	if ctx.Done() != nil {
		fired := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			cn.nc.SetReadDeadline(time.Unix(1, 0))
			close(fired)
		})
		lifted := false
		lift = func() {
			if lifted {
				return
			}
			lifted = true
			if !stop() {
				<-fired
				cn.nc.SetReadDeadline(time.Time{})
			}
		}
		defer lift()
	}
	handOver := func() {
		lift()
		cn.mu.Lock()
		cn.stopReading()
		cn.mu.Unlock()
	}
	for {
		// The answer may have come before this call took up reading
		// (handed over by a reader that then stopped), or with this read.
		select {
		case r := <-wait:
			handOver()
			return r
		default:
		}
		if err := cn.readOne(); err != nil {
			select {
			case r := <-wait:
				handOver()
				return r
			default:
			}
			if ctx.Err() != nil && cn.deadErr() == nil {
				cn.forget(id)
				handOver()
				return result{err: ctx.Err()}
			}
			cn.fail(err)
			handOver()
			return <-wait // fail answered every pending call
		}
	}
}

// readOne reads one frame and hands the response to the call waiting for
// its id (an answer nobody waits for is dropped). The frame is read into
// the channel's reused buffer, which is wiped after decoding (the response
// carries key material, and Unmarshal copies what it keeps). An error
// returned is the channel's end, worded for the calls it fails.
func (cn *conn) readOne() error {
	resp := new(wire.FlightResponse)
	var bad error
	err := cn.ch.ReadFrameFunc(func(frame []byte) error {
		bad = resp.Unmarshal(frame)
		return nil
	})
	if err != nil {
		return cn.readErr(err)
	}
	if bad != nil {
		// Without an id the answer cannot be matched to its call, and
		// the peer is not speaking the protocol: give the channel up.
		return wrapf("client: channel to "+cn.addr+": bad response", bad)
	}
	cn.mu.Lock()
	wait, ok := cn.pending[resp.ID]
	delete(cn.pending, resp.ID)
	idle := cn.retired && len(cn.pending) == 0
	cn.mu.Unlock()
	if ok {
		wait <- result{resp: resp}
	}
	if idle {
		cn.fail(errRetired) // after the hand-over: the answer stands
	}
	return nil
}

// readLoop reads for the calls still waiting after the reading call got
// its answer, until none waits or the channel dies.
func (cn *conn) readLoop() {
	for {
		if err := cn.readOne(); err != nil {
			cn.fail(err)
			cn.mu.Lock()
			cn.reading = false
			cn.closeReaderDone()
			cn.mu.Unlock()
			return
		}
		cn.mu.Lock()
		if cn.err != nil || len(cn.pending) == 0 {
			cn.reading = false
			if cn.err != nil {
				cn.closeReaderDone()
			}
			cn.mu.Unlock()
			return
		}
		cn.mu.Unlock()
	}
}

// readErr words a read failure for the calls it fails. An alert or a frame
// that did not authenticate stays a *wire.Error to errors.As.
func (cn *conn) readErr(err error) error {
	if errors.Is(err, io.EOF) {
		return wrapf("client: offloader "+cn.addr+" closed the channel", io.ErrUnexpectedEOF)
	}
	return wrapf("client: channel to "+cn.addr, err)
}

// wrapf wraps err, which must not be nil, under msg: msg + ": " + err,
// as fmt.Errorf("%s: %w") would make it (internal/wrap: the device
// packages format without fmt).
func wrapf(msg string, err error) error { return wrap.New(msg, err) }
