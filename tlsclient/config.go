package tlsclient

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/tlsoffload/tlsoffload/handshake"
)

// Config configures a client. A Config may be shared by many connections
// and must not be modified after first use.
type Config struct {
	// Offloader does the public-key work (offloader/client.Client over
	// the PSK channel). Required.
	Offloader Offloader

	// ServerName is sent in SNI and is the name the offloader verifies the
	// certificate for. SNI is sent only for DNS names, never IP literals.
	ServerName string

	// CipherSuites, in preference order; nil means the default list:
	// handshake.Suites, in its order but with ChaCha20-Poly1305 before
	// AES-GCM where AEADPreference says so. Only suites of the table are
	// accepted.
	CipherSuites []uint16
	// AEADPreference orders the default list (it does nothing when
	// CipherSuites is set): AEADAuto, the zero value, puts AES-GCM first on
	// a CPU with AES and carry-less multiply instructions and
	// ChaCha20-Poly1305 first elsewhere (suiteorder.go).
	AEADPreference AEADPreference
	// Groups for ECDHE, in preference order; nil: X25519, P-256, P-384.
	Groups []uint16
	// SignatureAlgorithms offered; nil: the default list.
	SignatureAlgorithms []uint16
	// MinVersion and MaxVersion bound the versions offered: TLS 1.0
	// (0x0301) to TLS 1.2 (0x0303); zero means TLS 1.2 for both, so TLS
	// 1.0 and 1.1 are off unless MinVersion lowers it (RFC 8996), and the
	// device's policy on the offloader must allow them too. See versions.go.
	MinVersion, MaxVersion uint16

	// NextProtos is the ALPN list, e.g. {"h2", "http/1.1"}.
	NextProtos []string

	// Rand is the source of client randoms and session ids; nil means
	// crypto/rand.
	Rand io.Reader
	// Time returns the current time; nil means time.Now.
	Time func() time.Time

	// Trace, when set, receives a line for each handshake step (ocurl -v
	// prints them; offloader/client.Config.Trace has the offloader's).
	Trace func(format string, args ...any)

	// ShapeClientHello, when set, may rewrite the ClientHello before it is
	// sent (reorder or add extensions, e.g. from a uTLS spec). The client
	// still checks the ServerHello against what was actually sent.
	ShapeClientHello func(*handshake.ClientHello) error

	// SessionCache keeps sessions for resumption (session ids and RFC
	// 5077 tickets): a resumed handshake makes no offloader call. Nil
	// means no resumption. See session.go and resume.go.
	SessionCache ClientSessionCache
	// SessionTTL bounds how long a session is offered after its full
	// handshake; zero means DefaultSessionTTL (24h). A ticket's lifetime
	// hint shortens it.
	SessionTTL time.Duration
	// ResumeWithoutEMS also keeps and offers sessions whose master secret
	// is not the extended one (RFC 7627 §5.3 says a client SHOULD NOT:
	// such a resumption is open to the triple-handshake attack). For
	// legacy servers only.
	ResumeWithoutEMS bool

	// MaxFragmentLength, when set, offers RFC 6066 max_fragment_length:
	// 512, 1024, 2048 or 4096 (anything else is a Config error). If the
	// server echoes it, records both ways carry at most that much
	// plaintext and the record buffers stay that small; see mfl.go.
	MaxFragmentLength int
	// RequireMaxFragmentLength fails the handshake with
	// *MaxFragmentLengthError when the server does not echo it.
	RequireMaxFragmentLength bool

	// DisableStatusRequest stops the client offering status_request
	// (RFC 6066 §8), which it offers by default so that a server staples
	// its OCSP response for the offloader to check. Without it no server
	// staples, and the offloader refuses a must-staple (RFC 7633)
	// certificate.
	DisableStatusRequest bool

	// DiscardPeerCertificates drops the server's chain once the handshake
	// is done: ConnectionState's PeerCertificates and Verified.Chain are
	// then nil, on resumption too, as the sessions kept hold no chain.
	// The offloader has verified the chain; a device that never looks at
	// it saves its size on every connection (about 2 KB for a leaf and an
	// intermediate, more than a third of what an idle connection keeps).
	DiscardPeerCertificates bool
}

func (c *Config) rand() io.Reader {
	if c.Rand != nil {
		return c.Rand
	}
	return rand.Reader
}

func (c *Config) now() time.Time {
	if c.Time != nil {
		return c.Time()
	}
	return time.Now()
}

// trace reports to Trace. Its callers with arguments test Trace first:
// the arguments are boxed into the variadic slice even when Trace is nil,
// a few allocations per handshake for nothing.
func (c *Config) trace(format string, args ...any) {
	if c.Trace != nil {
		c.Trace(format, args...)
	}
}

