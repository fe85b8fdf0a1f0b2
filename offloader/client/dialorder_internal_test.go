package client

import (
	"slices"
	"testing"
	"time"
)

// dialOrder starts at c.next and goes round the list: the addresses up
// first, then those down, the soonest back first and ties in rotation
// order.
func TestDialOrder(t *testing.T) {
	now := time.Now()
	in := func(d time.Duration) time.Time { return now.Add(d) }
	c := &Client{cfg: Config{Addrs: []string{"a0", "a1", "a2", "a3", "a4", "a5", "a6"}}}
	c.down = []time.Time{
		in(3 * time.Second), // 0
		{},                  // 1: up
		in(time.Second),     // 2
		in(-time.Second),    // 3: back already
		in(3 * time.Second), // 4
		in(2 * time.Second), // 5
		in(time.Second),     // 6
	}
	c.next = 4
	// Up, from 4 round: 1, 3. Down, from 4 round: 4 (3s), 5 (2s), 6 (1s),
	// 0 (3s), 2 (1s); soonest first, ties in that order: 6, 2, 5, 4, 0.
	if got, want := c.dialOrder(now), []int{1, 3, 6, 2, 5, 4, 0}; !slices.Equal(got, want) {
		t.Errorf("dialOrder = %v, want %v", got, want)
	}
	c.next = 0
	if got, want := c.dialOrder(now), []int{1, 3, 2, 6, 5, 0, 4}; !slices.Equal(got, want) {
		t.Errorf("from 0: dialOrder = %v, want %v", got, want)
	}
}
