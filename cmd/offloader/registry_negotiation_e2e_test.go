package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/internal/peers"
	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
	"github.com/tlsoffload/tlsoffload/tlsclient"
)

// fetchPage runs a full handshake of dev with the openssl s_server -www at
// addr, for server.test, and returns the connection's state and the page
// (which says what openssl negotiated).
func fetchPage(dev *client.Client, addr string, tweak func(*tlsclient.Config)) (tlsclient.ConnectionState, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	raw, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return tlsclient.ConnectionState{}, "", err
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(30 * time.Second))
	cfg := &tlsclient.Config{Offloader: dev, ServerName: "server.test"}
	if tweak != nil {
		tweak(cfg)
	}
	c := tlsclient.Client(raw, cfg)
	if err := c.HandshakeContext(ctx); err != nil {
		return tlsclient.ConnectionState{}, "", err
	}
	if _, err := io.WriteString(c, "GET / HTTP/1.0\r\n\r\n"); err != nil {
		return tlsclient.ConnectionState{}, "", err
	}
	page, err := io.ReadAll(io.LimitReader(c, 1<<20))
	if len(page) > 0 {
		err = nil // s_server may end without close_notify
	}
	return c.ConnectionState(), string(page), err
}

// TestRegistryNegotiationThroughOffloaderProcess: per-device negotiation
// policy stored in PostgreSQL by the admin commands, enforced by the real
// daemon (serve on the PostgreSQL registry) for devices handshaking with
// openssl s_server. A device whose policy row forbids RSA key exchange is
// refused at Start when it offers only RSA suites, and at Auth when a
// hand-made ClientHello offers one anyway and the server picks it; a
// device whose row caps max_version at TLS 1.1 is refused TLS 1.2 and gets
// TLS 1.1. The same handshakes under the default policy succeed, so each
// refusal is the row's doing.
func TestRegistryNegotiationThroughOffloaderProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	peers.Require(t, "openssl")
	pki, leaf := serverPKI(t, testpki.RSA2048)
	dir, cfg := fleetConfig(t)
	writeFiles(t, dir, map[string]string{"root.pem": string(pki.RootPEM()), "dev.psk": pskHex + "\n"})
	mustRun(t, "migrate", "-c", cfg)
	base := []string{"--allow", "server.test", "--roots-file", filepath.Join(dir, "root.pem")}
	for name, extra := range map[string][]string{
		"default":  nil,
		"no-rsa":   {"--key-exchange", "ecdhe_rsa", "--key-exchange", "ecdhe_ecdsa"},
		"tls11":    {"--min-version", "1.0", "--max-version", "1.1"},
		"narrowed": nil,
	} {
		mustRun(t, append(append([]string{"policy", "set", "-c", cfg, name}, base...), extra...)...)
		mustRun(t, "device", "add", "-c", cfg, "dev-"+name, "--policy", name, "--psk-file", filepath.Join(dir, "dev.psk"))
	}
	addr := startServe(t, buildOffloader(t), cfg)

	psk, _ := hex.DecodeString(pskHex)
	device := func(id string) *client.Client {
		c, err := client.New(client.Config{Addrs: []string{addr}, DeviceID: id, PSK: psk})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	openssl := func(args ...string) string {
		return peers.StartOpenSSL(t, peers.OpenSSL{Leaf: leaf, Args: append([]string{"-www"}, args...)}).Addr
	}
	tls12 := openssl("-tls1_2")
	rsaOnly := openssl("-tls1_2", "-cipher", "AES128-GCM-SHA256")
	tls11 := openssl("-tls1_1", "-cipher", "ECDHE-RSA-AES128-SHA:@SECLEVEL=0")

	narrowed := device("dev-narrowed")
	onlyRSA := func(c *tlsclient.Config) { c.CipherSuites = []uint16{handshake.TLS_RSA_WITH_AES_128_GCM_SHA256} }
	addRSA := func(c *tlsclient.Config) { // beyond what Start answered
		c.ShapeClientHello = func(h *handshake.ClientHello) error {
			h.CipherSuites = append(h.CipherSuites, handshake.TLS_RSA_WITH_AES_128_GCM_SHA256)
			return nil
		}
	}
	fromTLS10 := func(c *tlsclient.Config) { c.MinVersion = handshake.VersionTLS10 }
	// The device whose row is narrowed below, before: its Start answer
	// (TLS 1.2) is cached in its client.
	if _, _, err := fetchPage(narrowed, tls12, fromTLS10); err != nil {
		t.Fatalf("dev-narrowed before its policy changed: %v", err)
	}
	for _, tc := range []struct {
		name, device, server string
		tweak                func(*tlsclient.Config)
		page                 string  // what s_server's page says on success
		op                   wire.Op // the refusing operation, else success
		detail               string
	}{
		{"RSA key exchange, default policy", "dev-default", tls12, onlyRSA, "Cipher is AES128-GCM-SHA256", 0, ""},
		{"RSA key exchange refused at Start", "dev-no-rsa", tls12, onlyRSA, "", wire.OpStart,
			"no offered cipher suite is allowed for this device (key exchange rsa not allowed)"},
		{"RSA key exchange refused at Auth", "dev-no-rsa", rsaOnly, addRSA, "", wire.OpAuth,
			"key exchange rsa (cipher suite TLS_RSA_WITH_AES_128_GCM_SHA256) not allowed for this device"},
		{"RSA offered beyond Start, default policy", "dev-default", rsaOnly, addRSA, "Cipher is AES128-GCM-SHA256", 0, ""},
		{"ECDHE within key_exchanges", "dev-no-rsa", tls12, nil, "Cipher is ECDHE-RSA-AES128-GCM-SHA256", 0, ""},
		{"TLS 1.2 above max_version", "dev-tls11", tls12, nil, "", wire.OpStart,
			"no offered protocol version is allowed for this device (it allows TLS 1.0 to TLS 1.1)"},
		{"TLS 1.1 within max_version", "dev-tls11", tls11, fromTLS10, "Protocol  : TLSv1.1", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, page, err := fetchPage(device(tc.device), tc.server, tc.tweak)
			if tc.op == 0 {
				if err != nil || !strings.Contains(page, tc.page) {
					t.Fatalf("err %v, page %.300q; want %q", err, page, tc.page)
				}
				t.Logf("negotiated %s in %#04x", handshake.SuiteByID(st.CipherSuite).Name, st.Version)
				return
			}
			var we *wire.Error
			if !errors.As(err, &we) || we.Status != wire.StatusPolicyDenied || we.Op != tc.op || we.Detail != tc.detail {
				t.Fatalf("error %v\nwant the offloader's %v refusal of %s: %q", err, wire.StatusPolicyDenied, tc.op, tc.detail)
			}
		})
	}

	// A row changed while the daemon runs: narrowed to TLS 1.0–1.1. A
	// device asking Start afresh is refused there once the change has
	// reached the daemon; the device whose Start answer is cached offers
	// TLS 1.2 anyway, the server picks it, and Auth refuses it.
	mustRun(t, append(append([]string{"policy", "set", "-c", cfg, "narrowed"}, base...), "--min-version", "1.0", "--max-version", "1.1")...)
	const capped = "protocol version TLS 1.2 not allowed for this device (it allows TLS 1.0 to TLS 1.1)"
	waitFor(t, "the narrowed policy to reach the daemon", func() bool {
		fresh := device("dev-narrowed")
		_, _, err := fetchPage(fresh, tls12, nil)
		fresh.Close()
		var we *wire.Error
		return errors.As(err, &we) && we.Status == wire.StatusPolicyDenied && we.Op == wire.OpStart
	})
	_, _, err := fetchPage(narrowed, tls12, fromTLS10)
	var we *wire.Error
	if !errors.As(err, &we) || we.Status != wire.StatusPolicyDenied || we.Op != wire.OpAuth || we.Detail != capped {
		t.Fatalf("the device with a cached Start answer: %v\nwant the offloader's refusal of Auth: %q", err, capped)
	}
}

