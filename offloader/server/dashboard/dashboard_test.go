package dashboard

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/server"
)

// fakeSource serves a Stats the test changes, in a real server's shape.
type fakeSource struct {
	mu   sync.Mutex
	st   server.Stats
	rows []server.DeviceActivity
	q    server.DeviceQuery
}

func (f *fakeSource) Stats() server.Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return clone(f.st)
}

func (f *fakeSource) Devices(q server.DeviceQuery) server.DeviceTable {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.q = q
	return server.DeviceTable{Rows: f.rows, Matched: len(f.rows)}
}

func (f *fakeSource) set(change func(*server.Stats)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st = clone(f.st)
	change(&f.st)
}

func getJSON(t *testing.T, h http.Handler, path string, v any) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	res := rec.Result()
	if res.StatusCode == http.StatusOK && v != nil {
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		if err := json.NewDecoder(res.Body).Decode(v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	return res
}

// TestStatsEndpoint reads /api/v1/stats after a few samples: the totals
// are the source's, the failures carry their share, the history has the
// rates, and since returns only newer samples.
func TestStatsEndpoint(t *testing.T) {
	src := &fakeSource{st: realShape(t)}
	pip := kindIndex(t, src.st, "pipelined")
	now := time.Unix(1_700_000_000, 0)
	d, err := New(Config{Source: src, Version: "v1.2.3", Time: func() time.Time { return now },
		Config: func() ConfigState {
			return ConfigState{Generation: 3, LoadedAt: now.Add(-time.Hour), LastReload: now.Add(-time.Minute), LastReloadError: "config x.yaml: devices[0].psk: bad"}
		}})
	if err != nil {
		t.Fatal(err)
	}
	d.Sample()
	for i := 1; i <= 3; i++ {
		now = now.Add(time.Duration(i/3+1) * time.Second) // the last interval lasts 2s
		src.set(func(st *server.Stats) {
			st.Handshakes.OK += 5
			st.Handshakes.Failed["expired"] += 1
			if i == 3 {
				st.Handshakes.Failed["rate_limited"] += 2
			}
			st.Latency[pip].Run.Counts[3] += 10
			st.VerifyCache = server.VerifyCacheStats{Entries: 7, Max: 512, Hits: uint64(3 * i), Misses: uint64(i)}
			st.Channels.Open, st.Devices.Connected, st.Flights.InFlight, st.MaxInFlight = 4, 3, 1, 64
			st.Devices.RateLimited, st.Devices.Tracked, st.Devices.MaxTracked = 1, 9, 4096
		})
		d.Sample()
	}
	h := d.Handler()
	var s StatsResponse
	getJSON(t, h, "/api/v1/stats", &s)
	if s.Now != now.UnixMilli() || s.Version != "v1.2.3" || s.IntervalMS != 1000 || s.HistoryLen != HistoryLen {
		t.Errorf("header %+v", s)
	}
	if s.Handshakes != (HandshakeTotals{OK: 15, Failed: 5}) {
		t.Errorf("handshakes %+v", s.Handshakes)
	}
	wantFail := []FailureCount{{Reason: "expired", Total: 3, Share: 0.6, Recent: 3}, {Reason: "rate_limited", Total: 2, Share: 0.4, Recent: 2}}
	if len(s.Failures) != 2 || s.Failures[0] != wantFail[0] || s.Failures[1] != wantFail[1] {
		t.Errorf("failures %+v, want %+v", s.Failures, wantFail)
	}
	if s.ChannelsOpen != 4 || s.DevicesConnected != 3 || s.InFlight != 1 || s.MaxInFlight != 64 || s.RateLimited != 1 || s.DevicesTracked != 9 {
		t.Errorf("gauges %+v", s)
	}
	if s.Cache.Entries != 7 || s.Cache.Hits != 9 || s.Cache.Misses != 3 || s.Cache.HitRatio != 0.75 {
		t.Errorf("cache %+v", s.Cache)
	}
	if s.Config == nil || s.Config.Generation != 3 || !strings.Contains(s.Config.LastReloadError, "psk") || s.Config.LastReload != now.Add(-time.Minute).UnixMilli() {
		t.Errorf("config %+v", s.Config)
	}
	if s.Process.Goroutines < 1 {
		t.Errorf("process %+v", s.Process)
	}
	var lat *KindLatency
	for i := range s.Latency {
		if s.Latency[i].Kind == "pipelined" {
			lat = &s.Latency[i]
		}
	}
	// 30 flights in (200µs, 400µs]: p50 is 300µs.
	if lat == nil || lat.Count != 30 || lat.Run[0] < 299e-6 || lat.Run[0] > 301e-6 || lat.Queue[0] != 0 { // null: nothing queued
		t.Errorf("pipelined latency %+v", lat)
	}
	hs := s.History
	if len(hs.T) != 3 || len(hs.OK) != 3 || hs.OK[1] != 5 || hs.OK[2] != 2.5 || hs.Failed[2] != 1.5 || hs.Channels[0] != 4 || hs.CacheHit[1] != 0.75 {
		t.Errorf("history %+v", hs)
	}
	if len(hs.Kinds) != len(hs.Lat) || hs.Kinds[pip] != "pipelined" || len(hs.Lat[pip][1][0]) != 3 {
		t.Errorf("history latency %v %v", hs.Kinds, hs.Lat)
	}

	// since: only the newest sample.
	var s2 StatsResponse
	getJSON(t, h, "/api/v1/stats?since="+jsonInt(hs.T[1]), &s2)
	if len(s2.History.T) != 1 || s2.History.T[0] != hs.T[2] {
		t.Errorf("since %d: history %v", hs.T[1], s2.History.T)
	}
	if res := getJSON(t, h, "/api/v1/stats?since=yesterday", nil); res.StatusCode != http.StatusBadRequest {
		t.Errorf("bad since: %d", res.StatusCode)
	}
	if res := getJSON(t, h, "/api/v1/stats", nil); res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", res.Header.Get("Cache-Control"))
	}
}

