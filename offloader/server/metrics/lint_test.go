package metrics

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/tlsoffload/tlsoffload/offloader/server"
)

// everyFamily is a Stats in which every series the collector can export
// is non-zero, so a lint sees them all.
func everyFamily(t *testing.T) server.Stats {
	t.Helper()
	st := newServer(t).Stats()
	for i := range st.Ops {
		st.Ops[i].Results = map[string]uint64{"ok": 1, "policy_denied": 1}
		st.Ops[i].Duration.Counts[2] = 1
	}
	st.Flights = server.FlightStats{Sequential: 1, Pipelined: 1, InFlight: 1}
	st.Channels = server.ChannelStats{Results: map[string]uint64{"ok": 1, "auth_failed": 1}, Open: 1, Closed: map[string]uint64{"shutting_down": 1}}
	st.Handshakes = server.HandshakeStats{OK: 3, Failed: map[string]uint64{}}
	for _, r := range server.FailureReasons() {
		st.Handshakes.Failed[r] = 1
	}
	for i := range st.Latency {
		st.Latency[i].Queue.Counts[0] = 1
		st.Latency[i].Run.Counts[4] = 1
	}
	st.VerifyCache = server.VerifyCacheStats{Entries: 1, Max: 512, Hits: 2, Misses: 1}
	st.Devices = server.DeviceCounts{Connected: 2, Tracked: 3, MaxTracked: 4096, RateLimited: 1}
	st.MaxInFlight = 64
	st.Refused = map[string]uint64{"wrong_psk": 1, "busy": 1}
	return st
}

// boundedLabels are the only label names tlsoffload_* series may carry:
// each takes a handful of values fixed by the code. A device id, a server
// name or an address must never become a label.
var boundedLabels = []string{"op", "result", "mode", "kind", "version", "goversion", "reason"}

func boundedLabelsOnly(mf *dto.MetricFamily) []error {
	if !strings.HasPrefix(mf.GetName(), "tlsoffload_") {
		return nil
	}
	var errs []error
	for _, m := range mf.GetMetric() {
		for _, l := range m.GetLabel() {
			if !slices.Contains(boundedLabels, l.GetName()) {
				errs = append(errs, errors.New("label "+l.GetName()+" is not one of the bounded labels"))
			}
		}
	}
	return errs
}

// TestMetricNamesLint applies promtool's "check metrics" rules (package
// promlint: _total on counters, base units, snake_case, help text, …) to
// every family the daemon registers, and the project's own rule of
// bounded labels.
func TestMetricNamesLint(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if err := Register(reg, fixedStats(everyFamily(t))); err != nil {
		t.Fatal(err)
	}
	if err := RegisterProcess(reg); err != nil {
		t.Fatal(err)
	}
	if err := RegisterBuildInfo(reg, "v0.0.0-test"); err != nil {
		t.Fatal(err)
	}
	tr := NewConfigTracker(time.Now())
	tr.Reloaded(time.Now(), errors.New("config x.yaml: devices[0].psk: bad"))
	if err := RegisterConfig(reg, tr); err != nil {
		t.Fatal(err)
	}
	var logins HTTPAuthRefusals
	logins.Add(HTTPAuthThrottled)
	if err := RegisterHTTPAuth(reg, &logins); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	l := promlint.NewWithMetricFamilies(mfs)
	l.AddCustomValidations(boundedLabelsOnly)
	problems, err = l.Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	// Every family of the collector was seen (a family never emitted
	// would escape the lint).
	seen := map[string]bool{}
	for _, mf := range mfs {
		seen[mf.GetName()] = true
	}
	for _, d := range allDescs {
		name := descName(d)
		if !seen[name] {
			t.Errorf("%s was not exported by everyFamily: the lint did not see it", name)
		}
	}
	for _, name := range []string{"process_open_fds", "process_max_fds", "process_resident_memory_bytes", "go_goroutines",
		"tlsoffload_build_info", "tlsoffload_config_generation", "tlsoffload_config_last_reload_successful",
		"tlsoffload_http_auth_refused_total"} {
		if !seen[name] {
			t.Errorf("%s not registered", name)
		}
	}

	// And the lint can fail: a counter without _total, a label per device.
	bad := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tlsoffload_handshakes", Help: "x"}, []string{"device"})
	bad.WithLabelValues("sensor-1").Inc()
	breg := prometheus.NewRegistry()
	breg.MustRegister(bad)
	bmfs, _ := breg.Gather()
	bl := promlint.NewWithMetricFamilies(bmfs)
	bl.AddCustomValidations(boundedLabelsOnly)
	if problems, _ := bl.Lint(); len(problems) < 2 {
		t.Errorf("a bad counter passed the lint: %v", problems)
	}
}

// descName reads a Desc's fully qualified name.
func descName(d *prometheus.Desc) string {
	s := d.String() // Desc{fqName: "name", help: …}
	_, rest, _ := strings.Cut(s, `fqName: "`)
	name, _, _ := strings.Cut(rest, `"`)
	return name
}

// TestConfigTracker: generation grows only on a successful reload; a
// refused one is reported until the next success.
func TestConfigTracker(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tr := NewConfigTracker(t0)
	if st := tr.State(); st.Generation != 1 || !st.LoadedAt.Equal(t0) || !st.LastReload.IsZero() || st.LastReloadError != "" {
		t.Fatalf("start %+v", st)
	}
	tr.Reloaded(t0.Add(time.Minute), errors.New("bad field"))
	if st := tr.State(); st.Generation != 1 || st.LastReloadError != "bad field" || !st.LoadedAt.Equal(t0) {
		t.Fatalf("after a refused reload %+v", st)
	}
	reg := prometheus.NewRegistry()
	if err := RegisterConfig(reg, tr); err != nil {
		t.Fatal(err)
	}
	if v := gauge(t, reg, "tlsoffload_config_last_reload_successful"); v != 0 {
		t.Errorf("last_reload_successful %v after a refusal", v)
	}
	tr.Reloaded(t0.Add(2*time.Minute), nil)
	if st := tr.State(); st.Generation != 2 || st.LastReloadError != "" || !st.LoadedAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("after a reload %+v", st)
	}
	if v := gauge(t, reg, "tlsoffload_config_generation"); v != 2 {
		t.Errorf("generation %v", v)
	}
}

// gauge returns the value of reg's one series called name.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}

// TestHTTPAuthRefusals: each reason counts apart, all three series are
// exported from zero, and an unknown reason counts nowhere.
func TestHTTPAuthRefusals(t *testing.T) {
	var c HTTPAuthRefusals
	reg := prometheus.NewRegistry()
	if err := RegisterHTTPAuth(reg, &c); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "tlsoffload_http_auth_refused_total"); n != 3 {
		t.Fatalf("%d series at zero, want 3", n)
	}
	c.Add(HTTPAuthBadCredential)
	c.Add(HTTPAuthBadCredential)
	c.Add(HTTPAuthThrottled)
	c.Add("password123")
	want := `
# HELP tlsoffload_http_auth_refused_total Requests to the HTTP address (dashboard, API, /metrics) refused for their credential, by reason (no_credential, bad_credential, throttled: too many failures from the source, answered 429 unchecked).
# TYPE tlsoffload_http_auth_refused_total counter
tlsoffload_http_auth_refused_total{reason="bad_credential"} 2
tlsoffload_http_auth_refused_total{reason="no_credential"} 0
tlsoffload_http_auth_refused_total{reason="throttled"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if c.Count("password123") != 0 || c.Count(HTTPAuthBadCredential) != 2 {
		t.Error("Count misreads")
	}
}
