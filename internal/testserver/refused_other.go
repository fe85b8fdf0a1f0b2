//go:build !unix

package testserver

import (
	"io"
	"net"
)

// refusedAddr returns the address of a listener it closed at once: refused
// unless another process takes the port meanwhile.
func refusedAddr() (string, io.Closer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, io.NopCloser(nil), nil
}
