package main

import (
	"fmt"
	"strings"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/server"
)

// configVersions are the versions a device's min_version and max_version
// (and policy set's --min-version and --max-version) name.
var configVersions = []struct {
	name string
	v    uint16
}{{"1.0", handshake.VersionTLS10}, {"1.1", handshake.VersionTLS11}, {"1.2", handshake.VersionTLS12}}

// parseMinVersion reads a device's min_version: "1.0", "1.1" or "1.2";
// empty means TLS 1.2 (TLS 1.0 and 1.1 are off unless a device lowers it,
// RFC 8996).
func parseMinVersion(v string) (uint16, error) {
	if v == "" {
		return handshake.VersionTLS12, nil
	}
	for _, c := range configVersions {
		if c.name == v {
			return c.v, nil
		}
	}
	return 0, fmt.Errorf("%q is not a TLS version: use \"1.0\", \"1.1\" or \"1.2\"", v)
}

// versionName is a stored version as the config and policy set name it,
// parseMinVersion's inverse; the code point for any other.
func versionName(v uint16) string {
	for _, c := range configVersions {
		if c.v == v {
			return c.name
		}
	}
	return fmt.Sprintf("0x%04x", v)
}

// parseMaxVersion reads a device's max_version: "1.0", "1.1" or "1.2";
// empty means TLS 1.2, the highest the offloader implements.
func parseMaxVersion(v string) (uint16, error) {
	if v == "" {
		return 0, nil
	}
	return parseMinVersion(v)
}

// parseCipherSuite reads one of a device's cipher_suites: a suite's IANA
// name as the handshake package's table spells it (which is also how Go's
// crypto/tls.CipherSuiteName spells it), case aside; Go's older
// ChaCha20-Poly1305 constant names, without "_SHA256", are accepted too.
func parseCipherSuite(name string) (uint16, error) {
	for _, s := range handshake.Suites {
		if strings.EqualFold(name, s.Name) ||
			(strings.HasSuffix(s.Name, "_CHACHA20_POLY1305_SHA256") && strings.EqualFold(name+"_SHA256", s.Name)) {
			return s.ID, nil
		}
	}
	return 0, fmt.Errorf("%q is not a cipher suite the offloader implements (docs/OFFLOADER.md lists them)", name)
}

// parseKeyExchange reads one of a device's key_exchanges (a policy's
// --key-exchange): ecdhe_rsa, ecdhe_ecdsa or rsa, case aside.
func parseKeyExchange(name string) (handshake.KeyExchange, error) {
	kx, ok := server.ParseKeyExchange(strings.ToLower(name))
	if !ok {
		return 0, fmt.Errorf("%q is not a key exchange: use ecdhe_rsa, ecdhe_ecdsa or rsa", name)
	}
	return kx, nil
}
