//go:build !unix

package tlsclient_test

import "time"

func processCPU() (time.Duration, bool) { return 0, false }
