// Package dashboard is the offloader's operator page: one HTML page at
// "/", its script and style embedded in the binary (no CDN, no external
// font: it works on a network with no internet), and the JSON it reads,
// /api/v1/stats and /api/v1/devices, filled from the same server.Stats
// the Prometheus exporter (package offloader/server/metrics) reads.
//
// Only the daemon (cmd/offloader) links it, as it links the exporter: a
// program that embeds the server (ocurl) links neither
// (integration.TestNoPrometheusOutsideTheDaemon).
//
// The charts are plain SVG drawn by a small embedded script (app.js),
// not a charting library: the one the issue suggests (uPlot) comes from
// npm, which this project's build cannot reach, and the page needs only
// a few line charts over a fixed 15-minute window, which take a hundred
// lines of code to draw.
//
// Locking: a Dashboard's history is guarded by mu; Sample (called every
// Interval by Run) writes it, the handlers read it. Everything else a
// handler needs it reads from the Source, which is safe for concurrent
// use.
package dashboard

import (
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/server"
)

//go:embed assets
var assets embed.FS

// Source is what the dashboard reads: a *server.Server.
type Source interface {
	Stats() server.Stats
	Devices(server.DeviceQuery) server.DeviceTable
}

// ConfigState is the daemon's configuration as loaded and reloaded, as
// the process panel shows it.
type ConfigState struct {
	Generation      uint64    // 1 at start, one more per successful reload
	LoadedAt        time.Time // when the generation serving now was loaded
	LastReload      time.Time // when a reload was last tried; zero: never
	LastReloadError string    // why the last reload failed; "" if it did not
}

// Config configures a Dashboard.
type Config struct {
	Source  Source
	Version string // the daemon's version, shown in the process panel
	// Config reports the configuration's state; nil shows none.
	Config func() ConfigState
	// Interval is the sampling interval: 0 means DefaultInterval. The
	// history holds HistoryLen samples, 15 minutes at the default.
	Interval time.Duration
	Time     func() time.Time // nil: time.Now
}

// DefaultInterval is the sampling interval when Config.Interval is 0.
const DefaultInterval = time.Second

// Dashboard serves the page and its API for one server.
type Dashboard struct {
	cfg     Config
	reasons []string // server.FailureReasons, the order of sample.failures

	mu   sync.Mutex
	hist *history
}

// New makes a Dashboard; its history is empty until Sample runs (Run
// calls it every Interval).
func New(cfg Config) (*Dashboard, error) {
	if cfg.Source == nil {
		return nil, errors.New("dashboard: config has no Source")
	}
	if cfg.Interval < 0 {
		return nil, errors.New("dashboard: Interval is negative")
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Time == nil {
		cfg.Time = time.Now
	}
	if err := checkShape(cfg.Source.Stats()); err != nil {
		return nil, err
	}
	return &Dashboard{cfg: cfg, reasons: server.FailureReasons(), hist: new(history)}, nil
}

// Sample adds the interval ending now to the history.
func (d *Dashboard) Sample() {
	st := d.cfg.Source.Stats()
	now := d.cfg.Time()
	d.mu.Lock()
	d.hist.add(now, st, d.reasons)
	d.mu.Unlock()
}

// Run samples every Interval until ctx ends.
func (d *Dashboard) Run(ctx context.Context) {
	d.Sample()
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.Sample()
		}
	}
}

// Handler serves the page at "/", its assets under /assets/, and the API
// under /api/v1/. It checks no credentials: the daemon wraps it (and
// /metrics) in its access control.
func (d *Dashboard) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServerFS(static)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		secureHeaders(w)
		http.ServeFileFS(w, r, static, "index.html")
	})
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secureHeaders(w)
		files.ServeHTTP(w, r)
	})))
	mux.HandleFunc("GET /api/v1/stats", d.serveStats)
	mux.HandleFunc("GET /api/v1/devices", d.serveDevices)
	return mux
}

