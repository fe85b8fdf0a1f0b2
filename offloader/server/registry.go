package server

import (
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/handshake"
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
	// MaxVersion is the highest: zero means TLS 1.2; not below MinVersion.
	MaxVersion uint16
	// CipherSuites, when set, are the only suites (IANA code points) this
	// device may negotiate; empty allows every one the offloader implements.
	CipherSuites []uint16
	// KeyExchanges, when set, are the only key exchanges this device may
	// negotiate; empty allows all of them, except RSA for a device with a
	// ClientCertificate (policy.go says why).
	KeyExchanges []handshake.KeyExchange
	// ClientCertificate (DER, leaf first) and ClientKey (the leaf's key),
	// both or neither, answer a server's CertificateRequest for this device
	// (clientcert.go; Check says what is accepted). The
	// offloader signs with the key only over transcripts it parsed itself.
	ClientCertificate [][]byte
	ClientKey         crypto.Signer
	// InsecureSkipVerify accepts the server's chain without verifying it
	// (roots, names, validity): the leaf the server presented still serves
	// the key exchange and signs the ServerKeyExchange. For a one-off
	// device entry such as ocurl's --insecure; never for a real device.
	InsecureSkipVerify bool
	// LeafPins, when set, are SHA-256 digests of SubjectPublicKeyInfos:
	// Auth refuses a leaf whose public key is none of them
	// (ReasonPinMismatch), verified or not (curl's --pinnedpubkey).
	LeafPins [][sha256.Size]byte

	// Profile is the verification profile of this device's servers:
	// certs.ProfileWebPKI (the zero value) or certs.ProfileRFC5280.
	Profile certs.Profile
	// Pins, when set, are SPKI pins (certs.Verifier.Pins): the verified
	// path, its root included, must hold a certificate whose key is one
	// of them (ReasonPinMismatch). Unlike LeafPins they need a verified
	// path, so they cannot go with InsecureSkipVerify.
	Pins []certs.Pin
	// CRLs, when set, are checked against the verified path at every Auth
	// (certs.CRLSet.Check, with the stapled OCSP response: certs.
	// CheckRevocation). Immutable once made: a reload builds a new set.
	CRLs *certs.CRLSet

	// Limits bound the device's share of the server (limits.go); zero
	// fields take the server's defaults.
	Limits DeviceLimits

	cc *clientCert // made by Add from the two fields above; nil without them
	// gone is closed when this entry is removed or its PSK replaced: the
	// device's open channels close (made by Add, shared by copies).
	gone chan struct{}
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

// ErrInvalidDevice matches every *DeviceError.
var ErrInvalidDevice = errors.New("offloader: invalid device")

// DeviceError is why a device entry is refused: the field at fault and
// what is wrong with it. It never quotes key material.
type DeviceError struct {
	ID string // the entry's id, as given
	// Field is "ID", "PSK", "MinVersion", "MaxVersion", "CipherSuites" and
	// "KeyExchanges" (Index says which entry), "Limits", "AllowedNames"
	// (Index says which pattern), "ClientCertificate", "ClientKey",
	// "Profile", "Pins" or "CRLs".
	Field string
	Index int
	Err   error
}

func (e *DeviceError) Error() string {
	field := e.Field
	switch field {
	case "AllowedNames", "CipherSuites", "KeyExchanges":
		field = fmt.Sprintf("%s[%d]", field, e.Index)
	}
	return fmt.Sprintf("offloader: invalid device %q: %s: %v", e.ID, field, e.Err)
}

func (e *DeviceError) Unwrap() error        { return e.Err }
func (e *DeviceError) Is(target error) bool { return target == ErrInvalidDevice }

// Check reports, as a *DeviceError, what Add would refuse in d: the one
// place a device entry is validated.
//   - ID: 1..wire.MaxDeviceID printable ASCII characters without spaces;
//   - PSK: wire.MinPSKLen..wire.MaxPSKLen bytes;
//   - MinVersion: 0 (TLS 1.2), or TLS 1.0, 1.1 or 1.2 (versions.go);
//   - MaxVersion: the same, not below MinVersion;
//   - CipherSuites and KeyExchanges: ones the offloader implements, each
//     once, and each listed suite usable under the key exchanges and the
//     version range (policy.go);
//   - AllowedNames: patterns certs.MatchName can match (checkPattern);
//   - ClientCertificate and ClientKey: both or neither, as clientcert.go
//     says (newClientCert);
//   - Profile: one certs defines (certs.Profile.Valid);
//   - Pins and CRLs: not with InsecureSkipVerify (nothing is verified to
//     check them against).
func (d *Device) Check() error {
	_, err := d.check()
	return err
}

// CheckNegotiation is the part of Check that validates the device's
// negotiation policy (policy.go): MinVersion, MaxVersion, CipherSuites and
// KeyExchanges, against one another and against whether the device has a
// client certificate (len(ClientCertificate) > 0; the certificate itself is
// not looked at). A registry that stores a policy apart from its devices
// (pgregistry) checks it with this before any device uses it. The error is
// a *DeviceError naming the field.
func (d *Device) CheckNegotiation() error {
	fail := func(field string, err error) error { return &DeviceError{ID: d.ID, Field: field, Err: err} }
	if err := checkMinVersion(d.MinVersion); err != nil {
		return fail("MinVersion", err)
	}
	if err := d.checkMaxVersion(); err != nil {
		return fail("MaxVersion", err)
	}
	if i, err := checkCipherSuites(d.CipherSuites); err != nil {
		return &DeviceError{ID: d.ID, Field: "CipherSuites", Index: i, Err: err}
	}
	if i, err := checkKeyExchanges(d.KeyExchanges); err != nil {
		return &DeviceError{ID: d.ID, Field: "KeyExchanges", Index: i, Err: err}
	}
	if i, err := d.checkSuitesUsable(); err != nil {
		return &DeviceError{ID: d.ID, Field: "CipherSuites", Index: i, Err: err}
	}
	return nil
}

// check is Check, returning the prepared client certificate (nil without one).
func (d *Device) check() (*clientCert, error) {
	fail := func(field string, err error) error { return &DeviceError{ID: d.ID, Field: field, Err: err} }
	if err := checkDeviceID(d.ID); err != nil {
		return nil, fail("ID", err)
	}
	if len(d.PSK) < wire.MinPSKLen || len(d.PSK) > wire.MaxPSKLen {
		return nil, fail("PSK", fmt.Errorf("must be %d to %d bytes, got %d", wire.MinPSKLen, wire.MaxPSKLen, len(d.PSK)))
	}
	if err := d.CheckNegotiation(); err != nil {
		return nil, err
	}
	if err := checkLimits(d.Limits); err != nil {
		return nil, fail("Limits", err)
	}
	for i, p := range d.AllowedNames {
		if err := checkPattern(p); err != nil {
			return nil, &DeviceError{ID: d.ID, Field: "AllowedNames", Index: i, Err: err}
		}
	}
	if !d.Profile.Valid() {
		return nil, fail("Profile", fmt.Errorf("unknown verification profile %d (want webpki or rfc5280)", uint8(d.Profile)))
	}
	if d.InsecureSkipVerify && len(d.Pins) > 0 {
		return nil, fail("Pins", errors.New("need a verified path, and InsecureSkipVerify is set (LeafPins pin the leaf without one)"))
	}
	if d.InsecureSkipVerify && d.CRLs != nil {
		return nil, fail("CRLs", errors.New("need a verified path, and InsecureSkipVerify is set"))
	}
	if len(d.ClientCertificate) == 0 && d.ClientKey == nil {
		return nil, nil
	}
	cc, field, err := newClientCert(d.ClientCertificate, d.ClientKey)
	if err != nil {
		return nil, fail(field, err)
	}
	return cc, nil
}

// Add validates d (Check) and stores a copy of it, replacing any device
// with the same id (a PSK rotation: the device's open channels close when
// the PSK changes).
func (r *Registry) Add(d Device) error {
	cc, err := d.check()
	if err != nil {
		return err
	}
	d.cc = cc
	d.gone = make(chan struct{})
	c := copyDevice(&d)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.devices == nil {
		r.devices = make(map[string]*Device)
	}
	if old, ok := r.devices[d.ID]; ok {
		if subtle.ConstantTimeCompare(old.PSK, d.PSK) == 1 {
			c.gone = old.gone // the same key: its channels stay open
		} else {
			close(old.gone)
		}
		clear(old.PSK)
	}
	r.devices[d.ID] = c
	return nil
}

// Remove revokes a device: it can open no channel and run no flight after
// Remove returns, and its open channels close. Removing an unknown id does nothing.
func (r *Registry) Remove(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d, ok := r.devices[id]; ok {
		clear(d.PSK)
		close(d.gone)
		delete(r.devices, id)
	}
}

// lookup returns a copy of the device with that id.
func (r *Registry) lookup(id string) (*Device, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	d, ok := r.devices[id]
	if !ok {
		return nil, false
	}
	return copyDevice(d), true
}

func copyDevice(d *Device) *Device {
	return &Device{
		ID:           d.ID,
		PSK:          slices.Clone(d.PSK),
		Roots:        d.Roots, // a CertPool is not modified after it is configured
		AllowedNames: slices.Clone(d.AllowedNames),
		MinVersion:   d.MinVersion,
		MaxVersion:   d.MaxVersion,
		CipherSuites: slices.Clone(d.CipherSuites),
		KeyExchanges: slices.Clone(d.KeyExchanges),

		ClientCertificate:  cloneChain(d.ClientCertificate),
		ClientKey:          d.ClientKey,
		InsecureSkipVerify: d.InsecureSkipVerify,
		LeafPins:           slices.Clone(d.LeafPins),
		Profile:            d.Profile,
		Pins:               slices.Clone(d.Pins),
		CRLs:               d.CRLs, // immutable
		Limits:             d.Limits,
		cc:                 d.cc, // never modified after Add
		gone:               d.gone,
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

func checkDeviceID(id string) error {
	if id == "" {
		return errors.New("missing")
	}
	if len(id) > wire.MaxDeviceID {
		return fmt.Errorf("longer than %d bytes", wire.MaxDeviceID)
	}
	for i := range len(id) {
		if id[i] < 0x21 || id[i] > 0x7e {
			return fmt.Errorf("%q: only printable ASCII without spaces", id)
		}
	}
	return nil
}

// checkPattern accepts what certs.MatchName matches: "*", an exact DNS
// name, or "*." followed by a name (a wildcard for one whole first label).
func checkPattern(p string) error {
	if p == "*" {
		return nil
	}
	name := strings.TrimPrefix(p, "*.")
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > wire.MaxServerName {
		return fmt.Errorf("%q is not a name pattern", p)
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" {
			return fmt.Errorf("%q has an empty label", p)
		}
		for _, r := range label {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			case r == '*':
				return fmt.Errorf("%q: a wildcard must be the whole first label (\"*.example.com\")", p)
			default:
				return fmt.Errorf("%q: %q is not allowed in a DNS name", p, r)
			}
		}
	}
	return nil
}
