// Command cryptotls is the minimal device program on Go's crypto/tls, for
// comparison with offbench's device program: it dials a TLS server with
// tls.Dialer (TLS 1.2 at most, as the device), verifying the chain against
// a root, GETs / and prints the answer, or (with N) measures N handshakes
// (see package loop).
//
//	cryptotls SERVER:PORT NAME ROOT-PEM-FILE [N [resume]]
package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"

	"github.com/tlsoffload/tlsoffload/internal/minimal/loop"
)

func main() {
	a := os.Args[1:]
	if len(a) < 3 {
		os.Stderr.WriteString("usage: cryptotls SERVER:PORT NAME ROOT-PEM-FILE [N [resume]]\n")
		os.Exit(2)
	}
	pem, err := os.ReadFile(a[2])
	if err != nil {
		loop.Fail(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		loop.Fail(errors.New("no certificate in " + a[2]))
	}
	cfg := &tls.Config{ServerName: a[1], RootCAs: roots, MaxVersion: tls.VersionTLS12}
	if len(a) > 4 && a[4] == "resume" {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	}
	d := &tls.Dialer{Config: cfg}
	loop.Main(a[1], a[3:], func() (net.Conn, error) { return d.Dial("tcp", a[0]) },
		func(c net.Conn) bool { return c.(*tls.Conn).ConnectionState().DidResume })
}
