package dashboard

import (
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/tlsoffload/tlsoffload/offloader/server"
)

// The history is what lets a page opened now draw the last 15 minutes at
// once: a ring of HistoryLen samples, one per sampling interval (a second
// by default), each holding what happened during its interval, reduced to
// the numbers the page draws. Beside it a shorter ring keeps the
// cumulative latency histograms of the last windowLen samples, from which
// the latency table's quantiles over the last minute come.
//
// Every array is fixed: the memory is allocated once, when the Dashboard
// is made, and never grows: HistoryBytes in all, about 380 KiB
// (TestHistoryMemory keeps the figure true).

const (
	// HistoryLen is the number of samples kept: 15 minutes at one a second.
	HistoryLen = 900
	// windowLen is the latency table's window in samples: a minute.
	windowLen = 60

	// The fixed sizes of a sample's tables; New refuses a server whose
	// tables outgrow them.
	maxKinds   = 6  // server.Stats.Latency: start, auth, keygen, key, unknown, pipelined
	maxReasons = 32 // server.FailureReasons
	numBuckets = 16 // a server.Histogram's Counts
)

// HistoryBytes is the memory the history holds, fixed: HistoryLen
// samples of sampleBytes each, windowLen+1 sets of cumulative
// histograms, and the previous Stats (its header here; its few maps and
// slices, bounded by the fixed label tables, live beside it).
const HistoryBytes = unsafe.Sizeof(history{})

const sampleBytes = unsafe.Sizeof(sample{})

// quantiles are the ones the page shows.
var quantiles = [...]float64{0.5, 0.9, 0.99}

const (
	phaseQueue = iota
	phaseRun
	numPhases
)

// sample is one interval.
type sample struct {
	t                 int64   // unix milliseconds at the end of the interval
	dt                float32 // the interval's length in seconds
	ok, failed        uint32  // handshakes in the interval
	channels          int32   // open at the end
	connected         int32   // devices with a channel open
	inFlight          int32   // flights in flight
	maxInFlight       int32   // their bound
	cacheEntries      int32   // verified chains cached
	cacheHits, misses uint32  // cache lookups in the interval
	// lat holds each kind's quantiles of the flights of the interval, in
	// seconds; NaN where no flight of that kind queued or ran.
	lat      [maxKinds][numPhases][len(quantiles)]float32
	failures [maxReasons]uint32 // failed handshakes in the interval, by reason
}

// cumulative is every kind's latency histograms, as counted since start.
type cumulative [maxKinds][numPhases][numBuckets]uint64

// history is the two rings and what it needs to take differences.
type history struct {
	samples     [HistoryLen]sample
	n, next     int // samples held; where the next goes
	window      [windowLen + 1]cumulative
	winN, winAt int // entries held; where the next goes

	prev     server.Stats // the last Stats added; zero before the first
	prevHist cumulative
	prevAt   time.Time
	havePrev bool
}

// checkShape refuses Stats whose tables do not fit a sample.
func checkShape(st server.Stats) error {
	if len(st.Latency) > maxKinds {
		return fmt.Errorf("dashboard: %d kinds of flight, room for %d", len(st.Latency), maxKinds)
	}
	if n := len(server.FailureReasons()); n > maxReasons {
		return fmt.Errorf("dashboard: %d failure reasons, room for %d", n, maxReasons)
	}
	for _, l := range st.Latency {
		if len(l.Queue.Counts) > numBuckets || len(l.Run.Counts) > numBuckets {
			return fmt.Errorf("dashboard: %d histogram buckets, room for %d", len(l.Queue.Counts), numBuckets)
		}
	}
	return nil
}

func cumulate(st server.Stats) (c cumulative) {
	for k, l := range st.Latency {
		copy(c[k][phaseQueue][:], l.Queue.Counts)
		copy(c[k][phaseRun][:], l.Run.Counts)
	}
	return c
}

