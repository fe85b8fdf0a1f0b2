package fingerprint_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	utls "github.com/refraction-networking/utls"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/internal/offloadtest"
	"github.com/tlsoffload/tlsoffload/internal/peers"
	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/offloader/server"
	"github.com/tlsoffload/tlsoffload/tlsclient"
	"github.com/tlsoffload/tlsoffload/tlsclient/fingerprint"
)

const serverName = "server.test"

// env is a test PKI and an in-process offloader trusting it, made once.
type env struct {
	rsa, ecdsa *testpki.Leaf
	dev        server.Device
}

var (
	envOnce sync.Once
	envVal  *env
	envErr  error
)

func getEnv(t *testing.T) *env {
	t.Helper()
	envOnce.Do(func() {
		pki, err := testpki.New(time.Now())
		if err != nil {
			envErr = err
			return
		}
		e := &env{}
		if e.rsa, err = pki.Issue([]string{serverName}, testpki.RSA2048, testpki.Good); err != nil {
			envErr = err
			return
		}
		if e.ecdsa, err = pki.Issue([]string{serverName}, testpki.ECDSAP256, testpki.Good); err != nil {
			envErr = err
			return
		}
		e.dev = server.Device{ID: "dev", Roots: pki.Roots, AllowedNames: []string{"*"}}
		envVal = e
	})
	if envErr != nil {
		t.Fatal(envErr)
	}
	return envVal
}

func (e *env) config(t *testing.T, id utls.ClientHelloID) *tlsclient.Config {
	t.Helper()
	s, err := fingerprint.FromID(id)
	if err != nil {
		t.Fatal(err)
	}
	return &tlsclient.Config{
		Offloader:        offloadtest.New(t, e.dev, client.Config{}),
		ServerName:       serverName,
		NextProtos:       []string{"h2", "http/1.1"},
		ShapeClientHello: s.Shape,
	}
}

func dial(t *testing.T, cfg *tlsclient.Config, addr string) *tlsclient.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nc, err := (&tlsclient.Dialer{Config: cfg}).DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	return nc.(*tlsclient.Conn)
}

// TestShapedAgainstCryptoTLS runs a full handshake with each preset's
// shape against crypto/tls (RSA and ECDSA certificates), checks what the
// server saw, and echoes data.
func TestShapedAgainstCryptoTLS(t *testing.T) {
	e := getEnv(t)
	for _, leaf := range []struct {
		name string
		leaf *testpki.Leaf
	}{{"RSA", e.rsa}, {"ECDSA", e.ecdsa}} {
		for _, id := range presets {
			t.Run(leaf.name+"/"+id.Str(), func(t *testing.T) {
				seen := make(chan *tls.ClientHelloInfo, 1)
				cfg := &tls.Config{
					Certificates: []tls.Certificate{leaf.leaf.TLSCertificate()},
					MaxVersion:   tls.VersionTLS12,
					NextProtos:   []string{"h2", "http/1.1"},
					GetConfigForClient: func(chi *tls.ClientHelloInfo) (*tls.Config, error) {
						select {
						case seen <- chi:
						default:
						}
						return nil, nil
					},
				}
				l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				go func() {
					c, err := l.Accept()
					if err != nil {
						return
					}
					defer c.Close()
					c.SetDeadline(time.Now().Add(20 * time.Second))
					io.Copy(c, c)
				}()
				c := dial(t, e.config(t, id), l.Addr().String())
				msg := bytes.Repeat([]byte("shaped "), 3000)
				go c.Write(msg)
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("echo: %v", err)
				}
				cs := c.ConnectionState()
				if cs.NegotiatedProtocol != "h2" || cs.Version != tls.VersionTLS12 {
					t.Errorf("ALPN %q version %#x", cs.NegotiatedProtocol, cs.Version)
				}
				chi := <-seen
				if !slices.Contains(chi.SupportedVersions, tls.VersionTLS12) || slices.Contains(chi.SupportedVersions, tls.VersionTLS13) {
					t.Errorf("server saw versions %x", chi.SupportedVersions)
				}
				for _, s := range chi.CipherSuites {
					if !isGREASE(s) && handshake.SuiteByID(s) == nil {
						t.Errorf("server saw suite %#04x the device cannot do", s)
					}
				}
				t.Logf("%s: %s, server saw %d suites, groups %v", id.Str(), tls.CipherSuiteName(cs.CipherSuite), len(chi.CipherSuites), chi.SupportedCurves)
			})
		}
	}
}

// TestShapedAgainstOpenSSL runs each preset's shape against openssl
// s_server (TLS 1.2, RSA) and fetches its status page.
func TestShapedAgainstOpenSSL(t *testing.T) {
	e := getEnv(t)
	addr := peers.StartOpenSSL(t, peers.OpenSSL{Leaf: e.rsa, Args: []string{"-tls1_2", "-www", "-alpn", "h2,http/1.1"}}).Addr
	for _, id := range presets {
		t.Run(id.Str(), func(t *testing.T) {
			c := dial(t, e.config(t, id), addr)
			if _, err := io.WriteString(c, "GET / HTTP/1.0\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			page, err := io.ReadAll(c)
			if err != nil && len(page) == 0 {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(page, []byte("HTTP/1.0 200 ok")) {
				t.Fatalf("page starts %q", page[:min(len(page), 40)])
			}
			// s_server -www prints the suites in common with the client and
			// the groups it offered: no TLS 1.3 suite, no hybrid group.
			common, _, _ := bytes.Cut(page, []byte("Signature Algorithms"))
			_, common, _ = bytes.Cut(common, []byte("Ciphers common between both SSL end points:"))
			if len(common) == 0 || bytes.Contains(common, []byte("TLS_")) {
				t.Errorf("suites in common: %q", common)
			}
			_, groups, _ := bytes.Cut(page, []byte("Supported groups:"))
			groups, _, _ = bytes.Cut(groups, []byte("\n"))
			if !bytes.Contains(groups, []byte("x25519")) || bytes.Contains(bytes.ToLower(groups), []byte("mlkem")) {
				t.Errorf("groups offered: %q", groups)
			}
			if cs := c.ConnectionState(); cs.NegotiatedProtocol != "h2" {
				t.Errorf("ALPN %q, want h2", cs.NegotiatedProtocol)
			}
		})
	}
}

// TestShapedResumption: a shaped hello still resumes on the device. Chrome
// offers session_ticket, so crypto/tls resumes the second connection by
// ticket; Safari does not, so the ticket is not sent and the handshake is
// full (crypto/tls keeps no session-id cache).
func TestShapedResumption(t *testing.T) {
	e := getEnv(t)
	addr := peers.StartGo(t, &tls.Config{Certificates: []tls.Certificate{e.ecdsa.TLSCertificate()}, MaxVersion: tls.VersionTLS12})
	for _, tc := range []struct {
		id     utls.ClientHelloID
		resume bool
	}{{utls.HelloChrome_Auto, true}, {utls.HelloSafari_Auto, false}} {
		t.Run(tc.id.Str(), func(t *testing.T) {
			c := e.config(t, tc.id)
			c.SessionCache = tlsclient.NewLRUSessionCache(4)
			for i, want := range []bool{false, tc.resume} {
				conn := dial(t, c, addr)
				if _, err := conn.Write([]byte("x")); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(conn, make([]byte, 1)); err != nil {
					t.Fatal(err)
				}
				if got := conn.ConnectionState().DidResume; got != want {
					t.Errorf("connection %d: resumed %v, want %v", i, got, want)
				}
				conn.Close()
			}
		})
	}
}
