package server

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// Resource control (issue 10). Before a device is authenticated a
// connection costs the server a bounded, small amount: at most MaxConns
// connections at once, at most MaxOpeningPerSource of them still opening
// from one source address, each opening bounded by OpenTimeout. After, each
// device has its own share: at most DeviceLimits.MaxChannels channels, at
// most DeviceLimits.MaxInFlight of the MaxInFlight flight slots, and a
// token bucket of DeviceLimits.Rate flights per second.
//
// Flight slots are handed out fairly: a flight that finds no free slot
// waits (at most FlightWait) in its device's queue, and a freed slot goes
// to the next device in a round-robin over the devices with a waiting
// flight, so a device with many flights outstanding gets one slot in turn
// like any other. A channel's reader waits for its flight's slot before it
// reads the next frame, so a device has at most one waiting flight per
// channel: the queues are bounded by the channel caps.
//
// Locking: lmu guards the device table (devices), the per-source opening
// counts (opening), the running total and the round-robin ring. It is held
// only to count, never across I/O or a wait. Token buckets
// (rate.Limiter) lock themselves.

// DeviceLimits bound what one device may hold of the server. A zero field
// takes the server's default (Config.DeviceLimits, then the defaults
// documented here).
type DeviceLimits struct {
	// MaxChannels bounds the device's open channels (0: 64); an opening
	// past it is closed at once (refusal "device_channels").
	MaxChannels int
	// MaxInFlight bounds the device's flights holding a slot at once
	// (0: Config.MaxInFlight, the round-robin alone keeping shares fair).
	MaxInFlight int
	// Rate is the device's sustained flights per second and Burst its
	// bucket (0: no rate limit; Burst 0: twice Rate, at least 1). A flight
	// that would wait longer than FlightWait for a token is refused
	// (refusal "rate_limited").
	Rate  float64
	Burst int
	// FrameBytes bounds the bytes of frames being received on the
	// device's channels at once (0: 4 MiB; framebudget.go).
	FrameBytes int64
}

// Defaults of the resource limits.
const (
	defaultMaxConns            = 4096
	defaultMaxOpeningPerSource = 32
	defaultOpenTimeout         = 5 * time.Second
	defaultFlightWait          = 250 * time.Millisecond
	defaultMaxChannels         = 64
)

// refusal reasons, counted in Stats.Refused (a fixed list: bounded labels).
type refusalReason uint8

const (
	refusedMaxConns           refusalReason = iota // the global connection cap
	refusedSourceOpening                           // too many openings from one source address
	refusedOpenTimeout                             // the opening did not finish within OpenTimeout
	refusedUnknownDevice                           // opening: no such device
	refusedWrongPSK                                // opening: the PSK did not match
	refusedDeviceChannels                          // the device's channel cap
	refusedRateLimited                             // the device's token bucket
	refusedBusy                                    // no flight slot within FlightWait
	refusedRevoked                                 // a channel closed because its device was removed or changed
	refusedPlaintextClientKey                      // a plaintext channel for a device with a client key
	refusedFrameBudget                             // a channel closed past a frame byte budget
	refusedSlowFrame                               // a channel closed: a frame arrived slower than MinFrameRate
	numRefusalReasons
)

var refusalLabels = [numRefusalReasons]string{
	refusedMaxConns:           "max_conns",
	refusedSourceOpening:      "source_opening",
	refusedOpenTimeout:        "open_timeout",
	refusedUnknownDevice:      "unknown_device",
	refusedWrongPSK:           "wrong_psk",
	refusedDeviceChannels:     "device_channels",
	refusedRateLimited:        "rate_limited",
	refusedBusy:               "busy",
	refusedRevoked:            "revoked",
	refusedPlaintextClientKey: "plaintext_client_key",
	refusedFrameBudget:        "frame_budget",
	refusedSlowFrame:          "slow_frame",
}

func (r refusalReason) String() string { return refusalLabels[r] }

// refusalCounters count refusals by reason; kept apart from counters
// (stats.go) on purpose.
type refusalCounters [numRefusalReasons]atomic.Uint64

// refusalStats is Stats.Refused: the reasons seen, by label.
func (s *Server) refusalStats() map[string]uint64 {
	m := make(map[string]uint64)
	for r := range s.refused {
		if n := s.refused[r].Load(); n > 0 {
			m[refusalReason(r).String()] = n
		}
	}
	return m
}

