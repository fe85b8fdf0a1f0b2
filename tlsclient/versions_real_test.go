package tlsclient_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/internal/offloadtest"
	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/record"
	. "github.com/tlsoffload/tlsoffload/tlsclient"
	"github.com/tlsoffload/tlsoffload/tlsclient/tlsstate"
)

// goTLSHasSuite reports whether crypto/tls implements suite id (it has no
// AES-256-CBC-SHA384 suites nor TLS_RSA_WITH_AES_256_CBC_SHA256).
func goTLSHasSuite(id uint16) bool {
	for _, l := range [][]*tls.CipherSuite{tls.CipherSuites(), tls.InsecureCipherSuites()} {
		for _, s := range l {
			if s.ID == id {
				return true
			}
		}
	}
	return false
}

// legacyConfig is a client Config allowing TLS 1.0 to 1.2, with an
// offloader of the test's own whose device policy allows them too.
func legacyConfig(t testing.TB) (*Config, *offloadtest.Offloader) {
	t.Helper()
	e := getRealEnv(t)
	dev := e.device()
	dev.ID, dev.MinVersion = "legacy", handshake.VersionTLS10
	cfg, off := e.configWith(t, dev, client.Config{})
	cfg.MinVersion = handshake.VersionTLS10
	return cfg, off
}

// versionName is the version's name, as crypto/tls spells it.
func versionName(v uint16) string { return tls.VersionName(v) }

type legacyCase struct {
	version uint16
	suite   uint16
}

// legacyCases are the version × suite cells crypto/tls can serve: every
// CBC _SHA suite kind in TLS 1.0, 1.1 and 1.2, and the SHA-256 ones in 1.2.
func legacyCases() []legacyCase {
	var out []legacyCase
	for _, v := range []uint16{handshake.VersionTLS10, handshake.VersionTLS11, handshake.VersionTLS12} {
		for _, id := range []uint16{
			handshake.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, handshake.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
			handshake.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, handshake.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
			handshake.TLS_RSA_WITH_AES_128_CBC_SHA, handshake.TLS_RSA_WITH_AES_256_CBC_SHA,
			handshake.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, handshake.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
			handshake.TLS_RSA_WITH_AES_128_CBC_SHA256,
		} {
			if handshake.SuiteByID(id).AllowedIn(v) {
				out = append(out, legacyCase{v, id})
			}
		}
	}
	return out
}

// TestLegacyVersionsGoTLS runs real handshakes and data both ways with a
// crypto/tls server limited to one version and one CBC suite, through an
// offloader whose device policy allows TLS 1.0.
func TestLegacyVersionsGoTLS(t *testing.T) {
	e := getRealEnv(t)
	for _, tc := range legacyCases() {
		s := handshake.SuiteByID(tc.suite)
		t.Run(fmt.Sprintf("%s/%s", versionName(tc.version), s.Name), func(t *testing.T) {
			leaf := e.rsa
			if s.KeyExchange == handshake.KeyExchangeECDHEECDSA {
				leaf = e.ecdsa
			}
			scfg := tlsServerConfig(leaf)
			scfg.MinVersion, scfg.MaxVersion = tc.version, tc.version
			scfg.CipherSuites = []uint16{tc.suite}
			addr := serveTLS(t, scfg, echo)
			c := dialClient(t, addr, legacyCfg(t))
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			st := tlsstate.Convert(c.ConnectionState())
			if st.Version != tc.version || st.CipherSuite != tc.suite {
				t.Fatalf("negotiated %#04x %#04x", st.Version, st.CipherSuite)
			}
			echoBothWays(t, c)
		})
	}
}

// tls10Server serves TLS 1.0 only.
func tls10Server(t *testing.T, leaf *testpki.Leaf) string {
	scfg := tlsServerConfig(leaf)
	scfg.MinVersion, scfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS10
	return serveTLS(t, scfg, echo)
}

// TestLegacyOffByDefault: a default Config offers TLS 1.2 only; a TLS
// 1.0-only server answers with a TLS 1.0 ServerHello (crypto/tls and
// OpenSSL do), which the client refuses with protocol_version.
func TestLegacyOffByDefault(t *testing.T) {
	e := getRealEnv(t)
	cfg, _ := e.config(t)
	c := dialClient(t, tls10Server(t, e.rsa), cfg)
	err := c.Handshake()
	if !errors.Is(err, record.AlertProtocolVersion) {
		t.Fatalf("err = %v, want protocol_version", err)
	}
}

// TestLegacyRefusedByDevicePolicy: a Config allowing TLS 1.0 gets only TLS
// 1.2 from an offloader whose device policy is the default, so it offers
// TLS 1.2 only and refuses the TLS 1.0-only server's answer.
func TestLegacyRefusedByDevicePolicy(t *testing.T) {
	e := getRealEnv(t)
	cfg, _ := e.config(t)
	cfg.MinVersion = handshake.VersionTLS10
	var hello *handshake.ClientHello
	cfg.ShapeClientHello = func(h *handshake.ClientHello) error { hello = h; return nil }
	c := dialClient(t, tls10Server(t, e.rsa), cfg)
	err := c.Handshake()
	if !errors.Is(err, record.AlertProtocolVersion) {
		t.Fatalf("err = %v, want protocol_version", err)
	}
	if hello == nil || hello.Version != handshake.VersionTLS12 {
		t.Errorf("ClientHello offered %#04x despite the device policy", hello.Version)
	}
	// The same Config through a device allowed TLS 1.0 succeeds.
	lc, _ := legacyConfig(t)
	c = dialClient(t, tls10Server(t, e.rsa), lc)
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	if v := tlsstate.Convert(c.ConnectionState()).Version; v != handshake.VersionTLS10 {
		t.Errorf("version %#04x", v)
	}
}

