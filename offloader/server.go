// Package offloader is the offloader service: it holds the registry of
// devices (PSK, trust roots, allowed server names), opens PSK channels with
// them, and runs the four operations of package wire on handshake
// transcripts the devices send. It keeps no secret after it answers; state
// between the sequential mode's requests travels as a sealed token. No
// device-side package imports this one.
//
// CONTRACT: the exported API in this file is relied on by cmd/offloader,
// cmd/ocurl (embedded offloader) and integration tests; implementations may
// change, signatures may not without updating every caller.
package offloader

import (
	"context"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// Device is one registry entry.
type Device struct {
	ID  string
	PSK []byte
	// Roots verifies this device's servers; nil means the system roots.
	Roots *x509.CertPool
	// AllowedNames are MatchName patterns (certs.MatchName); empty allows none.
	AllowedNames []string
}

// Registry holds the devices. It is safe for concurrent use; devices may be
// added or removed (a lost device's PSK revoked) while serving.
type Registry struct {
	// TODO
}

func NewRegistry() *Registry                         { panic("TODO") }
func (r *Registry) Add(d Device) error               { panic("TODO") } // validates id and PSK length
func (r *Registry) Remove(id string)                 { panic("TODO") }
func (r *Registry) Lookup(id string) (*Device, bool) { panic("TODO") }

// Config configures a Server.
type Config struct {
	Registry *Registry
	// Metrics receives the server's collectors; nil means none are registered.
	Metrics *prometheus.Registry
	// Logger; nil means slog.Default(). Never given secrets.
	Logger *slog.Logger
	// MaxInFlight bounds flights being processed at once (0: 64); past it a
	// flight is answered StatusRateLimited.
	MaxInFlight int
	// FrameTimeout bounds reading one frame once its first byte arrived and
	// writing one frame (0: 10s); IdleTimeout closes a silent channel (0: 5m).
	FrameTimeout, IdleTimeout time.Duration
	// TokenKey seals sequential-mode state; replicas behind one load
	// balancer share it. nil: a random key per process. 32 bytes.
	TokenKey []byte
	// TokenTTL bounds a token's life (0: 30s).
	TokenTTL time.Duration
	// StartTTL is told to devices as the life of a Start answer (0: 5m).
	StartTTL time.Duration
	Rand     io.Reader        // nil: crypto/rand
	Time     func() time.Time // nil: time.Now
}

// Server is the offloader. Serve and ServeConn may be called from many
// goroutines.
type Server struct {
	// TODO
}

func New(cfg Config) (*Server, error) { panic("TODO") }

// Serve accepts channels on l until Close. plaintextOK declares the
// listener's path secure (a unix socket or loopback), allowing devices to
// open plaintext channels on it.
func (s *Server) Serve(l net.Listener, plaintextOK bool) error { panic("TODO") }

// ServeConn runs one channel to completion.
func (s *Server) ServeConn(ctx context.Context, conn net.Conn, plaintextOK bool) { panic("TODO") }

// Do runs one flight for an authenticated device: the transport-agnostic
// core that ServeConn calls for each frame.
func (s *Server) Do(ctx context.Context, deviceID string, f *wire.Flight) *wire.FlightResponse {
	panic("TODO")
}

// Close stops Serve loops and closes open channels.
func (s *Server) Close() error { panic("TODO") }

// Local returns an in-process tlsclient.Offloader for one device that calls
// Do directly, with no channel: for unit tests only.
func (s *Server) Local(deviceID string) *LocalOffloader { return &LocalOffloader{s: s, id: deviceID} }

// LocalOffloader implements tlsclient.Offloader in process.
type LocalOffloader struct {
	s  *Server
	id string
}

func (l *LocalOffloader) Do(ctx context.Context, f *wire.Flight) (*wire.FlightResponse, error) {
	return l.s.Do(ctx, l.id, f), nil
}
