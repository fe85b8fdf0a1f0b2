package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestFailoverProcesses is issue 10's replica scenario with real processes
// on every side: three offloader daemons sharing token_key, several device
// processes (internal/loaddevice, each one offloader/client listing the
// three addresses, three handshakes at a time) making hundreds of full
// handshakes each with a
// crypto/tls server. A third of the way in one replica is killed (SIGKILL):
// every handshake must still succeed, those in flight on it through the
// client's resend to another replica (or, failing that, the device's one
// retry, which is counted). Two thirds in it is started again on its
// address; a second, short wave of devices, each moving its channel on
// after every flight, must get handshakes through it. Counts, the share of
// each replica and latency percentiles are logged, never asserted.
func TestFailoverProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries and runs three daemons and six device processes")
	}
	const devices, perDevice, conc = 4, 200, 3
	f := newReplicaFixture(t)
	bin, devBin, server, top := f.bin, f.devBin, f.server, f.top
	conf := func(listen string) string { return f.conf(listen, devices, []string{"server.test"}, "") }
	var ds []*daemon
	for i := range 3 {
		writeFiles(t, top, map[string]string{fmt.Sprint("r", i, "/o.yaml"): conf("127.0.0.1:0")})
		ds = append(ds, startDaemon(t, bin, filepath.Join(top, fmt.Sprint("r", i), "o.yaml"), 0))
	}
	addrs := []string{ds[0].addr, ds[1].addr, ds[2].addr}
	handshakes := func(d *daemon) float64 { return scrape(t, d.metricsAddr, `tlsoffload_handshakes_total{result="ok"}`) }

	// Wave 1: the load, the kill, the restart.
	lines := make(chan handshakeLine, 64)
	procs := startDevices(t, devBin, top, server, addrs, devices, perDevice,
		[]string{"-c", strconv.Itoa(conc), "-down-for", "300ms", "-max-channel-age", "50ms"}, lines)
	var (
		lat                      []time.Duration
		counts                   = map[string]int{}
		clientLines              []string
		killedAt, restartedAt    int
		beforeKill, beforeReboot []float64
		restarted                *daemon
	)
	timeout := time.After(3 * time.Minute)
	for finished := 0; finished < devices; {
		select {
		case l := <-lines:
			if l.word == "client" {
				clientLines = append(clientLines, l.rest)
				finished++
				continue
			}
			counts[l.word]++
			lat = append(lat, time.Duration(l.us)*time.Microsecond)
			switch len(lat) {
			case devices * perDevice / 3:
				killedAt = len(lat)
				for _, d := range ds {
					beforeKill = append(beforeKill, handshakes(d))
				}
				ds[0].cmd.Process.Kill()
				<-ds[0].exited
				ds[0].cmd.Wait()
			case 2 * devices * perDevice / 3:
				restartedAt = len(lat)
				beforeReboot = []float64{0, handshakes(ds[1]), handshakes(ds[2])}
				writeFiles(t, top, map[string]string{"r0/o.yaml": conf(addrs[0])})
				restarted = startDaemon(t, bin, filepath.Join(top, "r0", "o.yaml"), 0)
			}
		case <-timeout:
			t.Fatalf("wave 1 did not finish within 3 minutes (%d handshakes)", len(lat))
		}
	}
	waitDevices(t, "device", procs)
	if restarted == nil {
		t.Fatal("the replica was never restarted")
	}
	wave1 := []float64{handshakes(restarted), handshakes(ds[1]), handshakes(ds[2])}

	// Wave 2: short, every flight on a new channel to the next address, so
	// each device visits every replica; the restarted one must serve.
	lines2 := make(chan handshakeLine, 64)
	procs2 := startDevices(t, devBin, top, server, addrs, 2, 30, []string{"-max-channel-age", "1ns"}, lines2)
	wave2ok := 0
	for finished := 0; finished < 2; {
		select {
		case l := <-lines2:
			switch l.word {
			case "client":
				finished++
			case "ok":
				wave2ok++
			}
		case <-timeout:
			t.Fatal("wave 2 did not finish in time")
		}
	}
	waitDevices(t, "wave 2 device", procs2)
	wave2 := []float64{handshakes(restarted) - wave1[0], handshakes(ds[1]) - wave1[1], handshakes(ds[2]) - wave1[2]}

	n := len(lat)
	t.Logf("wave 1: %d handshakes by %d device processes over 3 replica processes; replica 0 killed (SIGKILL) after %d, restarted after %d; "+
		"%d ok on the first try, %d after the device's retry, %d failed; %s",
		n, devices, killedAt, restartedAt, counts["ok"], counts["retried"], counts["failed"], percentiles(lat))
	t.Logf("wave 1 handshakes by replica: before the kill %v, before the restart %v, at the end %v (replica 0: the restarted process)", beforeKill, beforeReboot, wave1)
	t.Logf("wave 1 clients' counts: %q", clientLines)
	t.Logf("wave 2: %d handshakes, by replica %v", wave2ok, wave2)

	if n != devices*perDevice {
		t.Errorf("%d handshakes reported, want %d", n, devices*perDevice)
	}
	if counts["failed"] != 0 {
		t.Errorf("%d handshakes failed even on the device's retry", counts["failed"])
	}
	// The kill can touch only the handshakes in flight, conc per process,
	// and the client resends those itself.
	if counts["retried"] > devices*conc {
		t.Errorf("%d handshakes needed the device's retry, want at most %d (those in flight)", counts["retried"], devices*conc)
	}
	if wave2ok != 60 {
		t.Errorf("wave 2: %d of 60 handshakes ok on the first try", wave2ok)
	}
	// Round-robin over new channels: every replica serves, the restarted
	// one included (one channel per device process would reach two at most).
	for i, n := range wave2 {
		if n == 0 {
			t.Errorf("replica %d served none of wave 2's handshakes (by replica %v; 0 is the restarted one)", i, wave2)
		}
	}
	for i, d := range []*daemon{restarted, ds[1], ds[2]} {
		if err := d.stop(t); err != nil {
			t.Errorf("replica %d exit: %v", i, err)
		}
	}
}
