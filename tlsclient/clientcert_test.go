package tlsclient_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/internal/offloadtest"
	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/offloader/server"
	. "github.com/tlsoffload/tlsoffload/tlsclient"
)

// Client certificates held by the offloader, against real servers: the
// device sends the offloader's Certificate and CertificateVerify and the
// server verifies them against the test root.

var (
	clientLeafMu sync.Mutex
	clientLeaves = map[testpki.KeyType]*testpki.Leaf{}
)

// deviceLeaf is a client certificate (clientAuth only) from the test PKI.
func deviceLeaf(t testing.TB, kt testpki.KeyType) *testpki.Leaf {
	t.Helper()
	e := getRealEnv(t)
	clientLeafMu.Lock()
	defer clientLeafMu.Unlock()
	if l, ok := clientLeaves[kt]; ok {
		return l
	}
	l, err := e.pki.Issue([]string{fmt.Sprintf("device-%d.clients.test", kt)}, kt, testpki.NoServerAuth)
	if err != nil {
		t.Fatal(err)
	}
	clientLeaves[kt] = l
	return l
}

// certOffloader is an in-process offloader whose device holds leaf (none
// when nil), keeping each key exchange's answer.
type certOffloader struct {
	*offloadtest.Offloader
	edit func(*ClientFlight) // changes answers, to play an odd offloader

	mu     sync.Mutex
	answer *ClientFlight
}

func (c *certOffloader) KeyExchange(ctx context.Context, f *ServerFlight) (*ClientFlight, error) {
	cf, err := c.Offloader.KeyExchange(ctx, f)
	if err != nil {
		return nil, err
	}
	if c.edit != nil {
		c.edit(cf)
	}
	c.mu.Lock()
	c.answer = cf
	c.mu.Unlock()
	return cf, nil
}

// sigAlg is the algorithm of the CertificateVerify the offloader returned, or 0.
func (c *certOffloader) sigAlg(t testing.TB) uint16 {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.answer == nil || c.answer.CertificateVerify == nil {
		return 0
	}
	var cv handshake.CertificateVerify
	if err := cv.Unmarshal(c.answer.CertificateVerify); err != nil {
		t.Fatal(err)
	}
	return cv.SignatureAlgorithm
}

func newCertOffloader(t testing.TB, leaf *testpki.Leaf, cc client.Config) *certOffloader {
	return newCertOffloaderMin(t, leaf, 0, cc)
}

// newCertOffloaderMin is newCertOffloader for a device allowed versions
// from minVersion (0: TLS 1.2).
func newCertOffloaderMin(t testing.TB, leaf *testpki.Leaf, minVersion uint16, cc client.Config) *certOffloader {
	t.Helper()
	e := getRealEnv(t)
	d := server.Device{ID: "cert-dev", Roots: e.pki.Roots, AllowedNames: []string{"*"}, MinVersion: minVersion}
	if leaf != nil {
		d.ClientCertificate, d.ClientKey = leaf.Chain, leaf.Key
	}
	cc.Trace = t.Logf
	return &certOffloader{Offloader: offloadtest.New(t, d, cc)}
}

func certConfig(t testing.TB, off *certOffloader) *Config {
	return &Config{Offloader: off, ServerName: testServerName, Trace: t.Logf}
}

// clientAuthServer runs a crypto/tls server asking for a client
// certificate in mode, trusting the test root; it reports the certificates
// each connection presented.
func clientAuthServer(t testing.TB, leaf *testpki.Leaf, mode tls.ClientAuthType) (addr string, seen chan []*x509.Certificate) {
	e := getRealEnv(t)
	scfg := tlsServerConfig(leaf)
	scfg.ClientAuth = mode
	scfg.ClientCAs = e.pki.Roots
	seen = make(chan []*x509.Certificate, 4)
	return serveTLS(t, scfg, func(c *tls.Conn) {
		seen <- c.ConnectionState().PeerCertificates
		echo(c)
	}), seen
}