// TestServeRefusesWrongKEK: the daemon on a PostgreSQL registry given a
// KEK that is not the database's exits at start with ErrKEKMismatch's
// words, not as the database being unavailable, and prints no key.
func TestServeRefusesWrongKEK(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir, cfg := fleetConfig(t)
	mustRun(t, "migrate", "-c", cfg) // stores the check value under kek.hex
	const wrongHex = "0f1e2d3c4b5a69780f1e2d3c4b5a69780f1e2d3c4b5a69780f1e2d3c4b5a6978"
	writeFiles(t, dir, map[string]string{
		"wrong.hex":  wrongHex + "\n",
		"wrong.yaml": "listen: \"127.0.0.1:0\"\nregistry:\n  postgres:\n    dsn_file: pg.dsn\n    kek_file: wrong.hex\n",
	})
	cmd := exec.Command(buildOffloader(t), "serve", "-c", filepath.Join(dir, "wrong.yaml"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("serve with a wrong KEK: %v, want exit 1", err)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("serve with a wrong KEK did not exit\n%s", stderr.String())
	}
	out := stderr.String()
	if !strings.Contains(out, "the KEK does not match the database") || strings.Contains(out, "unavailable") ||
		strings.Contains(out, wrongHex[:16]) || strings.Contains(out, tokenHex[:16]) {
		t.Errorf("serve's words: %q", out)
	}
	// The right KEK still serves.
	startServe(t, buildOffloader(t), cfg)
}