func (c *Config) cipherSuites() ([]uint16, error) {
	if c.CipherSuites == nil {
		if c.AEADPreference > AEADPreferChaCha20 {
			return nil, errors.New("tlsclient: Config.AEADPreference is not one of AEADAuto, AEADPreferAESGCM, AEADPreferChaCha20")
		}
		return defaultCipherSuites(c.AEADPreference.chachaFirst(aesGCMHardware)), nil
	}
	for _, id := range c.CipherSuites {
		if handshake.SuiteByID(id) == nil {
			return nil, errors.New("tlsclient: Config.CipherSuites: suite " + hex16(id) + " is not implemented")
		}
	}
	if len(c.CipherSuites) == 0 {
		return nil, errors.New("tlsclient: Config.CipherSuites is empty")
	}
	return c.CipherSuites, nil
}

func (c *Config) groups() []uint16 {
	if c.Groups != nil {
		return c.Groups
	}
	return handshake.DefaultGroups
}

func (c *Config) signatureAlgorithms() []uint16 {
	if c.SignatureAlgorithms != nil {
		return c.SignatureAlgorithms
	}
	return handshake.DefaultSignatureAlgorithms
}

// offer is what the ClientHello would offer to serverName (a name from
// verifyName) before the offloader's Start, checking the Config on the way.
func (c *Config) offer(serverName string) (Offer, error) {
	if c.Offloader == nil {
		return Offer{}, errors.New("tlsclient: Config.Offloader is required")
	}
	if serverName == "" {
		return Offer{}, errors.New("tlsclient: Config.ServerName is required (an IP literal for an IP address target)")
	}
	versions, err := c.versions()
	if err != nil {
		return Offer{}, err
	}
	if _, err := c.maxFragmentCode(); err != nil {
		return Offer{}, err
	}
	suites, err := c.cipherSuites()
	if err != nil {
		return Offer{}, err
	}
	if suites = suitesForVersions(suites, versions); len(suites) == 0 {
		return Offer{}, errors.New("tlsclient: Config.CipherSuites: no suite allowed in " + versionNames(versions))
	}
	return Offer{
		Versions:            versions,
		CipherSuites:        suites,
		Groups:              c.groups(),
		SignatureAlgorithms: c.signatureAlgorithms(),
	}, nil
}

// verifyName is the name the offloader verifies: the server name without a
// trailing dot (an IP literal unchanged).
func verifyName(serverName string) string {
	return strings.TrimSuffix(serverName, ".")
}

// sniName is the name sent in server_name: empty for an IP literal (RFC
// 6066 §3 allows DNS host names only), bare or in the brackets of an IPv6
// literal in a URL, as crypto/tls takes them; without a trailing dot
// otherwise.
func sniName(serverName string) string {
	name := verifyName(serverName)
	ip := name
	if len(ip) > 1 && ip[0] == '[' && ip[len(ip)-1] == ']' {
		ip = ip[1 : len(ip)-1]
	}
	if net.ParseIP(ip) != nil {
		return ""
	}
	return name
}

// start returns what the ClientHello offers to serverName: the Config's
// lists as far as the offloader's Start allows them.
func (c *Config) start(ctx context.Context, serverName string) (Offer, error) {
	offer, err := c.offer(verifyName(serverName))
	if err != nil {
		return Offer{}, err
	}
	allowed, err := c.Offloader.Start(ctx, verifyName(serverName), offer)
	if err != nil {
		return Offer{}, &OffloaderError{Op: "start", Err: err}
	}
	return narrow(offer, allowed)
}

// narrow intersects a Start answer with the offer, keeping the offer's
// order, and checks something usable is left.
func narrow(offer, allowed Offer) (Offer, error) {
	p := Offer{
		Versions:            intersect(offer.Versions, allowed.Versions),
		CipherSuites:        intersect(offer.CipherSuites, allowed.CipherSuites),
		Groups:              intersect(offer.Groups, allowed.Groups),
		SignatureAlgorithms: intersect(offer.SignatureAlgorithms, allowed.SignatureAlgorithms),
	}
	if len(p.Versions) == 0 {
		return Offer{}, &OffloaderError{Op: "start", Err: errors.New("none of " + versionNames(offer.Versions) + " allowed for this server")}
	}
	if len(p.CipherSuites) == 0 {
		return Offer{}, &OffloaderError{Op: "start", Err: errors.New("no cipher suite allowed for this server")}
	}
	if len(p.SignatureAlgorithms) == 0 {
		return Offer{}, &OffloaderError{Op: "start", Err: errors.New("no signature algorithm allowed for this server")}
	}
	return p, nil
}

func intersect(want, allowed []uint16) []uint16 {
	out := make([]uint16, 0, min(len(want), len(allowed)))
	for _, v := range want {
		if slices.Contains(allowed, v) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
