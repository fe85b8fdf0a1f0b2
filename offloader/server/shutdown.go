package server

import (
	"context"
	"io"
	"net"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// Shutdown stops the server gracefully (issue 10, SIGTERM): it stops
// accepting (its Serve loops return nil) and stops reading flights on open
// channels; each channel, once the flights it read are answered (at once
// for an idle one), is sent a close frame with reason shutting_down
// (docs/PROTOCOL.md §6.1: the device goes to another replica, and counts
// no failure) and closed. A flight a channel was reading as Shutdown
// began is a flight in flight: it is run and answered. Shutdown waits for the
// flights in flight and the channels to end until ctx ends, then closes
// what is left as Close does. It returns ctx's error if flights were still
// running when ctx ended.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopping = true
	var ls []net.Listener
	for l := range s.listeners {
		ls = append(ls, l)
	}
	s.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	s.drainOnce.Do(func() { close(s.drain) })

	err := s.waitUntil(ctx, func() bool {
		s.lmu.Lock()
		defer s.lmu.Unlock()
		return s.running == 0
	})
	if err == nil {
		// The flights are answered; the channels are sending their close
		// frames. A connection still opening gets its close once open.
		s.waitUntil(ctx, func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			return len(s.conns) == 0
		})
	}
	s.Close()
	return err
}

// waitUntil polls done until it reports true (nil) or ctx ends (its error).
func (s *Server) waitUntil(ctx context.Context, done func() bool) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !done() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// Closing a channel with a reason (docs/PROTOCOL.md §6.1).
const (
	// closeWriteTimeout bounds writing the close frame, and any write still
	// in progress when a channel is cut (at most FrameTimeout).
	closeWriteTimeout = time.Second
	// closeLinger is how long a channel, its close frame sent and its
	// sending side shut, reads and discards what the device still sends
	// (at most closeLingerBytes), so that a frame the device sent
	// meanwhile does not make the kernel answer with a reset that could
	// destroy the close frame before the device read it.
	closeLinger      = 250 * time.Millisecond
	closeLingerBytes = 64 << 10
)

func (s *Server) closeWriteTimeout() time.Duration { return min(s.cfg.FrameTimeout, closeWriteTimeout) }

// closeWithReason sends ch's device a close frame saying why and shuts
// the sending side of conn. It then lingers, reading and discarding, in a
// goroutine of its own (counted for Close), so that the channel's device
// state (its share of channels, the open gauge) is released at once; it
// reports true when that goroutine now owns conn and will close it.
// Otherwise ch is closed on return.
func (s *Server) closeWithReason(conn net.Conn, ch *wire.Channel, reason wire.CloseReason) bool {
	_ = conn.SetWriteDeadline(time.Now().Add(s.closeWriteTimeout()))
	if err := ch.SendClose(reason, ""); err != nil {
		ch.Close()
		return false
	}
	s.counters.closesSent[closeIndex(reason)].Add(1)
	cw, ok := conn.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		ch.Close()
		return false
	}
	_ = conn.SetReadDeadline(time.Now().Add(closeLinger))
	s.wg.Add(1) // this connection is still counted: Close cannot be past its Wait
	go func() {
		defer s.wg.Done()
		_, _ = io.Copy(io.Discard, io.LimitReader(conn, closeLingerBytes))
		ch.Close()
	}()
	return true
}
