package client

// Stats counts a Client's fail-over events since New (failover.go), for
// tests, tools and a device's own telemetry.
type Stats struct {
	// Resends counts flights sent again because their channel ended
	// under them unanswered (broken, or closed with a reason).
	Resends uint64
	// Down counts addresses marked down for a failure: unreachable, a
	// channel that could not open or broke under a flight.
	Down uint64
	// Busy counts addresses passed over because a flight was answered
	// busy (rate limited) as a whole there.
	Busy uint64
	// Drained counts channels the offloader closed with reason
	// shutting_down: the address was passed over, counting no failure.
	Drained uint64
}

// Stats returns the Client's counts so far.
func (c *Client) Stats() Stats {
	return Stats{
		Resends: c.resends.Load(),
		Down:    c.downs.Load(),
		Busy:    c.busies.Load(),
		Drained: c.drains.Load(),
	}
}
