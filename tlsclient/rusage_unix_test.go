//go:build unix

package tlsclient_test

import (
	"syscall"
	"time"
)

// processCPU is this process's user+system CPU time, every thread (the
// garbage collector's included); ok is false where it cannot be read.
func processCPU() (d time.Duration, ok bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
