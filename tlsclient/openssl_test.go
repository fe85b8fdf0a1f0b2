package tlsclient_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/internal/peers"
	. "github.com/tlsoffload/tlsoffload/tlsclient"
)

// opensslServer runs `openssl s_server` on loopback with leaf's chain and
// key, an openssl.cnf whose Options line is sslOptions (none if empty), and
// args (the version flag, -www, ...), and returns its address once it
// accepts. It skips when openssl is missing, unless
// TLSOFFLOAD_REQUIRE_PEERS=1 (integration/ runs the real-peer matrix in CI).
func opensslServer(t *testing.T, leaf *testpki.Leaf, sslOptions string, args ...string) string {
	t.Helper()
	return peers.StartOpenSSL(t, peers.OpenSSL{Leaf: leaf, Options: sslOptions, Args: args}).Addr
}

// startOpenSSL runs `openssl s_server -www` for TLS 1.2 with the test RSA
// leaf; sslOptions may switch options off in openssl.cnf.
func startOpenSSL(t *testing.T, sslOptions string) string {
	return opensslServer(t, getRealEnv(t).rsa, sslOptions, "-tls1_2", "-www")
}

// TestExtendedMasterSecret runs against OpenSSL with the extension on and
// off (crypto/tls always negotiates it): the offloader must derive the
// master secret the server did either way, or the Finished fails.
func TestExtendedMasterSecret(t *testing.T) {
	for _, tc := range []struct {
		name    string
		options string
		ems     bool
	}{{"on", "", true}, {"off", "-ExtendedMasterSecret", false}} {
		t.Run(tc.name, func(t *testing.T) {
			addr := startOpenSSL(t, tc.options)
			cfg, _ := getRealEnv(t).config(t)
			cfg.ServerName = ""
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			nc, err := (&Dialer{Config: cfg}).DialContext(ctx, "tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			c := nc.(*Conn)
			c.SetDeadline(time.Now().Add(20 * time.Second))
			if _, err := io.WriteString(c, "GET / HTTP/1.0\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			page, err := io.ReadAll(c)
			if err != nil && len(page) == 0 {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(page, []byte("HTTP/1.0 200 ok")) {
				t.Errorf("page starts %q", page[:min(len(page), 40)])
			}
			if got := c.ConnectionState().TLSUnique != nil; got != tc.ems {
				t.Errorf("extended master secret negotiated = %v, want %v", got, tc.ems)
			}
		})
	}
}
