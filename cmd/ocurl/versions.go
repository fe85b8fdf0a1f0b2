package main

import (
	"fmt"

	"github.com/tlsoffload/tlsoffload/handshake"
)

// The TLS version flags, as curl spells them: --tlsv1.0, --tlsv1.1 and
// --tlsv1.2 set the lowest version allowed (-1 / --tlsv1 is --tlsv1.0),
// --tls-max the highest. Without them only TLS 1.2 is offered: TLS 1.0 and
// 1.1 are deprecated (RFC 8996). The embedded offloader's device policy
// follows the minimum asked for; a separate offloader (--offloader) applies
// its own per-device min_version.

const (
	tls10 = handshake.VersionTLS10
	tls11 = handshake.VersionTLS11
	tls12 = handshake.VersionTLS12
)

// parseTLSMax reads --tls-max: 1.0, 1.1, 1.2 or "default" (1.2). curl's
// 1.3 is refused: tlsoffload speaks TLS 1.2 at most.
func parseTLSMax(v string) (uint16, error) {
	switch v {
	case "1.0":
		return tls10, nil
	case "1.1":
		return tls11, nil
	case "1.2", "default":
		return tls12, nil
	case "1.3":
		return 0, fmt.Errorf("%q: TLS 1.3 is not supported (1.2 at most)", v)
	}
	return 0, fmt.Errorf("%q is not 1.0, 1.1, 1.2 or default", v)
}

// checkVersions refuses a minimum above the maximum. --tls-max alone below
// 1.2 means that version only (the default minimum, 1.2, would leave none).
func checkVersions(o *options) error {
	if o.minVersion == 0 && o.maxVersion != 0 && o.maxVersion < tls12 {
		o.minVersion = o.maxVersion
	}
	min, max := o.minVersion, o.maxVersion
	if min == 0 {
		min = tls12
	}
	if max == 0 {
		max = tls12
	}
	if min > max {
		return usagef("--tls-max %s is below the minimum version %s", versionString(max), versionString(min))
	}
	return nil
}

func versionString(v uint16) string {
	return fmt.Sprintf("1.%d", v-tls10)
}
