// Package metrics exports an offloader server's counters (server.Stats) as
// Prometheus metrics, and serves them with /healthz over HTTP. Only the
// daemon (cmd/offloader) links it: the server core counts in plain Go, so
// a program that embeds the server (ocurl) links no Prometheus code.
//
// Nothing is global: Register puts one server's collector on a registry
// the caller owns, and Handler serves that registry; daemon.go adds the
// process, build and config series the daemon registers beside it.
// Labels are bounded: op, result, mode and kind take a handful of values
// each (TestMetricNamesLint holds it, with promtool's naming rules), and
// no label ever carries a device id, a server name or an address.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tlsoffload/tlsoffload/offloader/server"
)

// Source is what a collector reads at each scrape: a *server.Server.
type Source interface {
	Stats() server.Stats
}

var (
	requestsDesc = prometheus.NewDesc("tlsoffload_requests_total",
		"Offloader operations run, by operation and result.", []string{"op", "result"}, nil)
	durationDesc = prometheus.NewDesc("tlsoffload_request_duration_seconds",
		"Time to run one offloader operation.", []string{"op"}, nil)
	flightsDesc = prometheus.NewDesc("tlsoffload_flights_total",
		"Flights run, by mode (pipelined: several requests, sequential: one).", []string{"mode"}, nil)
	flightsRunningDesc = prometheus.NewDesc("tlsoffload_flights_in_flight",
		"Flights being processed now.", nil, nil)
	channelsDesc = prometheus.NewDesc("tlsoffload_channels_total",
		"Device channels opened or refused, by result.", []string{"result"}, nil)
	channelsOpenDesc = prometheus.NewDesc("tlsoffload_channels_open",
		"Device channels open now.", nil, nil)
	channelsClosedDesc = prometheus.NewDesc("tlsoffload_channels_closed_total",
		"Device channels closed with a close frame telling the device why, by reason (shutting_down, idle, device_changed).", []string{"reason"}, nil)
	// refusedDesc: resource control and authentication refusals
	// (server.Stats.Refused), a fixed list of reasons.
	refusedDesc = prometheus.NewDesc("tlsoffload_refused_total",
		"Connections, channels and flights refused, by reason (max_conns, source_opening, open_timeout, unknown_device, wrong_psk, device_channels, rate_limited, busy, revoked).",
		[]string{"reason"}, nil)

	// What the dashboard shows too (server/activity.go).
	handshakesDesc = prometheus.NewDesc("tlsoffload_handshakes_total",
		"Handshakes by result: ok (keys derived), or why one was refused (a flight's first failure, a flight refused whole, a channel opening refused).", []string{"result"}, nil)
	queueDesc = prometheus.NewDesc("tlsoffload_flight_queue_seconds",
		"Time a flight waited between being read and starting to run, by kind (its operation, or pipelined).", []string{"kind"}, nil)
	runDesc = prometheus.NewDesc("tlsoffload_flight_duration_seconds",
		"Time to run one flight, by kind (its operation, or pipelined).", []string{"kind"}, nil)
	maxInFlightDesc = prometheus.NewDesc("tlsoffload_flights_max_in_flight",
		"The bound on flights processed at once (max_in_flight).", nil, nil)
	devicesConnectedDesc = prometheus.NewDesc("tlsoffload_devices_connected",
		"Devices with at least one channel open.", nil, nil)
	devicesRateLimitedDesc = prometheus.NewDesc("tlsoffload_devices_rate_limited",
		"Devices refused as rate limited in the last minute.", nil, nil)
	devicesTrackedDesc = prometheus.NewDesc("tlsoffload_devices_tracked",
		"Devices in the activity table the dashboard reads (bounded).", nil, nil)
	cacheEntriesDesc = prometheus.NewDesc("tlsoffload_verify_cache_entries",
		"Verified chains held in the cache.", nil, nil)
	cacheMaxDesc = prometheus.NewDesc("tlsoffload_verify_cache_max_entries",
		"The most verified chains the cache holds.", nil, nil)
	cacheLookupsDesc = prometheus.NewDesc("tlsoffload_verify_cache_lookups_total",
		"Chain verifications that looked in the cache, by result (hit or miss).", []string{"result"}, nil)
)

var allDescs = []*prometheus.Desc{
	requestsDesc, durationDesc, flightsDesc, flightsRunningDesc, channelsDesc, channelsOpenDesc, channelsClosedDesc,
	handshakesDesc, queueDesc, runDesc, maxInFlightDesc, devicesConnectedDesc, devicesRateLimitedDesc,
	devicesTrackedDesc, cacheEntriesDesc, cacheMaxDesc, cacheLookupsDesc, refusedDesc,
}

