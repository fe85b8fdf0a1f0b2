package tlsclient_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"

	"golang.org/x/net/http2"

	"github.com/tlsoffload/tlsoffload/tlsclient"
)

// ExampleDialer_xnetHTTP2 is the same as ExampleDialer_http2 with
// golang.org/x/net/http2's Transport: its DialTLSContext returns the
// tlsclient connection (the *tls.Config it is handed is not used: the
// tlsclient.Config decides), and the Transport reads the negotiated
// protocol from the connection's ConnectionState.
func ExampleDialer_xnetHTTP2() {
	url, off, stop := exampleH2Server()
	defer stop()

	dialer := &tlsclient.Dialer{Config: &tlsclient.Config{Offloader: off, NextProtos: []string{"h2"}}}
	h2 := &http2.Transport{
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
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
