package tlsclient

import (
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

// Helpers of the package's internal tests, which play the server by script
// and the offloader in process (scriptOffloader). The tests against real
// servers and the real offloader are in package tlsclient_test.

// testServerName is the name the test leaves are issued for.
const testServerName = "server.test"

var (
	leafOnce sync.Once
	leaf     *testpki.Leaf
	leafErr  error
)

// goTLSServerConfig is a crypto/tls server configuration for TLS 1.2 with
// an ECDSA leaf for testServerName (from a test PKI made once).
func goTLSServerConfig(t testing.TB) *tls.Config {
	t.Helper()
	leafOnce.Do(func() {
		var pki *testpki.PKI
		if pki, leafErr = testpki.New(time.Now()); leafErr == nil {
			leaf, leafErr = pki.Issue([]string{testServerName}, testpki.ECDSAP256, testpki.Good)
		}
	})
	if leafErr != nil {
		t.Fatal(leafErr)
	}
	return &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}, MaxVersion: tls.VersionTLS12}
}

func dialClient(t testing.TB, addr string, cfg *Config) *Conn {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	raw.SetDeadline(time.Now().Add(20 * time.Second))
	return Client(raw, cfg)
}