// add records the interval that ends at now with st (a snapshot whose
// shape checkShape accepted). The first call only sets the baseline.
func (h *history) add(now time.Time, st server.Stats, reasons []string) {
	cur := cumulate(st)
	h.window[h.winAt] = cur
	h.winAt = (h.winAt + 1) % len(h.window)
	h.winN = min(h.winN+1, len(h.window))
	if !h.havePrev {
		h.prev, h.prevHist, h.prevAt, h.havePrev = st, cur, now, true
		return
	}
	prev := h.prev
	s := &h.samples[h.next]
	*s = sample{
		t:            now.UnixMilli(),
		dt:           float32(now.Sub(h.prevAt).Seconds()),
		ok:           delta32(st.Handshakes.OK, prev.Handshakes.OK),
		failed:       delta32(st.Handshakes.FailedTotal(), prev.Handshakes.FailedTotal()),
		channels:     int32(st.Channels.Open),
		connected:    int32(st.Devices.Connected),
		inFlight:     int32(st.Flights.InFlight),
		maxInFlight:  int32(st.MaxInFlight),
		cacheEntries: int32(st.VerifyCache.Entries),
		cacheHits:    delta32(st.VerifyCache.Hits, prev.VerifyCache.Hits),
		misses:       delta32(st.VerifyCache.Misses, prev.VerifyCache.Misses),
	}
	for i, r := range reasons {
		s.failures[i] = delta32(st.Handshakes.Failed[r], prev.Handshakes.Failed[r])
	}
	var bounds []time.Duration
	if len(st.Latency) > 0 {
		bounds = st.Latency[0].Run.Bounds
	}
	var d [numBuckets]uint64
	for k := range st.Latency {
		for p := range numPhases {
			for b := range d {
				d[b] = cur[k][p][b] - h.prevHist[k][p][b]
			}
			for qi, q := range quantiles {
				s.lat[k][p][qi] = float32(quantile(q, bounds, d[:len(bounds)+1]))
			}
		}
	}
	h.next = (h.next + 1) % len(h.samples)
	h.n = min(h.n+1, len(h.samples))
	h.prev, h.prevHist, h.prevAt = st, cur, now
}

// each calls f on the samples newer than since (unix ms), oldest first.
func (h *history) each(since int64, f func(*sample)) {
	for i := range h.n {
		s := &h.samples[(h.next-h.n+i+len(h.samples))%len(h.samples)]
		if s.t > since {
			f(s)
		}
	}
}

// windowQuantiles returns each kind's quantiles over the window (the
// newest cumulative histograms less the oldest held), with the number of
// flights counted.
func (h *history) windowQuantiles(bounds []time.Duration) (q [maxKinds][numPhases][len(quantiles)]float64, n [maxKinds][numPhases]uint64) {
	for k := range q {
		for p := range q[k] {
			for i := range q[k][p] {
				q[k][p][i] = math.NaN()
			}
		}
	}
	if h.winN < 2 || len(bounds)+1 > numBuckets {
		return q, n
	}
	newest := &h.window[(h.winAt-1+len(h.window))%len(h.window)]
	oldest := &h.window[(h.winAt-h.winN+len(h.window))%len(h.window)]
	var d [numBuckets]uint64
	for k := range maxKinds {
		for p := range numPhases {
			for b := range d {
				d[b] = newest[k][p][b] - oldest[k][p][b]
				n[k][p] += d[b]
			}
			for qi, qq := range quantiles {
				q[k][p][qi] = quantile(qq, bounds, d[:len(bounds)+1])
			}
		}
	}
	return q, n
}

// recentFailures sums the failures by reason over the samples held.
func (h *history) recentFailures() (f [maxReasons]uint64) {
	h.each(math.MinInt64, func(s *sample) {
		for i, n := range s.failures {
			f[i] += uint64(n)
		}
	})
	return f
}

// delta32 is cur-prev, clamped to a uint32 (a counter that went down,
// impossible within one process, gives 0).
func delta32(cur, prev uint64) uint32 {
	if cur < prev {
		return 0
	}
	return uint32(min(cur-prev, math.MaxUint32))
}
