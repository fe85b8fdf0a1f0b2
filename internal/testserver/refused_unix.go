//go:build unix

package testserver

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"syscall"
)

// refusedAddr binds a TCP socket on 127.0.0.1 without listening on it: a
// connection to its port is refused (RST), and no other socket can take the
// port while it stays bound, so "connection refused" is certain for the
// server's lifetime.
func refusedAddr() (string, io.Closer, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return "", nil, fmt.Errorf("testserver: socket: %w", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(fd)
		return "", nil, fmt.Errorf("testserver: bind: %w", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		return "", nil, fmt.Errorf("testserver: getsockname: %w", err)
	}
	in4, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		syscall.Close(fd)
		return "", nil, fmt.Errorf("testserver: getsockname: not an IPv4 address")
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(in4.Port)), fdCloser(fd), nil
}

type fdCloser int

func (f fdCloser) Close() error { return syscall.Close(int(f)) }
