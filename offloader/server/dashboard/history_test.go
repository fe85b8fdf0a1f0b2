package dashboard

import (
	"bytes"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/server"
)

// realShape returns a real server's Stats: the tables have the shape a
// running offloader gives them, every count zero.
func realShape(t testing.TB) server.Stats {
	t.Helper()
	reg := server.NewRegistry()
	if err := reg.Add(server.Device{ID: "device-1", PSK: bytes.Repeat([]byte{0x42}, 32), AllowedNames: []string{"*.example.com"}}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	return srv.Stats()
}

// clone copies st deep enough to change its counts independently.
func clone(st server.Stats) server.Stats {
	c := st
	c.Handshakes.Failed = map[string]uint64{}
	for k, v := range st.Handshakes.Failed {
		c.Handshakes.Failed[k] = v
	}
	c.Latency = make([]server.FlightLatency, len(st.Latency))
	for i, l := range st.Latency {
		l.Queue.Counts = append([]uint64(nil), l.Queue.Counts...)
		l.Run.Counts = append([]uint64(nil), l.Run.Counts...)
		c.Latency[i] = l
	}
	return c
}

func kindIndex(t testing.TB, st server.Stats, kind string) int {
	t.Helper()
	for i, l := range st.Latency {
		if l.Kind == kind {
			return i
		}
	}
	t.Fatalf("no kind %q", kind)
	return 0
}

func TestQuantile(t *testing.T) {
	bounds := []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond}
	tests := []struct {
		q      float64
		counts []uint64
		want   float64
	}{
		{0.5, []uint64{0, 0, 0, 0}, math.NaN()},
		{0.5, []uint64{10, 0, 0, 0}, 0.0005},  // half way into [0, 1ms]
		{0.5, []uint64{0, 10, 0, 0}, 0.0015},  // half way into (1ms, 2ms]
		{0.9, []uint64{5, 5, 0, 0}, 0.0018},   // rank 9: 4 of 5 into the second bucket
		{0.99, []uint64{50, 49, 1, 0}, 0.002}, // rank 99: the end of the second bucket
		{0.99, []uint64{1, 0, 0, 99}, 0.004},  // in the overflow: the last bound
		{0.5, []uint64{0, 0, 4, 0}, 0.003},    // (2ms, 4ms], half way
		{0.25, []uint64{1, 0, 3, 0}, 0.001},   // rank 1: the first bucket's end
		{0.5, []uint64{2, 0, 0, 2}, 0.001},    // rank 2: the first bucket's end
		{0.99, []uint64{0, 0, 0, 1}, 0.004},   // all in the overflow
		{0.5, []uint64{1, 1, 1, 1}, 0.002},    // rank 2: the second bucket's end
		{0.9, []uint64{100, 0, 0, 0}, 0.0009}, // linear inside the first bucket
	}
	for _, tt := range tests {
		got := quantile(tt.q, bounds, tt.counts)
		if math.IsNaN(tt.want) != math.IsNaN(got) || !math.IsNaN(got) && math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("quantile(%v, %v) = %v, want %v", tt.q, tt.counts, got, tt.want)
		}
	}
}

