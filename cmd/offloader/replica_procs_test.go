package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// Issue 10's replica scenarios under live policy and graceful shutdown,
// with real processes on every side (the kill and restart are
// TestFailoverProcesses): three offloader daemons sharing token_key and
// internal/loaddevice processes, each one offloader/client listing the
// three addresses, moving its channel on every 50 ms (so every replica
// carries load and channels open all along), three handshakes at a time,
// for as long as the scenario lasts (-until-eof). Figures are logged, never
// timed.

// metricsBody fetches a daemon's /metrics.
func metricsBody(t *testing.T, d *daemon) string {
	t.Helper()
	resp, err := http.Get("http://" + d.metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// tryOpen opens a sealed channel to addr as id, or says why not: refused
// reports that the TCP connection itself failed.
func tryOpen(addr, id, pskHex string) (ch *wire.Channel, refused bool, err error) {
	psk, _ := hex.DecodeString(pskHex)
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, true, err
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	ch, err = wire.ClientOpen(c, wire.ChannelConfig{DeviceID: id, PSK: psk})
	if err != nil {
		c.Close()
		return nil, false, err
	}
	return ch, false, nil
}

// endLoad closes the device processes' stdin, which ends a -until-eof
// load once their handshakes under way finish, and waits (at most
// 2 minutes) for every one to print its client line.
func endLoad(t *testing.T, procs []*deviceProc, tl *tally) {
	t.Helper()
	for _, p := range procs {
		p.stdin.Close()
	}
	select {
	case <-tl.done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the device processes did not finish within 2 minutes of their stdin closing (%d handshakes)", tl.n.Load())
	}
	waitDevices(t, "device", procs)
}

// TestReloadUnderLoadProcesses: every replica's config is changed and
// reloaded several times under load, by SIGHUP and by the file changing
// (fsnotify), with one bad file in the middle. Each change is a real one:
// the load devices' allowed names grow and shrink (their Start answers
// for server.test stay the same), another device "probe" is allowed
// api.example.com in even versions and other.example.com in odd ones, and
// a device "extra" exists in odd versions only. The config file is a
// symlink, as a Kubernetes ConfigMap's is: a SIGHUP step rewrites the file
// it points to, in a directory the daemon does not watch, so only the
// signal reloads it; a file step points the symlink to a new file, which
// the watcher sees. So every step is exactly one reload.
//
// Pass: every handshake succeeds on the first try, none resent by the
// client, no address marked down or busy (a reload closes no channel of a
// device whose key stayed; nothing else here can fail a flight); on each
// replica, after each step, tlsoffload_config_generation and the reload
// counters are what that step makes them, the log line names the trigger
// and generation, and the probe and extra devices find the policy of the
// version serving; the bad file is refused, naming file and field, and the
// previous version keeps serving.
func TestReloadUnderLoadProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries and runs three daemons and four device processes")
	}
	const (
		devices, minPerDevice, conc = 4, 100, 3
		gap                         = 40 // handshakes between two steps, at least
	)
	f := newReplicaFixture(t)
	probeHex, extraHex := deviceHex(60), deviceHex(61)
	const badField = "devices[4].psk" // the probe's, after the load devices
	conf := func(v int, bad bool) string {
		names, probeName, more := []string{"server.test"}, "api.example.com", ""
		if v%2 == 1 {
			names, probeName = append(names, "spare.test"), "other.example.com"
			more = fmt.Sprintf("  - id: extra\n    psk: %s\n    allowed_names: [api.example.com]\n", extraHex)
		}
		psk := probeHex
		if bad {
			psk = strings.Repeat("00", 32) // refused: every byte the same
		}
		probe := fmt.Sprintf("  - id: probe\n    psk: %s\n    allowed_names: [%s]\n", psk, probeName)
		return f.conf("127.0.0.1:0", devices, names, probe+more)
	}

	// Replica r reads r<r>/o.yaml, a symlink to a file in r<r>-data.
	var (
		ds      []*daemon
		links   []string
		targets []string
	)
	for r := range 3 {
		dir, data := filepath.Join(f.top, fmt.Sprint("r", r)), filepath.Join(f.top, fmt.Sprint("r", r, "-data"))
		for _, d := range []string{dir, data} {
			if err := os.Mkdir(d, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		target := filepath.Join(data, "v0.yaml")
		if err := os.WriteFile(target, []byte(conf(0, false)), 0o600); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, "o.yaml")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		links, targets = append(links, link), append(targets, target)
		ds = append(ds, startDaemon(t, f.bin, link, 0))
	}
	addrs := []string{ds[0].addr, ds[1].addr, ds[2].addr}

	// check holds replica r to serving version v at generation gen after
	// refused refusals, the last reload's trigger and result as given.
	check := func(r, v, gen, refused int, trigger string, bad bool) {
		t.Helper()
		d := ds[r]
		lastOK := 1
		if bad {
			lastOK = 0
		}
		// The reload counter moves a moment before the generation and the
		// last result: wait for all three.
		var body string
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			body = metricsBody(t, d)
			if int(metricIn(body, "tlsoffload_config_generation")) >= gen &&
				int(metricIn(body, `tlsoffload_config_reloads_total{result="refused"}`)) >= refused &&
				int(metricIn(body, "tlsoffload_config_last_reload_successful")) == lastOK {
				break
			}
			if time.Now().After(deadline) || !d.alive() {
				t.Fatalf("replica %d: no generation %d with %d refused after 30s (alive %v):\n%s", r, gen, refused, d.alive(), tail(d.logged(), 20))
			}
		}
		for series, want := range map[string]int{
			"tlsoffload_config_generation":                      gen,
			`tlsoffload_config_reloads_total{result="ok"}`:      gen - 1,
			`tlsoffload_config_reloads_total{result="refused"}`: refused,
			"tlsoffload_config_last_reload_successful":          lastOK,
		} {
			if got := int(metricIn(body, series)); got != want {
				t.Errorf("replica %d after a %s step: %s = %d, want %d", r, trigger, series, got, want)
			}
		}
		logTrigger := "trigger=SIGHUP"
		if trigger == "file" {
			logTrigger = `trigger="file changed"`
		}
		// The metric moves before the log line is written and read: wait
		// for the line.
		found := func() bool {
			for _, l := range strings.Split(d.logged(), "\n") {
				if bad && strings.Contains(l, "config reload refused") && strings.Contains(l, logTrigger) &&
					strings.Contains(l, fmt.Sprint("generation=", gen)) && strings.Contains(l, badField) && strings.Contains(l, links[r]) ||
					!bad && strings.Contains(l, "config reloaded") && strings.Contains(l, logTrigger) &&
						strings.Contains(l, fmt.Sprint("generation=", gen, " ")) {
					return true
				}
			}
			return false
		}
		if trigger != "start" {
			for deadline := time.Now().Add(30 * time.Second); !found() && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
		}
		if trigger != "start" && !found() {
			t.Errorf("replica %d: no log line for the %s step to generation %d (bad %v):\n%s", r, trigger, gen, bad, tail(d.logged(), 10))
		}

		// The probe's allowed name and the extra device's existence are
		// those of version v.
		probe, _, err := tryOpen(d.addr, "probe", probeHex)
		if err != nil {
			t.Fatalf("replica %d: the probe's channel: %v", r, err)
		}
		err = startOn(probe, 1)
		var we *wire.Error
		switch {
		case v%2 == 0 && err != nil:
			t.Errorf("replica %d, version %d: the probe's Start for api.example.com: %v, want it allowed", r, v, err)
		case v%2 == 1 && !errors.As(err, &we):
			t.Errorf("replica %d, version %d: the probe's Start for api.example.com: %v, want the policy's refusal", r, v, err)
		}
		extra, _, err := tryOpen(d.addr, "extra", extraHex)
		switch {
		case v%2 == 1 && err != nil:
			t.Errorf("replica %d, version %d: the extra device's channel: %v, want it open", r, v, err)
		case v%2 == 0 && err == nil:
			t.Errorf("replica %d, version %d: the extra device (removed) opened a channel", r, v)
		}
		for _, ch := range []*wire.Channel{probe, extra} {
			if ch != nil {
				ch.Close()
			}
		}
	}
	for r := range 3 {
		check(r, 0, 1, 0, "start", false)
	}

	lines := make(chan handshakeLine, 64)
	procs := startDevices(t, f.devBin, f.top, f.server, addrs, devices, minPerDevice,
		[]string{"-c", strconv.Itoa(conc), "-until-eof", "-max-channel-age", "50ms"}, lines)
	tl := collect(lines, devices)
	deadline := time.Now().Add(3 * time.Minute)

	steps := []struct {
		trigger string
		bad     bool
	}{{"SIGHUP", false}, {"file", false}, {"SIGHUP", true}, {"file", false}, {"SIGHUP", false}, {"file", false}}
	var (
		v, gen, refused = 0, 1, 0
		stepAt          []int64 // handshakes reported when each step began
	)
	for k, s := range steps {
		if !tl.reach(int64(k+1)*gap, deadline) {
			t.Fatalf("step %d: the load stalled at %d handshakes", k, tl.n.Load())
		}
		stepAt = append(stepAt, tl.n.Load())
		next := v + 1
		for r, d := range ds {
			if s.trigger == "SIGHUP" {
				writeAtomic(t, targets[r], conf(next, s.bad))
				if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
					t.Fatal(err)
				}
				continue
			}
			target := filepath.Join(filepath.Dir(targets[r]), fmt.Sprint("v", next, ".yaml"))
			if err := os.WriteFile(target, []byte(conf(next, s.bad)), 0o600); err != nil {
				t.Fatal(err)
			}
			tmp := target + ".link"
			if err := os.Symlink(target, tmp); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, links[r]); err != nil {
				t.Fatal(err)
			}
			targets[r] = target
		}
		if s.bad {
			refused++
		} else {
			v, gen = next, gen+1
		}
		for r := range ds {
			check(r, v, gen, refused, s.trigger, s.bad)
		}
	}
	lastStep := tl.n.Load()
	if !tl.reach(max(devices*minPerDevice, lastStep+gap), deadline) {
		t.Fatalf("the load stalled at %d handshakes", tl.n.Load())
	}
	endLoad(t, procs, tl)

	var served []float64
	for _, d := range ds {
		served = append(served, metricIn(metricsBody(t, d), `tlsoffload_handshakes_total{result="ok"}`))
	}
	t.Logf("reload under load: %s", tl.figures())
	t.Logf("reload under load: %d device processes over 3 replica processes, each replica reloaded %d times (%d by SIGHUP, %d by the file changing, 1 bad file refused) "+
		"with the load at %v handshakes, the last confirmed at %d; handshakes by replica %v; client resends %d, down marks %d, busy marks %d, channels drained %d",
		devices, len(steps), 3, 3, stepAt, lastStep, served, tl.sum("resends"), tl.sum("down"), tl.sum("busy"), tl.sum("drained"))

	if n := tl.n.Load(); n < devices*minPerDevice {
		t.Errorf("%d handshakes reported, want at least %d", n, devices*minPerDevice)
	}
	if n := tl.count("failed") + tl.count("retried"); n != 0 {
		t.Errorf("%d handshakes failed (%d even on the device's retry), want none", n, tl.count("failed"))
	}
	for _, c := range []string{"resends", "down", "busy", "drained"} {
		if n := tl.sum(c); n != 0 {
			t.Errorf("client %s: %d, want 0: a reload must leave channels and flights alone", c, n)
		}
	}
	for r, n := range served {
		if n == 0 {
			t.Errorf("replica %d served no handshake: it was reloaded without load", r)
		}
	}
	for r, d := range ds {
		if err := d.stop(t); err != nil {
			t.Errorf("replica %d exit: %v", r, err)
		}
	}
}