// TestOpenSSLLegacyVersions fetches a page from openssl s_server at TLS
// 1.0, 1.1 and 1.2 with CBC suites, including the SHA-384 ones crypto/tls
// lacks.
func TestOpenSSLLegacyVersions(t *testing.T) {
	e := getRealEnv(t)
	for _, tc := range []struct {
		flag    string
		version uint16
		cipher  string
		suite   uint16
		ecdsa   bool
	}{
		{"-tls1", handshake.VersionTLS10, "ECDHE-RSA-AES128-SHA", handshake.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, false},
		{"-tls1", handshake.VersionTLS10, "ECDHE-ECDSA-AES256-SHA", handshake.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, true},
		{"-tls1", handshake.VersionTLS10, "AES128-SHA", handshake.TLS_RSA_WITH_AES_128_CBC_SHA, false},
		{"-tls1_1", handshake.VersionTLS11, "ECDHE-RSA-AES256-SHA", handshake.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, false},
		{"-tls1_1", handshake.VersionTLS11, "ECDHE-ECDSA-AES128-SHA", handshake.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, true},
		{"-tls1_1", handshake.VersionTLS11, "AES256-SHA", handshake.TLS_RSA_WITH_AES_256_CBC_SHA, false},
		{"-tls1_2", handshake.VersionTLS12, "ECDHE-RSA-AES256-SHA384", handshake.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384, false},
		{"-tls1_2", handshake.VersionTLS12, "ECDHE-ECDSA-AES256-SHA384", handshake.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384, true},
		{"-tls1_2", handshake.VersionTLS12, "AES256-SHA256", handshake.TLS_RSA_WITH_AES_256_CBC_SHA256, false},
		{"-tls1_2", handshake.VersionTLS12, "ECDHE-RSA-AES128-SHA", handshake.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, false},
	} {
		t.Run(versionName(tc.version)+"/"+tc.cipher, func(t *testing.T) {
			leaf := e.rsa
			if tc.ecdsa {
				leaf = e.ecdsa
			}
			addr := startOpenSSLVersion(t, leaf, tc.flag, tc.cipher)
			cfg, _ := legacyConfig(t)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			nc, err := (&Dialer{Config: cfg}).DialContext(ctx, "tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			c := nc.(*Conn)
			c.SetDeadline(time.Now().Add(20 * time.Second))
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			if st := tlsstate.Convert(c.ConnectionState()); st.Version != tc.version || st.CipherSuite != tc.suite {
				t.Fatalf("negotiated %#04x %#04x", st.Version, st.CipherSuite)
			}
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
		})
	}
	// Off by default: the answer of a TLS 1.0-only openssl is refused.
	t.Run("TLS 1.0 off by default", func(t *testing.T) {
		addr := startOpenSSLVersion(t, e.rsa, "-tls1", "ECDHE-RSA-AES128-SHA")
		cfg, _ := e.config(t)
		c := dialClient(t, addr, cfg)
		err := c.Handshake()
		if !errors.Is(err, record.AlertProtocolVersion) {
			t.Fatalf("err = %v, want protocol_version", err)
		}
	})
}

// TestLegacyCertificateRequestAndResumption: at TLS 1.0 and 1.1 a server
// asking for a client certificate gets the older CertificateRequest form
// parsed on the device and by the offloader (and an empty Certificate from
// a device without one), and a second connection resumes the session (by
// ticket) with the version's PRF and no offloader call.
func TestLegacyCertificateRequestAndResumption(t *testing.T) {
	e := getRealEnv(t)
	for _, v := range []uint16{handshake.VersionTLS10, handshake.VersionTLS11} {
		t.Run(versionName(v), func(t *testing.T) {
			scfg := tlsServerConfig(e.rsa)
			scfg.MinVersion, scfg.MaxVersion = v, v
			scfg.ClientAuth = tls.RequestClientCert
			peerCerts := make(chan int, 2)
			addr := serveTLS(t, scfg, func(c *tls.Conn) {
				if c.Handshake() == nil {
					peerCerts <- len(c.ConnectionState().PeerCertificates)
				}
				echo(c)
			})
			cfg, off := legacyConfig(t)
			cfg.SessionCache = NewLRUSessionCache(4)
			for i := 0; i < 2; i++ {
				c := dialClient(t, addr, cfg)
				if err := c.Handshake(); err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				st := tlsstate.Convert(c.ConnectionState())
				if st.Version != v || st.DidResume != (i == 1) {
					t.Fatalf("connection %d: version %#04x resumed %v", i, st.Version, st.DidResume)
				}
				echoBothWays(t, c)
				c.Close()
				if n := <-peerCerts; n != 0 {
					t.Errorf("server got %d client certificates", n)
				}
			}
			if n := off.Requests("key"); n != 1 {
				t.Errorf("%d Key operations for a full and a resumed handshake, want 1", n)
			}
		})
	}
}

// startOpenSSLVersion runs `openssl s_server -www` limited to one version
// flag (-tls1, -tls1_1, -tls1_2) and one cipher, at security level 0 (OpenSSL
// 3 refuses TLS 1.0/1.1 and SHA-1 signatures above it).
func startOpenSSLVersion(t *testing.T, leaf *testpki.Leaf, versionFlag, cipher string) string {
	return opensslServer(t, leaf, "", versionFlag, "-cipher", cipher+":@SECLEVEL=0", "-www")
}

func legacyCfg(t testing.TB) *Config {
	cfg, _ := legacyConfig(t)
	return cfg
}
