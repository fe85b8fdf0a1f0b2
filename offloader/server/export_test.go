package server

// Test-only views of unexported state.

// size returns the number of devices.
func (r *Registry) size() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.devices)
}
