package main

import (
	"context"
	"net"
	"net/url"
)

// Behaviour of option families not yet wired in; each family's commit
// replaces its part of this file.

func (r *run) proxyFor(u *url.URL) (*url.URL, error) { return nil, nil }

func proxyAuth(proxy *url.URL, user string) string { return "" }

func (x *transfer) tunnel(ctx context.Context, c net.Conn, u, proxy *url.URL) error {
	return nil
}
