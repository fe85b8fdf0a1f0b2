package server

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// What the operator's dashboard reads beyond the counters of stats.go,
// counted in the same plain-Go way:
//
//   - handshake outcomes: a flight whose Key succeeded is a handshake
//     that succeeded; a flight refused (its first failure, or a flight
//     refused whole as rate limited) and a channel opening refused are
//     handshakes that failed, each counted once under one reason from the
//     fixed table outcomeLabels;
//   - for each kind of flight (its operation when it holds one request,
//     "pipelined" when it holds several), the time it queued and the time
//     it ran, in the buckets of durationBounds;
//   - the verified-chain cache's size, hits and misses (certs.CacheStats);
//   - per device, in a table bounded by Config.MaxTrackedDevices: channels
//     open, flights, handshakes, failures with the last reason, rate-limited
//     flights, last seen. The table is read through Devices, never exported
//     to Prometheus: device ids are not labels.
//
// Queueing is measured from the moment the offloader has read a whole
// flight to the moment it starts running it: the wait for one of the
// MaxInFlight slots and the hand-off to a goroutine. A frame waiting in
// the socket behind a flight that runs inline on the same channel is not
// seen (its read has not happened). Flights run through Do directly (an
// embedding program, LocalOffloader) did not queue and count no queueing.

// outcome is why a handshake failed; outcomeOK is success.
type outcome uint8

const (
	outcomeOK outcome = iota
	// Certificate refusals, by wire.Reason.
	outcomeExpired
	outcomeNotYetValid
	outcomeUnknownAuthority
	outcomeNameMismatch
	outcomeKeyUsage
	outcomeWeakKey
	outcomeWeakSignature
	outcomeBadCertificate
	outcomeRevoked
	outcomePinMismatch
	outcomeNoCertificate
	outcomeNonConforming
	outcomeRevocationUnknown
	outcomeInvalidCertificate // a reason this table does not know
	// Refusals of the device's policy and of the server's handshake.
	outcomePolicyDenied
	outcomeUnsupported
	outcomeBadSignature
	outcomeIllegalParameter
	// Refusals of the request or the channel.
	outcomeMalformed
	outcomeBadToken
	outcomeWrongPSK      // a channel opening for a known device failed to authenticate
	outcomeUnknownDevice // a channel opening, or a flight, for a device the registry does not hold
	outcomePlaintextRefused
	outcomeBadVersion
	// Resource control.
	outcomeRateLimited
	// outcomeOverCap: a connection or channel refused by a cap: the
	// global connection cap, a source's openings, the device's channels
	// (limits.go). A flight refused by the device's rate or for want of a
	// slot is outcomeRateLimited.
	outcomeOverCap
	// The offloader's own trouble.
	outcomeAborted // canceled: the channel or the server closed mid-flight
	outcomeInternal
	outcomeUnknown // a status this table does not know
	numOutcomes
)

var outcomeLabels = [numOutcomes]string{
	outcomeOK:                 "ok",
	outcomeExpired:            "expired",
	outcomeNotYetValid:        "not_yet_valid",
	outcomeUnknownAuthority:   "unknown_authority",
	outcomeNameMismatch:       "name_mismatch",
	outcomeKeyUsage:           "bad_key_usage",
	outcomeWeakKey:            "weak_key",
	outcomeWeakSignature:      "weak_signature",
	outcomeBadCertificate:     "malformed_certificate",
	outcomeRevoked:            "revoked",
	outcomePinMismatch:        "pin_mismatch",
	outcomeNoCertificate:      "no_certificate",
	outcomeNonConforming:      "nonconforming_certificate",
	outcomeRevocationUnknown:  "revocation_unknown",
	outcomeInvalidCertificate: "invalid_certificate",
	outcomePolicyDenied:       "policy_denied",
	outcomeUnsupported:        "unsupported",
	outcomeBadSignature:       "bad_signature",
	outcomeIllegalParameter:   "illegal_parameter",
	outcomeMalformed:          "malformed",
	outcomeBadToken:           "bad_token",
	outcomeWrongPSK:           "wrong_psk",
	outcomeUnknownDevice:      "unknown_device",
	outcomePlaintextRefused:   "plaintext_refused",
	outcomeBadVersion:         "bad_version",
	outcomeRateLimited:        "rate_limited",
	outcomeOverCap:            "over_cap",
	outcomeAborted:            "aborted",
	outcomeInternal:           "internal",
	outcomeUnknown:            "unknown",
}

