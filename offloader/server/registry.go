package server

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// Device is one registry entry.
type Device struct {
	ID  string
	PSK []byte
	// Roots verifies this device's servers; nil means the system roots.
	Roots *x509.CertPool
	// AllowedNames are MatchName patterns (certs.MatchName); empty allows none.
	AllowedNames []string
	// MinVersion is the lowest protocol version this device may negotiate:
	// zero means TLS 1.2; TLS 1.0 (0x0301) and 1.1 (0x0302) must be allowed
	// here explicitly (RFC 8996; versions.go).
	MinVersion uint16
	// ClientCertificate (DER, leaf first) and ClientKey (the leaf's key),
	// both or neither, answer a server's CertificateRequest for this device
	// (clientcert.go; CheckClientCertificate says what is accepted). The
	// offloader signs with the key only over transcripts it parsed itself.
	ClientCertificate [][]byte
	ClientKey         crypto.Signer

	cc *clientCert // made by Add from the two fields above; nil without them
}

// Registry holds the devices. It is safe for concurrent use; devices may be
// added or removed (a lost device's PSK revoked) while serving.
//
// Locking: one RWMutex guards the map. Readers (every channel opening and
// every flight) take the read lock only long enough to copy an entry out;
// Add and Remove take the write lock. Entries are never handed out by
// pointer, so a caller's copy cannot change under it and cannot change the
// registry. A removed device fails its next channel opening and its next
// flight on an open channel.
type Registry struct {
	mu      sync.RWMutex
	devices map[string]*Device
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{devices: make(map[string]*Device)} }

// ErrInvalidDevice is wrapped by Add's errors.
var ErrInvalidDevice = errors.New("offloader: invalid device")

// Add validates d and stores a copy of it, replacing any device with the
// same id (a PSK rotation). The id is 1..wire.MaxDeviceID printable ASCII
// characters without spaces; the PSK is wire.MinPSKLen..wire.MaxPSKLen bytes.
func (r *Registry) Add(d Device) error {
	if err := validDeviceID(d.ID); err != nil {
		return err
	}
	if len(d.PSK) < wire.MinPSKLen || len(d.PSK) > wire.MaxPSKLen {
		return fmt.Errorf("%w: device %q: PSK must be %d to %d bytes", ErrInvalidDevice, d.ID, wire.MinPSKLen, wire.MaxPSKLen)
	}
	if err := validMinVersion(d.MinVersion); err != nil {
		return fmt.Errorf("device %q: %w", d.ID, err)
	}
	if len(d.ClientCertificate) > 0 || d.ClientKey != nil {
		cc, err := newClientCert(d.ClientCertificate, d.ClientKey)
		if err != nil {
			return fmt.Errorf("%w: device %q: %w", ErrInvalidDevice, d.ID, err)
		}
		d.cc = cc
	} else {
		d.cc = nil
	}
	c := copyDevice(&d)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.devices == nil {
		r.devices = make(map[string]*Device)
	}
	if old, ok := r.devices[d.ID]; ok {
		clear(old.PSK)
	}
	r.devices[d.ID] = c
	return nil
}

// Remove revokes a device: it can open no channel and run no flight after
// Remove returns. Removing an unknown id does nothing.
func (r *Registry) Remove(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d, ok := r.devices[id]; ok {
		clear(d.PSK)
		delete(r.devices, id)
	}
}

// Lookup returns a copy of the device with that id.
func (r *Registry) Lookup(id string) (*Device, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	d, ok := r.devices[id]
	if !ok {
		return nil, false
	}
	return copyDevice(d), true
}

// Len returns the number of devices.
func (r *Registry) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.devices)
}

func copyDevice(d *Device) *Device {
	return &Device{
		ID:           d.ID,
		PSK:          slices.Clone(d.PSK),
		Roots:        d.Roots, // a CertPool is not modified after it is configured
		AllowedNames: slices.Clone(d.AllowedNames),
		MinVersion:   d.MinVersion,

		ClientCertificate: cloneChain(d.ClientCertificate),
		ClientKey:         d.ClientKey,
		cc:                d.cc, // never modified after Add
	}
}

func cloneChain(chain [][]byte) [][]byte {
	if chain == nil {
		return nil
	}
	out := make([][]byte, len(chain))
	for i, c := range chain {
		out[i] = slices.Clone(c)
	}
	return out
}

func validDeviceID(id string) error {
	if len(id) == 0 || len(id) > wire.MaxDeviceID {
		return fmt.Errorf("%w: id must be 1 to %d characters", ErrInvalidDevice, wire.MaxDeviceID)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return fmt.Errorf("%w: id %q: only printable ASCII without spaces", ErrInvalidDevice, id)
		}
	}
	return nil
}
