//go:build pprof

package loop

import (
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
)

// With the pprof build tag (never in the measured or size-counted
// binaries), LOOP_CPUPROFILE=FILE writes a CPU profile of the measured
// handshakes (LOOP_CPUPROFILE_HZ samples per second, default 100; the
// runtime warns that the rate was already set, harmlessly) and
// LOOP_MEMPROFILE=FILE an allocation profile after them: how issue 12
// item 4 profiled the device under qemu-arm.
func init() {
	startProfile = func() func() {
		var stop []func()
		if path := os.Getenv("LOOP_CPUPROFILE"); path != "" {
			f, err := os.Create(path)
			if err != nil {
				Fail(err)
			}
			if hz, err := strconv.Atoi(os.Getenv("LOOP_CPUPROFILE_HZ")); err == nil && hz > 0 {
				runtime.SetCPUProfileRate(hz)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				Fail(err)
			}
			stop = append(stop, func() { pprof.StopCPUProfile(); f.Close() })
		}
		if path := os.Getenv("LOOP_MEMPROFILE"); path != "" {
			stop = append(stop, func() {
				f, err := os.Create(path)
				if err != nil {
					Fail(err)
				}
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			})
		}
		return func() {
			for _, s := range stop {
				s()
			}
		}
	}
}