// FailureReasons returns the reasons a handshake can fail for, as Stats
// names them, in a fixed order. Exporters use it to keep fixed-size tables.
func FailureReasons() []string { return slices.Clone(outcomeLabels[1:]) }

var certOutcomes = [...]outcome{
	wire.ReasonExpired:           outcomeExpired,
	wire.ReasonNotYetValid:       outcomeNotYetValid,
	wire.ReasonUnknownAuthority:  outcomeUnknownAuthority,
	wire.ReasonNameMismatch:      outcomeNameMismatch,
	wire.ReasonKeyUsage:          outcomeKeyUsage,
	wire.ReasonWeakKey:           outcomeWeakKey,
	wire.ReasonWeakSignature:     outcomeWeakSignature,
	wire.ReasonMalformed:         outcomeBadCertificate,
	wire.ReasonRevoked:           outcomeRevoked,
	wire.ReasonPinMismatch:       outcomePinMismatch,
	wire.ReasonNoCertificate:     outcomeNoCertificate,
	wire.ReasonNonConforming:     outcomeNonConforming,
	wire.ReasonRevocationUnknown: outcomeRevocationUnknown,
}

// errOutcome names the failure of a flight.
func errOutcome(e *wire.Error) outcome {
	switch e.Status {
	case wire.StatusInvalidCertificate:
		if int(e.Reason) < len(certOutcomes) && certOutcomes[e.Reason] != outcomeOK {
			return certOutcomes[e.Reason]
		}
		return outcomeInvalidCertificate
	case wire.StatusPolicyDenied:
		return outcomePolicyDenied
	case wire.StatusUnsupported:
		return outcomeUnsupported
	case wire.StatusMalformed:
		return outcomeMalformed
	case wire.StatusRateLimited:
		return outcomeRateLimited
	case wire.StatusInternal:
		return outcomeInternal
	case wire.StatusAborted:
		return outcomeAborted
	case wire.StatusBadToken:
		return outcomeBadToken
	case wire.StatusBadSignature:
		return outcomeBadSignature
	case wire.StatusAuthFailed: // in a flight: the device left the registry
		return outcomeUnknownDevice
	case wire.StatusPlaintextRefused:
		return outcomePlaintextRefused
	case wire.StatusBadVersion:
		return outcomeBadVersion
	case wire.StatusIllegalParameter:
		return outcomeIllegalParameter
	}
	return outcomeUnknown
}

// openingOutcome names a refused channel opening as a failed handshake;
// ok is false for an opening that did not fail by refusal (a timeout, a
// transport error): no device was refused.
func openingOutcome(r channelResult, known bool) (o outcome, ok bool) {
	switch r {
	case channelAuthFailed:
		if known {
			return outcomeWrongPSK, true
		}
		return outcomeUnknownDevice, true
	case channelPlaintextRefused:
		return outcomePlaintextRefused, true
	case channelBadVersion:
		return outcomeBadVersion, true
	case channelMalformed:
		return outcomeMalformed, true
	}
	return 0, false
}

// Flight kinds: a one-request flight is its operation's kind (the
// indexes of opLabels), a flight of several is kindPipelined.
const (
	kindPipelined = len(opLabels)
	numKinds      = len(opLabels) + 1
)

func kindLabel(k int) string {
	if k == kindPipelined {
		return "pipelined"
	}
	return opLabels[k]
}

// activity holds the counters of this file; one per Server.
type activity struct {
	outcomes [numOutcomes]atomic.Uint64
	queued   [numKinds]histogram
	ran      [numKinds]histogram
	devices  deviceTable
}

// DefaultMaxTrackedDevices is the size of the device table when
// Config.MaxTrackedDevices is 0. A row costs about 200 bytes with its map
// entry: about 800 KiB at most.
const DefaultMaxTrackedDevices = 4096

