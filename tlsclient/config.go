package tlsclient

import (
	"context"
	"io"
	"time"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// Offloader is the device's seam to its offloader: every public-key
// operation of a handshake goes through Do. offloader/client.Client
// implements it over the PSK channel; tests may use an in-process
// implementation (offloader.Local).
type Offloader interface {
	Do(ctx context.Context, f *wire.Flight) (*wire.FlightResponse, error)
}

// Config configures a client. A Config may be shared by many connections
// and must not be modified after first use.
type Config struct {
	// Offloader does the public-key work. Required.
	Offloader Offloader

	// ServerName is sent in SNI and is the name the offloader verifies the
	// certificate for. SNI is sent only for DNS names, never IP literals.
	ServerName string

	// CipherSuites, in preference order; nil means the default list
	// (handshake.Suites). Only suites of the table are accepted.
	CipherSuites []uint16
	// Groups for ECDHE, in preference order; nil: X25519, P-256, P-384.
	Groups []uint16
	// SignatureAlgorithms offered; nil: the default list.
	SignatureAlgorithms []uint16
	// MinVersion and MaxVersion; zero means TLS 1.2 for both.
	MinVersion, MaxVersion uint16

	// NextProtos is the ALPN list, e.g. {"h2", "http/1.1"}.
	NextProtos []string

	// Sequential makes the handshake send Auth, KeyGen and Key one at a
	// time (the patent's sequence) instead of one pipelined flight.
	Sequential bool

	// StartCache holds Start answers by server name; nil means a cache
	// private to this Config (made on first use).
	StartCache *StartCache

	// Rand is the source of client randoms and handshake ids; nil means
	// crypto/rand.
	Rand io.Reader
	// Time returns the current time; nil means time.Now.
	Time func() time.Time

	// Trace, when set, receives a line for each handshake step and each
	// offloader call with its duration (ocurl -v prints them).
	Trace func(format string, args ...any)

	// ShapeClientHello, when set, may rewrite the ClientHello before it is
	// sent (reorder or add extensions, e.g. from a uTLS spec). The client
	// still checks the ServerHello against what was actually sent.
	ShapeClientHello func(*handshake.ClientHello) error
}

// StartCache caches Start answers per server name for their TTL. It is safe
// for concurrent use.
type StartCache struct {
	// TODO
}

// NewStartCache returns an empty cache holding at most max names.
func NewStartCache(max int) *StartCache { panic("TODO") }
