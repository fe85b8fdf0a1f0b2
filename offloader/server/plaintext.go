package server

import (
	"net"
	"slices"
)

// plaintextPeer reports whether conn's peer may open a plaintext channel,
// beyond its listener being declared secure: with Config.PlaintextUIDs
// set, only a unix-socket peer whose uid is listed.
func (s *Server) plaintextPeer(conn net.Conn) bool {
	if s.cfg.PlaintextUIDs == nil {
		return true
	}
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return false
	}
	uid, ok := peerUID(uc)
	return ok && slices.Contains(s.cfg.PlaintextUIDs, uid)
}
