package certs

// Hits reports how many verifications the cache answered.
func (c *VerifyCache) Hits() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits
}
