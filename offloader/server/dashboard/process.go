package dashboard

import (
	"runtime"
	"time"

	"github.com/prometheus/procfs"
)

// ProcessStats is the process panel's numbers, read as the Prometheus
// process collector reads them (package procfs, /proc/self): the same
// values as process_resident_memory_bytes, process_open_fds,
// process_max_fds and process_start_time_seconds, and go_goroutines.
type ProcessStats struct {
	Goroutines int
	RSS        int64     // bytes; -1: unknown (not Linux)
	OpenFDs    int64     // -1: unknown
	MaxFDs     int64     // the soft limit; -1: unknown or unlimited
	Started    time.Time // zero: unknown
}

// readProcess reads the running process's numbers.
func readProcess() ProcessStats {
	ps := ProcessStats{Goroutines: runtime.NumGoroutine(), RSS: -1, OpenFDs: -1, MaxFDs: -1}
	p, err := procfs.Self()
	if err != nil {
		return ps
	}
	if st, err := p.Stat(); err == nil {
		ps.RSS = int64(st.ResidentMemory())
		if start, err := st.StartTime(); err == nil {
			ps.Started = time.Unix(0, int64(start*1e9))
		}
	}
	if n, err := p.FileDescriptorsLen(); err == nil {
		ps.OpenFDs = int64(n)
	}
	if l, err := p.Limits(); err == nil && l.OpenFiles < 1<<62 {
		ps.MaxFDs = int64(l.OpenFiles)
	}
	return ps
}
