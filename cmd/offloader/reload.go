package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tlsoffload/tlsoffload/offloader/server"
	"github.com/tlsoffload/tlsoffload/offloader/server/metrics"
)

// Live reload (issue 10). On SIGHUP, and when the config file changes
// (fsnotify on its directory, so an editor's rename-over and a Kubernetes
// ConfigMap's symlink swap are seen too), the file is loaded again with
// the checks of `offloader check`. A file that fails them is refused: the
// log names the file and field, and the old config keeps serving. One that
// passes replaces the registry's devices atomically per device: new ones
// are added, removed ones revoked, and a changed PSK closes the device's
// open channels (server.Registry); policies and limits apply to the next
// flight and the next channel. Listeners, timeouts, the token key and the
// server-wide limits need a restart: a reload that changes them says so.

// reloadDebounce gathers the events of one save (write, chmod, rename).
const reloadDebounce = 100 * time.Millisecond

// reloader applies new configs to a running registry.
//
// Locking: mu serializes reloads and guards cur and the counters' sources;
// the metrics are their own.
type reloader struct {
	log  *slog.Logger
	reg  *server.Registry
	opts loadOptions

	tracker *metrics.ConfigTracker // generation and last result: metrics and dashboard
	reloads *prometheus.CounterVec
	auth    *liveAuth // the HTTP address's credentials; nil: none served

	mu  sync.Mutex
	cur *config
	gen int
}

// newReloader reloads into reg, recording each reload in tracker (which
// exports tlsoffload_config_generation and _last_reload_successful, and
// feeds the dashboard) and in tlsoffload_config_reloads_total.
func newReloader(log *slog.Logger, reg *server.Registry, cfg *config, prom *prometheus.Registry, tracker *metrics.ConfigTracker) (*reloader, error) {
	r := &reloader{
		log: log, reg: reg, opts: cfg.opts, cur: cfg, gen: 1, tracker: tracker,
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tlsoffload_config_reloads_total",
			Help: "Config reloads, by result (ok, or refused: the old config kept serving)."}, []string{"result"}),
	}
	if err := prom.Register(r.reloads); err != nil {
		return nil, err
	}
	return r, nil
}

// reload loads the file again and applies it, or keeps the old config.
func (r *reloader) reload(why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	next, err := loadConfigWith(r.cur.path, r.opts)
	if err != nil {
		r.reloads.WithLabelValues("refused").Inc()
		r.tracker.Reloaded(time.Now(), err)
		r.log.Error("config reload refused, the old config keeps serving", "trigger", why, "generation", r.gen, "err", err.Error())
		return
	}
	for _, w := range next.warnings {
		r.log.Warn("config: "+w, "config", next.path)
	}
	if restart := restartFields(r.cur, next); len(restart) > 0 {
		r.log.Warn("config reload: these fields apply at the next restart only", "fields", restart)
	}
	var kept []string
	for _, d := range next.devices {
		kept = append(kept, d.ID)
		if err := r.reg.Add(d); err != nil { // loadConfig checked it: not expected
			r.log.Error("config reload: device refused", "device", d.ID, "err", err.Error())
		}
	}
	var removed []string
	for _, d := range r.cur.devices {
		if !slices.Contains(kept, d.ID) {
			r.reg.Remove(d.ID)
			removed = append(removed, d.ID)
		}
	}
	if r.auth != nil {
		r.auth.store(next.httpAuth)
	}
	r.cur = next
	r.gen++
	r.reloads.WithLabelValues("ok").Inc()
	r.tracker.Reloaded(time.Now(), nil)
	r.log.Info("config reloaded", "trigger", why, "generation", r.gen, "devices", len(next.devices), "removed", removed)
}

// restartFields names the fields that changed but apply only at start.
func restartFields(a, b *config) []string {
	var out []string
	for _, f := range []struct {
		name string
		same bool
	}{
		{"listen", a.listen == b.listen},
		{"plaintext", a.plaintext == b.plaintext && slices.Equal(a.plaintextUIDs, b.plaintextUIDs)},
		{"metrics_listen", a.metricsListen == b.metricsListen},
		{"token_key", string(a.tokenKey) == string(b.tokenKey)},
		{"start_ttl, token_ttl, frame_timeout, idle_timeout", a.startTTL == b.startTTL && a.tokenTTL == b.tokenTTL &&
			a.frameTimeout == b.frameTimeout && a.idleTimeout == b.idleTimeout},
		{"max_in_flight", a.maxInFlight == b.maxInFlight},
		{"resource limits", a.serviceLimits == b.serviceLimits},
	} {
		if !f.same {
			out = append(out, f.name)
		}
	}
	return out
}

// notifyHUP starts catching SIGHUP (before serve says it listens: the
// default action would end the process) for watch.
func notifyHUP() (hup <-chan os.Signal, stop func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGHUP)
	return c, func() { signal.Stop(c) }
}

// watch reloads on hup and on changes to the config file until ctx ends.
// A watcher that cannot start is logged; SIGHUP still works.
func (r *reloader) watch(ctx context.Context, hup <-chan os.Signal) {
	var events <-chan fsnotify.Event
	var errs <-chan error
	w, err := fsnotify.NewWatcher()
	if err == nil {
		err = w.Add(filepath.Dir(r.cur.path))
	}
	if err != nil {
		r.log.Warn("config: cannot watch the file; reload with SIGHUP", "config", r.cur.path, "err", err.Error())
	} else {
		defer w.Close()
		events, errs = w.Events, w.Errors
	}
	name := filepath.Clean(r.cur.path)
	var debounce <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.reload("SIGHUP")
		case ev := <-events:
			// The file itself, or (Kubernetes) the ..data symlink swapped
			// under the directory.
			if filepath.Clean(ev.Name) == name || filepath.Base(ev.Name) == "..data" {
				debounce = time.After(reloadDebounce)
			}
		case <-debounce:
			debounce = nil
			if _, err := os.Stat(r.cur.path); err != nil {
				continue // removed, or mid-rename: wait for the next event
			}
			r.reload("file changed")
		case err := <-errs:
			r.log.Warn("config: watcher", "err", fmt.Sprint(err))
		}
	}
}