// deviceTable is the per-device activity, keyed by device id, bounded.
//
// Locking: mu guards the map. A channel looks its row up once when it
// opens (the read lock, or the write lock to add a row) and keeps the
// pointer; the counters in a row are atomics. A row is evicted only under
// the write lock and only while no channel is open on it, and a channel
// counts itself open while it holds a lock, so a row with open channels
// stays. A row is added only for a device the registry held when its
// channel opened or its flight ran, so ids a client merely claims never
// fill the table.
type deviceTable struct {
	max       int
	connected atomic.Int64  // devices with at least one channel open
	untracked atomic.Uint64 // rows not added: the table was full of connected devices

	mu   sync.RWMutex
	rows map[string]*deviceActivity
}

// deviceActivity is one device's row.
type deviceActivity struct {
	id          string
	channels    atomic.Int64
	flights     atomic.Uint64
	handshakes  atomic.Uint64 // succeeded
	failures    atomic.Uint64
	lastReason  atomic.Uint32 // an outcome; 0: none yet
	rateLimited atomic.Uint64 // flights refused as rate limited
	lastLimited atomic.Int64  // unix nanoseconds of the last one; 0: never
	lastSeen    atomic.Int64  // unix nanoseconds of the last channel opened or closed, or flight
}

// row returns id's row, adding it if there is room (evicting the row
// seen longest ago among those with no channel open); nil if the table
// is full of connected devices. With open, the row counts one more open
// channel before any eviction can see it.
func (t *deviceTable) row(id string, now time.Time, open bool) *deviceActivity {
	t.mu.RLock()
	a := t.rows[id]
	if a != nil && open {
		t.opened(a)
	}
	t.mu.RUnlock()
	if a != nil {
		a.lastSeen.Store(now.UnixNano())
		return a
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if a = t.rows[id]; a == nil {
		if len(t.rows) >= t.max && !t.evictLocked() {
			t.untracked.Add(1)
			return nil
		}
		a = &deviceActivity{id: id}
		t.rows[id] = a
	}
	if open {
		t.opened(a)
	}
	a.lastSeen.Store(now.UnixNano())
	return a
}

func (t *deviceTable) opened(a *deviceActivity) {
	if a.channels.Add(1) == 1 {
		t.connected.Add(1)
	}
}

func (t *deviceTable) closed(a *deviceActivity, now time.Time) {
	if a == nil {
		return
	}
	if a.channels.Add(-1) == 0 {
		t.connected.Add(-1)
	}
	a.lastSeen.Store(now.UnixNano())
}

// evictLocked removes the row with no channel open that was seen longest
// ago; false if every row has a channel open.
func (t *deviceTable) evictLocked() bool {
	var old *deviceActivity
	for _, a := range t.rows {
		if a.channels.Load() == 0 && (old == nil || a.lastSeen.Load() < old.lastSeen.Load()) {
			old = a
		}
	}
	if old == nil {
		return false
	}
	delete(t.rows, old.id)
	return true
}

// lookup returns id's row without adding one.
func (t *deviceTable) lookup(id string) *deviceActivity {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.rows[id]
}

// countFlight counts a flight that ran: its kind's queueing (arrived
// zero: none) and running time, and its outcome: o is outcomeOK for a
// flight that failed nowhere, and then a handshake succeeded only if the
// flight derived the keys (keyed).
func (s *Server) countFlight(a *deviceActivity, kind int, arrived, began, ended time.Time, o outcome, keyed bool) {
	c := &s.activity
	if !arrived.IsZero() {
		c.queued[kind].observe(began.Sub(arrived))
	}
	c.ran[kind].observe(ended.Sub(began))
	if a != nil {
		a.flights.Add(1)
		a.lastSeen.Store(s.now().UnixNano())
	}
	if o == outcomeOK {
		if keyed {
			c.outcomes[outcomeOK].Add(1)
			if a != nil {
				a.handshakes.Add(1)
			}
		}
		return
	}
	s.countFailure(a, o)
}

// countFailure counts one failed handshake: a flight or a channel opening
// refused, for device a (nil: none, or not tracked).
func (s *Server) countFailure(a *deviceActivity, o outcome) {
	s.activity.outcomes[o].Add(1)
	if a == nil {
		return
	}
	now := s.now()
	a.failures.Add(1)
	a.lastReason.Store(uint32(o))
	if o == outcomeRateLimited {
		a.rateLimited.Add(1)
		a.lastLimited.Store(now.UnixNano())
	}
	a.lastSeen.Store(now.UnixNano())
}

// countOpeningRefused counts a channel opening that failed with result
// as a failed handshake, charged to the device the opening claimed when
// the registry knows it ("" otherwise). The claim is unauthenticated: a
// wrong-PSK opening is charged to the id it names, so an operator sees
// which device lost its key, and anyone may add to a known device's
// failures (never a row for an id the registry does not hold).
func (s *Server) countOpeningRefused(result channelResult, claimed string) {
	o, ok := openingOutcome(result, claimed != "")
	if !ok {
		return
	}
	var a *deviceActivity
	if claimed != "" {
		a = s.activity.devices.row(claimed, s.now(), false)
	}
	s.countFailure(a, o)
}

// countRefusedFlight counts a flight refused whole before it ran, as
// rate limited.
func (s *Server) countRefusedFlight(a *deviceActivity, o outcome) {
	if a != nil {
		a.flights.Add(1)
	}
	s.countFailure(a, o)
}

// flightKind is f's kind.
func flightKind(f *wire.Flight) int {
	if len(f.Requests) == 1 {
		return opIndex(opOf(f.Requests[0]))
	}
	return kindPipelined
}

// HandshakeStats counts handshakes by outcome.
type HandshakeStats struct {
	// OK counts flights that derived a handshake's keys (a Key request
	// answered).
	OK uint64
	// Failed counts refusals by reason (FailureReasons): a flight's first
	// failure, a flight refused whole, or a refused channel opening.
	// Reasons never seen are absent.
	Failed map[string]uint64
}

// FailedTotal returns the number of failed handshakes.
func (h HandshakeStats) FailedTotal() uint64 {
	var n uint64
	for _, v := range h.Failed {
		n += v
	}
	return n
}

// FlightLatency is one kind of flight's queueing and running time.
type FlightLatency struct {
	// Kind is the operation of a one-request flight ("start", "auth",
	// "keygen", "key", "unknown"), or "pipelined" for a flight of several.
	Kind  string
	Queue Histogram // from read to run (only flights read from a channel)
	Run   Histogram // from the first request's start to the last one's end
}

// VerifyCacheStats is the verified-chain cache (certs.VerifyCache).
type VerifyCacheStats = certs.CacheStats

// DeviceCounts sums the device table.
type DeviceCounts struct {
	Connected   int64  // devices with at least one channel open
	Tracked     int    // rows in the device table
	MaxTracked  int    // the table's bound (Config.MaxTrackedDevices)
	Untracked   uint64 // rows that could not be added: the table was full of connected devices
	RateLimited int    // devices refused as rate limited in the last RateLimitedWindow
}

// RateLimitedWindow is how recent a rate-limited refusal must be for its
// device to count in DeviceCounts.RateLimited.
const RateLimitedWindow = time.Minute

// DeviceActivity is one device's row of the device table.
type DeviceActivity struct {
	ID          string
	Channels    int64  // open now
	Flights     uint64 // run or refused
	Handshakes  uint64 // succeeded
	Failures    uint64 // failed handshakes, refused channel openings included
	LastReason  string // of the last failure (FailureReasons); "" if none
	RateLimited uint64 // flights refused as rate limited
	LastSeen    time.Time
}

func (a *deviceActivity) snapshot() DeviceActivity {
	d := DeviceActivity{
		ID:          a.id,
		Channels:    a.channels.Load(),
		Flights:     a.flights.Load(),
		Handshakes:  a.handshakes.Load(),
		Failures:    a.failures.Load(),
		RateLimited: a.rateLimited.Load(),
		LastSeen:    time.Unix(0, a.lastSeen.Load()),
	}
	if r := a.lastReason.Load(); r != 0 && r < uint32(numOutcomes) {
		d.LastReason = outcomeLabels[r]
	}
	return d
}

// MaxDeviceRows bounds the rows one Devices call returns.
const MaxDeviceRows = 100

// DeviceQuery selects rows of the device table.
type DeviceQuery struct {
	// Match, when set, keeps the devices whose id contains it (ASCII
	// case-insensitive), busiest first. Unset: the busiest devices (most
	// flights) and the most failing ones.
	Match string
	// Limit bounds each list: at most Limit busiest and Limit most
	// failing, or Limit matches (0: 10; at most MaxDeviceRows).
	Limit int
}

// DeviceTable is the answer to a DeviceQuery.
type DeviceTable struct {
	// Rows: without Match, the Limit busiest devices followed by those of
	// the Limit most failing (with at least one failure) not already
	// listed; with Match, the matching devices, busiest first, at most
	// Limit.
	Rows []DeviceActivity
	// Matched counts the devices that matched (without Match: every row
	// of the table), of which Rows shows at most Limit.
	Matched int
}

// Devices reads the device table. It copies every row once (the table
// is bounded by Config.MaxTrackedDevices), so it suits a page refreshed
// every second, not a per-request path.
func (s *Server) Devices(q DeviceQuery) DeviceTable {
	limit := q.Limit
	if limit <= 0 {
		limit = 10
	}
	limit = min(limit, MaxDeviceRows)
	t := &s.activity.devices
	t.mu.RLock()
	all := make([]DeviceActivity, 0, len(t.rows))
	for _, a := range t.rows {
		if q.Match == "" || containsFoldASCII(a.id, q.Match) {
			all = append(all, a.snapshot())
		}
	}
	t.mu.RUnlock()
	busiest := func(a, b DeviceActivity) int {
		return cmp.Or(cmp.Compare(b.Flights, a.Flights), cmp.Compare(a.ID, b.ID))
	}
	slices.SortFunc(all, busiest)
	out := DeviceTable{Matched: len(all)}
	if q.Match != "" {
		out.Rows = all[:min(limit, len(all))]
		return out
	}
	out.Rows = slices.Clone(all[:min(limit, len(all))])
	failing := slices.DeleteFunc(slices.Clone(all), func(d DeviceActivity) bool { return d.Failures == 0 })
	slices.SortFunc(failing, func(a, b DeviceActivity) int {
		return cmp.Or(cmp.Compare(b.Failures, a.Failures), cmp.Compare(a.ID, b.ID))
	})
	for _, d := range failing[:min(limit, len(failing))] {
		if !slices.ContainsFunc(out.Rows, func(r DeviceActivity) bool { return r.ID == d.ID }) {
			out.Rows = append(out.Rows, d)
		}
	}
	return out
}

// containsFoldASCII reports whether s contains sub, ASCII letters
// compared without case.
func containsFoldASCII(s, sub string) bool {
	return strings.Contains(toLowerASCII(s), toLowerASCII(sub))
}

func toLowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// MaxInFlight returns the bound on flights processed at once.
func (s *Server) MaxInFlight() int { return s.cfg.MaxInFlight }

// activityStats fills the fields of st this file adds.
func (s *Server) activityStats(st *Stats) {
	c := &s.activity
	st.Handshakes = HandshakeStats{OK: c.outcomes[outcomeOK].Load(), Failed: map[string]uint64{}}
	for o := outcomeOK + 1; o < numOutcomes; o++ {
		if n := c.outcomes[o].Load(); n > 0 {
			st.Handshakes.Failed[outcomeLabels[o]] = n
		}
	}
	st.Latency = make([]FlightLatency, numKinds)
	for k := range numKinds {
		st.Latency[k] = FlightLatency{Kind: kindLabel(k), Queue: c.queued[k].snapshot(), Run: c.ran[k].snapshot()}
	}
	st.VerifyCache = s.verified.Stats()
	st.MaxInFlight = s.cfg.MaxInFlight

	t := &c.devices
	recent := s.now().Add(-RateLimitedWindow).UnixNano()
	t.mu.RLock()
	st.Devices = DeviceCounts{Connected: t.connected.Load(), Tracked: len(t.rows), MaxTracked: t.max, Untracked: t.untracked.Load()}
	for _, a := range t.rows {
		if l := a.lastLimited.Load(); l != 0 && l >= recent {
			st.Devices.RateLimited++
		}
	}
	t.mu.RUnlock()
}
