package server

import (
	"errors"
	"net"
	"time"
)

// Frame bytes (issue 10): a channel's frame being received is held in
// memory until it is whole, and a peer can announce a maximum-size frame
// (wire.MaxFrame, 256 KiB) and send all but its last byte. The bytes read
// from an authenticated channel since its last whole frame are charged to
// a budget per device (DeviceLimits.FrameBytes) and to one for the server
// (Config.FrameBudget); a channel that needs more once either is spent is
// closed (refusal "frame_budget"). A read is bounded by the room left, so
// a budget is passed only by channels reading at the same moment, by at
// most maxBudgetRead each. A frame's buffer grows by doubling as bytes
// arrive (package wire), so the memory behind a budget is at most about
// twice it: 16 MiB by default, 32 MiB of buffers at worst (legitimate
// flights are a few KiB: 16 MiB is 64 maximum-size frames at once).
// FrameTimeout bounds how long a frame may take once begun, and
// Config.MinFrameRate how slowly it may arrive: past minRateGrace, a frame
// whose bytes came slower than that is cut (refusal "slow_frame"), so a
// slow sender holds its budget for seconds, not FrameTimeout. The opening
// is not charged: its frames are at most 1 KiB and bounded by OpenTimeout
// and the per-source cap.

const (
	defaultFrameBudget     = 16 << 20
	defaultDeviceFrameByte = 4 << 20
	defaultMinFrameRate    = 1024 // bytes a second
	minRateGrace           = time.Second
)

var (
	errFrameBudget = errors.New("offloader: frame byte budget exhausted")
	errSlowFrame   = errors.New("offloader: frame arriving too slowly")
)

// budgetConn charges what is read from conn to the frame budgets once ds
// is set (after the opening). Only the channel's reader goroutine reads.
type budgetConn struct {
	net.Conn
	s     *Server
	ds    *deviceState // nil: not charged
	held  int64        // charged since the last whole frame
	begun time.Time    // when the first of them arrived
}

// maxBudgetRead bounds one read's charge: budgets are checked before a
// read and charged after, so channels reading at once may pass a budget
// by at most this much each.
const maxBudgetRead = 32 << 10

func (c *budgetConn) Read(p []byte) (int, error) {
	if c.ds == nil {
		return c.Conn.Read(p)
	}
	room := c.s.frameRoom(c.ds)
	if room <= 0 {
		return 0, errFrameBudget
	}
	n, err := c.Conn.Read(p[:min(int64(len(p)), room, maxBudgetRead)])
	if n > 0 {
		now := time.Now()
		if c.held == 0 {
			c.begun = now
		}
		c.s.chargeFrame(c.ds, int64(n))
		c.held += int64(n)
		if r := c.s.cfg.MinFrameRate; r > 0 {
			if took := now.Sub(c.begun); took > minRateGrace && float64(c.held) < float64(r)*took.Seconds() {
				return n, errSlowFrame
			}
		}
	}
	return n, err
}

// frameDone gives back what the last frame held.
func (c *budgetConn) frameDone() {
	if c.held > 0 {
		c.s.releaseFrameBytes(c.ds, c.held)
		c.held = 0
	}
}

// frameRoom is what ds may still receive under both budgets.
func (s *Server) frameRoom(ds *deviceState) int64 {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	return min(s.cfg.FrameBudget-s.frameBytes, ds.limits.FrameBytes-ds.frameBytes)
}

func (s *Server) chargeFrame(ds *deviceState, n int64) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	s.frameBytes += n
	ds.frameBytes += n
}

func (s *Server) releaseFrameBytes(ds *deviceState, n int64) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	s.frameBytes -= n
	ds.frameBytes -= n
}
