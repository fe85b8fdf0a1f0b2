package server

import (
	"errors"
	"sync"
	"testing"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// flakySource is an in-process DeviceSource whose lookups can fail as a
// fleet registry's do when its database is down.
type flakySource struct {
	mu      sync.Mutex
	devices map[string]*Device
	down    bool
}

func (f *flakySource) LookupDevice(id string) (*Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errors.New("test: database down")
	}
	d, ok := f.devices[id]
	if !ok {
		return nil, ErrUnknownDevice
	}
	return d, nil
}

func (f *flakySource) setDown(down bool) { f.mu.Lock(); f.down = down; f.mu.Unlock() }

func TestDeviceSourceAndCloseDevice(t *testing.T) {
	d, err := PrepareDevice(Device{ID: testDevice, PSK: testPSK, Roots: testPKI(t).Roots, AllowedNames: []string{"*.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := PrepareDevice(Device{ID: "other", PSK: testPSK, AllowedNames: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	src := &flakySource{devices: map[string]*Device{testDevice: d, "other": other}}
	fx := newFixture(t, func(c *Config) { c.Registry = nil; c.Devices = src })

	ch1, done1, err := dial(t, fx, wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK}, false)
	if err != nil {
		t.Fatal(err)
	}
	ch2, done2, err := dial(t, fx, wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK}, false)
	if err != nil {
		t.Fatal(err)
	}
	chOther, doneOther, err := dial(t, fx, wire.ChannelConfig{DeviceID: "other", PSK: testPSK}, false)
	if err != nil {
		t.Fatal(err)
	}
	checkOK(t, roundTrip(t, ch1, startFlight(1)))
	checkOK(t, roundTrip(t, chOther, startFlight(1)))

	// The source failing is not the device being unknown: a flight is
	// answered internal, not auth_failed.
	src.setDown(true)
	checkStatus(t, roundTrip(t, ch2, startFlight(2)), 0, wire.StatusInternal)
	if _, _, err := dial(t, fx, wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK}, false); !errors.Is(err, wire.StatusAuthFailed) {
		t.Fatalf("opening while the source is down: %v, want auth_failed", err)
	}
	src.setDown(false)

	if n := fx.srv.CloseDevice(testDevice); n != 2 {
		t.Fatalf("CloseDevice closed %d channels, want 2", n)
	}
	<-done1
	<-done2
	if _, err := ch1.ReadFrame(); err == nil {
		t.Error("a closed device's channel still reads")
	}
	// The other device's channel is untouched.
	checkOK(t, roundTrip(t, chOther, startFlight(2)))
	if n := fx.srv.CloseDevice(testDevice); n != 0 {
		t.Errorf("CloseDevice again closed %d", n)
	}
	chOther.Close()
	<-doneOther
	if n := fx.srv.CloseDevice("other"); n != 0 {
		t.Errorf("CloseDevice after the channel ended closed %d", n)
	}
}

func TestPrepareDeviceChecks(t *testing.T) {
	_, err := PrepareDevice(Device{ID: "x", PSK: []byte("short")})
	var de *DeviceError
	if !errors.As(err, &de) || de.Field != "PSK" {
		t.Fatalf("PrepareDevice: %v, want a PSK DeviceError", err)
	}
	if _, err := NewRegistry().LookupDevice("nobody"); !errors.Is(err, ErrUnknownDevice) {
		t.Errorf("Registry.LookupDevice(unknown) = %v", err)
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New without Registry or Devices succeeded")
	}
}

// revokedWhileOpening answers the first lookup and then reports the device
// gone, as a fleet registry does when a revoke lands while the channel
// opens (before CloseDevice can find it).
type revokedWhileOpening struct {
	d     *Device
	calls int
	mu    sync.Mutex
}

func (r *revokedWhileOpening) LookupDevice(id string) (*Device, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.calls == 1 {
		return r.d, nil
	}
	return nil, ErrUnknownDevice
}

func TestRevokedWhileOpeningIsClosed(t *testing.T) {
	d, err := PrepareDevice(Device{ID: testDevice, PSK: testPSK, AllowedNames: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	fx := newFixture(t, func(c *Config) { c.Registry = nil; c.Devices = &revokedWhileOpening{d: d} })
	ch, done, err := dial(t, fx, wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK}, false)
	if err != nil {
		t.Fatal(err)
	}
	<-done // the server ended the channel by itself
	if _, err := ch.ReadFrame(); err == nil {
		t.Error("the channel of a device revoked while opening still reads")
	}
}