func TestClientCertificateCryptoTLS(t *testing.T) {
	e := getRealEnv(t)
	for _, tc := range []struct {
		key     testpki.KeyType
		name    string
		wantAlg uint16 // crypto/tls lists rsa_pss_rsae_sha256 before PKCS #1
	}{
		{testpki.RSA2048, "rsa2048", handshake.SigRSAPSSRSAESHA256},
		{testpki.ECDSAP256, "p256", handshake.SigECDSAP256SHA256},
		{testpki.ECDSAP384, "p384", handshake.SigECDSAP384SHA384},
	} {
		for _, sequential := range []bool{false, true} {
			for _, serverLeaf := range []*testpki.Leaf{e.rsa, e.ecdsa} {
				t.Run(fmt.Sprintf("%s/sequential=%v/server=%s", tc.name, sequential, serverLeaf.Cert.PublicKeyAlgorithm), func(t *testing.T) {
					leaf := deviceLeaf(t, tc.key)
					addr, seen := clientAuthServer(t, serverLeaf, tls.RequireAndVerifyClientCert)
					off := newCertOffloader(t, leaf, client.Config{Sequential: sequential})
					c := dialClient(t, addr, certConfig(t, off))
					if err := c.Handshake(); err != nil {
						t.Fatal(err)
					}
					echoBothWays(t, c)
					if got := <-seen; len(got) == 0 || !got[0].Equal(leaf.Cert) {
						t.Fatalf("the server saw %d certificates, not the device's", len(got))
					}
					if got := off.sigAlg(t); got != tc.wantAlg {
						t.Errorf("CertificateVerify algorithm %#04x, want %#04x", got, tc.wantAlg)
					}
					want := uint64(2) // Start, then Auth+KeyGen+Key: still one round trip
					if sequential {
						want = 4
					}
					if n := off.Flights(); n != want {
						t.Errorf("%d offloader flights, want %d", n, want)
					}
				})
			}
		}
	}
}

// A device with no certificate answers with an empty one: a server that
// merely requests a certificate goes on, one that requires it refuses.
func TestNoClientCertificateConfigured(t *testing.T) {
	e := getRealEnv(t)
	for _, mode := range []tls.ClientAuthType{tls.RequestClientCert, tls.RequireAnyClientCert} {
		t.Run(mode.String(), func(t *testing.T) {
			addr, seen := clientAuthServer(t, e.rsa, mode)
			off := newCertOffloader(t, nil, client.Config{})
			c := dialClient(t, addr, certConfig(t, off))
			err := c.Handshake()
			if mode == tls.RequireAnyClientCert {
				if err == nil {
					t.Fatal("a server requiring a certificate accepted none")
				}
				t.Logf("refused as expected: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			echoBothWays(t, c)
			if got := <-seen; len(got) != 0 {
				t.Fatalf("the server saw %d certificates", len(got))
			}
			if off.answer == nil || !bytes.Equal(off.answer.Certificate, emptyCertificateMsg) {
				t.Fatal("the offloader did not answer with an empty Certificate")
			}
		})
	}
}

// emptyCertificateMsg is a Certificate message with no certificates.
var emptyCertificateMsg = (&handshake.Certificate{}).Marshal()

// The device checks the offloader's answer before sending it.
func TestClientCertificateBadAnswers(t *testing.T) {
	e := getRealEnv(t)
	leaf := deviceLeaf(t, testpki.ECDSAP256)
	certMsg := (&handshake.Certificate{Certificates: leaf.Chain}).Marshal()
	for _, tc := range []struct {
		name string
		mode tls.ClientAuthType // NoClientCert: the server asks for none
		edit func(cf *ClientFlight)
		want string
	}{
		{"certificate unasked", tls.NoClientCert, func(cf *ClientFlight) { cf.Certificate = certMsg }, "asked for none"},
		{"algorithm not requested", tls.RequestClientCert, func(cf *ClientFlight) {
			cf.CertificateVerify = (&handshake.CertificateVerify{SignatureAlgorithm: 0xfe00, Signature: []byte{1}}).Marshal()
		}, "did not ask for"},
		{"certificate without verify", tls.RequestClientCert, func(cf *ClientFlight) { cf.CertificateVerify = nil }, "CertificateVerify"},
		{"verify after no certificate", tls.RequestClientCert, func(cf *ClientFlight) { cf.Certificate = emptyCertificateMsg }, "without a client certificate"},
		{"certificate does not parse", tls.RequestClientCert, func(cf *ClientFlight) {
			cf.Certificate = []byte{handshake.TypeCertificate, 0, 0, 3, 0, 0, 9}
		}, "does not parse"},
		{"no answer to the request", tls.RequestClientCert, func(cf *ClientFlight) {
			cf.Certificate, cf.CertificateVerify = nil, nil
		}, "no answer to the server's CertificateRequest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := clientAuthServer(t, e.ecdsa, tc.mode)
			off := newCertOffloader(t, leaf, client.Config{})
			off.edit = tc.edit
			c := dialClient(t, addr, certConfig(t, off))
			err := c.Handshake()
			var oe *OffloaderError
			if !errors.As(err, &oe) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want an OffloaderError saying %q", err, tc.want)
			}
		})
	}
}

