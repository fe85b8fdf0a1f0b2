package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/server"
)

// TestLimitsConfig: the resource-control fields reach the config, with the
// daemon's defaults where unset.
func TestLimitsConfig(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"o.yaml": `
listen: "127.0.0.1:0"
max_conns: 100
max_opening_per_source: 3
open_timeout: 2s
flight_wait: 50ms
metrics_max_conns: 7
http_auth_failures: 3
http_auth_refill: 1m
frame_budget: 1000000
min_frame_rate: 300
device_limits: {max_channels: 5, max_in_flight: 6, rate: 7.5, burst: 8, frame_bytes: 9000}
devices:
  - id: a
    psk: ` + pskHex + `
    limits: {max_channels: 1, rate: 2}
  - id: b
    psk: ` + pskHex + `
`, "d.yaml": `
listen: "127.0.0.1:0"
devices:
  - id: a
    psk: ` + pskHex + `
`})
	cfg, err := loadConfig(filepath.Join(dir, "o.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := serviceLimits{maxConns: 100, maxOpeningPerSource: 3, openTimeout: 2 * time.Second, flightWait: 50 * time.Millisecond,
		metricsMaxConns: 7, httpAuthFailures: 3, httpAuthRefill: time.Minute, frameBudget: 1000000, minFrameRate: 300, deviceLimits: server.DeviceLimits{MaxChannels: 5, MaxInFlight: 6, Rate: 7.5, Burst: 8, FrameBytes: 9000}}
	if cfg.serviceLimits != want {
		t.Errorf("limits %+v, want %+v", cfg.serviceLimits, want)
	}
	if got := cfg.devices[0].Limits; got != (server.DeviceLimits{MaxChannels: 1, Rate: 2}) {
		t.Errorf("device a's limits %+v", got)
	}
	if got := cfg.devices[1].Limits; got != (server.DeviceLimits{}) {
		t.Errorf("device b's limits %+v, want the defaults (zero)", got)
	}
	cfg, err = loadConfig(filepath.Join(dir, "d.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.deviceLimits.Rate != defaultDeviceRate || cfg.metricsMaxConns != defaultMetricsMaxConns ||
		cfg.httpAuthFailures != defaultHTTPAuthFailures || cfg.httpAuthRefill != defaultHTTPAuthRefill {
		t.Errorf("defaults: %+v", cfg.serviceLimits)
	}
}

func TestBadLimitsConfig(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"max_conns: -1", "max_conns: -1 is negative"},
		{"max_opening_per_source: -2", "max_opening_per_source: -2 is negative"},
		{"metrics_max_conns: -1", "metrics_max_conns: -1 is negative"},
		{"http_auth_failures: -1", "http_auth_failures: -1 is negative"},
		{"http_auth_refill: 10", "http_auth_refill: \"10\" is not a duration"},
		{"http_auth_refill: -1s", "http_auth_refill: \"-1s\" is negative"},
		{"open_timeout: 5", "open_timeout: \"5\" is not a duration"},
		{"flight_wait: -1s", "flight_wait: \"-1s\" is negative"},
		{"device_limits: {rate: -1}", "device_limits.rate: must not be negative"},
		{"device_limits: {max_channels: -1}", "device_limits.max_channels: must not be negative"},
		{"device_limits: {speed: 1}", `unknown field "speed"`},
		{"frame_budget: -1", "frame_budget: -1 is negative"},
		{"min_frame_rate: -2", "min_frame_rate: -2: want bytes a second, or -1 for none"},
		{"device_limits: {frame_bytes: -1}", "device_limits.frame_bytes: must not be negative"},
	} {
		dir := writeFiles(t, t.TempDir(), map[string]string{"o.yaml": "listen: 127.0.0.1:0\n" + c.yaml +
			"\ndevices:\n  - id: a\n    psk: " + pskHex + "\n"})
		_, err := loadConfig(filepath.Join(dir, "o.yaml"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.yaml, err, c.want)
		}
	}
	dir := writeFiles(t, t.TempDir(), map[string]string{"o.yaml": "listen: 127.0.0.1:0\ndevices:\n  - id: a\n    psk: " +
		pskHex + "\n    limits: {burst: -3}\n"})
	if _, err := loadConfig(filepath.Join(dir, "o.yaml")); err == nil || !strings.Contains(err.Error(), "devices[0].limits.burst: must not be negative") {
		t.Errorf("a device's negative burst: %v", err)
	}
}
