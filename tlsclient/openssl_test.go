package tlsclient

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
)

// startOpenSSL runs `openssl s_server -www` for TLS 1.2 with the test RSA
// leaf; extra openssl.cnf lines may switch options off. It returns the
// address once the server accepts connections.
func startOpenSSL(t *testing.T, sslOptions string) string {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed (integration/ covers it in CI)")
	}
	e := getRealEnv(t)
	dir := t.TempDir()
	certFile, keyFile, err := e.rsa.WriteFiles(dir, "server")
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "openssl.cnf")
	cnf := "openssl_conf = default_conf\n[default_conf]\nssl_conf = ssl_sect\n[ssl_sect]\nsystem_default = sys\n[sys]\n"
	if sslOptions != "" {
		cnf += "Options = " + sslOptions + "\n"
	}
	if err := os.WriteFile(conf, []byte(cnf), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "s_server", "-accept", addr, "-tls1_2", "-www", "-quiet",
		"-cert", certFile, "-cert_chain", certFile, "-key", keyFile)
	cmd.Env = append(os.Environ(), "OPENSSL_CONF="+conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
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
