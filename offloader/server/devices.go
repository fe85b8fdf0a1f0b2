package server

import (
	"context"
	"errors"
	"sync"
)

// DeviceSource is where a Server finds its devices: the in-memory Registry
// (filled from the daemon's YAML file, or by ocurl), or a fleet registry
// such as package pgregistry (PostgreSQL) that caches entries in the replica.
//
// LookupDevice is called on every channel opening and every flight, so it
// must be fast for a device seen recently. It returns the device with that
// id, made by PrepareDevice (or Registry.Add) and never modified after; the
// server does not modify it either. It returns ErrUnknownDevice for an id
// that is unknown or revoked, and any other error when the source cannot
// answer (its database is down and the entry is not cached): the server
// refuses the device either way, and logs the second as the source's
// failure.
type DeviceSource interface {
	LookupDevice(id string) (*Device, error)
}

// ErrUnknownDevice is a DeviceSource's answer for an id it does not know,
// or knows as revoked.
var ErrUnknownDevice = errors.New("offloader: unknown device")

// LookupDevice implements DeviceSource: a copy of the device with that id.
func (r *Registry) LookupDevice(id string) (*Device, error) {
	d, ok := r.lookup(id)
	if !ok {
		return nil, ErrUnknownDevice
	}
	return d, nil
}

// PrepareDevice validates d (Device.Check) and returns a copy ready for a
// DeviceSource to hand out: its client certificate, if any, parsed once.
func PrepareDevice(d Device) (*Device, error) {
	cc, err := d.check()
	if err != nil {
		return nil, err
	}
	d.cc = cc
	return copyDevice(&d), nil
}

// liveChannels is the set of open channels of each device, so that a
// device changed or revoked in a fleet registry has its channels closed
// (CloseDevice). Locking: its own mutex, held only to add, remove or list
// entries; the cancel functions are called outside it.
type liveChannels struct {
	mu   sync.Mutex
	byID map[string]map[*context.CancelFunc]struct{}
}

// add registers an open channel of id; the returned func removes it.
func (l *liveChannels) add(id string, cancel context.CancelFunc) func() {
	key := &cancel
	l.mu.Lock()
	if l.byID == nil {
		l.byID = make(map[string]map[*context.CancelFunc]struct{})
	}
	set := l.byID[id]
	if set == nil {
		set = make(map[*context.CancelFunc]struct{})
		l.byID[id] = set
	}
	set[key] = struct{}{}
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.byID[id], key)
		if len(l.byID[id]) == 0 {
			delete(l.byID, id)
		}
	}
}

// CloseDevice closes every open channel of the device with that id (its
// entry changed or was revoked: the device opens a new channel, which
// sees the new entry or is refused). It returns how many it closed; it
// does not wait for them to finish their flights in progress.
func (s *Server) CloseDevice(id string) int {
	s.live.mu.Lock()
	var cancels []context.CancelFunc
	for c := range s.live.byID[id] {
		cancels = append(cancels, *c)
	}
	s.live.mu.Unlock()
	for _, c := range cancels {
		c()
	}
	if len(cancels) > 0 {
		s.log.Info("offloader: device changed: channels closed", "device", id, "channels", len(cancels))
	}
	return len(cancels)
}
