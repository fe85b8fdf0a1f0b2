package tlsclient_test

import "testing"

// The device's allocations per replayed handshake (the replay benchmark's
// figure, its offloader stand-in's copy of the flight included) stay
// within issue 12's goal, 20 % of crypto/tls's 274 allocations per full
// handshake (ECDHE-RSA-X25519, Go 1.26); a resumption (no goal; 48 when
// this was written) within 30 % of crypto/tls's 169. A regression (tracing arguments boxed with no Trace set, HMAC
// state per PRF call, a map per ClientHello) fails here, not only in a
// benchmark nobody reads.
func TestReplayAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the replay benchmark")
	}
	if raceEnabled {
		t.Skip("allocation counts under the race detector are not the program's")
	}
	k := benchKexes[0]
	for _, c := range []struct {
		name   string
		resume bool
		limit  int64
	}{{"full", false, 274 / 5}, {"resumed", true, 169 * 3 / 10}} {
		failed := false
		res := testing.Benchmark(func(b *testing.B) {
			defer func() { failed = failed || b.Failed() }()
			replayDevice(b, k, recordDevice(b, k, c.resume), false)
		})
		if failed || res.N == 0 {
			t.Fatalf("%s: the replay failed", c.name)
		}
		if a := res.AllocsPerOp(); a > c.limit {
			t.Errorf("%s handshake: %d allocations, want at most %d", c.name, a, c.limit)
		}
	}
}
