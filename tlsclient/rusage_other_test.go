//go:build !unix

package tlsclient

import "time"

func processCPU() (time.Duration, bool) { return 0, false }
