package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/offloader/client"
)

// channelsOpened counts the device channels d opened.
func channelsOpened(d *daemon) int {
	return strings.Count(d.logged(), `msg="offloader: channel open"`)
}

// holder returns the one daemon of ds that opened a channel since the
// counts in before were taken, or fails.
func holder(t *testing.T, ds []*daemon, before []int) int {
	t.Helper()
	who := -1
	for i, d := range ds {
		if channelsOpened(d) > before[i] {
			if who >= 0 {
				t.Fatalf("replicas %d and %d both opened a channel", who, i)
			}
			who = i
		}
	}
	if who < 0 {
		t.Fatal("no replica opened a channel")
	}
	return who
}

func counts(ds []*daemon) []int {
	var n []int
	for _, d := range ds {
		n = append(n, channelsOpened(d))
	}
	return n
}

// TestSIGTERMDrain is issue 10 item 5's SIGTERM, with real processes: three
// offloader daemons share token_key; one device client lists the three.
// The daemon holding the device's channel gets SIGTERM, first while the
// channel is idle, then, on the daemon the client moved to, in the middle
// of handshakes from four goroutines. Each time the daemon exits 0 having
// sent close(shutting_down) on the channel; the client counts it drained
// (not down), resends at once what met the close, and its next handshakes
// go to a remaining replica: no handshake fails, none even once.
func TestSIGTERMDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three daemons")
	}
	pki, leaf := serverPKI(t, testpki.ECDSAP256)
	server := echoServer(t, leaf)
	bin := buildOffloader(t)
	top := writeFiles(t, t.TempDir(), map[string]string{"root.pem": string(pki.RootPEM())})
	var ds []*daemon
	for i := range 3 {
		name := fmt.Sprint("r", i, "/o.yaml")
		writeFiles(t, top, map[string]string{name: fmt.Sprintf(
			"listen: 127.0.0.1:0\ntoken_key: %s\ndevices:\n  - id: dev0\n    psk: %s\n    roots_file: %s\n    allowed_names: [server.test]\n",
			tokenHex, deviceHex(0), filepath.Join("..", "root.pem"))})
		ds = append(ds, startDaemon(t, bin, filepath.Join(top, name), 0))
	}

	psk, _ := hex.DecodeString(deviceHex(0))
	var (
		tmu    sync.Mutex
		traces []string
	)
	dev, err := client.New(client.Config{
		Addrs: []string{ds[0].addr, ds[1].addr, ds[2].addr}, DeviceID: "dev0", PSK: psk,
		DialTimeout: 5 * time.Second,
		// Long enough that no address comes back within the test: a
		// stopped replica is never dialled again, so any Down would be a
		// real failure.
		DownFor: 10 * time.Minute,
		Trace: func(format string, args ...any) {
			tmu.Lock()
			traces = append(traces, fmt.Sprintf(format, args...))
			tmu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	sigterm := func(d *daemon) time.Duration {
		t.Helper()
		begin := time.Now()
		d.cmd.Process.Signal(syscall.SIGTERM)
		if err := d.stop(t); err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, tail(d.logged(), 20))
		}
		took := time.Since(begin)
		if log := d.logged(); !strings.Contains(log, "flights in flight answered; channels closed") ||
			!strings.Contains(log, `msg="offloader: channel close" device=dev0 result=shutdown`) {
			t.Fatalf("the daemon's log does not show a drained shutdown:\n%s", tail(log, 20))
		}
		return took
	}

	// 1. Idle channel. The handshake after the SIGTERM sends its flight
	// into the closed channel, reads close(shutting_down) and resends it
	// on a channel to another replica.
	before := counts(ds)
	if err := handshakeWith(ctx, dev, server); err != nil {
		t.Fatal(err)
	}
	first := holder(t, ds, before)
	idleExit := sigterm(ds[first])
	before = counts(ds)
	if err := handshakeWith(ctx, dev, server); err != nil {
		t.Fatalf("first handshake after SIGTERM: %v", err)
	}
	second := holder(t, ds, before)
	if second == first {
		t.Fatal("the next channel went to the stopped replica")
	}
	st := dev.Stats()
	if st.Drained != 1 || st.Down != 0 || st.Busy != 0 || st.Resends != 1 {
		t.Fatalf("after an idle SIGTERM: client stats %+v, want 1 drained, 1 resend, 0 down, 0 busy; trace:\n%s", st, strings.Join(traces, "\n"))
	}

	// 2. Under load: four goroutines make handshakes; after a third of
	// them, the replica now holding the channel gets SIGTERM.
	const workers, total = 4, 240
	var (
		started, finished atomic.Int64
		mu                sync.Mutex
		latencies         []time.Duration
		failures          []string
		afterStop         atomic.Int64
		stopped           atomic.Bool
	)
	kill := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for started.Add(1) <= total {
				begin := time.Now()
				err := handshakeWith(ctx, dev, server)
				took := time.Since(begin)
				mu.Lock()
				latencies = append(latencies, took)
				if err != nil {
					failures = append(failures, err.Error())
				}
				mu.Unlock()
				if stopped.Load() {
					afterStop.Add(1)
				}
				if finished.Add(1) == total/3 {
					close(kill)
				}
			}
		}()
	}
	select {
	case <-kill:
	case <-ctx.Done():
		t.Fatal("the load did not reach a third within 2 minutes")
	}
	loadExit := sigterm(ds[second])
	stopped.Store(true)
	wg.Wait()

	third := 3 - first - second
	st = dev.Stats()
	slices.Sort(latencies)
	n := len(latencies)
	t.Logf("sigterm: idle channel: replica exited %v after SIGTERM, next handshake on another replica, 1 flight resent; "+
		"under load: %d handshakes by %d goroutines, SIGTERM after %d, replica exited %v after it, %d handshakes finished after its exit; "+
		"failures %d; client stats %+v; replica %d opened %d channels; p50 %v, p99 %v, max %v",
		idleExit.Round(time.Millisecond), n, workers, total/3, loadExit.Round(time.Millisecond), afterStop.Load(),
		len(failures), st, third, channelsOpened(ds[third]),
		latencies[n/2].Round(time.Microsecond), latencies[n*99/100].Round(time.Microsecond), latencies[n-1].Round(time.Microsecond))
	if len(failures) > 0 {
		t.Errorf("%d handshakes failed: %q", len(failures), failures)
	}
	if n != total {
		t.Errorf("%d handshakes, want %d", n, total)
	}
	if st.Drained != 2 || st.Down != 0 || st.Busy != 0 {
		t.Errorf("client stats %+v, want 2 drained, nothing down or busy; trace:\n%s", st, strings.Join(traces, "\n"))
	}
	if channelsOpened(ds[third]) == 0 || afterStop.Load() == 0 {
		t.Errorf("the last replica took no load after the SIGTERM (%d channels, %d handshakes)", channelsOpened(ds[third]), afterStop.Load())
	}
}