// collector turns one Source's Stats into metrics at each scrape. A labelled
// series appears once its count is above zero, as it would with
// prometheus's own vectors.
type collector struct{ src Source }

// Register registers a collector for src on reg. Registering a second
// server on the same registry fails: their metrics would collide.
func Register(reg *prometheus.Registry, src Source) error {
	return reg.Register(collector{src})
}

func (collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.Stats()
	for _, op := range st.Ops {
		for result, n := range op.Results {
			ch <- prometheus.MustNewConstMetric(requestsDesc, prometheus.CounterValue, float64(n), op.Op, result)
		}
		if h := op.Duration; h.Count() > 0 {
			ch <- histogram(durationDesc, h, op.Op)
		}
	}
	for mode, n := range map[string]uint64{"sequential": st.Flights.Sequential, "pipelined": st.Flights.Pipelined} {
		if n > 0 {
			ch <- prometheus.MustNewConstMetric(flightsDesc, prometheus.CounterValue, float64(n), mode)
		}
	}
	ch <- prometheus.MustNewConstMetric(flightsRunningDesc, prometheus.GaugeValue, float64(st.Flights.InFlight))
	for result, n := range st.Channels.Results {
		ch <- prometheus.MustNewConstMetric(channelsDesc, prometheus.CounterValue, float64(n), result)
	}
	ch <- prometheus.MustNewConstMetric(channelsOpenDesc, prometheus.GaugeValue, float64(st.Channels.Open))
	for reason, n := range st.Channels.Closed {
		ch <- prometheus.MustNewConstMetric(channelsClosedDesc, prometheus.CounterValue, float64(n), reason)
	}
	collectRefused(ch, st)

	if st.Handshakes.OK > 0 {
		ch <- prometheus.MustNewConstMetric(handshakesDesc, prometheus.CounterValue, float64(st.Handshakes.OK), "ok")
	}
	for reason, n := range st.Handshakes.Failed {
		ch <- prometheus.MustNewConstMetric(handshakesDesc, prometheus.CounterValue, float64(n), reason)
	}
	for _, l := range st.Latency {
		if l.Queue.Count() > 0 {
			ch <- histogram(queueDesc, l.Queue, l.Kind)
		}
		if l.Run.Count() > 0 {
			ch <- histogram(runDesc, l.Run, l.Kind)
		}
	}
	ch <- prometheus.MustNewConstMetric(maxInFlightDesc, prometheus.GaugeValue, float64(st.MaxInFlight))
	ch <- prometheus.MustNewConstMetric(devicesConnectedDesc, prometheus.GaugeValue, float64(st.Devices.Connected))
	ch <- prometheus.MustNewConstMetric(devicesRateLimitedDesc, prometheus.GaugeValue, float64(st.Devices.RateLimited))
	ch <- prometheus.MustNewConstMetric(devicesTrackedDesc, prometheus.GaugeValue, float64(st.Devices.Tracked))
	ch <- prometheus.MustNewConstMetric(cacheEntriesDesc, prometheus.GaugeValue, float64(st.VerifyCache.Entries))
	ch <- prometheus.MustNewConstMetric(cacheMaxDesc, prometheus.GaugeValue, float64(st.VerifyCache.Max))
	if c := st.VerifyCache; c.Hits > 0 || c.Misses > 0 {
		ch <- prometheus.MustNewConstMetric(cacheLookupsDesc, prometheus.CounterValue, float64(c.Hits), "hit")
		ch <- prometheus.MustNewConstMetric(cacheLookupsDesc, prometheus.CounterValue, float64(c.Misses), "miss")
	}
}

// collectRefused exports Stats.Refused.
func collectRefused(ch chan<- prometheus.Metric, st server.Stats) {
	for reason, n := range st.Refused {
		ch <- prometheus.MustNewConstMetric(refusedDesc, prometheus.CounterValue, float64(n), reason)
	}
}

// histogram is h in Prometheus's form: cumulative counts by upper bound in
// seconds, the overflow bucket counted in the total only.
func histogram(desc *prometheus.Desc, h server.Histogram, labels ...string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	var cum uint64
	for i, b := range h.Bounds {
		cum += h.Counts[i]
		buckets[b.Seconds()] = cum
	}
	return prometheus.MustNewConstHistogram(desc, h.Count(), h.Sum.Seconds(), buckets, labels...)
}

// Handler serves reg at /metrics and a plain /healthz answering "ok".
func Handler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}
