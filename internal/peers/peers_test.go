package peers

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

var (
	pkiOnce sync.Once
	pki     *testpki.PKI
	leaf    *testpki.Leaf
	pkiErr  error
)

func testLeaf(t *testing.T) (*testpki.PKI, *testpki.Leaf) {
	t.Helper()
	pkiOnce.Do(func() {
		if pki, pkiErr = testpki.New(time.Now()); pkiErr == nil {
			leaf, pkiErr = pki.Issue([]string{"localhost", "127.0.0.1"}, testpki.ECDSAP256, testpki.Good)
		}
	})
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pki, leaf
}

// handshake dials addr with crypto/tls trusting the test root and checks
// that the server presents the test leaf: the peer reached is the one
// started, not whoever else listens on the port.
func handshake(t *testing.T, addr string) {
	t.Helper()
	p, l := testLeaf(t)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr,
		&tls.Config{RootCAs: p.Roots, ServerName: "localhost", MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.ConnectionState().PeerCertificates[0]; !got.Equal(l.Cert) {
		t.Fatalf("server presented %v, want the test leaf", got.Subject)
	}
}

// holdPort listens on a loopback port for the test, as another process
// could between freePort and the peer's bind.
func holdPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func TestOpenSSL(t *testing.T) {
	_, l := testLeaf(t)
	srv := StartOpenSSL(t, OpenSSL{Leaf: l, Args: []string{"-www"}})
	handshake(t, srv.Addr)
}

func TestGnuTLS(t *testing.T) {
	_, l := testLeaf(t)
	dir := t.TempDir()
	chain, key, err := l.WriteFiles(dir, "server")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--http", "--x509certfile", chain, "--x509keyfile", key, "--disable-client-cert"}
	srv := StartGnuTLS(t, args...)
	handshake(t, srv.Addr)

	// gnutls-serv keeps running on IPv6 when its IPv4 port is taken: the
	// attempt must see that and give up the port.
	if _, err := gnutlsOn(t, Require(t, "gnutls-serv"), holdPort(t), args); !errors.Is(err, errPortTaken) {
		t.Fatalf("gnutls-serv on a taken port: %v, want errPortTaken", err)
	}
}

func TestNginx(t *testing.T) {
	_, l := testLeaf(t)
	dir := t.TempDir()
	chain, key, err := l.WriteFiles(dir, "server")
	if err != nil {
		t.Fatal(err)
	}
	server := "ssl_certificate " + chain + ";\n    ssl_certificate_key " + key + ";\n    location / { return 200 \"hi\\n\"; }"
	srv := StartNginx(t, dir, "", server)
	handshake(t, srv.Addr)

	// nginx retries a taken port for seconds before it exits; meanwhile a
	// connection succeeds to whoever holds it.
	again := t.TempDir()
	cmdFor := nginxCmd(t, Require(t, "nginx"), again, "", server)
	if _, err := polledOn(t, holdPort(t), cmdFor); !errors.Is(err, errPortTaken) {
		t.Fatalf("nginx on a taken port: %v, want errPortTaken", err)
	}
}

func TestGo(t *testing.T) {
	_, l := testLeaf(t)
	addr := StartGo(t, &tls.Config{Certificates: []tls.Certificate{l.TLSCertificate()}})
	handshake(t, addr)
	p, _ := testLeaf(t)
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: p.Roots, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo %q, %v", buf, err)
	}
}