// TestSIGTERMDrainProcesses: one replica is sent SIGTERM under load. What
// the code guarantees (server.Shutdown, the client's fail-over): the
// replica closes its listener at once, so a channel opening to it fails
// from then on, and stops reading flights; a flight it had read (running,
// or queued for a flight slot) is answered, then each channel is sent
// close(shutting_down) and closed, all within shutdownGrace (5 s), which
// its log says was met. A flight the replica never read meets the close:
// the client resends it at once to another replica and counts the channel
// drained, not down. So no handshake fails or needs the device's own
// retry, no flight is refused busy (the device limits here are far above
// the load), and the flights moved are bounded: per device process, those
// outstanding when the drain began (conc at most) plus those its current
// channel to the replica took before the close reached it (conc at most).
// The replica exits 0; the load goes on over the other two.
//
// A watcher device process (one handshake at a time, one channel for
// minutes) is started while only the replica to be stopped runs, so its
// channel is on it for sure: it must count exactly one channel drained,
// and the replica's log must show that channel closed for the shutdown.
// The load devices move their channel on every 50 ms, so theirs may or may
// not be there when the signal lands; their counts are logged.
//
// To give the drain work to do, the replica runs one flight at a time
// (max_in_flight: 1, so flights queue for the slot) and is paused
// (SIGSTOP) while the devices send to it; the SIGTERM follows its SIGCONT,
// as it takes up the flights waiting in its sockets. Left alone, it answers
// a flight within a millisecond and the signal mostly finds none running.
func TestSIGTERMDrainProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries and runs three daemons and five device processes")
	}
	const devices, perDevice, conc = 4, 100, 3
	const watcher = devices // dev4
	f := newReplicaFixture(t)
	// Replicas 1 and 2 get their addresses now, and start after the
	// watcher found replica 0 the only one up.
	listen := []string{"127.0.0.1:0", freeAddr(t), freeAddr(t)}
	conf := func(r int) string {
		top := "device_limits:\n  rate: 100000\n"
		if r == 0 {
			top += "max_in_flight: 1\nflight_wait: 10s\n"
		}
		return strings.Replace(f.conf(listen[r], devices+1, []string{"server.test"}, ""), "devices:\n", top+"devices:\n", 1)
	}
	start := func(r int) *daemon {
		writeFiles(t, f.top, map[string]string{fmt.Sprint("r", r, "/o.yaml"): conf(r)})
		return startDaemon(t, f.bin, filepath.Join(f.top, fmt.Sprint("r", r), "o.yaml"), 0)
	}
	ds := []*daemon{start(0)}
	addrs := []string{ds[0].addr, listen[1], listen[2]}
	wlines := make(chan handshakeLine, 64)
	watch := startDevice(t, f.devBin, f.top, f.server, addrs, watcher, 1, []string{"-c", "1", "-until-eof"}, wlines)
	wt := collect(wlines, 1)
	waitLog(t, ds[0], fmt.Sprintf(`msg="offloader: channel open" device=dev%d`, watcher))
	ds = append(ds, start(1), start(2))
	for r := 1; r < 3; r++ {
		if ds[r].addr != listen[r] {
			t.Fatalf("replica %d listens on %s, not %s", r, ds[r].addr, listen[r])
		}
	}

	lines := make(chan handshakeLine, 64)
	procs := startDevices(t, f.devBin, f.top, f.server, addrs, devices, perDevice,
		[]string{"-c", strconv.Itoa(conc), "-until-eof", "-max-channel-age", "50ms", "-down-for", "300ms"}, lines)
	tl := collect(lines, devices)
	deadline := time.Now().Add(3 * time.Minute)

	if !tl.reach(devices*perDevice/3, deadline) {
		t.Fatalf("the load stalled at %d handshakes", tl.n.Load())
	}
	before := metricIn(metricsBody(t, ds[0]), `tlsoffload_handshakes_total{result="ok"}`)
	atTerm := tl.n.Load()
	for _, sig := range []syscall.Signal{syscall.SIGSTOP, syscall.SIGCONT, syscall.SIGTERM} {
		if err := ds[0].cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		if sig == syscall.SIGSTOP {
			time.Sleep(200 * time.Millisecond) // not a bound on anything: how long flights pile up
		}
	}
	// It accepts no channel from the moment it began shutting down.
	const shuttingDown, drained, cut = `msg="shutting down"`, `msg="flights in flight answered; channels closed"`, "were cut"
	for !strings.Contains(ds[0].logged(), shuttingDown) {
		if time.Now().After(deadline) || !ds[0].alive() {
			t.Fatalf("no %s in the replica's log (alive %v):\n%s", shuttingDown, ds[0].alive(), tail(ds[0].logged(), 20))
		}
		time.Sleep(time.Millisecond)
	}
	draining := !strings.Contains(ds[0].logged(), drained) && !strings.Contains(ds[0].logged(), cut)
	ch, tcpRefused, openErr := tryOpen(ds[0].addr, "dev0", deviceHex(0))
	if openErr == nil {
		ch.Close()
		t.Errorf("a channel opened to the replica after it began shutting down (still draining: %v)", draining)
	}
	if err := ds[0].waited(); err != nil {
		t.Errorf("the replica after SIGTERM: %v\n%s", err, tail(ds[0].logged(), 20))
	}
	atExit := tl.n.Load()
	logged := ds[0].logged()
	drain := logged[strings.Index(logged, shuttingDown):]
	if !strings.Contains(drain, drained) || strings.Contains(drain, cut) {
		t.Errorf("the replica did not report its flights answered before its channels closed:\n%s", tail(drain, 20))
	}
	if !strings.Contains(drain, fmt.Sprintf(`msg="offloader: channel close" device=dev%d result=shutdown`, watcher)) {
		t.Errorf("the replica's log does not show the watcher's channel closed for the shutdown:\n%s", tail(drain, 20))
	}
	// Handshakes whose verdict it gave while draining (audit lines are
	// sampled: a lower bound), channels it closed for the shutdown.
	verdicts := strings.Count(drain, `msg="offloader: audit"`)
	closed := strings.Count(drain, "result=shutdown")

	// The load goes on over the other two replicas.
	if !tl.reach(max(devices*perDevice, atExit+devices*perDevice/3), deadline) {
		t.Fatalf("the load stalled at %d handshakes after the replica exited", tl.n.Load())
	}
	endLoad(t, procs, tl)
	endLoad(t, []*deviceProc{watch}, wt)

	var after []float64
	for _, d := range ds[1:] {
		after = append(after, metricIn(metricsBody(t, d), `tlsoffload_handshakes_total{result="ok"}`))
	}
	t.Logf("SIGTERM drain: %s", tl.figures())
	t.Logf("SIGTERM drain: %d device processes over 3 replica processes; replica 0 (one flight at a time) paused, then sent SIGTERM after %d handshakes (it had served %v), "+
		"exited 0 after %d; while draining it gave at least %d verdicts (audit lines) and closed %d channels for the shutdown; "+
		"clients: %d channels drained, %d flights resent (bound %d), %d busy marks, %d down marks; "+
		"a channel opening after it began shutting down (still draining: %v): %v (TCP refused: %v); replicas 1 and 2 served %v in all",
		devices, atTerm, before, atExit, verdicts, closed, tl.sum("drained"), tl.sum("resends"), 2*devices*conc, tl.sum("busy"), tl.sum("down"),
		draining, openErr, tcpRefused, after)
	t.Logf("SIGTERM drain, watcher: %s; client resends %d, drained %d, down %d, busy %d",
		wt.figures(), wt.sum("resends"), wt.sum("drained"), wt.sum("down"), wt.sum("busy"))

	if n := tl.n.Load(); n < devices*perDevice {
		t.Errorf("%d handshakes reported, want at least %d", n, devices*perDevice)
	}
	for _, x := range []*tally{tl, wt} {
		if n := x.count("failed") + x.count("retried"); n != 0 {
			t.Errorf("%d handshakes failed (%d even on the device's retry), want none", n, x.count("failed"))
		}
		if n := x.sum("busy"); n != 0 {
			t.Errorf("%d flights answered busy, want none: a draining replica answers what it read and closes the rest", n)
		}
	}
	if before == 0 {
		t.Errorf("replica 0 served no handshake before its SIGTERM: nothing to drain")
	}
	if n := tl.sum("resends"); n > 2*devices*conc {
		t.Errorf("%d flights resent, want at most %d", n, 2*devices*conc)
	}
	if n := wt.sum("resends"); n > 2 {
		t.Errorf("the watcher resent %d flights, want at most 2", n)
	}
	if n := wt.sum("drained"); n != 1 {
		t.Errorf("the watcher counted %d channels drained, want 1: its channel met close(shutting_down)", n)
	}
	for r, d := range ds[1:] {
		if err := d.stop(t); err != nil {
			t.Errorf("replica %d exit: %v", r+1, err)
		}
	}
}

// freeAddr returns a loopback address no one listens on now, for a
// daemon to be started on later.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
