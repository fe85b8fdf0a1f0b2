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
func profileDevice(e *env, o *options) error {
	c := hsCases[0]
	cfg := e.deviceConfig(c, e.offload)
	addr := e.tlsAddr(c)
	hs := dialClose(func() (net.Conn, error) { return dialDevice(cfg, addr) })
	if err := hs(); err != nil {
		return err
	}
	if o.memProfile != "" {
		runtime.MemProfileRate = 1
		defer func() { runtime.MemProfileRate = 512 * 1024 }()
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for i := 0; i < o.profileN; i++ {
		if err := hs(); err != nil {
			return err
		}
	}
	if o.memProfile != "" {
		runtime.GC()
		f, err := os.Create(o.memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		return pprof.Lookup("allocs").WriteTo(f, 0)
	}
	return nil
}
