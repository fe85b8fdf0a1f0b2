package integration

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
	"github.com/tlsoffload/tlsoffload/tlsclient"
	"github.com/tlsoffload/tlsoffload/tlsclient/tlsstate"
)

// opensslGroup is OpenSSL's name for each group of groupCases.
var opensslGroup = map[string]string{"X25519": "X25519", "P-256": "P-256", "P-384": "P-384"}

// getOpenSSLWWW fetches / from an `openssl s_server -www` through
// tlsoffload and returns the page.
func getOpenSSLWWW(t *testing.T, env *offloaderEnv, addr string) (string, tls.ConnectionState) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := (&tlsclient.Dialer{Config: env.config("localhost")}).DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	page, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read page: %v", err)
	}
	return string(page), tlsstate.Convert(c.(*tlsclient.Conn).ConnectionState())
}

// OpenSSL's s_server over every suite and group, each cell a real process.
func TestOpenSSLServerEverySuiteAndGroup(t *testing.T) {
	p := testPKI(t)
	env := newOffloader(t, p.Roots)
	for _, sc := range suiteCases {
		leaf := issue(t, sc.key, testpki.Good)
		groups := groupCases
		if !strings.HasPrefix(sc.name, "ECDHE") {
			groups = groups[:1]
		}
		for _, g := range groups {
			t.Run(sc.name+"/"+g.name, func(t *testing.T) {
				addr := startOpenSSL(t, leaf, "-www", "-tls1_2", "-cipher", sc.openssl, "-groups", opensslGroup[g.name])
				page, st := getOpenSSLWWW(t, env, addr)
				if !strings.HasPrefix(page, "HTTP/1.0 200 ok") {
					t.Fatalf("page: %.200q", page)
				}
				// s_server -www reports the suite it negotiated.
				if !strings.Contains(page, sc.openssl) {
					t.Fatalf("openssl does not report %s:\n%.2000s", sc.openssl, page)
				}
				if st.CipherSuite != sc.id {
					t.Fatalf("client negotiated %#x, want %#x", st.CipherSuite, sc.id)
				}
			})
		}
	}
}

// ocurl fetches from openssl s_server -www over each suite with no
// offloader running separately, and exits 60 for untrusted servers.
func TestOcurlOpenSSLEmbeddedOffloader(t *testing.T) {
	p := testPKI(t)
	dir := t.TempDir()
	rootFile := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(rootFile, p.RootPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, sc := range suiteCases {
		t.Run(sc.name, func(t *testing.T) {
			addr := startOpenSSL(t, issue(t, sc.key, testpki.Good), "-www", "-tls1_2", "-cipher", sc.openssl)
			code, stdout, stderr := runOcurl(t, "--cacert", rootFile, "https://"+addr+"/")
			if code != 0 || !strings.Contains(stdout, sc.openssl) {
				t.Fatalf("exit %d\nstdout: %.300s\nstderr: %s", code, stdout, stderr)
			}
		})
	}
	for _, d := range []testpki.Defect{testpki.Expired, testpki.WrongName, testpki.UnknownRoot, testpki.SelfSigned} {
		t.Run("refused/"+defectName(d), func(t *testing.T) {
			addr := startOpenSSL(t, issue(t, testpki.ECDSAP256, d), "-www")
			code, stdout, stderr := runOcurl(t, "--cacert", rootFile, "https://"+addr+"/")
			if code != 60 {
				t.Fatalf("exit %d, want 60\nstderr: %s", code, stderr)
			}
			if stdout != "" || !strings.Contains(stderr, "ocurl: (60) ") || !strings.Contains(stderr, "ocurl: hint:") {
				t.Fatalf("stdout %q\nstderr %q", stdout, stderr)
			}
		})
	}
}

var offloadCall = regexp.MustCompile(`(?m)^\* offloader: (auth\+keygen\+key|auth|keygen|key) in 1 round trip`)

// The same through `offloader serve` over the PSK channel, with -v showing
// the one offloader round trip of the handshake.
func TestOcurlThroughOffloaderProcess(t *testing.T) {
	p := testPKI(t)
	off := startOffloaderProcess(t, p.RootPEM(), "localhost", "*.example.com")
	addr := startOpenSSL(t, issue(t, testpki.RSA2048, testpki.Good), "-www", "-tls1_2")
	_, port, _ := strings.Cut(addr, ":")
	url := "https://localhost:" + port + "/"
	for _, mode := range []string{"pipelined", "sequential"} {
		t.Run(mode, func(t *testing.T) {
			args := []string{"-v", "--offloader", off.addr, "--device-id", deviceID, "--psk-file", off.pskFile, url}
			if mode == "sequential" {
				args = append([]string{"--sequential"}, args...)
			}
			code, stdout, stderr := runOcurl(t, args...)
			if code != 0 || !strings.HasPrefix(stdout, "HTTP/1.0 200 ok") && !strings.Contains(stdout, "Ciphers supported") {
				t.Fatalf("exit %d\nstdout: %.300s\nstderr: %s", code, stdout, stderr)
			}
			// One line per offloader call after ServerHelloDone.
			flights := len(offloadCall.FindAllString(stderr, -1))
			want := 1
			if mode == "sequential" {
				want = 3
			}
			if flights != want {
				t.Fatalf("want %d auth/keygen/key round trip lines in -v, got %d:\n%s", want, flights, stderr)
			}
		})
	}
	t.Run("policy-denied", func(t *testing.T) {
		code, _, stderr := runOcurl(t, "--offloader", off.addr, "--device-id", deviceID, "--psk-file", off.pskFile,
			"--resolve", "forbidden.test:"+port+":127.0.0.1", "https://forbidden.test:"+port+"/")
		if code != 35 || !strings.Contains(stderr, "policy") {
			t.Fatalf("exit %d, stderr %s", code, stderr)
		}
	})
	t.Run("wrong-psk", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.psk")
		os.WriteFile(bad, []byte(strings.Repeat("ab", 32)), 0o600)
		code, _, stderr := runOcurl(t, "--offloader", off.addr, "--device-id", deviceID, "--psk-file", bad, url)
		if code != 35 || !strings.Contains(stderr, "authentication failed") {
			t.Fatalf("exit %d, stderr %s", code, stderr)
		}
	})
}

// Bad certificates are refused with the right reason against a real peer too.
func TestOpenSSLBadCertificates(t *testing.T) {
	p := testPKI(t)
	env := newOffloader(t, p.Roots)
	for _, tc := range []struct {
		d      testpki.Defect
		reason wire.Reason
	}{
		{testpki.Expired, wire.ReasonExpired},
		{testpki.UnknownRoot, wire.ReasonUnknownAuthority},
		{testpki.WrongName, wire.ReasonNameMismatch},
		{testpki.SelfSigned, wire.ReasonUnknownAuthority},
	} {
		t.Run(defectName(tc.d), func(t *testing.T) {
			addr := startOpenSSL(t, issue(t, testpki.ECDSAP256, tc.d), "-www")
			_, err := (&tlsclient.Dialer{Config: env.config("localhost")}).DialContext(context.Background(), "tcp", addr)
			var ce *tlsclient.CertificateError
			if !errors.As(err, &ce) || wireErr(ce).Reason != tc.reason {
				t.Fatalf("want reason %v, got %v", tc.reason, err)
			}
		})
	}
}
