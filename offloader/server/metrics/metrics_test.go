package metrics

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/server"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

const (
	testDevice = "device-1"
	testHost   = "server.example.com"
)

func newServer(t *testing.T) *server.Server {
	t.Helper()
	reg := server.NewRegistry()
	if err := reg.Add(server.Device{ID: testDevice, PSK: bytes.Repeat([]byte{0x42}, 32), AllowedNames: []string{"*.example.com"}}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func startFlight(name string) *wire.Flight {
	return &wire.Flight{ID: 1, Requests: []wire.Request{&wire.StartRequest{
		ServerName: name, Versions: []uint16{handshake.VersionTLS12}, CipherSuites: []uint16{handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
	}}}
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

// TestHandler scrapes a real server's metrics as Prometheus would: the
// names, types, help texts and labels the daemon has always exported.
func TestHandler(t *testing.T) {
	srv := newServer(t)
	srv.Do(context.Background(), testDevice, startFlight(testHost))
	srv.Do(context.Background(), testDevice, startFlight("elsewhere.test"))
	prom := prometheus.NewRegistry()
	if err := Register(prom, srv); err != nil {
		t.Fatal(err)
	}
	h := Handler(prom)
	code, body := get(t, h, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
	for _, want := range []string{
		"# HELP tlsoffload_requests_total Offloader operations run, by operation and result.",
		"# TYPE tlsoffload_requests_total counter",
		`tlsoffload_requests_total{op="start",result="ok"} 1`,
		`tlsoffload_requests_total{op="start",result="policy_denied"} 1`,
		"# HELP tlsoffload_request_duration_seconds Time to run one offloader operation.",
		"# TYPE tlsoffload_request_duration_seconds histogram",
		`tlsoffload_request_duration_seconds_bucket{op="start",le="5e-05"} `,
		`tlsoffload_request_duration_seconds_bucket{op="start",le="+Inf"} 2`,
		`tlsoffload_request_duration_seconds_count{op="start"} 2`,
		"# HELP tlsoffload_flights_total Flights run, by mode (pipelined: several requests, sequential: one).",
		"# TYPE tlsoffload_flights_total counter",
		`tlsoffload_flights_total{mode="sequential"} 2`,
		"# HELP tlsoffload_flights_in_flight Flights being processed now.",
		"# TYPE tlsoffload_flights_in_flight gauge",
		"tlsoffload_flights_in_flight 0",
		"# HELP tlsoffload_channels_open Device channels open now.",
		"# TYPE tlsoffload_channels_open gauge",
		"tlsoffload_channels_open 0",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Series appear once counted, as with prometheus's own vectors.
	for _, absent := range []string{`op="auth"`, `mode="pipelined"`, "tlsoffload_channels_total"} {
		if strings.Contains(body, absent) {
			t.Errorf("/metrics has %s, never counted:\n%s", absent, body)
		}
	}
	if strings.Contains(body, testDevice) || strings.Contains(body, testHost) || strings.Contains(body, "elsewhere") {
		t.Error("/metrics names a device or a server")
	}
	if code, body := get(t, h, "/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
}

// TestRegisterTwice: two servers cannot share one registry.
func TestRegisterTwice(t *testing.T) {
	prom := prometheus.NewRegistry()
	if err := Register(prom, newServer(t)); err != nil {
		t.Fatal(err)
	}
	if err := Register(prom, newServer(t)); err == nil {
		t.Error("a second server registered on the same metrics registry")
	}
}

// fixedStats is a Source with chosen counts.
type fixedStats server.Stats

func (f fixedStats) Stats() server.Stats { return server.Stats(f) }

// TestCollectorExport checks each Stats field reaches its metric: the
// histogram cumulated over the buckets the daemon has always used.
func TestCollectorExport(t *testing.T) {
	srv := newServer(t)
	st := srv.Stats() // the real shape: every op, the real bounds
	dur := &st.Ops[1].Duration
	if len(dur.Counts) != len(dur.Bounds)+1 {
		t.Fatalf("%d counts for %d bounds", len(dur.Counts), len(dur.Bounds))
	}
	dur.Counts[0], dur.Counts[3], dur.Counts[len(dur.Bounds)] = 2, 1, 4 // 4 slower than a second
	dur.Sum = 5 * time.Second
	st.Ops[1].Results = map[string]uint64{"ok": 3, "bad_signature": 4}
	st.Flights = server.FlightStats{Sequential: 0, Pipelined: 7, InFlight: 2}
	st.Channels = server.ChannelStats{Results: map[string]uint64{"ok": 5, "timeout": 1}, Open: 3}

	prom := prometheus.NewRegistry()
	if err := Register(prom, fixedStats(st)); err != nil {
		t.Fatal(err)
	}
	mfs, err := prom.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, lp := range m.GetLabel() {
				key += "," + lp.GetName() + "=" + lp.GetValue()
			}
			switch {
			case m.Counter != nil:
				got[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				got[key] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				h := m.GetHistogram()
				got[key+",count"] = float64(h.GetSampleCount())
				got[key+",sum"] = h.GetSampleSum()
				var les []float64
				for _, b := range h.GetBucket() {
					les = append(les, b.GetUpperBound())
					got[key+",le="+strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64)] = float64(b.GetCumulativeCount())
				}
				// The buckets of the Prometheus-only days, bit for bit.
				want := append(prometheus.ExponentialBuckets(50e-6, 2, 12), 0.25, 0.5, 1)
				if !slices.Equal(les, want) {
					t.Errorf("bucket bounds %v, want %v", les, want)
				}
			}
		}
	}
	want := map[string]float64{
		"tlsoffload_requests_total,op=auth,result=ok":            3,
		"tlsoffload_requests_total,op=auth,result=bad_signature": 4,
		"tlsoffload_request_duration_seconds,op=auth,count":      7,
		"tlsoffload_request_duration_seconds,op=auth,sum":        5,
		"tlsoffload_request_duration_seconds,op=auth,le=5e-05":   2,
		"tlsoffload_request_duration_seconds,op=auth,le=0.0002":  2,
		"tlsoffload_request_duration_seconds,op=auth,le=0.0004":  3,
		"tlsoffload_request_duration_seconds,op=auth,le=1":       3, // the 4 slower ones are in the count only
		"tlsoffload_flights_total,mode=pipelined":                7,
		"tlsoffload_flights_in_flight":                           2,
		"tlsoffload_channels_total,result=ok":                    5,
		"tlsoffload_channels_total,result=timeout":               1,
		"tlsoffload_channels_open":                               3,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if _, ok := got["tlsoffload_flights_total,mode=sequential"]; ok {
		t.Error("a zero counter exported")
	}
}

// TestCollectorExportActivity checks the fields the dashboard shares with
// Prometheus reach their metrics.
func TestCollectorExportActivity(t *testing.T) {
	st := newServer(t).Stats()
	st.Handshakes = server.HandshakeStats{OK: 7, Failed: map[string]uint64{"expired": 2, "wrong_psk": 1}}
	st.Latency[1].Queue.Counts[0] = 3               // auth: 3 queued under 50µs
	st.Latency[len(st.Latency)-1].Run.Counts[5] = 4 // pipelined: 4 ran
	st.VerifyCache = server.VerifyCacheStats{Entries: 5, Max: 512, Hits: 9, Misses: 3}
	st.Devices = server.DeviceCounts{Connected: 2, Tracked: 6, RateLimited: 1}
	st.MaxInFlight = 64
	prom := prometheus.NewRegistry()
	if err := Register(prom, fixedStats(st)); err != nil {
		t.Fatal(err)
	}
	_, body := get(t, Handler(prom), "/metrics")
	for _, want := range []string{
		`tlsoffload_handshakes_total{result="ok"} 7`,
		`tlsoffload_handshakes_total{result="expired"} 2`,
		`tlsoffload_handshakes_total{result="wrong_psk"} 1`,
		`tlsoffload_flight_queue_seconds_count{kind="auth"} 3`,
		`tlsoffload_flight_duration_seconds_count{kind="pipelined"} 4`,
		`tlsoffload_verify_cache_entries 5`,
		`tlsoffload_verify_cache_max_entries 512`,
		`tlsoffload_verify_cache_lookups_total{result="hit"} 9`,
		`tlsoffload_verify_cache_lookups_total{result="miss"} 3`,
		`tlsoffload_devices_connected 2`,
		`tlsoffload_devices_tracked 6`,
		`tlsoffload_devices_rate_limited 1`,
		`tlsoffload_flights_max_in_flight 64`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, absent := range []string{`kind="start"`, `result="policy_denied"`} {
		if strings.Contains(body, absent) {
			t.Errorf("/metrics has %s, never counted", absent)
		}
	}
}
