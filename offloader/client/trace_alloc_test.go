package client

import (
	"context"
	"testing"
)

// Without Config.Trace, answering from the Start cache (on every dial of a
// device) builds no trace arguments: tracing's cost is paid only by a
// client that traces. The limit is the one allocation the look-up itself
// makes (the Start request); the trace line's boxed name and clock would
// make it 3.
func TestCachedStartUntracedAllocations(t *testing.T) {
	s := newFakeServer(t)
	c, err := New(Config{Addrs: []string{s.addr()}, DeviceID: testDevice, PSK: testPSK})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Start(context.Background(), "example.com", testOffer); err != nil {
		t.Fatal(err)
	}
	traced, tl := newTracedClient(t, s.addr(), false)
	if _, err := traced.Start(context.Background(), "example.com", testOffer); err != nil {
		t.Fatal(err)
	}
	hit := func(c *Client) func() {
		return func() {
			if _, ok := c.CachedStart("example.com", testOffer); !ok {
				t.Fatal("CachedStart missed")
			}
		}
	}
	if n := testing.AllocsPerRun(20, hit(c)); n > 1 {
		t.Errorf("CachedStart without Trace: %v allocations, want 1 (the trace line's arguments built for nobody?)", n)
	}
	hit(traced)()
	if tl.count(`offloader: start for "example.com" from cache`) == 0 {
		t.Error("the traced client did not trace the cache hit")
	}
}
