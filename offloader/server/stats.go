package server

import (
	"errors"
	"net"
	"slices"
	"sync/atomic"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// The server counts what it does in plain Go: atomic counters in each
// Server (no globals, no Prometheus), as tailscale's derp server does, read
// through Stats. Exporters live elsewhere: package offloader/server/metrics
// turns a Stats into Prometheus metrics for cmd/offloader, so a program
// that embeds the server (ocurl) links no exporter.
//
// Every label is bounded: operations, results and modes are the fixed
// lists below, and nothing is keyed by a device id, a server name or an
// address.

// opLabels name the operations; any other code counts as "unknown".
var opLabels = [...]string{"start", "auth", "keygen", "key", "unknown"}

func opIndex(op wire.Op) int {
	switch op {
	case wire.OpStart:
		return 0
	case wire.OpAuth:
		return 1
	case wire.OpKeyGen:
		return 2
	case wire.OpKey:
		return 3
	}
	return len(opLabels) - 1
}

// opLabel names op for counters and logs.
func opLabel(op wire.Op) string { return opLabels[opIndex(op)] }

// statusLabels name a result by its status, as snake_case words; a status
// this table does not know counts as "unknown" (index len(statusLabels)).
var statusLabels = [...]string{
	wire.StatusOK:                 "ok",
	wire.StatusInvalidCertificate: "invalid_certificate",
	wire.StatusPolicyDenied:       "policy_denied",
	wire.StatusUnsupported:        "unsupported",
	wire.StatusMalformed:          "malformed",
	wire.StatusRateLimited:        "rate_limited",
	wire.StatusInternal:           "internal",
	wire.StatusAborted:            "aborted",
	wire.StatusBadToken:           "bad_token",
	wire.StatusBadSignature:       "bad_signature",
	wire.StatusAuthFailed:         "auth_failed",
	wire.StatusPlaintextRefused:   "plaintext_refused",
	wire.StatusBadVersion:         "bad_version",
	wire.StatusIllegalParameter:   "illegal_parameter",
}

const unknownLabel = "unknown"

func statusIndex(s wire.Status) int {
	if int(s) < len(statusLabels) {
		return int(s)
	}
	return len(statusLabels)
}

func resultLabel(i int) string {
	if i < len(statusLabels) {
		return statusLabels[i]
	}
	return unknownLabel
}

// channelResult is how a channel opening ended.
type channelResult uint8

const (
	channelOK channelResult = iota
	channelAuthFailed
	channelPlaintextRefused
	channelBadVersion
	channelMalformed
	channelTimeout
	channelError
	numChannelResults
)

var channelLabels = [numChannelResults]string{
	channelOK:               "ok",
	channelAuthFailed:       "auth_failed",
	channelPlaintextRefused: "plaintext_refused",
	channelBadVersion:       "bad_version",
	channelMalformed:        "malformed",
	channelTimeout:          "timeout",
	channelError:            "error",
}

func (r channelResult) String() string { return channelLabels[r] }

// openingResult names a failed opening.
func openingResult(err error) channelResult {
	for _, c := range []struct {
		status wire.Status
		result channelResult
	}{
		{wire.StatusAuthFailed, channelAuthFailed},
		{wire.StatusPlaintextRefused, channelPlaintextRefused},
		{wire.StatusBadVersion, channelBadVersion},
		{wire.StatusMalformed, channelMalformed},
	} {
		if errors.Is(err, c.status) {
			return c.result
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return channelTimeout
	}
	return channelError
}

// durationBounds are the inclusive upper bounds of the request-duration
// buckets. Requests run from 50 microseconds (a cached Start) to one second
// (an RSA-4096 chain on a loaded machine): 12 buckets doubling from 50µs,
// the last at 102.4ms, then 250ms, 500ms and 1s; slower requests fall in
// the overflow bucket.
var durationBounds = [...]time.Duration{
	50 * time.Microsecond, 100 * time.Microsecond, 200 * time.Microsecond, 400 * time.Microsecond,
	800 * time.Microsecond, 1600 * time.Microsecond, 3200 * time.Microsecond, 6400 * time.Microsecond,
	12800 * time.Microsecond, 25600 * time.Microsecond, 51200 * time.Microsecond, 102400 * time.Microsecond,
	250 * time.Millisecond, 500 * time.Millisecond, time.Second,
}

// histogram counts durations in the buckets of durationBounds.
type histogram struct {
	counts [len(durationBounds) + 1]atomic.Uint64 // the last: above every bound
	sum    atomic.Int64                           // nanoseconds
}

func (h *histogram) observe(d time.Duration) {
	i, _ := slices.BinarySearch(durationBounds[:], d) // the first bound ≥ d
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

func (h *histogram) snapshot() Histogram {
	s := Histogram{Bounds: durationBounds[:], Counts: make([]uint64, len(h.counts)), Sum: time.Duration(h.sum.Load())}
	for i := range h.counts {
		s.Counts[i] = h.counts[i].Load()
	}
	return s
}

// counters are one server's counts since New.
type counters struct {
	requests       [len(opLabels)][len(statusLabels) + 1]atomic.Uint64 // op, result
	durations      [len(opLabels)]histogram
	sequential     atomic.Uint64 // flights of one request
	pipelined      atomic.Uint64 // flights of several
	flightsRunning atomic.Int64
	channels       [numChannelResults]atomic.Uint64
	channelsOpen   atomic.Int64
	closesSent     [len(closeLabels)]atomic.Uint64 // close frames sent, by reason (closeIndex)
}

// closeLabels name the reasons of close frames (docs/PROTOCOL.md §6.1),
// indexed by wire.CloseReason; 0 is any other.
var closeLabels = [...]string{"other", "shutting_down", "idle", "device_changed", "channel_age"}

func closeIndex(r wire.CloseReason) int {
	if int(r) < len(closeLabels) {
		return int(r)
	}
	return 0
}

// observe counts one operation: its result (e nil: ok) and how long it ran.
func (c *counters) observe(op wire.Op, e *wire.Error, d time.Duration) {
	i, r := opIndex(op), 0
	if e != nil {
		r = statusIndex(e.Status)
	}
	c.requests[i][r].Add(1)
	c.durations[i].observe(d)
}

// Stats is a snapshot of a server's counters since New: counts only grow;
// InFlight and Open are values now. Fields are read one at a time, so a
// snapshot taken under load may be a few events apart between fields; a
// Histogram's count is the sum of its buckets. Stats holds no device id,
// server name or address.
type Stats struct {
	Ops      []OpStats // one per operation, in a fixed order: start, auth, keygen, key, unknown
	Flights  FlightStats
	Channels ChannelStats
	// Refused counts connections, channels and flights refused by resource
	// control or authentication, by reason (limits.go: refusalLabels).
	// Reasons never seen are absent.
	Refused map[string]uint64

	// For the operator's dashboard (activity.go).
	Handshakes  HandshakeStats
	Latency     []FlightLatency // one per kind: start, auth, keygen, key, unknown, pipelined
	VerifyCache VerifyCacheStats
	Devices     DeviceCounts // the device table itself: Server.Devices
	MaxInFlight int          // the bound on Flights.InFlight
}

// OpStats counts one operation.
type OpStats struct {
	// Op is "start", "auth", "keygen" or "key"; "unknown" counts requests
	// with any other operation code.
	Op string
	// Results counts the requests run, by result: "ok", or the failure's
	// status in snake_case ("bad_token", "invalid_certificate", …;
	// "unknown" for a status without a name). Results never seen are absent.
	Results map[string]uint64
	// Duration is the time to run each request.
	Duration Histogram
}

// FlightStats counts flights.
type FlightStats struct {
	Sequential uint64 // flights of one request (the sequential mode)
	Pipelined  uint64 // flights of several requests
	InFlight   int64  // flights being processed now
}

// ChannelStats counts device channels.
type ChannelStats struct {
	// Results counts openings by result: "ok", or why one was refused or
	// failed ("auth_failed", "plaintext_refused", "bad_version",
	// "malformed", "timeout", "error"). Results never seen are absent.
	Results map[string]uint64
	Open    int64 // channels open now
	// Closed counts the channels closed with a close frame telling the
	// device why, by reason: "shutting_down", "idle", "device_changed".
	// Reasons never seen are absent.
	Closed map[string]uint64
}

// Histogram is a snapshot of durations counted in fixed buckets.
type Histogram struct {
	// Bounds are the buckets' inclusive upper bounds, ascending; shared
	// between snapshots, not to be modified.
	Bounds []time.Duration
	// Counts[i] counts the durations d with Bounds[i-1] < d ≤ Bounds[i];
	// Counts[len(Bounds)] those above the last bound. Not cumulative.
	Counts []uint64
	Sum    time.Duration // of every duration counted
}

// Count returns the number of durations counted.
func (h Histogram) Count() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Stats returns a snapshot of the server's counters. It is safe to call
// at any time, from any goroutine, and costs a few hundred atomic loads.
func (s *Server) Stats() Stats {
	c := &s.counters
	st := Stats{
		Ops: make([]OpStats, len(opLabels)),
		Flights: FlightStats{
			Sequential: c.sequential.Load(),
			Pipelined:  c.pipelined.Load(),
			InFlight:   c.flightsRunning.Load(),
		},
		Channels: ChannelStats{Results: map[string]uint64{}, Open: c.channelsOpen.Load(), Closed: map[string]uint64{}},
		Refused:  s.refusalStats(),
	}
	for i, op := range opLabels {
		o := OpStats{Op: op, Results: map[string]uint64{}, Duration: c.durations[i].snapshot()}
		for r := range c.requests[i] {
			if n := c.requests[i][r].Load(); n > 0 {
				o.Results[resultLabel(r)] = n
			}
		}
		st.Ops[i] = o
	}
	for r := range c.channels {
		if n := c.channels[r].Load(); n > 0 {
			st.Channels.Results[channelResult(r).String()] = n
		}
	}
	for r := range c.closesSent {
		if n := c.closesSent[r].Load(); n > 0 {
			st.Channels.Closed[closeLabels[r]] = n
		}
	}
	s.activityStats(&st)
	return st
}
