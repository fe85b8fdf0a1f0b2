package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// procCPU is a process's user+system CPU time so far, all threads, from
// /proc/PID/stat (in clock ticks of 10 ms, which Linux fixes at 100 Hz
// for this file).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	_, rest, _ := strings.Cut(string(b), ") ") // the command may hold spaces
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond, errors.Join(err1, err2)
}

// offloaderUnderLoad loads the offloader process with o.loadDevices
// devices, each its own offloader client (its own sealed channel) running
// full handshakes of c in a loop for o.loadTime, run by run: offloader CPU
// µs per handshake, handshakes per offloader CPU second and per wall second.
func (e *env) offloaderUnderLoad(o *options, c hsCase) (usPer, rate, wall samples, err error) {
	var devs []func() error
	for i := 0; i < o.loadDevices; i++ {
		off, err := e.newOffloadClient(e.offAddr)
		if err != nil {
			return nil, nil, nil, err
		}
		defer off.Close()
		cfg, addr := e.deviceConfig(c, off), e.tlsAddr(c)
		hs := dialClose(func() (net.Conn, error) { return dialDevice(cfg, addr) })
		if err := hs(); err != nil { // the channel, the Start cache
			return nil, nil, nil, err
		}
		devs = append(devs, hs)
	}
	pid := e.offSrv.cmd.Process.Pid
	for r := 0; r < o.runs; r++ {
		var n atomic.Int64
		var wg sync.WaitGroup
		errs := make([]error, len(devs))
		before, err := procCPU(pid)
		if err != nil {
			return nil, nil, nil, err
		}
		end := time.Now().Add(o.loadTime)
		for i, hs := range devs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(end) && errs[i] == nil {
					if errs[i] = hs(); errs[i] == nil {
						n.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		after, err := procCPU(pid)
		if err = errors.Join(append(errs, err)...); err != nil {
			return nil, nil, nil, err
		}
		cpu := after - before
		usPer = append(usPer, float64(cpu)/1e3/float64(n.Load()))
		rate = append(rate, float64(n.Load())/cpu.Seconds())
		wall = append(wall, float64(n.Load())/o.loadTime.Seconds())
	}
	return usPer, rate, wall, nil
}

// measureOffloaderCost: the offloader's handshakes per CPU second under
// load from several devices, against the floor of the primitives each
// handshake needs, measured in this process in the same run.
func measureOffloaderCost(e *env, o *options, rep *report) error {
	rep.section("Offloader cost")
	prims, err := measurePrimitives(e, o)
	if err != nil {
		return err
	}
	pt := &table{
		title:  fmt.Sprintf("Primitive operations, in process, µs per operation (%d per run)", o.floorOps),
		header: []string{"operation", "µs"},
		notes:  []string{"CPU per operation (getrusage of this process, one goroutine). These are the operations the floor below adds up."},
	}
	for _, p := range prims {
		pt.rows = append(pt.rows, []string{p.name, p.us.fmt(1)})
	}
	rep.table(pt)

	t := &table{
		title: fmt.Sprintf("Offloader process under load from %d devices (%s per run): full handshakes per offloader CPU second", o.loadDevices, o.loadTime),
		header: []string{"case", "offloader CPU µs / handshake", "handshakes/s per core", "floor µs (sum of primitives)",
			"floor handshakes/s per core", "ratio measured / floor", "handshakes/s (wall, all devices)"},
	}
	for _, c := range hsCases {
		usPer, rate, wall, err := e.offloaderUnderLoad(o, c)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		floor := floorOf(prims, c)
		floorRate := make(samples, len(floor))
		for i, us := range floor {
			floorRate[i] = 1e6 / us
		}
		t.rows = append(t.rows, []string{c.name, usPer.fmt(1), rate.fmt(0), floor.fmt(1), floorRate.fmt(0),
			rate.ratio(floorRate).pct(), wall.fmt(0)})
	}
	t.notes = []string{
		"Each device (a goroutine of this process with its own offloader client, so its own sealed channel) runs offloaded full handshakes in a loop against the crypto/tls server process; the offloader process's CPU over the load is read from /proc/PID/stat (user+sys, all threads: channel, Go runtime, GC; 10 ms ticks). Start is cached, so each handshake is one Auth+KeyGen+Key flight.",
		"Floor: the sum of the primitive operations of one handshake of that case, from the table above: ECDH key generation + shared secret (X25519 or P-256), the ServerKeyExchange signature check (RSA-2048 PSS-SHA256, which Go's server picks when offered, or ECDSA P-256), parsing and verifying the 2-certificate chain, the transcript hash, extended master secret and key block, and the channel AEAD (open the request, seal the answer). RSA key exchange: RSA-2048 PKCS#1 v1.5 encryption instead of ECDH and no signature.",
		"Goal: measured ≥ 80 % of the floor.",
	}
	rep.table(t)
	return nil
}
