// Package offloadtest gives tests an in-process offloader made of the real
// parts: offloader/server's core and an offloader/client Client, joined by
// net.Pipe with the PSK channel between them. A test so runs the protocol a
// device runs, down to the sealed frames, with no socket and no process.
package offloadtest

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"testing"

	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/offloader/server"
)

// PSK is the pre-shared key of a device given without one.
var PSK = bytes.Repeat([]byte{0x5a}, 32)

// Offloader is a Client of its own Server: a tlsclient.Offloader.
type Offloader struct {
	*client.Client
	Server *server.Server
}

// New starts a server whose registry holds dev, and returns a client for
// dev configured by cfg (its Addrs, DeviceID, PSK and Dial are set here).
// Both stop when the test ends.
func New(t testing.TB, dev server.Device, cfg client.Config) *Offloader {
	t.Helper()
	o, err := Start(server.Config{}, dev, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

// Start is New for a program without a testing.TB (an example): srvCfg
// configures the server (its Registry and a silent Logger are set here),
// and Close stops both.
func Start(srvCfg server.Config, dev server.Device, cfg client.Config) (*Offloader, error) {
	srv, err := newServer(srvCfg, dev)
	if err != nil {
		return nil, err
	}
	c, err := dial(srv, dev, cfg)
	if err != nil {
		srv.Close()
		return nil, err
	}
	return &Offloader{Client: c, Server: srv}, nil
}

// Close closes the client, then the server.
func (o *Offloader) Close() error {
	o.Client.Close()
	return o.Server.Close()
}

// NewServer starts a server for devices (PSK for one without a key) with
// cfg, its Registry and a silent Logger set here; it closes when the test
// ends.
func NewServer(t testing.TB, cfg server.Config, devices ...server.Device) *server.Server {
	t.Helper()
	srv, err := newServer(cfg, devices...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func newServer(cfg server.Config, devices ...server.Device) (*server.Server, error) {
	reg := server.NewRegistry()
	for _, d := range devices {
		if err := reg.Add(withPSK(d)); err != nil {
			return nil, err
		}
	}
	cfg.Registry = reg
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return server.New(cfg)
}

// Dial returns a client for dev on srv over net.Pipe, configured by cfg
// (its Addrs, DeviceID, PSK and Dial are set here); it closes when the
// test ends.
func Dial(t testing.TB, srv *server.Server, dev server.Device, cfg client.Config) *client.Client {
	t.Helper()
	c, err := dial(srv, dev, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func dial(srv *server.Server, dev server.Device, cfg client.Config) (*client.Client, error) {
	dev = withPSK(dev)
	cfg.Addrs, cfg.DeviceID, cfg.PSK = []string{"pipe"}, dev.ID, dev.PSK
	cfg.Dial = func(ctx context.Context, addr string) (net.Conn, error) {
		devEnd, srvEnd := net.Pipe()
		go srv.ServeConn(context.Background(), srvEnd, false)
		return devEnd, nil
	}
	return client.New(cfg)
}

func withPSK(d server.Device) server.Device {
	if len(d.PSK) == 0 {
		d.PSK = PSK
	}
	return d
}

// Flights returns how many flights the server has run.
func (o *Offloader) Flights() uint64 { return Flights(o.Server) }

// Requests returns how many requests of op ("start", "auth", "keygen",
// "key") the server has run, whatever their result.
func (o *Offloader) Requests(op string) uint64 { return Requests(o.Server, op) }

// Flights returns how many flights srv has run.
func Flights(srv *server.Server) uint64 {
	f := srv.Stats().Flights
	return f.Sequential + f.Pipelined
}

// Requests returns how many requests of op srv has run.
func Requests(srv *server.Server, op string) uint64 {
	var n uint64
	for _, o := range srv.Stats().Ops {
		if o.Op == op {
			for _, c := range o.Results {
				n += c
			}
		}
	}
	return n
}
