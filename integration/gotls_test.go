package integration

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/internal/peers"
	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
	"github.com/tlsoffload/tlsoffload/tlsclient"
	"github.com/tlsoffload/tlsoffload/tlsclient/tlsstate"
)

// suiteCase is one cell: a suite with the key type its certificate needs.
type suiteCase struct {
	name     string
	id       uint16
	key      testpki.KeyType
	openssl  string // OpenSSL's name for the suite
	keyLabel string
}

var suiteCases = []suiteCase{
	{"ECDHE-RSA-AES128-GCM", tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, testpki.RSA2048, "ECDHE-RSA-AES128-GCM-SHA256", "rsa2048"},
	{"ECDHE-RSA-AES256-GCM", tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, testpki.RSA2048, "ECDHE-RSA-AES256-GCM-SHA384", "rsa2048"},
	{"ECDHE-RSA-CHACHA20", tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, testpki.RSA2048, "ECDHE-RSA-CHACHA20-POLY1305", "rsa2048"},
	{"ECDHE-ECDSA-AES128-GCM", tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, testpki.ECDSAP256, "ECDHE-ECDSA-AES128-GCM-SHA256", "p256"},
	{"ECDHE-ECDSA-AES256-GCM", tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, testpki.ECDSAP384, "ECDHE-ECDSA-AES256-GCM-SHA384", "p384"},
	{"ECDHE-ECDSA-CHACHA20", tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, testpki.ECDSAP256, "ECDHE-ECDSA-CHACHA20-POLY1305", "p256"},
	{"RSA-AES128-GCM", tls.TLS_RSA_WITH_AES_128_GCM_SHA256, testpki.RSA2048, "AES128-GCM-SHA256", "rsa2048"},
	{"RSA-AES256-GCM", tls.TLS_RSA_WITH_AES_256_GCM_SHA384, testpki.RSA2048, "AES256-GCM-SHA384", "rsa2048"},
}

var groupCases = []struct {
	name  string
	curve tls.CurveID
}{{"X25519", tls.X25519}, {"P-256", tls.CurveP256}, {"P-384", tls.CurveP384}}

// startGoTLSServer runs a crypto/tls echo server (TLS 1.2 only) and returns
// its address.
func startGoTLSServer(t testing.TB, cfg *tls.Config) string {
	t.Helper()
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	return peers.StartGo(t, cfg)
}

// echo dials addr through tlsoffload, checks an echo of a message larger
// than one record, and returns the connection state.
func echo(t *testing.T, env *offloaderEnv, addr, serverName string) tls.ConnectionState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d := &tlsclient.Dialer{Config: env.config(serverName)}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	msg := strings.Repeat("tlsoffload echo ", 2000) // 32 KB: several records
	go func() { io.WriteString(c, msg) }()
	got := make([]byte, len(msg))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if string(got) != msg {
		t.Fatal("echo differs")
	}
	return tlsstate.Convert(c.(*tlsclient.Conn).ConnectionState())
}

func TestGoTLSServerEverySuiteAndGroup(t *testing.T) {
	p := testPKI(t)
	env := newOffloader(t, p.Roots)
	for _, sc := range suiteCases {
		leaf := issue(t, sc.key, testpki.Good)
		groups := groupCases
		if !strings.HasPrefix(sc.name, "ECDHE") {
			groups = groups[:1] // RSA key exchange uses no group
		}
		for _, g := range groups {
			t.Run(sc.name+"/"+g.name, func(t *testing.T) {
				addr := startGoTLSServer(t, &tls.Config{
					Certificates:     []tls.Certificate{leaf.TLSCertificate()},
					CipherSuites:     []uint16{sc.id},
					CurvePreferences: []tls.CurveID{g.curve},
				})
				st := echo(t, env, addr, "localhost")
				if st.CipherSuite != sc.id || st.Version != tls.VersionTLS12 || !st.HandshakeComplete {
					t.Fatalf("state: suite %#x version %#x complete %v", st.CipherSuite, st.Version, st.HandshakeComplete)
				}
				if len(st.PeerCertificates) == 0 || st.PeerCertificates[0].Subject.String() != leaf.Cert.Subject.String() {
					t.Fatalf("peer certificates not the server's: %v", st.PeerCertificates)
				}
				if len(st.VerifiedChains) != 1 || !st.VerifiedChains[0][len(st.VerifiedChains[0])-1].Equal(p.Root) {
					t.Fatalf("verified chain does not end at the test root")
				}
			})
		}
	}
}

// The sequential mode of the patent reaches the same result.
func TestGoTLSServerSequentialMode(t *testing.T) {
	p := testPKI(t)
	env := newOffloader(t, p.Roots)
	leaf := issue(t, testpki.ECDSAP256, testpki.Good)
	addr := startGoTLSServer(t, &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}})
	cfg := env.config("localhost")
	cfg.Offloader = env.sequentialClient(t)
	c, err := (&tlsclient.Dialer{Config: cfg}).DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "x")
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil || b[0] != 'x' {
		t.Fatalf("echo: %v", err)
	}
}

