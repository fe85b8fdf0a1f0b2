package main

import (
	"fmt"

	"github.com/tlsoffload/tlsoffload/handshake"
)

// parseMinVersion reads a device's min_version: "1.0", "1.1" or "1.2";
// empty means TLS 1.2 (TLS 1.0 and 1.1 are off unless a device lowers it,
// RFC 8996).
func parseMinVersion(v string) (uint16, error) {
	switch v {
	case "", "1.2":
		return handshake.VersionTLS12, nil
	case "1.1":
		return handshake.VersionTLS11, nil
	case "1.0":
		return handshake.VersionTLS10, nil
	}
	return 0, fmt.Errorf("%q is not a TLS version: use \"1.0\", \"1.1\" or \"1.2\"", v)
}
