package tlsclient_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	. "github.com/tlsoffload/tlsoffload/tlsclient"
)

// opensslServer runs `openssl s_server` on a free loopback port with leaf's
// chain and key, an openssl.cnf whose Options line is sslOptions (none if
// empty), and args (the version flag, -www, ...), and returns its address
// once it accepts. Its stderr is logged if the test fails. It skips when
// openssl is missing, unless TLSOFFLOAD_REQUIRE_PEERS=1 (integration/ runs
// the real-peer matrix in CI).
func opensslServer(t *testing.T, leaf *testpki.Leaf, sslOptions string, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("TLSOFFLOAD_REQUIRE_PEERS") == "1" {
			t.Fatal("openssl not installed and TLSOFFLOAD_REQUIRE_PEERS=1")
		}
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	certFile, keyFile, err := leaf.WriteFiles(dir, "server")
	if err != nil {
		t.Fatal(err)
	}
	cnf := "openssl_conf = default_conf\n[default_conf]\n"
	if sslOptions != "" {
		cnf += "ssl_conf = ssl_sect\n[ssl_sect]\nsystem_default = sys\n[sys]\nOptions = " + sslOptions + "\n"
	}
	conf := filepath.Join(dir, "openssl.cnf")
	if err := os.WriteFile(conf, []byte(cnf), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	argv := append([]string{"s_server", "-accept", addr, "-quiet",
		"-cert", certFile, "-cert_chain", certFile, "-key", keyFile}, args...)
	cmd := exec.Command(bin, argv...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OPENSSL_CONF="+conf)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("openssl stderr:\n%s", stderr.String())
		}
	})
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("openssl s_server did not start")
	return ""
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