// net/http through the Dialer, as a Go program would use it.
func TestNetHTTPThroughDialer(t *testing.T) {
	p := testPKI(t)
	env := newOffloader(t, p.Roots)
	leaf := issue(t, testpki.RSA2048, testpki.Good)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{leaf.TLSCertificate()},
		MaxVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s over %s", r.URL.Path, tlsVersion(r.TLS))
	})}
	go srv.Serve(l)
	defer srv.Close()

	d := &tlsclient.Dialer{Config: &tlsclient.Config{Offloader: env.client, NextProtos: []string{"http/1.1"}}}
	hc := &http.Client{Transport: &http.Transport{DialTLSContext: d.DialContext}, Timeout: 20 * time.Second}
	for i := 0; i < 3; i++ {
		resp, err := hc.Get("https://localhost:" + portOf(l.Addr()) + "/path")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "hello /path over TLS 1.2" {
			t.Fatalf("body %q", body)
		}
	}
}

func tlsVersion(st *tls.ConnectionState) string {
	if st == nil {
		return "plaintext"
	}
	return tls.VersionName(st.Version)
}

func portOf(a net.Addr) string { return fmt.Sprint(a.(*net.TCPAddr).Port) }

// Every bad certificate is refused with the reason it deserves, and the
// server is told with an alert.
func TestBadCertificatesRefused(t *testing.T) {
	p := testPKI(t)
	env := newOffloader(t, p.Roots)
	cases := []struct {
		defect testpki.Defect
		key    testpki.KeyType
		reason wire.Reason
	}{
		{testpki.Expired, testpki.ECDSAP256, wire.ReasonExpired},
		{testpki.NotYetValid, testpki.ECDSAP256, wire.ReasonNotYetValid},
		{testpki.WrongName, testpki.ECDSAP256, wire.ReasonNameMismatch},
		{testpki.UnknownRoot, testpki.ECDSAP256, wire.ReasonUnknownAuthority},
		{testpki.SelfSigned, testpki.ECDSAP256, wire.ReasonUnknownAuthority},
		{testpki.NoServerAuth, testpki.ECDSAP256, wire.ReasonKeyUsage},
		{testpki.CAAsLeaf, testpki.ECDSAP256, wire.ReasonKeyUsage},
		{testpki.MissingIntermediate, testpki.ECDSAP256, wire.ReasonUnknownAuthority},
		{testpki.SHA1Signed, testpki.RSA2048, wire.ReasonWeakSignature},
		{testpki.Good, testpki.RSA1024, wire.ReasonWeakKey},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%v", tc.reason)+"/"+defectName(tc.defect), func(t *testing.T) {
			leaf := issue(t, tc.key, tc.defect)
			serverErr := make(chan error, 1)
			l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}, MaxVersion: tls.VersionTLS12})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				c, err := l.Accept()
				if err != nil {
					serverErr <- err
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				serverErr <- c.(*tls.Conn).Handshake()
			}()
			_, err = (&tlsclient.Dialer{Config: env.config("localhost")}).DialContext(context.Background(), "tcp", l.Addr().String())
			var ce *tlsclient.CertificateError
			if !errors.As(err, &ce) {
				t.Fatalf("want *tlsclient.CertificateError, got %T %v", err, err)
			}
			if wireErr(ce).Status != wire.StatusInvalidCertificate || wireErr(ce).Reason != tc.reason {
				t.Fatalf("got status %v reason %v, want reason %v (%v)", wireErr(ce).Status, wireErr(ce).Reason, tc.reason, err)
			}
			if len(ce.Chain) == 0 {
				t.Fatal("error carries no chain as evidence")
			}
			if se := <-serverErr; se == nil || !strings.Contains(se.Error(), "remote error") {
				t.Fatalf("server was not told with an alert: %v", se)
			}
		})
	}
}

func defectName(d testpki.Defect) string {
	return [...]string{"good", "expired", "not-yet-valid", "wrong-name", "unknown-root", "self-signed",
		"no-server-auth", "ca-as-leaf", "sha1", "missing-intermediate"}[d]
}

// A dead offloader gives a clear, typed error quickly, and no hang.
func TestOffloaderDown(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	cl, err := client.New(client.Config{Addrs: []string{dead}, DeviceID: deviceID, PSK: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	leaf := issue(t, testpki.ECDSAP256, testpki.Good)
	addr := startGoTLSServer(t, &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}})
	start := time.Now()
	_, err = (&tlsclient.Dialer{Config: &tlsclient.Config{Offloader: cl}}).DialContext(context.Background(), "tcp", addr)
	var oe *tlsclient.OffloaderError
	if !errors.As(err, &oe) {
		t.Fatalf("want *tlsclient.OffloaderError, got %T %v", err, err)
	}
	if !strings.Contains(err.Error(), dead) {
		t.Fatalf("error does not name the offloader address: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v to fail", d)
	}
}

// A wrong PSK is refused, the device is told so, and nothing leaks the PSK.
func TestWrongPSK(t *testing.T) {
	p := testPKI(t)
	env := newOffloader(t, p.Roots)
	wrong := make([]byte, 32)
	copy(wrong, env.psk)
	wrong[0] ^= 1
	cl, err := client.New(client.Config{Addrs: []string{env.addr}, DeviceID: deviceID, PSK: wrong})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	leaf := issue(t, testpki.ECDSAP256, testpki.Good)
	addr := startGoTLSServer(t, &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}})
	_, err = (&tlsclient.Dialer{Config: &tlsclient.Config{Offloader: cl}}).DialContext(context.Background(), "tcp", addr)
	if !errors.Is(err, wire.StatusAuthFailed) {
		t.Fatalf("want StatusAuthFailed, got %v", err)
	}
	for _, k := range [][]byte{env.psk, wrong} {
		if strings.Contains(err.Error(), fmt.Sprintf("%x", k)) {
			t.Fatal("error contains a PSK")
		}
	}
}
