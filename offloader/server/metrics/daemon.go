package metrics

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// RegisterProcess registers the Go runtime's collector (go_goroutines,
// go_memstats_*, …) and the process collector (process_open_fds,
// process_max_fds, process_resident_memory_bytes,
// process_start_time_seconds, …) on reg: what the dashboard's process
// panel and the fd-usage alert read.
func RegisterProcess(reg *prometheus.Registry) error {
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return err
	}
	return reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// RegisterBuildInfo registers tlsoffload_build_info, always 1, labelled
// with the daemon's version and the Go version it was built with.
func RegisterBuildInfo(reg *prometheus.Registry, version string) error {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "tlsoffload_build_info",
		Help:        "Always 1, labelled with the offloader's version and the Go version that built it.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	g.Set(1)
	return reg.Register(g)
}

// ConfigState is the daemon's configuration as loaded and reloaded.
type ConfigState struct {
	// Generation is 1 for the config loaded at start, one more for each
	// successful reload.
	Generation uint64
	// LoadedAt is when the generation serving now was loaded.
	LoadedAt time.Time
	// LastReload is when a reload was last tried; zero: never.
	LastReload time.Time
	// LastReloadError is why the last reload failed ("" if it did not,
	// or none was tried). It names a file and a field, never a secret.
	LastReloadError string
}

// ConfigTracker holds a ConfigState for the daemon's reload logic to
// update and its exporters to read. It is safe for concurrent use.
type ConfigTracker struct {
	mu sync.Mutex
	st ConfigState
}

// NewConfigTracker starts at generation 1, loaded at loaded.
func NewConfigTracker(loaded time.Time) *ConfigTracker {
	return &ConfigTracker{st: ConfigState{Generation: 1, LoadedAt: loaded}}
}

// Reloaded records a reload tried at t: err nil means the new config
// serves now (the generation grows), else the old one still does.
func (c *ConfigTracker) Reloaded(t time.Time, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st.LastReload = t
	if err != nil {
		c.st.LastReloadError = err.Error()
		return
	}
	c.st.LastReloadError = ""
	c.st.Generation++
	c.st.LoadedAt = t
}

// State returns the current state.
func (c *ConfigTracker) State() ConfigState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st
}

var (
	configGenerationDesc = prometheus.NewDesc("tlsoffload_config_generation",
		"The generation of the config serving now: 1 at start, one more per successful reload.", nil, nil)
	configReloadOKDesc = prometheus.NewDesc("tlsoffload_config_last_reload_successful",
		"Whether the last config reload succeeded (1; also when none was tried) or was refused (0).", nil, nil)
	configLoadedDesc = prometheus.NewDesc("tlsoffload_config_last_reload_success_timestamp_seconds",
		"When the config serving now was loaded, in seconds since the Unix epoch.", nil, nil)
)

type configCollector struct{ c *ConfigTracker }

// RegisterConfig exports c as tlsoffload_config_generation,
// tlsoffload_config_last_reload_successful and
// tlsoffload_config_last_reload_success_timestamp_seconds.
func RegisterConfig(reg *prometheus.Registry, c *ConfigTracker) error {
	return reg.Register(configCollector{c})
}

func (configCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- configGenerationDesc
	ch <- configReloadOKDesc
	ch <- configLoadedDesc
}

func (cc configCollector) Collect(ch chan<- prometheus.Metric) {
	st := cc.c.State()
	ok := 1.0
	if st.LastReloadError != "" {
		ok = 0
	}
	ch <- prometheus.MustNewConstMetric(configGenerationDesc, prometheus.GaugeValue, float64(st.Generation))
	ch <- prometheus.MustNewConstMetric(configReloadOKDesc, prometheus.GaugeValue, ok)
	ch <- prometheus.MustNewConstMetric(configLoadedDesc, prometheus.GaugeValue, float64(st.LoadedAt.UnixNano())/1e9)
}

// HTTP login refusal reasons: the values of tlsoffload_http_auth_refused_total's
// reason label.
const (
	HTTPAuthNoCredential  = "no_credential"  // none sent: 401 with the challenge, not a guess
	HTTPAuthBadCredential = "bad_credential" // a wrong one: 401, and one failure of the source's
	HTTPAuthThrottled     = "throttled"      // its source failed too often: 429, not checked
)

var httpAuthReasons = [...]string{HTTPAuthNoCredential, HTTPAuthBadCredential, HTTPAuthThrottled}

var httpAuthRefusedDesc = prometheus.NewDesc("tlsoffload_http_auth_refused_total",
	"Requests to the HTTP address (dashboard, API, /metrics) refused for their credential, by reason (no_credential, bad_credential, throttled: too many failures from the source, answered 429 unchecked).",
	[]string{"reason"}, nil)

// HTTPAuthRefusals counts the daemon's refused HTTP logins by reason. It
// is safe for concurrent use; the zero value counts from zero.
type HTTPAuthRefusals struct {
	n [len(httpAuthReasons)]atomic.Uint64
}

// Add counts one refusal for reason, one of the HTTPAuth* constants; an
// unknown reason is not counted.
func (c *HTTPAuthRefusals) Add(reason string) {
	for i, r := range httpAuthReasons {
		if r == reason {
			c.n[i].Add(1)
			return
		}
	}
}

// Count returns the refusals counted for reason.
func (c *HTTPAuthRefusals) Count(reason string) uint64 {
	for i, r := range httpAuthReasons {
		if r == reason {
			return c.n[i].Load()
		}
	}
	return 0
}

// RegisterHTTPAuth exports c as tlsoffload_http_auth_refused_total. Its
// three series are exported from the start, zero included, so that an
// alert on increase() sees the first failure.
func RegisterHTTPAuth(reg *prometheus.Registry, c *HTTPAuthRefusals) error {
	return reg.Register(httpAuthCollector{c})
}

type httpAuthCollector struct{ c *HTTPAuthRefusals }

func (httpAuthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- httpAuthRefusedDesc }

func (hc httpAuthCollector) Collect(ch chan<- prometheus.Metric) {
	for i, r := range httpAuthReasons {
		ch <- prometheus.MustNewConstMetric(httpAuthRefusedDesc, prometheus.CounterValue, float64(hc.c.n[i].Load()), r)
	}
}
