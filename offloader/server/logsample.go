package server

import (
	"net"
	"sync"
	"time"
)

// Refused channel openings are logged sampled: under a flood (a wrong-PSK
// flood opens thousands of channels a second) each reason writes at most
// logBurst lines at once and then one line per logEvery, and the next line
// written says how many were left out. The counters (Stats.Refused,
// Stats.Channels) count every one.
const (
	logBurst = 10
	logEvery = time.Second
)

// sampler decides which of a stream of lines to write: a token bucket per
// key, refilled perSecond tokens a second up to burst (zero: logBurst and
// one per logEvery).
//
// Locking: mu guards the map; keys are a fixed, small set (reasons).
type sampler struct {
	burst, perSecond float64

	mu   sync.Mutex
	keys map[string]*sampleState
}

type sampleState struct {
	tokens     float64
	last       time.Time
	suppressed uint64
}

// allow reports whether a line for key may be written now, and how many
// lines for key were left out since the last one written.
func (sm *sampler) allow(key string, now time.Time) (ok bool, suppressed uint64) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if sm.keys == nil {
		sm.keys = make(map[string]*sampleState)
	}
	burst, perSecond := sm.burst, sm.perSecond
	if burst == 0 {
		burst, perSecond = logBurst, float64(time.Second)/float64(logEvery)
	}
	st, found := sm.keys[key]
	if !found {
		st = &sampleState{tokens: burst, last: now}
		sm.keys[key] = st
	}
	st.tokens = min(burst, st.tokens+now.Sub(st.last).Seconds()*perSecond)
	st.last = now
	if st.tokens < 1 {
		st.suppressed++
		return false, 0
	}
	st.tokens--
	n := st.suppressed
	st.suppressed = 0
	return true, n
}

// refuse counts a refused connection or channel by reason and logs it,
// sampled, with the device id claimed (if the opening got that far).
func (s *Server) refuse(r refusalReason, claimed string, remote net.Addr) {
	s.refused[r].Add(1)
	s.logRefusal(r.String(), claimed, remote)
}

// refusedOpening logs, sampled, an opening that failed for a reason
// counted in Stats.Channels (malformed, bad version, plaintext refused).
func (s *Server) refusedOpening(reason, claimed string, remote net.Addr) {
	s.logRefusal(reason, claimed, remote)
}

func (s *Server) logRefusal(reason, claimed string, remote net.Addr) {
	ok, suppressed := s.logSample.allow(reason, time.Now())
	if !ok {
		return
	}
	attrs := []any{"reason", reason, "device", claimed, "remote", addrString(remote)}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	s.log.Info("offloader: channel refused", attrs...)
}
