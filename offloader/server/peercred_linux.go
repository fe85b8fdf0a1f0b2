package server

import (
	"net"
	"syscall"
)

// peerUID returns the uid of the process at the other end of a unix
// socket (SO_PEERCRED: the credentials it had when it connected).
func peerUID(c *net.UnixConn) (uint32, bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, false
	}
	var uid uint32
	var ok bool
	if err := rc.Control(func(fd uintptr) {
		cred, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
		if err == nil {
			uid, ok = cred.Uid, true
		}
	}); err != nil {
		return 0, false
	}
	return uid, ok
}
