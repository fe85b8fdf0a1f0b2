package tlsclient

import (
	"errors"
	"slices"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/record"
)

// Protocol versions (RFC 8996, RFC 8446 §4.1.3). TLS 1.0 and 1.1 are off
// by default: a Config enables them by lowering MinVersion, and the
// device's policy on the offloader must allow them too (Start answers only
// the versions the policy allows, and Auth refuses any other). The
// ClientHello offers the highest version allowed; the ServerHello's version
// must be one of those allowed, or the handshake fails with
// protocol_version. When TLS 1.2 was offered and the server chose 1.1 or
// 1.0 with the downgrade sentinel DOWNGRD\x00 at the end of its random,
// the handshake fails with illegal_parameter. TLS_FALLBACK_SCSV (RFC 7507)
// is never sent: the client never retries with a lower version.
//
// Below TLS 1.2 the PRF is MD5 ⊕ SHA-1, the handshake hash MD5 || SHA-1,
// the ServerKeyExchange and CertificateRequest have their older forms, and
// only the CBC _SHA suites may be negotiated (handshake.Suite.AllowedIn).

// versions returns the versions the Config allows, highest first: TLS 1.0
// to 1.2, TLS 1.2 alone by default. A bound outside 1.0..1.2, or a minimum
// above the maximum, is an error rather than silently narrowed.
func (c *Config) versions() ([]uint16, error) {
	min, max := c.MinVersion, c.MaxVersion
	if min == 0 {
		min = handshake.VersionTLS12
	}
	if max == 0 {
		max = handshake.VersionTLS12
	}
	for _, b := range []struct {
		name string
		v    uint16
	}{{"MinVersion", min}, {"MaxVersion", max}} {
		if b.v < handshake.VersionTLS10 || b.v > handshake.VersionTLS12 {
			return nil, errors.New("tlsclient: Config." + b.name + " " + hex16(b.v) + " not supported: TLS 1.0 (0x0301) to TLS 1.2 (0x0303)")
		}
	}
	if min > max {
		return nil, errors.New("tlsclient: Config.MinVersion " + hex16(min) + " is above MaxVersion " + hex16(max))
	}
	var out []uint16
	for v := max; v >= min; v-- {
		out = append(out, v)
	}
	return out, nil
}

// suitesForVersions keeps the suites that may be negotiated in some
// version of versions (a suite allowed from version m up to TLS 1.2 is
// usable iff the highest version is at least m), in order.
func suitesForVersions(ids, versions []uint16) []uint16 {
	max := maxVersion(versions)
	var out []uint16
	for _, id := range ids {
		if s := handshake.SuiteByID(id); s != nil && s.AllowedIn(max) {
			out = append(out, id)
		}
	}
	return out
}

func maxVersion(versions []uint16) uint16 {
	if len(versions) == 0 {
		return 0
	}
	return slices.Max(versions)
}

// version is the negotiated version once the ServerHello is read.
func (hs *clientHandshakeState) version() uint16 { return hs.serverHello.Version }

// helloVersion is ClientHello.client_version: the highest version allowed.
func (hs *clientHandshakeState) helloVersion() uint16 { return maxVersion(hs.params.Versions) }

// checkServerVersion checks the ServerHello's version against the versions
// offered (RFC 5246 Appendix E.1) and the downgrade sentinel (RFC 8446
// §4.1.3).
func (hs *clientHandshakeState) checkServerVersion() error {
	sh := hs.serverHello
	if !slices.Contains(hs.params.Versions, sh.Version) {
		return hs.fail(record.AlertProtocolVersion, "server chose version "+hex16(sh.Version)+", which was not offered ("+versionNames(hs.params.Versions)+")", nil)
	}
	if downgraded(hs.helloVersion(), sh.Version, sh.Random) {
		return hs.fail(record.AlertIllegalParameter, "server random signals a downgrade", nil)
	}
	return nil
}

// checkSuiteVersion refuses a suite the negotiated version does not allow
// (an AEAD or SHA-256/384 suite below TLS 1.2).
func (hs *clientHandshakeState) checkSuiteVersion() error {
	if !hs.suite.AllowedIn(hs.version()) {
		return hs.fail(record.AlertIllegalParameter, "server chose "+hs.suite.Name+", which is not allowed in version "+hex16(hs.version()), nil)
	}
	return nil
}

// finishedVerifyData is verify_data for the client or the server with the
// negotiated version's PRF over the transcript so far.
func (hs *clientHandshakeState) finishedVerifyData(client bool) []byte {
	return hs.suite.FinishedVerifyData(hs.version(), hs.master, client, hs.transcript.Sum())
}

// versionNames lists vs for an error message: "TLS 1.2, TLS 1.1" (by
// hand: strings.Join, the device's only use of it with opsOf's, costs a
// device program 3 KB).
func versionNames(vs []uint16) string {
	var b []byte
	for i, v := range vs {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, versionName(v)...)
	}
	return string(b)
}

func versionName(v uint16) string {
	switch v {
	case handshake.VersionTLS10:
		return "TLS 1.0"
	case handshake.VersionTLS11:
		return "TLS 1.1"
	case handshake.VersionTLS12:
		return "TLS 1.2"
	case handshake.VersionTLS13:
		return "TLS 1.3"
	}
	return hex16(v)
}
