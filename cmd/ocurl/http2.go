package main

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"

	"github.com/tlsoffload/tlsoffload/tlsclient"
)

// --http2: net/http negotiates HTTP/2 in ALPN only over its own *tls.Conn,
// so over tlsclient ocurl makes the choice itself. RoundTrip dials the TLS
// connection first, through the same tlsclient path as HTTP/1.1, offering
// "h2" and "http/1.1"; if the server picks h2 the request goes to an
// HTTP/2-only transport, else to the HTTP/1.1 one, each handed that
// connection by its DialTLSContext.
//
// The HTTP/2 transport is net/http's own (the x/net/http2 code bundled in
// the standard library), set to speak HTTP/2 with prior knowledge over
// the connection its DialTLSContext returns: to net/http a tlsclient.Conn
// is a plain net.Conn, while on the wire it is TLS with h2 agreed in ALPN,
// exactly as RFC 9113 §3.2 wants; requests keep :scheme https.
// golang.org/x/net/http2.Transport would do the same with its
// DialTLSContext, but importing it needs golang.org/x/text, which go.sum
// does not hold.

// alpnProtos are the ALPN protocols ocurl offers.
func (r *run) alpnProtos() []string {
	if r.o.http2 {
		return []string{"h2", "http/1.1"}
	}
	return []string{"http/1.1"}
}

// alpnTransport sends each https request over HTTP/2 or HTTP/1.1, as the
// server chose in ALPN; plain http goes over HTTP/1.1.
type alpnTransport struct {
	dial func(ctx context.Context, network, addr string) (net.Conn, error) // the tlsclient dial path
	h1   *http.Transport
	h2   *http.Transport // HTTP/2 only

	mu      sync.Mutex
	pending net.Conn // dialled by RoundTrip, taken by the transport's DialTLSContext
}

// newALPNTransport wraps h1 (whose DialTLSContext is replaced) with an
// HTTP/2 transport dialling through the same tlsclient path.
func (r *run) newALPNTransport(h1 *http.Transport, cfg *tlsclient.Config) *alpnTransport {
	t := &alpnTransport{
		dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return r.dialTLS(ctx, network, addr, cfg)
		},
		h1: h1,
	}
	h1.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return t.conn(ctx, network, addr, "")
	}
	t.h2 = &http.Transport{
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return t.conn(ctx, network, addr, "h2")
		},
		Protocols:          new(http.Protocols),
		DisableCompression: true,
	}
	t.h2.Protocols.SetUnencryptedHTTP2(true)
	return t
}

// conn returns the connection RoundTrip dialled, or dials a new one, which
// must have negotiated proto ("" for anything but h2).
func (t *alpnTransport) conn(ctx context.Context, network, addr, proto string) (net.Conn, error) {
	t.mu.Lock()
	c := t.pending
	t.pending = nil
	t.mu.Unlock()
	if c == nil {
		var err error
		if c, err = t.dial(ctx, network, addr); err != nil {
			return nil, err
		}
	}
	if isH2(c) != (proto == "h2") {
		c.Close()
		return nil, errors.New("the server changed its ALPN choice between connections")
	}
	return c, nil
}

func (t *alpnTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		return t.h1.RoundTrip(req)
	}
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "443")
	}
	c, err := t.dial(req.Context(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	if t.pending != nil {
		t.pending.Close()
	}
	t.pending = c
	t.mu.Unlock()
	if isH2(c) {
		return t.h2.RoundTrip(req)
	}
	return t.h1.RoundTrip(req)
}

// CloseIdleConnections closes both transports' idle connections and a
// dialled one no transport took.
func (t *alpnTransport) CloseIdleConnections() {
	t.mu.Lock()
	if t.pending != nil {
		t.pending.Close()
		t.pending = nil
	}
	t.mu.Unlock()
	t.h1.CloseIdleConnections()
	t.h2.CloseIdleConnections()
}

// isH2 reports whether c negotiated HTTP/2 in ALPN.
func isH2(c net.Conn) bool {
	cs, ok := c.(interface{ ConnectionState() tls.ConnectionState })
	return ok && cs.ConnectionState().NegotiatedProtocol == "h2"
}

// requestProto is the protocol a request goes out in over c, for -v.
func requestProto(c net.Conn) string {
	if isH2(c) {
		return "HTTP/2"
	}
	return "HTTP/1.1"
}
