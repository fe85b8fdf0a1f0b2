package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tlsoffload/tlsoffload/offloader/server/pgregistry"
)

// fileRegistry is the config's registry section: absent for the devices
// listed in the file itself (one site), or postgres for a fleet.
type fileRegistry struct {
	Postgres *filePostgres `yaml:"postgres"`
}

type filePostgres struct {
	DSNFile string `yaml:"dsn_file"`
	KEKFile string `yaml:"kek_file"`
	// PreviousKEKFile is the KEK being rotated out (registry rekey): a
	// replica opens with it what kek_file does not.
	PreviousKEKFile string   `yaml:"previous_kek_file"`
	CacheSize       int      `yaml:"cache_size"`
	CacheTTL        Duration `yaml:"cache_ttl"`
	LookupTimeout   Duration `yaml:"lookup_timeout"`
}

// pgConfig is a loaded registry.postgres.
type pgConfig struct {
	dsn           string // read from dsn_file; holds a password: never printed
	kek           *pgregistry.KEK
	previousKEK   *pgregistry.KEK // nil: none
	cacheSize     int
	cacheTTL      time.Duration
	lookupTimeout time.Duration
}

// loadRegistry loads the registry section; errors are *configError
// without the path (the caller adds it).
func loadRegistry(fr fileRegistry, rel func(string) string) (*pgConfig, error) {
	fp := fr.Postgres
	if fp == nil {
		return nil, nil
	}
	fail := func(field string, err error) error {
		return &configError{field: "registry.postgres." + field, err: err}
	}
	c := &pgConfig{cacheSize: fp.CacheSize}
	if fp.DSNFile == "" {
		return nil, fail("dsn_file", errors.New("missing (a file holding the connection string)"))
	}
	data, err := readSmall(rel(fp.DSNFile))
	if err != nil {
		return nil, fail("dsn_file", err)
	}
	if c.dsn = strings.TrimSpace(string(data)); c.dsn == "" {
		return nil, fail("dsn_file", fmt.Errorf("%s is empty", rel(fp.DSNFile)))
	}
	if fp.KEKFile == "" {
		return nil, fail("kek_file", errors.New("missing (64 hex characters: `offloader psk` makes one)"))
	}
	if c.kek, err = pgregistry.ReadKEKFile(rel(fp.KEKFile)); err != nil {
		return nil, fail("kek_file", err)
	}
	if fp.PreviousKEKFile != "" {
		if c.previousKEK, err = pgregistry.ReadKEKFile(rel(fp.PreviousKEKFile)); err != nil {
			return nil, fail("previous_kek_file", err)
		}
	}
	if fp.CacheSize < 0 {
		return nil, fail("cache_size", fmt.Errorf("%d is negative", fp.CacheSize))
	}
	for _, d := range []struct {
		field string
		in    Duration
		out   *time.Duration
	}{{"cache_ttl", fp.CacheTTL, &c.cacheTTL}, {"lookup_timeout", fp.LookupTimeout, &c.lookupTimeout}} {
		if err := d.in.check(); err != nil {
			return nil, fail(d.field, err)
		}
		*d.out = d.in.D
	}
	return c, nil
}

// openRegistry opens the PostgreSQL registry for serve; onChange closes a
// changed device's channels.
func openRegistry(ctx context.Context, cfg *config, log *slog.Logger, onChange func(string)) (*pgregistry.Registry, error) {
	pc := cfg.postgres
	return pgregistry.Open(ctx, pgregistry.Config{
		DSN: pc.dsn, KEK: pc.kek, PreviousKEK: pc.previousKEK, CacheSize: pc.cacheSize, CacheTTL: pc.cacheTTL, LookupTimeout: pc.lookupTimeout,
		OnChange: onChange, Logger: log,
	})
}

// registryCollector exports a replica's registry counters.
type registryCollector struct {
	reg                                                *pgregistry.Registry
	cached, lookups, notifications, resyncs, listening *prometheus.Desc
}

func newRegistryCollector(reg *pgregistry.Registry) *registryCollector {
	return &registryCollector{
		reg:           reg,
		cached:        prometheus.NewDesc("offloader_registry_cached_entries", "Device entries in this replica's registry cache.", nil, nil),
		lookups:       prometheus.NewDesc("offloader_registry_lookups_total", "Device lookups by result: hit (cache), miss (database), unavailable (not cached and the database down: refused), unusable (the entry read cannot be served: its secrets do not open under the KEK, or it does not validate: refused).", []string{"result"}, nil),
		notifications: prometheus.NewDesc("offloader_registry_notifications_total", "Changes received from the database over LISTEN.", nil, nil),
		resyncs:       prometheus.NewDesc("offloader_registry_resyncs_total", "Checks of the cache against the database after the listener (re)connected.", nil, nil),
		listening:     prometheus.NewDesc("offloader_registry_listening", "1 while the registry's LISTEN connection is up.", nil, nil),
	}
}

func (c *registryCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.cached, c.lookups, c.notifications, c.resyncs, c.listening} {
		ch <- d
	}
}

func (c *registryCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.reg.Stats()
	ch <- prometheus.MustNewConstMetric(c.cached, prometheus.GaugeValue, float64(s.Cached))
	ch <- prometheus.MustNewConstMetric(c.lookups, prometheus.CounterValue, float64(s.Hits), "hit")
	// The counters are read one after another while lookups run: a
	// refusal counted after its miss was read must not wrap the difference.
	ch <- prometheus.MustNewConstMetric(c.lookups, prometheus.CounterValue, float64(s.Misses-min(s.Misses, s.Unavailable+s.Unusable)), "miss")
	ch <- prometheus.MustNewConstMetric(c.lookups, prometheus.CounterValue, float64(s.Unavailable), "unavailable")
	ch <- prometheus.MustNewConstMetric(c.lookups, prometheus.CounterValue, float64(s.Unusable), "unusable")
	ch <- prometheus.MustNewConstMetric(c.notifications, prometheus.CounterValue, float64(s.Notifications))
	ch <- prometheus.MustNewConstMetric(c.resyncs, prometheus.CounterValue, float64(s.Resyncs))
	listening := 0.0
	if s.Listening {
		listening = 1
	}
	ch <- prometheus.MustNewConstMetric(c.listening, prometheus.GaugeValue, listening)
}
