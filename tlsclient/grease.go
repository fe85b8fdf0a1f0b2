package tlsclient

import (
	"github.com/tlsoffload/tlsoffload/record"
)

// GREASE (RFC 8701): a shaped ClientHello (Config.ShapeClientHello,
// tlsclient/fingerprint) may offer reserved values in its suites, groups,
// signature algorithms and extensions to keep servers tolerant. They are
// never meaningful: a server that selects one is broken or probing, and
// RFC 8701 §3.1 has the client refuse it although the value was offered.

// isGREASE reports a GREASE value: 0x?a?a with both nibbles equal
// (RFC 8701 §2).
func isGREASE(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>12 == (v>>4)&0xf }

// refuseGREASEServerHello fails the handshake on a ServerHello whose
// version, cipher suite or any extension type is a GREASE value.
func (hs *clientHandshakeState) refuseGREASEServerHello() error {
	sh := hs.serverHello
	if isGREASE(sh.Version) {
		return hs.fail(record.AlertIllegalParameter, "server chose GREASE version "+hex16(sh.Version), nil)
	}
	if isGREASE(sh.CipherSuite) {
		return hs.fail(record.AlertIllegalParameter, "server chose GREASE cipher suite "+hex16(sh.CipherSuite), nil)
	}
	for _, t := range sh.Extensions {
		if isGREASE(t) {
			return hs.fail(record.AlertUnsupportedExtension, "server sent GREASE extension "+hex16(t), nil)
		}
	}
	return nil
}

// refuseGREASEKeyExchange fails the handshake on a ServerKeyExchange that
// names a GREASE group or signature algorithm.
func (hs *clientHandshakeState) refuseGREASEKeyExchange(group, sigAlg uint16) error {
	if isGREASE(group) {
		return hs.fail(record.AlertIllegalParameter, "server chose GREASE group "+hex16(group), nil)
	}
	if isGREASE(sigAlg) {
		return hs.fail(record.AlertIllegalParameter, "server signed with GREASE scheme "+hex16(sigAlg), nil)
	}
	return nil
}
