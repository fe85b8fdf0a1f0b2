//go:build pprof

package loop

import (
	"os"
	"runtime/pprof"
)

// With the pprof build tag (never in the measured or size-counted
// binaries), LOOP_CPUPROFILE=FILE writes a CPU profile of the measured
// handshakes and LOOP_MEMPROFILE=FILE an allocation profile after them:
// how issue 12 item 4 profiled the device under qemu-arm.
func init() {
	startProfile = func() func() {
		var stop []func()
		if path := os.Getenv("LOOP_CPUPROFILE"); path != "" {
			f, err := os.Create(path)
			if err != nil {
				Fail(err)
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
