package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tlsoffload/tlsoffload/offloader/server"
	"github.com/tlsoffload/tlsoffload/offloader/server/dashboard"
	"github.com/tlsoffload/tlsoffload/offloader/server/metrics"
	"github.com/tlsoffload/tlsoffload/offloader/server/pgregistry"
)

const (
	// shutdownGrace bounds how long, at shutdown, flights in flight are
	// waited for (new ones are refused, the listener closed) and the
	// metrics server waits for scrapes in progress.
	shutdownGrace = 5 * time.Second
	// socketProbeTimeout bounds the dial that tells a live unix socket from
	// one a dead process left behind.
	socketProbeTimeout = time.Second
)

// serve runs the offloader described by cfg until ctx ends (SIGINT or
// SIGTERM), then shuts down gracefully and returns nil. It returns an error
// if the server cannot start or fails while serving.
func serve(ctx context.Context, cfg *config, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, nil))

	for _, w := range cfg.warnings {
		log.Warn("config: "+w, "config", cfg.path)
	}
	var (
		reg     = server.NewRegistry()
		devices server.DeviceSource // nil: reg
		pgReg   *pgregistry.Registry
		srvp    atomic.Pointer[server.Server]
	)
	if cfg.postgres != nil {
		if len(cfg.devices) > 0 {
			return &configError{path: cfg.path, field: "devices", err: errors.New("listed while registry.postgres is set: move them with 'offloader import', then remove them")}
		}
		var err error
		pgReg, err = openRegistry(ctx, cfg, log, func(id string) {
			if s := srvp.Load(); s != nil {
				s.CloseDevice(id)
			}
		})
		if err != nil {
			return fmt.Errorf("offloader: registry: %w", err)
		}
		defer pgReg.Close()
		devices = pgReg
	}
	for i, d := range cfg.devices {
		if err := reg.Add(d); err != nil { // loadConfig checked it: not expected
			return &configError{path: cfg.path, field: fmt.Sprintf("devices[%d]", i), err: err}
		}
		if len(d.AllowedNames) == 0 {
			log.Warn("device has no allowed_names: every server name is refused", "device", d.ID)
		}
	}
	srv, err := server.New(server.Config{
		Registry:     reg,
		Devices:      devices,
		Logger:       log,
		MaxInFlight:  cfg.maxInFlight,
		FrameTimeout: cfg.frameTimeout,
		IdleTimeout:  cfg.idleTimeout,
		TokenKey:     cfg.tokenKey,
		TokenTTL:     cfg.tokenTTL,
		StartTTL:     cfg.startTTL,

		MaxConns:            cfg.maxConns,
		MaxOpeningPerSource: cfg.maxOpeningPerSource,
		OpenTimeout:         cfg.openTimeout,
		FlightWait:          cfg.flightWait,
		DeviceLimits:        cfg.deviceLimits,
		PlaintextUIDs:       cfg.plaintextUIDs,
		FrameBudget:         cfg.frameBudget,
		MinFrameRate:        cfg.minFrameRate,
	})
	if err != nil {
		return fmt.Errorf("offloader: %w", err)
	}
	defer srv.Close()
	srvp.Store(srv)
	// The config serving now: generation 1, one more per reload applied
	// (reload.go records each reload in it).
	tracker := metrics.NewConfigTracker(time.Now())
	prom := prometheus.NewRegistry()
	logins := new(metrics.HTTPAuthRefusals)
	for _, err := range []error{
		metrics.Register(prom, srv),
		metrics.RegisterProcess(prom),
		metrics.RegisterBuildInfo(prom, version()),
		metrics.RegisterConfig(prom, tracker),
		metrics.RegisterHTTPAuth(prom, logins),
	} {
		if err != nil {
			return fmt.Errorf("offloader: metrics: %w", err)
		}
	}
	rl, err := newReloader(log, reg, cfg, prom, tracker)
	if err != nil {
		return fmt.Errorf("offloader: metrics: %w", err)
	}
	auth := newLiveAuth(cfg.httpAuth)
	rl.auth = auth
	hup, stopHUP := notifyHUP()
	defer stopHUP()
	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() { defer close(watched); rl.watch(watchCtx, hup) }()
	defer func() { stopWatch(); <-watched }()
	if pgReg != nil {
		if err := prom.Register(newRegistryCollector(pgReg)); err != nil {
			return fmt.Errorf("offloader: metrics: %w", err)
		}
	}

	l, err := listen(cfg.listen)
	if err != nil {
		return fmt.Errorf("offloader: listen: %w", err)
	}
	defer l.Close()

	errc := make(chan error, 2)
	var hs *http.Server
	if cfg.metricsListen != "" {
		ml, err := listen(cfg.metricsListen)
		if err != nil {
			return fmt.Errorf("offloader: metrics_listen: %w", err)
		}
		ml = metrics.LimitListener(ml, cfg.metricsMaxConns)
		if w := exposureWarning(cfg); w != "" {
			log.Warn(w)
		}
		dash, err := dashboard.New(dashboard.Config{Source: srv, Version: version(), Config: func() dashboard.ConfigState {
			st := tracker.State()
			return dashboard.ConfigState{Generation: st.Generation, LoadedAt: st.LoadedAt, LastReload: st.LastReload, LastReloadError: st.LastReloadError}
		}})
		if err != nil {
			ml.Close()
			return fmt.Errorf("offloader: dashboard: %w", err)
		}
		dctx, stopDash := context.WithCancel(ctx)
		defer stopDash()
		go dash.Run(dctx)
		mux := http.NewServeMux()
		mh := metrics.Handler(prom)
		mux.Handle("/metrics", mh)
		mux.Handle("/healthz", mh)
		mux.Handle("/", dash.Handler()) // the page, its assets, /api/v1/
		hs = metrics.NewHTTPServer(auth.wrap(mux, newLoginGuard(cfg.serviceLimits, logins, log)), slog.NewLogLogger(log.Handler(), slog.LevelWarn))
		go func() {
			if err := hs.Serve(ml); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("offloader: metrics: %w", err)
			}
		}()
		fmt.Fprintf(stderr, "offloader: metrics on http://%s/metrics\n", addrString(ml.Addr()))
		fmt.Fprintf(stderr, "offloader: dashboard on http://%s/\n", addrString(ml.Addr()))
	}

	go func() {
		errc <- srv.Serve(l, cfg.plaintext)
	}()
	if pgReg != nil {
		fmt.Fprintf(stderr, "offloader: listening on %s (registry: postgres)\n", addrString(l.Addr()))
	} else {
		fmt.Fprintf(stderr, "offloader: listening on %s (%d devices)\n", addrString(l.Addr()), len(cfg.devices))
	}

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-errc:
		// Serve returned before any signal: the server failed.
		if err == nil {
			err = errors.New("stopped")
		}
		serveErr = fmt.Errorf("offloader: serve: %w", err)
		log.Error("serve failed, shutting down", "err", err)
	}
	dctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	if err := srv.Shutdown(dctx); err != nil {
		log.Warn("flights still running at the shutdown deadline were cut", "grace", shutdownGrace)
	} else {
		log.Info("flights in flight answered; channels closed")
	}
	cancel()
	l.Close()
	if hs != nil {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		hs.Shutdown(sctx)
		cancel()
	}
	return serveErr
}

// listen opens "unix:/path" or a TCP "host:port". A unix socket file left
// by a process that is gone is removed first; one still answering is not.
// The socket is made mode 0660.
func listen(addr string) (net.Listener, error) {
	path, ok := strings.CutPrefix(addr, "unix:")
	if !ok {
		return net.Listen("tcp", addr)
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode().Type() == fs.ModeSocket {
		if c, err := net.DialTimeout("unix", path, socketProbeTimeout); err == nil {
			c.Close()
			return nil, fmt.Errorf("%s: another process is listening on it", path)
		}
		os.Remove(path)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	// Whoever can connect may open channels, and on a plaintext listener
	// claim any device id: owner and group only, whatever the umask.
	if err := os.Chmod(path, socketMode); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// socketMode is the permission of unix sockets offloader creates.
const socketMode = 0o660

func addrString(a net.Addr) string {
	if a.Network() == "unix" {
		return "unix:" + a.String()
	}
	return a.String()
}

// version is the daemon's module version as the build recorded it
// ("(devel)" for a build from a checkout).
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "unknown"
}
