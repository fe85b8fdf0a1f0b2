package server

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// metrics are one server's collectors. They are created for every server
// and registered only when Config.Metrics is set; there are no globals.
// Labels are bounded: op, result and mode take a handful of values each,
// and no label ever carries a device id, a server name or an address.
type metrics struct {
	requests       *prometheus.CounterVec   // op, result
	duration       *prometheus.HistogramVec // op
	flights        *prometheus.CounterVec   // mode
	flightsRunning prometheus.Gauge
	channels       *prometheus.CounterVec // result
	channelsOpen   prometheus.Gauge
}

// Request durations run from 50 microseconds (a cached Start) to one
// second (an RSA-4096 chain on a loaded machine): 12 buckets doubling from
// 50µs, the last at about 102ms, then 250ms, 500ms and 1s.
var durationBuckets = append(prometheus.ExponentialBuckets(50e-6, 2, 12), 0.25, 0.5, 1)

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tlsoffload_requests_total",
			Help: "Offloader operations run, by operation and result.",
		}, []string{"op", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tlsoffload_request_duration_seconds",
			Help:    "Time to run one offloader operation.",
			Buckets: durationBuckets,
		}, []string{"op"}),
		flights: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tlsoffload_flights_total",
			Help: "Flights run, by mode (pipelined: several requests, sequential: one).",
		}, []string{"mode"}),
		flightsRunning: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tlsoffload_flights_in_flight",
			Help: "Flights being processed now.",
		}),
		channels: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tlsoffload_channels_total",
			Help: "Device channels opened or refused, by result.",
		}, []string{"result"}),
		channelsOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tlsoffload_channels_open",
			Help: "Device channels open now.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.duration, m.flights, m.flightsRunning, m.channels, m.channelsOpen} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *metrics) observe(op wire.Op, e *wire.Error, d time.Duration) {
	opl := opLabel(op)
	m.requests.WithLabelValues(opl, resultLabel(e)).Inc()
	m.duration.WithLabelValues(opl).Observe(d.Seconds())
}

// opLabel bounds the op label: unknown codes share one value.
func opLabel(op wire.Op) string {
	switch op {
	case wire.OpStart, wire.OpAuth, wire.OpKeyGen, wire.OpKey:
		return op.String()
	}
	return "unknown"
}

// resultLabel is the status as a snake_case word; unknown codes share one.
func resultLabel(e *wire.Error) string {
	if e == nil {
		return "ok"
	}
	return statusLabel(e.Status)
}

func statusLabel(s wire.Status) string {
	if n, ok := statusLabels[s]; ok {
		return n
	}
	return "unknown"
}

var statusLabels = map[wire.Status]string{
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

// Handler serves /metrics from Config.Metrics (empty when it is nil) and a
// plain /healthz answering "ok".
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	reg := s.cfg.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}
