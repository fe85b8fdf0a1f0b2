package server

import (
	"log/slog"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// One structured audit line per handshake (issue 10): for every flight
// that asks the offloader to vouch for a server (Auth), or whose Start the
// policy refused, the device, the server name, the verdict, the reason and
// how long the flight took. Never a secret: no key, no transcript, no
// certificate. Under a flood the lines are sampled (auditBurst at once,
// then auditPerSecond a second per verdict, the next line saying how many
// were left out); the counters (Stats) count every flight.
const (
	auditBurst     = 100
	auditPerSecond = 50
)

// audit logs f's outcome if f is a handshake's verdict.
func (s *Server) audit(deviceID string, f *wire.Flight, resp *wire.FlightResponse, took time.Duration) {
	var name string
	var verdictOp wire.Op
	for _, r := range f.Requests {
		switch r := r.(type) {
		case *wire.AuthRequest:
			if r != nil {
				name, verdictOp = r.ServerName, wire.OpAuth
			}
		case *wire.StartRequest:
			if r != nil && verdictOp == 0 {
				name, verdictOp = r.ServerName, wire.OpStart
			}
		}
	}
	if verdictOp == 0 {
		return
	}
	verdict, reason, op := "ok", "", ""
	for _, r := range resp.Results {
		if r.Err != nil && r.Err.Status != wire.StatusAborted {
			verdict = resultLabel(statusIndex(r.Err.Status))
			op = opLabel(r.Err.Op)
			switch {
			case r.Err.Reason != wire.ReasonNone:
				reason = r.Err.Reason.String()
			case r.Err.Status == wire.StatusPolicyDenied:
				// The policy's own words (which name, version, suite or
				// key exchange it refused), as the device is told.
				reason = r.Err.Detail
			}
			break
		}
	}
	if verdictOp == wire.OpStart && verdict == "ok" {
		return // a Start answered: the handshake's verdict comes with Auth
	}
	ok, suppressed := s.auditSample.allow(verdict, time.Now())
	if !ok {
		return
	}
	attrs := []slog.Attr{
		slog.String("device", deviceID),
		slog.String("server_name", name),
		slog.String("verdict", verdict),
	}
	if op != "" {
		attrs = append(attrs, slog.String("failed_op", op))
	}
	if reason != "" {
		attrs = append(attrs, slog.String("reason", reason))
	}
	attrs = append(attrs, slog.Duration("took", took), slog.Int("requests", len(f.Requests)))
	if suppressed > 0 {
		attrs = append(attrs, slog.Uint64("suppressed", suppressed))
	}
	s.log.LogAttrs(s.ctx, slog.LevelInfo, "offloader: audit", attrs...)
}
