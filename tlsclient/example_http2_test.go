package tlsclient_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/internal/offloadtest"
	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/offloader/server"
	"github.com/tlsoffload/tlsoffload/tlsclient"
)

// ExampleDialer_http2 sends a request over HTTP/2 on a tlsclient
// connection. net/http negotiates h2 in ALPN only over its own *tls.Conn;
// over tlsclient the application offers "h2" in Config.NextProtos, checks
// the server chose it, and hands the connection to an HTTP/2-only
// http.Transport, which then speaks HTTP/2 straight away (RFC 9113 §3.2).
// golang.org/x/net/http2.Transport with DialTLSContext works the same
// way. tlsclient itself links neither net/http nor x/net/http2.
func ExampleDialer_http2() {
	// A crypto/tls + net/http server (which serves HTTP/2) and an
	// in-process offloader trusting its root stand in for real ones.
	url, off, stop := exampleH2Server()
	defer stop()

	dialer := &tlsclient.Dialer{Config: &tlsclient.Config{
		Offloader:  off,
		NextProtos: []string{"h2"}, // {"h2", "http/1.1"} to fall back; see cmd/ocurl
	}}
	h2 := &http.Transport{
		Protocols: new(http.Protocols),
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if p := c.(*tlsclient.Conn).ConnectionState().NegotiatedProtocol; p != "h2" {
				c.Close()
				return nil, fmt.Errorf("server chose %q in ALPN, not h2", p)
			}
			return c, nil
		},
	}
	// HTTP/2 with prior knowledge over the connection DialTLSContext
	// returns: to net/http a tlsclient.Conn is a plain net.Conn; on the
	// wire it is TLS with h2 agreed, and requests keep :scheme https.
	h2.Protocols.SetUnencryptedHTTP2(true)
	defer h2.CloseIdleConnections()

	resp, err := (&http.Client{Transport: h2}).Get(url)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Proto, resp.Status)
	fmt.Println(string(body))
	// Output:
	// HTTP/2.0 200 OK
	// hello over HTTP/2.0, TLS 1.2
}

// exampleH2Server starts an HTTP/2 server on loopback with a test
// certificate, and an offloader whose device trusts it.
func exampleH2Server() (url string, off tlsclient.Offloader, stop func()) {
	pki, err := testpki.New(time.Now())
	if err != nil {
		log.Fatal(err)
	}
	leaf, err := pki.Issue([]string{"127.0.0.1"}, testpki.ECDSAP256, testpki.Good)
	if err != nil {
		log.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{leaf.TLSCertificate()},
		NextProtos:   []string{"h2", "http/1.1"},
		MaxVersion:   tls.VersionTLS12,
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := "?"
		if r.TLS != nil && r.TLS.Version == tls.VersionTLS12 {
			v = "TLS 1.2"
		}
		fmt.Fprintf(w, "hello over %s, %s", r.Proto, v)
	})}
	go srv.Serve(l)

	// The real offloader's server and client, joined by net.Pipe.
	o, err := offloadtest.Start(server.Config{},
		server.Device{ID: "example", Roots: pki.Roots, AllowedNames: []string{"*"}}, client.Config{})
	if err != nil {
		log.Fatal(err)
	}
	return "https://" + l.Addr().String() + "/", o, func() { srv.Close(); o.Close() }
}
