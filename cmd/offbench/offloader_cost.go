package main

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/client"
)

// loadDevice is the "load-device" process: a device that, on each line
// "go DURATION" on stdin, runs offloaded full handshakes one after another
// against the TLS server for that long and prints "count N". It prints
// "ready" after a first handshake (channel open, Start cached).
func loadDevice(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("load-device", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory with device.psk")
	offAddr := fs.String("offloader", "", "offloader address")
	tlsAddr := fs.String("tls", "", "TLS server address")
	suite := fs.Uint("suite", 0, "cipher suite id")
	group := fs.Uint("group", 0, "group id (0: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pskHex, err := os.ReadFile(filepath.Join(*dir, "device.psk"))
	if err != nil {
		return err
	}
	psk, err := hex.DecodeString(strings.TrimSpace(string(pskHex)))
	if err != nil {
		return err
	}
	cl, err := client.New(client.Config{Addrs: []string{*offAddr}, DeviceID: deviceID, PSK: psk})
	if err != nil {
		return err
	}
	e := &env{}
	cfg := e.deviceConfig(hsCase{suite: uint16(*suite), group: uint16(*group)}, cl)
	hs := dialClose(func() (net.Conn, error) { return dialDevice(cfg, *tlsAddr) })
	if err := hs(); err != nil {
		return err
	}
	failed := make(chan error, 1)
	exitOnStdinEOF(stdin, func(line string) {
		d, err := time.ParseDuration(strings.TrimPrefix(line, "go "))
		if err != nil {
			failed <- fmt.Errorf("bad request %q", line)
			return
		}
		n := 0
		for end := time.Now().Add(d); time.Now().Before(end); n++ {
			if err := hs(); err != nil {
				failed <- err
				return
			}
		}
		fmt.Fprintf(stdout, "count %d\n", n)
	})
	fmt.Fprintln(stdout, "ready")
	return <-failed
}

// offloaderCPU asks the offloader process for its CPU time so far.
func (e *env) offloaderCPU() (time.Duration, error) {
	line, err := e.offSrv.ask("cpu")
	if err != nil {
		return 0, err
	}
	ns, err := strconv.ParseInt(line, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("offloader cpu answer %q", line)
	}
	return time.Duration(ns), nil
}

// offloaderAsk sends the offloader process a command answered "ok".
func (e *env) offloaderAsk(cmd string) error {
	line, err := e.offSrv.ask(cmd)
	if err != nil {
		return err
	}
	if line != "ok" {
		return fmt.Errorf("offloader: %s: %s", cmd, line)
	}
	return nil
}

// offloaderLoad runs one load of d on the device processes and returns the
// handshakes they completed and the offloader's CPU over the load.
func (e *env) offloaderLoad(devs []*child, d time.Duration) (int, time.Duration, error) {
	before, err := e.offloaderCPU()
	if err != nil {
		return 0, 0, err
	}
	for _, dev := range devs {
		if _, err := fmt.Fprintf(dev.stdin, "go %s\n", d); err != nil {
			return 0, 0, err
		}
	}
	total := 0
	for _, dev := range devs {
		line, err := dev.readLine()
		if err != nil {
			return 0, 0, fmt.Errorf("load-device: %w", err)
		}
		n, err := strconv.Atoi(strings.TrimPrefix(line, "count "))
		if err != nil {
			return 0, 0, fmt.Errorf("load-device answered %q", line)
		}
		total += n
	}
	after, err := e.offloaderCPU()
	if err != nil {
		return 0, 0, err
	}
	if total == 0 {
		return 0, 0, errors.New("no handshake completed under load")
	}
	return total, after - before, nil
}

// measureOffloaderCost: the offloader's handshakes per CPU second under
// load from several device processes, against the floor of the primitives
// each handshake needs, measured in this process in the same run.
func measureOffloaderCost(e *env, o *options, rep *report) error {
	rep.section("Offloader cost")
	prims, err := measurePrimitives(e, o)
	if err != nil {
		return err
	}
	pt := &table{
		title:  fmt.Sprintf("Primitive operations, in process, µs per operation (%d per run)", o.floorOps),
		header: []string{"operation", "µs"},
	}
	for _, p := range prims.list {
		pt.rows = append(pt.rows, []string{p.name, prims.us[p.name].fmt(1)})
	}
	pt.notes = []string{"CPU per operation (getrusage of this process, one goroutine). These are the operations the floor below adds up."}
	rep.table(pt)

	t := &table{
		title: fmt.Sprintf("Offloader process under load from %d device processes (%s per run): full handshakes per offloader CPU second", o.loadDevices, o.loadTime),
		header: []string{"case", "offloader CPU µs / handshake", "handshakes/s per core", "floor µs (sum of primitives)",
			"floor handshakes/s per core", "ratio measured / floor", "handshakes/s (wall, all devices)"},
	}
	for _, c := range hsCases {
		var devs []*child
		stopAll := func() {
			for _, d := range devs {
				d.stop()
			}
		}
		for i := 0; i < o.loadDevices; i++ {
			d, err := startChild("load-device", "-dir", e.dir, "-offloader", e.offAddr, "-tls", e.tlsAddr(c),
				"-suite", strconv.Itoa(int(c.suite)), "-group", strconv.Itoa(int(c.group)))
			if err != nil {
				stopAll()
				return err
			}
			devs = append(devs, d)
		}
		// With -cpuprofile, the first case's runs are also profiled in the
		// offloader process.
		profile := o.cpuProfile != "" && c == hsCases[0]
		if profile {
			if err := e.offloaderAsk("profile-start " + o.cpuProfile + ".offloader"); err != nil {
				stopAll()
				return err
			}
		}
		var usPer, rate, wall samples
		for r := 0; r < o.runs; r++ {
			n, cpu, err := e.offloaderLoad(devs, o.loadTime)
			if err != nil {
				stopAll()
				return fmt.Errorf("%s: %w", c.name, err)
			}
			if profile {
				e.offloaderProfiled += n
			}
			usPer = append(usPer, float64(cpu)/1e3/float64(n))
			rate = append(rate, float64(n)/cpu.Seconds())
			wall = append(wall, float64(n)/o.loadTime.Seconds())
		}
		stopAll()
		if profile {
			if err := e.offloaderAsk("profile-stop"); err != nil {
				return err
			}
		}
		floor := prims.floor(c)
		floorRate := make(samples, len(floor))
		for i, us := range floor {
			floorRate[i] = 1e6 / us
		}
		t.rows = append(t.rows, []string{c.name, usPer.fmt(1), rate.fmt(0), floor.fmt(1), floorRate.fmt(0),
			rate.ratio(floorRate).pct(), wall.fmt(0)})
		rep.goal(goalOffloader, c.name, rate.ratio(floorRate))
	}
	t.notes = []string{
		"Each device process (`offbench load-device`) runs offloaded full handshakes in a loop against the crypto/tls server process, over its own sealed channel; the offloader process reports its own getrusage (user+sys, all threads: channel, Go runtime, GC) over the load. Start is cached, so each handshake is one Auth+KeyGen+Key flight.",
		"Floor: the sum of the primitive operations of one handshake of that case, from the table above: ECDH key generation + shared secret (X25519 or P-256), the ServerKeyExchange signature check (RSA-2048 PSS-SHA256, which Go's server picks when offered, or ECDSA P-256), parsing and verifying the 2-certificate chain, the transcript hash, extended master secret and key block, and the channel AEAD (open the request, seal the answer). RSA key exchange: RSA-2048 PKCS#1 v1.5 encryption instead of ECDH and no signature.",
		"Goal: measured ≥ 80 % of the floor.",
	}
	rep.table(t)
	return nil
}