// secureHeaders keeps the page to its own origin: the browser refuses to
// load or send anything elsewhere, and to run inline script.
func secureHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
}

func writeJSON(w http.ResponseWriter, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	_ = json.NewEncoder(w).Encode(v)
}

// num is a float64 that encodes NaN and infinities as null.
type num float64

func (n num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', 6, 64), nil
}

// StatsResponse is /api/v1/stats. Counts are since the server started;
// History holds the samples newer than the request's since (unix
// milliseconds), oldest first.
type StatsResponse struct {
	Now        int64  `json:"now"`         // unix milliseconds
	IntervalMS int64  `json:"interval_ms"` // between samples
	HistoryLen int    `json:"history_len"` // the most samples held
	Version    string `json:"version"`

	Handshakes HandshakeTotals `json:"handshakes"`
	Failures   []FailureCount  `json:"failures"` // every reason seen, most first
	Latency    []KindLatency   `json:"latency"`  // over the last minute
	LatencyWin int             `json:"latency_window_seconds"`

	ChannelsOpen     int64  `json:"channels_open"`
	DevicesConnected int64  `json:"devices_connected"`
	DevicesTracked   int    `json:"devices_tracked"`
	MaxTracked       int    `json:"devices_max_tracked"`
	RateLimited      int    `json:"devices_rate_limited"` // in the last minute
	InFlight         int64  `json:"flights_in_flight"`
	MaxInFlight      int    `json:"flights_max_in_flight"`
	Cache            Cache  `json:"verify_cache"`
	Process          Proc   `json:"process"`
	Config           *Gen   `json:"config,omitempty"`
	History          Series `json:"history"`
}

// HandshakeTotals counts handshakes since start.
type HandshakeTotals struct {
	OK     uint64 `json:"ok"`
	Failed uint64 `json:"failed"`
}

// FailureCount is one reason's failures: since start, and within the
// history held (the last 15 minutes), with that share of every failure.
type FailureCount struct {
	Reason string `json:"reason"`
	Total  uint64 `json:"total"`
	Share  num    `json:"share"` // of Total among all failures since start
	Recent uint64 `json:"recent"`
}

// KindLatency is one kind of flight's quantiles, in seconds, over the
// latency window: null where none of that kind was counted.
type KindLatency struct {
	Kind  string `json:"kind"`
	Count uint64 `json:"count"` // flights run in the window
	Queue [3]num `json:"queue"` // p50, p90, p99
	Run   [3]num `json:"run"`
}

// Cache is the verified-chain cache.
type Cache struct {
	Entries  int    `json:"entries"`
	Max      int    `json:"max"`
	Hits     uint64 `json:"hits"`
	Misses   uint64 `json:"misses"`
	HitRatio num    `json:"hit_ratio"` // since start; null before any lookup
}

// Proc is the process panel.
type Proc struct {
	UptimeSeconds num   `json:"uptime_seconds"`
	Goroutines    int   `json:"goroutines"`
	RSSBytes      int64 `json:"rss_bytes"` // -1: unknown
	OpenFDs       int64 `json:"open_fds"`  // -1: unknown
	MaxFDs        int64 `json:"max_fds"`   // -1: unknown or unlimited
}

// Gen is the configuration's generation and last reload.
type Gen struct {
	Generation      uint64 `json:"generation"`
	LoadedAt        int64  `json:"loaded_at"`   // unix milliseconds
	LastReload      int64  `json:"last_reload"` // unix milliseconds; 0: never tried
	LastReloadError string `json:"last_reload_error"`
}