// OpenSSL's s_server -Verify 1 accepts the device's certificate for each
// key type and each signature form, chosen with -client_sigalgs, and names
// it on its status page.
func TestClientCertificateOpenSSL(t *testing.T) {
	e := getRealEnv(t)
	rootFile, err := e.pki.WriteRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		key     testpki.KeyType
		sigalgs string
		want    uint16
	}{
		{"rsa-pkcs1-sha256", testpki.RSA2048, "RSA+SHA256", handshake.SigRSAPKCS1SHA256},
		{"rsa-pkcs1-sha512", testpki.RSA2048, "RSA+SHA512", handshake.SigRSAPKCS1SHA512},
		{"rsa-pss-sha256", testpki.RSA2048, "rsa_pss_rsae_sha256", handshake.SigRSAPSSRSAESHA256},
		{"rsa-pss-sha384", testpki.RSA2048, "rsa_pss_rsae_sha384", handshake.SigRSAPSSRSAESHA384},
		{"ecdsa-p256", testpki.ECDSAP256, "ECDSA+SHA256", handshake.SigECDSAP256SHA256},
		{"ecdsa-p384", testpki.ECDSAP384, "ECDSA+SHA384:ECDSA+SHA256", handshake.SigECDSAP384SHA384},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf := deviceLeaf(t, tc.key)
			addr := opensslServer(t, e.rsa, "", "-tls1_2", "-www",
				"-Verify", "1", "-verify_return_error", "-CAfile", rootFile, "-client_sigalgs", tc.sigalgs)
			off := newCertOffloader(t, leaf, client.Config{})
			cfg := certConfig(t, off)
			cfg.ServerName = ""
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			nc, err := (&Dialer{Config: cfg}).DialContext(ctx, "tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(20 * time.Second))
			if _, err := io.WriteString(nc, "GET / HTTP/1.0\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			page, err := io.ReadAll(nc)
			if err != nil && len(page) == 0 {
				t.Fatal(err)
			}
			if !bytes.Contains(page, []byte("Client certificate")) || !bytes.Contains(page, []byte(leaf.Cert.Subject.CommonName)) {
				t.Fatalf("openssl's page does not show the device's certificate:\n%s", page)
			}
			if got := off.sigAlg(t); got != tc.want {
				t.Errorf("CertificateVerify algorithm %#04x, want %#04x", got, tc.want)
			}
			if n := off.Flights(); n != 2 {
				t.Errorf("%d offloader flights, want 2", n)
			}
		})
	}
}

// TLS 1.0 and 1.1 servers (crypto/tls) accept the offloader's certificate
// and its CertificateVerify in those versions' form (MD5 || SHA-1 for RSA,
// SHA-1 for ECDSA, no algorithm field).
func TestClientCertificateLegacyVersions(t *testing.T) {
	e := getRealEnv(t)
	for _, v := range []uint16{handshake.VersionTLS10, handshake.VersionTLS11} {
		for _, kt := range []testpki.KeyType{testpki.RSA2048, testpki.ECDSAP256, testpki.ECDSAP384} {
			for _, sequential := range []bool{false, true} {
				t.Run(fmt.Sprintf("%#04x/key%d/sequential=%v", v, kt, sequential), func(t *testing.T) {
					leaf := deviceLeaf(t, kt)
					scfg := tlsServerConfig(e.rsa)
					scfg.MinVersion, scfg.MaxVersion = v, v
					scfg.ClientAuth = tls.RequireAndVerifyClientCert
					scfg.ClientCAs = e.pki.Roots
					seen := make(chan []*x509.Certificate, 1)
					addr := serveTLS(t, scfg, func(c *tls.Conn) {
						seen <- c.ConnectionState().PeerCertificates
						echo(c)
					})
					off := newCertOffloaderMin(t, leaf, handshake.VersionTLS10, client.Config{Sequential: sequential})
					cfg := certConfig(t, off)
					cfg.MinVersion = handshake.VersionTLS10
					c := dialClient(t, addr, cfg)
					if err := c.Handshake(); err != nil {
						t.Fatal(err)
					}
					if got := c.ConnectionState().Version; got != v {
						t.Fatalf("negotiated %#04x", got)
					}
					echoBothWays(t, c)
					if got := <-seen; len(got) == 0 || !got[0].Equal(leaf.Cert) {
						t.Fatal("the server did not see the device's certificate")
					}
				})
			}
		}
	}
}
