package server

import (
	"context"
	"net"
	"time"
)

// Shutdown stops the server gracefully (issue 10, SIGTERM): it stops
// accepting (its Serve loops return nil), refuses new flights on open
// channels (StatusRateLimited, refusal "shutting_down": the device tries
// another replica), waits for the flights in flight to be answered until
// ctx ends, then closes every channel as Close does. It returns ctx's
// error if flights were still running when ctx ended.
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
	s.lmu.Lock()
	s.draining = true
	s.lmu.Unlock()

	var err error
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		s.lmu.Lock()
		running := s.running
		s.lmu.Unlock()
		if running == 0 {
			break
		}
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-tick.C:
			continue
		}
		break
	}
	s.Close()
	return err
}
