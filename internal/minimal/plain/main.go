// Command plain is the floor of offbench's binary sizes: the minimal
// program's GET over net.Dial, no TLS; with N, the floor of the emulated
// CPU per handshake: N TCP connections dialled and closed (see package
// loop).
//
//	plain SERVER:PORT NAME [N]
package main

import (
	"net"
	"os"

	"github.com/tlsoffload/tlsoffload/internal/minimal/loop"
)

func main() {
	if len(os.Args) < 3 {
		os.Stderr.WriteString("usage: plain SERVER:PORT NAME [N]\n")
		os.Exit(2)
	}
	loop.Main(os.Args[2], os.Args[3:], func() (net.Conn, error) { return net.Dial("tcp", os.Args[1]) }, nil)
}
