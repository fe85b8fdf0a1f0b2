package main

import (
	"net"
	"os"
	"runtime"
	"runtime/pprof"
)

// profileDevice runs offloaded full handshakes (the first case) under the
// CPU profiler and/or with every allocation sampled, and writes the
// profiles -cpuprofile and -memprofile name. Read them with
// `go tool pprof -top offbench FILE` (-sample_index=alloc_space for bytes).
// With -memprofile, FILE.idle is a heap profile taken with K idle
// connections open (-sample_index=inuse_space: what each one retains). The
// summary reads the allocation sites itself, from runtime.MemProfile
// snapshots around the loop, so only the loop's allocations count.
func profileDevice(e *env, o *options) (*deviceProfile, error) {
	prof := &deviceProfile{}
	c := hsCases[0]
	cfg := e.deviceConfig(c, e.offload)
	addr := e.tlsAddr(c)
	hs := dialClose(func() (net.Conn, error) { return dialDevice(cfg, addr) })
	loop := func() error {
		for i := 0; i < o.profileN; i++ {
			if err := hs(); err != nil {
				return err
			}
		}
		return nil
	}
	if err := hs(); err != nil {
		return nil, err
	}
	// The CPU profile first, at the default allocation sampling: sampling
	// every allocation would dominate it.
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := startProfiling(f); err != nil {
			return nil, err
		}
		err = loop()
		pprof.StopCPUProfile()
		if err != nil {
			return nil, err
		}
	}
	if o.memProfile != "" {
		old := runtime.MemProfileRate
		runtime.MemProfileRate = 1
		defer func() { runtime.MemProfileRate = old }()
		before := takeMemSnapshot()
		if err := loop(); err != nil {
			return nil, err
		}
		after := takeMemSnapshot()
		if err := writeProfile("allocs", o.memProfile); err != nil {
			return nil, err
		}
		// What an idle connection keeps: K connections held open after
		// their handshake.
		var idle []net.Conn
		defer func() {
			for _, c := range idle {
				c.Close()
			}
		}()
		for i := 0; i < o.idleConns; i++ {
			c, err := dialDevice(cfg, addr)
			if err != nil {
				return nil, err
			}
			idle = append(idle, c)
		}
		held := takeMemSnapshot()
		runtime.KeepAlive(idle)
		prof.allocSites, prof.allocTotal = memSites(before, after, false)
		prof.idleSites, prof.idleTotal = memSites(after, held, true)
		if err := writeProfile("heap", o.memProfile+".idle"); err != nil {
			return nil, err
		}
	}
	return prof, nil
}

// deviceProfile is what profileDevice found, for the summary.
type deviceProfile struct {
	allocSites, idleSites []memSite
	allocTotal, idleTotal float64
}

func writeProfile(name, path string) error {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// startProfiling starts a CPU profile at pprof's 100 Hz (higher rates lose
// samples here: 250 Hz recorded about half of the CPU getrusage counted).
func startProfiling(f *os.File) error { return pprof.StartCPUProfile(f) }