// TestHistoryRates: each sample holds what happened in its interval, as
// rates over the interval's real length, failures by reason, and the
// quantiles of the flights of the interval only.
func TestHistoryRates(t *testing.T) {
	base := realShape(t)
	reasons := server.FailureReasons()
	pip := kindIndex(t, base, "pipelined")
	h := new(history)
	t0 := time.Unix(1_700_000_000, 0)

	st := clone(base)
	h.add(t0, st, reasons) // the baseline: no sample
	if h.n != 0 {
		t.Fatalf("%d samples after the baseline", h.n)
	}
	st = clone(st)
	st.Handshakes.OK = 10
	st.Handshakes.Failed["expired"] = 2
	st.Latency[pip].Run.Counts[0] = 100 // 100 flights ≤ 50µs
	st.VerifyCache.Hits, st.VerifyCache.Misses = 3, 1
	st.Channels.Open, st.Devices.Connected, st.Flights.InFlight, st.MaxInFlight = 5, 4, 2, 64
	h.add(t0.Add(time.Second), st, reasons)
	st = clone(st)
	st.Handshakes.OK = 40 // 30 in 2s
	st.Handshakes.Failed["wrong_psk"] = 1
	st.Latency[pip].Run.Counts[11] = 10 // 10 flights in (51.2ms, 102.4ms]
	h.add(t0.Add(3*time.Second), st, reasons)

	var got []sample
	h.each(math.MinInt64, func(s *sample) { got = append(got, *s) })
	if len(got) != 2 {
		t.Fatalf("%d samples, want 2", len(got))
	}
	s1, s2 := got[0], got[1]
	if s1.t != t0.Add(time.Second).UnixMilli() || s1.dt != 1 || s1.ok != 10 || s1.failed != 2 || s1.cacheHits != 3 || s1.misses != 1 {
		t.Errorf("first sample %+v", s1)
	}
	if s1.channels != 5 || s1.connected != 4 || s1.inFlight != 2 || s1.maxInFlight != 64 {
		t.Errorf("first sample's gauges %+v", s1)
	}
	if s2.dt != 2 || s2.ok != 30 || s2.failed != 1 || s2.cacheHits != 0 {
		t.Errorf("second sample %+v", s2)
	}
	// The first interval's pipelined flights all ran in [0, 50µs]; the
	// second's in (51.2ms, 102.4ms]: each sample sees its own.
	if p50 := s1.lat[pip][phaseRun][0]; math.Abs(float64(p50)-25e-6) > 1e-9 {
		t.Errorf("first p50 %v, want 25µs", p50)
	}
	if p99 := s2.lat[pip][phaseRun][2]; p99 < 0.0512 || p99 > 0.1024 {
		t.Errorf("second p99 %v, want in (51.2ms, 102.4ms]", p99)
	}
	if q := s1.lat[pip][phaseQueue][0]; !math.IsNaN(float64(q)) {
		t.Errorf("queue p50 %v with nothing queued, want NaN", q)
	}
	f := h.recentFailures()
	for i, r := range reasons {
		want := map[string]uint64{"expired": 2, "wrong_psk": 1}[r]
		if f[i] != want {
			t.Errorf("recent %s = %d, want %d", r, f[i], want)
		}
	}
	// The window's quantiles span both intervals: 110 flights, the p50 in
	// the first bucket, the p99 in the slow one.
	q, n := h.windowQuantiles(base.Latency[0].Run.Bounds)
	if n[pip][phaseRun] != 110 {
		t.Errorf("window counted %d flights, want 110", n[pip][phaseRun])
	}
	if q[pip][phaseRun][0] > 50e-6 || q[pip][phaseRun][2] < 0.0512 {
		t.Errorf("window quantiles %v", q[pip][phaseRun])
	}
}

// TestHistoryBounded: the ring keeps the newest HistoryLen samples and
// the latency window the newest windowLen intervals, however long it
// runs, and adding a sample allocates nothing.
func TestHistoryBounded(t *testing.T) {
	base := realShape(t)
	reasons := server.FailureReasons()
	pip := kindIndex(t, base, "pipelined")
	bounds := base.Latency[0].Run.Bounds
	h := new(history)
	t0 := time.Unix(1_700_000_000, 0)
	st := clone(base)
	total := HistoryLen + 250
	for i := range total + 1 {
		st.Handshakes.OK = uint64(i * 2)
		if i == 10 {
			st.Latency[pip].Run.Counts[14] = 1000 // a burst of slow flights, long ago
		}
		h.add(t0.Add(time.Duration(i)*time.Second), st, reasons)
	}
	if h.n != HistoryLen {
		t.Fatalf("%d samples held, want %d", h.n, HistoryLen)
	}
	var first, last int64
	count := 0
	h.each(math.MinInt64, func(s *sample) {
		if count == 0 {
			first = s.t
		}
		last = s.t
		count++
		if s.ok != 2 || s.dt != 1 {
			t.Fatalf("sample %+v: want 2 handshakes in 1s", s)
		}
	})
	if count != HistoryLen || last != t0.Add(time.Duration(total)*time.Second).UnixMilli() ||
		first != t0.Add(time.Duration(total-HistoryLen+1)*time.Second).UnixMilli() {
		t.Fatalf("held %d samples from %d to %d", count, first, last)
	}
	since := t0.Add(time.Duration(total-5) * time.Second).UnixMilli()
	count = 0
	h.each(since, func(*sample) { count++ })
	if count != 5 {
		t.Errorf("%d samples newer than since, want 5", count)
	}
	// The slow burst is older than the window: no flight counted in it.
	if _, n := h.windowQuantiles(bounds); n[pip][phaseRun] != 0 {
		t.Errorf("window still counts %d flights from long ago", n[pip][phaseRun])
	}

	next := clone(st)
	at := t0.Add(time.Duration(total+1) * time.Second)
	if a := testing.AllocsPerRun(100, func() {
		at = at.Add(time.Second)
		h.add(at, next, reasons)
	}); a != 0 {
		t.Errorf("add allocates %v times", a)
	}
}

// TestHistoryMemory keeps the documented cost true: about 380 KiB, fixed.
func TestHistoryMemory(t *testing.T) {
	if HistoryBytes < 300<<10 || HistoryBytes > 400<<10 {
		t.Errorf("the history takes %d bytes; the doc says about 380 KiB", HistoryBytes)
	}
	t.Logf("history: %d bytes (%d B a sample)", HistoryBytes, sampleBytes)
}
