package certs

import "crypto/x509"

// Hits reports how many verifications the cache answered.
func (c *VerifyCache) Hits() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits
}

// CheckPath applies the profile, the name and the pins to a path x509
// built, for the benchmark that isolates their cost.
func (v *Verifier) CheckPath(p []*x509.Certificate, serverName string) error {
	if e := v.checkPath(p, serverName); e != nil {
		return e
	}
	return nil
}

// Hits reports how many staples the cache answered.
func (c *StapleCache) Hits() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits
}
