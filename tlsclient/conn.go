// Package tlsclient is a TLS 1.2 client (RFC 5246, RFC 7627, RFC 5746,
// RFC 7301, RFC 5077 tickets accepted) that performs no public-key
// operation: certificate and ServerKeyExchange verification, the
// ClientKeyExchange and the key derivation are done by an offloader (see
// Offloader), in one pipelined round trip after ServerHelloDone. The device
// hashes the transcript, runs the PRF for Finished, and does the symmetric
// record protection (package record).
//
// CONTRACT: the exported API in this package is relied on by cmd/ocurl and
// integration tests; implementations may change, signatures may not without
// updating every caller.
package tlsclient

import (
	"context"
	"crypto/tls"
	"net"
	"time"
)

// Conn is a TLS client connection; it implements net.Conn. Read and Write
// may be called from two goroutines at once; the first of them (or
// Handshake) runs the handshake.
type Conn struct {
	// TODO
}

var _ net.Conn = (*Conn)(nil)

// Client returns a client connection over conn. The handshake runs on the
// first Read or Write, or on Handshake.
func Client(conn net.Conn, config *Config) *Conn { panic("TODO") }

func (c *Conn) Handshake() error                           { panic("TODO") }
func (c *Conn) HandshakeContext(ctx context.Context) error { panic("TODO") }
func (c *Conn) Read(b []byte) (int, error)                 { panic("TODO") }
func (c *Conn) Write(b []byte) (int, error)                { panic("TODO") }
func (c *Conn) Close() error                               { panic("TODO") }
func (c *Conn) LocalAddr() net.Addr                        { panic("TODO") }
func (c *Conn) RemoteAddr() net.Addr                       { panic("TODO") }
func (c *Conn) SetDeadline(t time.Time) error              { panic("TODO") }
func (c *Conn) SetReadDeadline(t time.Time) error          { panic("TODO") }
func (c *Conn) SetWriteDeadline(t time.Time) error         { panic("TODO") }
func (c *Conn) NetConn() net.Conn                          { panic("TODO") }

// ConnectionState returns the negotiated parameters in crypto/tls's form.
// PeerCertificates and VerifiedChains are parsed on the first call (the
// handshake itself parses no certificate on the device).
func (c *Conn) ConnectionState() tls.ConnectionState { panic("TODO") }

// Dialer dials TCP and runs the handshake; its DialContext fits
// http.Transport.DialTLSContext.
type Dialer struct {
	// NetDialer dials the TCP connection; nil means a zero net.Dialer.
	NetDialer *net.Dialer
	// Config is the template; ServerName is taken from the address when empty.
	Config *Config
}

// DialContext connects to addr and completes the handshake within ctx.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	panic("TODO")
}
