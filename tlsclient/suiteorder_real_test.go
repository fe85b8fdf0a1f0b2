package tlsclient_test

import (
	"testing"

	"github.com/tlsoffload/tlsoffload/handshake"
	. "github.com/tlsoffload/tlsoffload/tlsclient"
)

// TestAEADPreferenceAgainstGoServer: Go's crypto/tls server takes
// ChaCha20-Poly1305 when the client lists it before AES-GCM, AES-GCM when
// the client lists that first (whatever the server's own hardware, as the
// server honours a client that prefers ChaCha20). So the suite a real
// server negotiates shows the order the device sent: the override, and
// the hardware's answer, injected both ways.
func TestAEADPreferenceAgainstGoServer(t *testing.T) {
	e := getRealEnv(t)
	addr := serveTLS(t, tlsServerConfig(e.ecdsa), echo)
	for _, tc := range []struct {
		name string
		hw   bool
		pref AEADPreference
		want uint16
	}{
		{"auto, AES hardware", true, AEADAuto, handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		{"auto, no AES hardware", false, AEADAuto, handshake.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
		{"ChaCha20 on AES hardware", true, AEADPreferChaCha20, handshake.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
		{"AES-GCM without AES hardware", false, AEADPreferAESGCM, handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			SetAESGCMHardware(t, tc.hw)
			cfg, _ := e.config(t)
			cfg.AEADPreference = tc.pref
			c := dialClient(t, addr, cfg)
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			if got := c.ConnectionState().CipherSuite; got != tc.want {
				t.Errorf("negotiated %#04x, want %#04x", got, tc.want)
			}
			echoBothWays(t, c)
			c.Close()
		})
	}
}