// Series is the history as columns, one entry per sample. Rates are per
// second over the sample's interval; Lat[kind][phase][quantile] holds
// each kind's queue (phase 0) and run (phase 1) p50, p90, p99 in
// seconds over the interval, null where none ran.
type Series struct {
	T         []int64     `json:"t"`
	OK        []num       `json:"ok_per_second"`
	Failed    []num       `json:"failed_per_second"`
	Channels  []int32     `json:"channels"`
	Connected []int32     `json:"connected"`
	InFlight  []int32     `json:"in_flight"`
	CacheHit  []num       `json:"cache_hit_ratio"` // null: no lookup in the interval
	Kinds     []string    `json:"kinds"`
	Lat       [][][][]num `json:"latency"` // [kind][phase][quantile][sample]
}

func (d *Dashboard) serveStats(w http.ResponseWriter, r *http.Request) {
	var since int64
	if s := r.URL.Query().Get("since"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			http.Error(w, "dashboard: since: want unix milliseconds", http.StatusBadRequest)
			return
		}
		since = v
	}
	writeJSON(w, d.stats(since))
}

// stats builds /api/v1/stats.
func (d *Dashboard) stats(since int64) StatsResponse {
	st := d.cfg.Source.Stats()
	now := d.cfg.Time()
	resp := StatsResponse{
		Now:              now.UnixMilli(),
		IntervalMS:       d.cfg.Interval.Milliseconds(),
		HistoryLen:       HistoryLen,
		Version:          d.cfg.Version,
		Handshakes:       HandshakeTotals{OK: st.Handshakes.OK, Failed: st.Handshakes.FailedTotal()},
		LatencyWin:       int((windowLen * d.cfg.Interval).Seconds()),
		ChannelsOpen:     st.Channels.Open,
		DevicesConnected: st.Devices.Connected,
		DevicesTracked:   st.Devices.Tracked,
		MaxTracked:       st.Devices.MaxTracked,
		RateLimited:      st.Devices.RateLimited,
		InFlight:         st.Flights.InFlight,
		MaxInFlight:      st.MaxInFlight,
		Cache: Cache{Entries: st.VerifyCache.Entries, Max: st.VerifyCache.Max, Hits: st.VerifyCache.Hits,
			Misses: st.VerifyCache.Misses, HitRatio: ratio(st.VerifyCache.Hits, st.VerifyCache.Hits+st.VerifyCache.Misses)},
	}
	ps := readProcess()
	resp.Process = Proc{Goroutines: ps.Goroutines, RSSBytes: ps.RSS, OpenFDs: ps.OpenFDs, MaxFDs: ps.MaxFDs, UptimeSeconds: num(math.NaN())}
	if !ps.Started.IsZero() {
		resp.Process.UptimeSeconds = num(now.Sub(ps.Started).Seconds())
	}
	if d.cfg.Config != nil {
		c := d.cfg.Config()
		g := &Gen{Generation: c.Generation, LoadedAt: c.LoadedAt.UnixMilli(), LastReloadError: c.LastReloadError}
		if !c.LastReload.IsZero() {
			g.LastReload = c.LastReload.UnixMilli()
		}
		resp.Config = g
	}

	var bounds []time.Duration
	if len(st.Latency) > 0 {
		bounds = st.Latency[0].Run.Bounds
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.hist

	failed := resp.Handshakes.Failed
	recent := h.recentFailures()
	for i, reason := range d.reasons {
		n := st.Handshakes.Failed[reason]
		if n == 0 && recent[i] == 0 {
			continue
		}
		resp.Failures = append(resp.Failures, FailureCount{Reason: reason, Total: n, Share: ratio(n, failed), Recent: recent[i]})
	}
	sortFailures(resp.Failures)

	q, n := h.windowQuantiles(bounds)
	for k, l := range st.Latency {
		kl := KindLatency{Kind: l.Kind, Count: n[k][phaseRun]}
		for i := range quantiles {
			kl.Queue[i] = num(q[k][phaseQueue][i])
			kl.Run[i] = num(q[k][phaseRun][i])
		}
		resp.Latency = append(resp.Latency, kl)
	}

	s := &resp.History
	for _, l := range st.Latency {
		s.Kinds = append(s.Kinds, l.Kind)
	}
	s.Lat = make([][][][]num, len(st.Latency))
	for k := range s.Lat {
		s.Lat[k] = make([][][]num, numPhases)
		for p := range s.Lat[k] {
			s.Lat[k][p] = make([][]num, len(quantiles))
		}
	}
	h.each(since, func(x *sample) {
		s.T = append(s.T, x.t)
		dt := float64(x.dt)
		s.OK = append(s.OK, perSecond(x.ok, dt))
		s.Failed = append(s.Failed, perSecond(x.failed, dt))
		s.Channels = append(s.Channels, x.channels)
		s.Connected = append(s.Connected, x.connected)
		s.InFlight = append(s.InFlight, x.inFlight)
		s.CacheHit = append(s.CacheHit, ratio(uint64(x.cacheHits), uint64(x.cacheHits)+uint64(x.misses)))
		for k := range s.Lat {
			for p := range s.Lat[k] {
				for qi := range s.Lat[k][p] {
					s.Lat[k][p][qi] = append(s.Lat[k][p][qi], num(x.lat[k][p][qi]))
				}
			}
		}
	})
	return resp
}

func ratio(a, b uint64) num {
	if b == 0 {
		return num(math.NaN())
	}
	return num(float64(a) / float64(b))
}

func perSecond(n uint32, dt float64) num {
	if dt <= 0 {
		return num(math.NaN())
	}
	return num(float64(n) / dt)
}

// DevicesResponse is /api/v1/devices: the busiest and the most failing
// devices, or with q, the devices whose id contains q.
type DevicesResponse struct {
	Rows       []DeviceRow `json:"rows"`
	Matched    int         `json:"matched"`
	Tracked    int         `json:"tracked"`
	MaxTracked int         `json:"max_tracked"`
}

// DeviceRow is one device.
type DeviceRow struct {
	ID          string `json:"id"`
	Channels    int64  `json:"channels"`
	Flights     uint64 `json:"flights"`
	Handshakes  uint64 `json:"handshakes"`
	Failures    uint64 `json:"failures"`
	LastReason  string `json:"last_reason"`
	RateLimited uint64 `json:"rate_limited"`
	LastSeen    int64  `json:"last_seen"` // unix milliseconds
}

// maxQuery bounds the search string.
const maxQuery = 256

func (d *Dashboard) serveDevices(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	match := q.Get("q")
	if len(match) > maxQuery {
		http.Error(w, "dashboard: q: longer than 256 bytes", http.StatusBadRequest)
		return
	}
	limit := 10
	if s := q.Get("limit"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > server.MaxDeviceRows {
			http.Error(w, "dashboard: limit: want 1.."+strconv.Itoa(server.MaxDeviceRows), http.StatusBadRequest)
			return
		}
		limit = v
	}
	tab := d.cfg.Source.Devices(server.DeviceQuery{Match: match, Limit: limit})
	st := d.cfg.Source.Stats().Devices
	resp := DevicesResponse{Rows: []DeviceRow{}, Matched: tab.Matched, Tracked: st.Tracked, MaxTracked: st.MaxTracked}
	for _, a := range tab.Rows {
		resp.Rows = append(resp.Rows, DeviceRow{ID: a.ID, Channels: a.Channels, Flights: a.Flights, Handshakes: a.Handshakes,
			Failures: a.Failures, LastReason: a.LastReason, RateLimited: a.RateLimited, LastSeen: a.LastSeen.UnixMilli()})
	}
	writeJSON(w, resp)
}

// sortFailures orders reasons by count since start, most first, then by
// the recent count, then by name.
func sortFailures(f []FailureCount) {
	slices.SortFunc(f, func(a, b FailureCount) int {
		return cmp.Or(cmp.Compare(b.Total, a.Total), cmp.Compare(b.Recent, a.Recent), cmp.Compare(a.Reason, b.Reason))
	})
}
