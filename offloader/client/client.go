// Package client is the device's side of the offloader protocol: one
// long-lived PSK channel per offloader address, flights multiplexed on it by
// id, reconnection on failure and fail-over across addresses, every call
// bound to the caller's context. It implements tlsclient.Offloader and
// imports no server code.
//
// CONTRACT: the exported API in this file is relied on by tlsclient users,
// cmd/ocurl and integration tests; implementations may change, signatures
// may not without updating every caller.
package client

import (
	"context"
	"io"
	"net"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// Config configures a Client.
type Config struct {
	// Addrs are offloader addresses tried in order ("host:port" or
	// "unix:/path"); at least one.
	Addrs    []string
	DeviceID string
	PSK      []byte
	// Plaintext asks for a plaintext channel (only a path the offloader
	// declares secure accepts it).
	Plaintext bool
	// Dial overrides how an address is reached (tests, the embedded
	// offloader over net.Pipe); nil means net.Dialer.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// DialTimeout bounds connecting and opening one channel (0: 5s).
	DialTimeout time.Duration
	Rand        io.Reader // nil: crypto/rand
}

// Client is safe for concurrent use.
type Client struct {
	// TODO
}

func New(cfg Config) (*Client, error) { panic("TODO") }

// Do sends the flight and waits for its answer or ctx. A transport failure
// fails the calls in flight on that channel, and the next call reconnects
// (trying the addresses in order). Errors: *wire.Error with
// StatusAuthFailed for a refused PSK; a wrapped net error for an offloader
// that is down; ctx.Err() when the context ends first.
func (c *Client) Do(ctx context.Context, f *wire.Flight) (*wire.FlightResponse, error) {
	panic("TODO")
}

// Close closes the channel; calls in flight fail.
func (c *Client) Close() error { panic("TODO") }
