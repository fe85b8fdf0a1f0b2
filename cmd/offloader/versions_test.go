package main

import (
	"testing"

	"github.com/tlsoffload/tlsoffload/handshake"
)

// versionName is parseMinVersion's inverse for every version the config
// names, and gives the code point for others; "" is TLS 1.2.
func TestVersionNames(t *testing.T) {
	for _, name := range []string{"1.0", "1.1", "1.2"} {
		v, err := parseMinVersion(name)
		if err != nil || versionName(v) != name {
			t.Errorf("%q: parsed %#x (%v), named %q", name, v, err, versionName(v))
		}
	}
	if v, err := parseMinVersion(""); err != nil || v != handshake.VersionTLS12 {
		t.Errorf(`"": %#x, %v`, v, err)
	}
	if _, err := parseMinVersion("1.3"); err == nil {
		t.Error(`"1.3" parsed`)
	}
	if got := versionName(0x0304); got != "0x0304" {
		t.Errorf("TLS 1.3's code point named %q", got)
	}
}
