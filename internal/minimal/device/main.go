// Command device is offbench's minimal device program: it dials a TLS
// server through tlsclient.Dialer with a remote offloader, GETs / and
// prints the answer, or (with N) measures N handshakes (see package loop).
// offbench builds it for several targets to report its size, and runs it
// under qemu-arm for the device's CPU per handshake.
//
//	device SERVER:PORT NAME OFFLOADER:PORT DEVICE-ID PSK-FILE [N [resume]]
package main

import (
	"context"
	"net"
	"os"

	"github.com/tlsoffload/tlsoffload/internal/minimal/loop"
	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/tlsclient"
)

func main() {
	a := os.Args[1:]
	if len(a) < 5 {
		os.Stderr.WriteString("usage: device SERVER:PORT NAME OFFLOADER:PORT DEVICE-ID PSK-FILE [N [resume]]\n")
		os.Exit(2)
	}
	pskHex, err := os.ReadFile(a[4])
	if err != nil {
		loop.Fail(err)
	}
	psk, err := client.ParsePSK(pskHex)
	if err != nil {
		loop.Fail(err)
	}
	off, err := client.New(client.Config{Addrs: []string{a[2]}, DeviceID: a[3], PSK: psk})
	if err != nil {
		loop.Fail(err)
	}
	cfg := &tlsclient.Config{Offloader: off, ServerName: a[1]}
	if len(a) > 6 && a[6] == "resume" {
		cfg.SessionCache = tlsclient.NewLRUSessionCache(1)
	}
	d := &tlsclient.Dialer{Config: cfg}
	loop.Main(a[1], a[5:], func() (net.Conn, error) { return d.DialContext(context.Background(), "tcp", a[0]) },
		func(c net.Conn) bool { return c.(*tlsclient.Conn).ConnectionState().DidResume })
}
