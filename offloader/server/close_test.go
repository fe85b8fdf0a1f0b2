package server

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// The server closes a channel with a reason wherever it ends it on
// purpose (docs/PROTOCOL.md §6.1): the device's PSK changed or the device
// was removed (device_changed), CloseDevice (a fleet registry's change),
// an idle channel (idle), Close (shutting_down).
func TestCloseReasons(t *testing.T) {
	cases := []struct {
		name  string
		tweak func(*Config)
		end   func(fx *fixture)
		want  wire.CloseReason
	}{
		{"psk changed", nil, func(fx *fixture) {
			d, _ := fx.reg.lookup(testDevice)
			d.PSK = bytes.Repeat([]byte{0x77}, 32)
			if err := fx.reg.Add(*d); err != nil {
				t.Fatal(err)
			}
		}, wire.CloseDeviceChanged},
		{"removed", nil, func(fx *fixture) { fx.reg.Remove(testDevice) }, wire.CloseDeviceChanged},
		{"CloseDevice", nil, func(fx *fixture) {
			if n := fx.srv.CloseDevice(testDevice); n != 1 {
				t.Errorf("CloseDevice closed %d channels", n)
			}
		}, wire.CloseDeviceChanged},
		{"idle", func(c *Config) { c.IdleTimeout = 50 * time.Millisecond }, func(*fixture) {}, wire.CloseIdle},
		// In a goroutine: over net.Pipe the close frame is written only
		// as the device reads it, and Close waits for that.
		{"Close", nil, func(fx *fixture) { go fx.srv.Close() }, wire.CloseShuttingDown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t, c.tweak)
			ch, done, err := dial(t, fx, wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK}, false)
			if err != nil {
				t.Fatal(err)
			}
			checkOK(t, roundTrip(t, ch, startFlight(1)))
			c.end(fx)
			_, err = ch.ReadFrame()
			var ce *wire.CloseError
			if !errors.As(err, &ce) || ce.Reason != c.want {
				t.Fatalf("read %v, want a close with reason %v", err, c.want)
			}
			<-done
			label := map[wire.CloseReason]string{wire.CloseDeviceChanged: "device_changed", wire.CloseIdle: "idle", wire.CloseShuttingDown: "shutting_down"}[c.want]
			if got := fx.srv.Stats().Channels.Closed[label]; got != 1 {
				t.Errorf("Channels.Closed[%s] = %d, want 1", label, got)
			}
		})
	}
}

// A channel the device breaks (here: a frame that does not authenticate)
// is closed without a close frame: there is no reason to give.
func TestNoCloseOnBrokenChannel(t *testing.T) {
	fx := newFixture(t, nil)
	ch, done, err := dial(t, fx, wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK}, false)
	if err != nil {
		t.Fatal(err)
	}
	checkOK(t, roundTrip(t, ch, startFlight(1)))
	ch.Close()
	<-done
	if got := fx.srv.Stats().Channels.Closed; len(got) != 0 {
		t.Errorf("Channels.Closed = %v after the device closed", got)
	}
}