// deviceState is one authenticated device's share, under Server.lmu.
type deviceState struct {
	id       string
	limits   DeviceLimits // resolved: every field set
	channels int
	running  int
	waiters  []*flightWaiter // FIFO
	lim      *rate.Limiter   // nil: no rate limit
	// frameBytes are the bytes of frames being received (framebudget.go).
	frameBytes int64
}

type flightWaiter struct {
	granted bool // under lmu
	ready   chan struct{}
}

// limits are the server's resource state, embedded in Server.
type limits struct {
	refused refusalCounters

	lmu     sync.Mutex
	devices map[string]*deviceState
	opening map[string]int // openings in progress by source address
	served  int            // connections being served
	running int            // flight slots held
	ring    []*deviceState // devices with waiting flights, round-robin
	next    int            // the ring's cursor
	// frameBytes are the bytes of frames being received (framebudget.go).
	frameBytes int64
}

// resolveLimits fills d's zero fields from the server's defaults.
func (s *Server) resolveLimits(d DeviceLimits) DeviceLimits {
	def := s.cfg.DeviceLimits
	if d.MaxChannels == 0 {
		d.MaxChannels = def.MaxChannels
	}
	if d.MaxChannels == 0 {
		d.MaxChannels = defaultMaxChannels
	}
	if d.MaxInFlight == 0 {
		d.MaxInFlight = def.MaxInFlight
	}
	if d.MaxInFlight == 0 || d.MaxInFlight > s.cfg.MaxInFlight {
		d.MaxInFlight = s.cfg.MaxInFlight
	}
	if d.Rate == 0 {
		d.Rate, d.Burst = def.Rate, max(d.Burst, def.Burst)
	}
	if d.FrameBytes == 0 {
		d.FrameBytes = def.FrameBytes
	}
	if d.FrameBytes == 0 {
		d.FrameBytes = defaultDeviceFrameByte
	}
	if d.Rate > 0 && d.Burst == 0 {
		d.Burst = max(1, int(2*d.Rate))
	}
	return d
}

// checkLimits refuses negative limits.
func checkLimits(d DeviceLimits) error {
	if d.MaxChannels < 0 || d.MaxInFlight < 0 || d.Rate < 0 || d.Burst < 0 || d.FrameBytes < 0 {
		return errors.New("negative limit")
	}
	return nil
}

// sourceKey is the address a per-source cap counts by: the IP of a TCP
// peer; every other transport (unix sockets, pipes) is one local source
// that no per-source cap applies to ("").
func sourceKey(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	return ""
}

// admit counts a new connection in, or refuses it (the global cap, the
// source's openings). done must be called when the opening ends; closed
// when the connection ends.
func (s *Server) admit(remote net.Addr) (src string, reason refusalReason, ok bool) {
	src = sourceKey(remote)
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if s.served >= s.cfg.MaxConns {
		return "", refusedMaxConns, false
	}
	if src != "" && s.opening[src] >= s.cfg.MaxOpeningPerSource {
		return "", refusedSourceOpening, false
	}
	s.served++
	if src != "" {
		s.opening[src]++
	}
	return src, 0, true
}

// opened ends a connection's opening from src.
func (s *Server) opened(src string) {
	if src == "" {
		return
	}
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if s.opening[src]--; s.opening[src] <= 0 {
		delete(s.opening, src)
	}
}

// connDone uncounts a connection admit counted.
func (s *Server) connDone() {
	s.lmu.Lock()
	s.served--
	s.lmu.Unlock()
}

// deviceLocked returns id's state, made with lim's limits when new and
// updated to them otherwise (a reload may change them).
func (s *Server) deviceLocked(id string, lim DeviceLimits) *deviceState {
	lim = s.resolveLimits(lim)
	ds, ok := s.devices[id]
	if !ok {
		ds = &deviceState{id: id}
		s.devices[id] = ds
	}
	if !ok || ds.limits != lim {
		ds.limits = lim
		ds.lim = nil
		if lim.Rate > 0 {
			ds.lim = rate.NewLimiter(rate.Limit(lim.Rate), lim.Burst)
		}
	}
	return ds
}

// openChannel counts an authenticated channel of a device; false past its
// channel cap.
func (s *Server) openChannel(d *Device) (*deviceState, bool) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	ds := s.deviceLocked(d.ID, d.Limits)
	if ds.channels >= ds.limits.MaxChannels {
		return nil, false
	}
	ds.channels++
	return ds, true
}

func (s *Server) closeChannel(ds *deviceState) {
	s.lmu.Lock()
	ds.channels--
	s.lmu.Unlock()
}

var (
	errRateLimited = errors.New("offloader: rate limited")
	errBusy        = errors.New("offloader: busy")
)

