package server

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// partialFrame opens a channel over a pipe and writes the header of a
// maximum-size sealed frame and n bytes of it; it returns once the server
// has read them all (or closed the channel: ok false).
func partialFrame(t *testing.T, fx *fixture, n int) (conn net.Conn, done <-chan struct{}, ok bool) {
	t.Helper()
	c1, c2 := net.Pipe()
	d := make(chan struct{})
	go func() { defer close(d); fx.srv.ServeConn(context.Background(), c2, false) }()
	t.Cleanup(func() { c1.Close(); <-d })
	if _, err := wire.ClientOpen(c1, wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK}); err != nil {
		t.Fatal(err)
	}
	const sealed, size = 4, wire.MaxFrame + 16 // frameSealed, MaxFrame + the AEAD tag
	sz := uint32(size)
	b := append([]byte{sealed, byte(sz >> 16), byte(sz >> 8), byte(sz)}, make([]byte, n)...)
	_, err := c1.Write(b)
	return c1, d, err == nil
}

// waitHeld waits until the server holds want bytes of frames being
// received: a pipe write returns as the server's read does, just before the
// server charges what it read, so a test must wait for the charge before
// counting on it.
func waitHeld(t *testing.T, fx *fixture, want int64) {
	t.Helper()
	waitFor(t, "the partial frames' bytes charged", func() bool {
		fx.srv.lmu.Lock()
		defer fx.srv.lmu.Unlock()
		return fx.srv.frameBytes == want
	})
}

// TestFrameBudget: bytes of frames being received are charged to the
// device; past its budget a channel is closed and counted; whole frames
// and closed channels give their bytes back.
func TestFrameBudget(t *testing.T) {
	const part = 200 << 10
	fx := newFixture(t, func(c *Config) { c.DeviceLimits.FrameBytes = 2*part + part/2 })
	c1, done1, ok1 := partialFrame(t, fx, part)
	_, _, ok2 := partialFrame(t, fx, part)
	if !ok1 || !ok2 {
		t.Fatal("frames within the budget were refused")
	}
	waitHeld(t, fx, 2*(part+4))
	_, done3, ok3 := partialFrame(t, fx, part)
	<-done3
	if ok3 {
		t.Fatal("a frame past the device's budget was read whole")
	}
	if got := refused(fx.srv, "frame_budget"); got != 1 {
		t.Errorf("refused{frame_budget} = %d, want 1", got)
	}
	c1.Close()
	<-done1
	// Room again; and many whole frames on one channel never add up.
	ch, _, err := dial(t, fx, wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK}, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		checkOK(t, roundTrip(t, ch, startFlight(uint32(i+1))))
	}
	// The second channel's partial frame only, with its 4-byte header.
	waitHeld(t, fx, part+4)
}

// TestFrameBudgetGlobal: the server's budget bounds every device together.
func TestFrameBudgetGlobal(t *testing.T) {
	const part = 100 << 10
	fx := newFixture(t, func(c *Config) { c.FrameBudget = part + part/2 })
	if _, _, ok := partialFrame(t, fx, part); !ok {
		t.Fatal("a frame within the budget was refused")
	}
	waitHeld(t, fx, part+4)
	if _, done, ok := partialFrame(t, fx, part); ok {
		t.Fatal("a frame past the server's budget was read whole")
	} else {
		<-done
	}
	if got := refused(fx.srv, "frame_budget"); got != 1 {
		t.Errorf("refused{frame_budget} = %d, want 1", got)
	}
}

// TestSlowFrame: a frame trickling in slower than MinFrameRate is cut
// after its first second and counted; MinFrameRate negative turns it off.
func TestSlowFrame(t *testing.T) {
	for _, c := range []struct {
		rate int
		cut  bool
	}{{0, true}, {-1, false}} {
		fx := newFixture(t, func(cfg *Config) { cfg.MinFrameRate = c.rate; cfg.FrameTimeout = time.Minute })
		conn, done, ok := partialFrame(t, fx, 100) // 104 bytes: far below 1 KiB/s once a second has passed
		if !ok {
			t.Fatal("the frame's start was refused")
		}
		time.Sleep(minRateGrace + 100*time.Millisecond)
		conn.Write([]byte{0}) // the next byte arrives late
		if c.cut {
			<-done
			if got := refused(fx.srv, "slow_frame"); got != 1 {
				t.Errorf("refused{slow_frame} = %d, want 1", got)
			}
			continue
		}
		waitFor(t, "the late byte read", func() bool { // header, 100 bytes, the late one
			fx.srv.lmu.Lock()
			defer fx.srv.lmu.Unlock()
			return fx.srv.frameBytes == 105
		})
		select {
		case <-done:
			t.Fatal("a slow frame was cut with MinFrameRate off")
		default:
		}
		if got := refused(fx.srv, "slow_frame"); got != 0 {
			t.Errorf("refused{slow_frame} = %d with MinFrameRate off", got)
		}
	}
}