func jsonInt(v int64) string { b, _ := json.Marshal(v); return string(b) }

// TestStatsNull: a quantile with nothing counted and a ratio of nothing
// are JSON null, never NaN (which would make the whole answer invalid).
func TestStatsNull(t *testing.T) {
	src := &fakeSource{st: realShape(t)}
	d, err := New(Config{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	d.Sample()
	d.Sample()
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/stats", nil))
	body := rec.Body.String()
	if !json.Valid([]byte(body)) || strings.Contains(body, "NaN") || !strings.Contains(body, `"hit_ratio":null`) {
		t.Errorf("body %s", body)
	}
	var s StatsResponse
	if err := json.Unmarshal([]byte(body), &s); err != nil || s.Config != nil {
		t.Errorf("%v %+v", err, s.Config)
	}
}

func TestDevicesEndpoint(t *testing.T) {
	seen := time.Unix(1_700_000_000, 0)
	src := &fakeSource{st: realShape(t), rows: []server.DeviceActivity{
		{ID: "sensor-7", Channels: 1, Flights: 9, Handshakes: 4, Failures: 2, LastReason: "expired", RateLimited: 1, LastSeen: seen},
	}}
	d, err := New(Config{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	h := d.Handler()
	var got DevicesResponse
	getJSON(t, h, "/api/v1/devices?q=SENSOR&limit=20", &got)
	if src.q != (server.DeviceQuery{Match: "SENSOR", Limit: 20}) {
		t.Errorf("query %+v", src.q)
	}
	want := DeviceRow{ID: "sensor-7", Channels: 1, Flights: 9, Handshakes: 4, Failures: 2, LastReason: "expired", RateLimited: 1, LastSeen: seen.UnixMilli()}
	if got.Matched != 1 || len(got.Rows) != 1 || got.Rows[0] != want {
		t.Errorf("devices %+v", got)
	}
	getJSON(t, h, "/api/v1/devices", &got)
	if src.q != (server.DeviceQuery{Limit: 10}) {
		t.Errorf("default query %+v", src.q)
	}
	for _, bad := range []string{"limit=0", "limit=101", "limit=x", "q=" + strings.Repeat("a", 257)} {
		if res := getJSON(t, h, "/api/v1/devices?"+bad, nil); res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d", bad, res.StatusCode)
		}
	}
}

// farURL finds a URL on another origin in the assets: the page must load
// nothing from elsewhere (the SVG namespace is a name, never fetched).
var farURL = regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)

// TestPage: "/" is the page, with a policy that keeps it to its origin;
// every asset it names is served; no asset names another origin.
func TestPage(t *testing.T) {
	d, err := New(Config{Source: &fakeSource{st: realShape(t)}})
	if err != nil {
		t.Fatal(err)
	}
	h := d.Handler()
	get := func(path string) (*http.Response, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		b, _ := io.ReadAll(rec.Result().Body)
		return rec.Result(), string(b)
	}
	res, page := get("/")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(page, "<title>tlsoffload offloader</title>") {
		t.Fatalf("/: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("the page names %d assets", len(refs))
	}
	for _, m := range refs {
		if r, _ := get("/" + m[1]); r.StatusCode != 200 {
			t.Errorf("%s: %d", m[1], r.StatusCode)
		}
	}
	if r, _ := get("/assets/app.js"); !strings.HasPrefix(r.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("app.js served as %q", r.Header.Get("Content-Type"))
	}
	if r, _ := get("/nothing"); r.StatusCode != 404 {
		t.Errorf("/nothing: %d", r.StatusCode)
	}
	err = fs.WalkDir(assets, "assets", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(assets, path)
		for _, u := range farURL.FindAllString(string(b), -1) {
			if !strings.HasSuffix(u, "//www.w3.org") {
				t.Errorf("%s names another origin: %s", path, u)
			}
		}
		if strings.Contains(string(b), "innerHTML") {
			t.Errorf("%s uses innerHTML: device ids must go in as text", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