// refusedFlight is acquireFlight's refusal of a flight: errRateLimited or
// errBusy, with the retry-after hint its answer carries (docs/PROTOCOL.md
// §8.3; 0: none).
type refusedFlight struct {
	err        error
	retryAfter time.Duration
}

func (r *refusedFlight) Error() string { return r.err.Error() }
func (r *refusedFlight) Unwrap() error { return r.err }

// retryHint is d as a wire hint: whole milliseconds rounded up, at most
// wire.MaxRetryAfter; 0 for none.
func retryHint(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return min((d + time.Millisecond - 1).Truncate(time.Millisecond), wire.MaxRetryAfter)
}

// retryAfterOf is the hint of acquireFlight's refusal err.
func retryAfterOf(err error) time.Duration {
	var r *refusedFlight
	if errors.As(err, &r) {
		return r.retryAfter
	}
	return 0
}

// acquireFlight takes a flight slot for ds: a token from its bucket, then
// a slot, each within what is left of FlightWait. It returns a
// *refusedFlight (counted) when it cannot: errRateLimited with the time
// until the bucket would have had the token, or errBusy with FlightWait
// (slots stayed taken that long). A flight is not refused because the
// server is shutting down: a channel reads none after Shutdown began, and
// those it read are flights in flight, answered within the grace.
func (s *Server) acquireFlight(ctx context.Context, ds *deviceState) error {
	deadline := time.Now().Add(s.cfg.FlightWait)
	s.lmu.Lock()
	l := ds.lim // replaced under lmu when a reload changes the limits
	s.lmu.Unlock()
	if l != nil {
		r := l.Reserve()
		if !r.OK() || r.Delay() > s.cfg.FlightWait {
			var hint time.Duration
			if r.OK() { // else the bucket can never hold the token
				hint = retryHint(r.Delay())
			}
			r.Cancel()
			s.refused[refusedRateLimited].Add(1)
			return &refusedFlight{err: errRateLimited, retryAfter: hint}
		}
		if d := r.Delay(); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				r.Cancel()
				return ctx.Err()
			}
		}
	}

	s.lmu.Lock()
	if s.running < s.cfg.MaxInFlight && ds.running < ds.limits.MaxInFlight && len(ds.waiters) == 0 {
		s.running++
		ds.running++
		s.lmu.Unlock()
		return nil
	}
	w := &flightWaiter{ready: make(chan struct{})}
	ds.waiters = append(ds.waiters, w)
	if len(ds.waiters) == 1 {
		s.ring = append(s.ring, ds)
	}
	s.lmu.Unlock()

	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	var err error
	select {
	case <-w.ready:
		return nil
	case <-t.C:
		err = errBusy
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if w.granted { // granted as the wait ended: keep it
		return nil
	}
	for i, x := range ds.waiters {
		if x == w {
			ds.waiters = append(ds.waiters[:i], ds.waiters[i+1:]...)
			break
		}
	}
	if len(ds.waiters) == 0 {
		s.leaveRingLocked(ds)
	}
	if err == errBusy {
		s.refused[refusedBusy].Add(1)
		return &refusedFlight{err: errBusy, retryAfter: retryHint(s.cfg.FlightWait)}
	}
	return err
}

// releaseFlight frees ds's slot and hands free slots round-robin to the
// devices with waiting flights.
func (s *Server) releaseFlight(ds *deviceState) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	s.running--
	ds.running--
	for s.running < s.cfg.MaxInFlight && len(s.ring) > 0 {
		granted := false
		for range len(s.ring) {
			if s.next >= len(s.ring) {
				s.next = 0
			}
			d := s.ring[s.next]
			if d.running >= d.limits.MaxInFlight {
				s.next++
				continue
			}
			w := d.waiters[0]
			d.waiters = d.waiters[1:]
			w.granted = true
			close(w.ready)
			s.running++
			d.running++
			granted = true
			if len(d.waiters) == 0 {
				s.leaveRingLocked(d) // the cursor now points at the next device
			} else {
				s.next++
			}
			break
		}
		if !granted {
			return
		}
	}
}

func (s *Server) leaveRingLocked(ds *deviceState) {
	for i, d := range s.ring {
		if d == ds {
			s.ring = append(s.ring[:i], s.ring[i+1:]...)
			if s.next > i {
				s.next--
			}
			return
		}
	}
}

// acceptRetryable reports whether an accept error is the kind a server
// waits out (net/http does the same): out of file descriptors or kernel
// memory, a connection aborted before it was accepted, or a timeout.
func acceptRetryable(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
