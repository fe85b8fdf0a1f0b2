package main

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/internal/peers"
	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
	"github.com/tlsoffload/tlsoffload/tlsclient"
)

// policyHandshake runs a full handshake of the device dev against the TLS
// server at addr for server.test, and an echo over it. tweak, when set,
// changes the device's tlsclient.Config.
func policyHandshake(dev *client.Client, addr string, tweak func(*tlsclient.Config)) (tlsclient.ConnectionState, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	raw, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return tlsclient.ConnectionState{}, err
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(30 * time.Second))
	cfg := &tlsclient.Config{Offloader: dev, ServerName: "server.test"}
	if tweak != nil {
		tweak(cfg)
	}
	c := tlsclient.Client(raw, cfg)
	if err := c.HandshakeContext(ctx); err != nil {
		return tlsclient.ConnectionState{}, err
	}
	if _, err := io.WriteString(c, "ping"); err != nil {
		return tlsclient.ConnectionState{}, err
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		return tlsclient.ConnectionState{}, fmt.Errorf("echo %q: %v", buf, err)
	}
	return c.ConnectionState(), nil
}

// TestServeNegotiationPolicy runs the built daemon with devices whose
// policies (max_version, cipher_suites, key_exchanges, and the default for
// a device with a client certificate) forbid what a crypto/tls server picks.
// Each such handshake ends in the offloader's typed refusal, which reaches
// the device as a *wire.Error with StatusPolicyDenied and a detail naming
// what was refused; the same device against a server picking what its
// policy allows succeeds. The policy is narrowed by a live reload, so the
// devices' cached Start answers still offer what it now forbids: Auth is
// what refuses it. Devices asking Start afresh are refused there.
func TestServeNegotiationPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	clientCertFixtures(t)
	leaf, err := ccPKI.Issue([]string{"server.test"}, testpki.RSA2048, testpki.Good)
	if err != nil {
		t.Fatal(err)
	}
	// The servers: each picks one thing.
	server := func(suites []uint16, clientCert bool) string {
		cfg := &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}, CipherSuites: suites, MaxVersion: tls.VersionTLS12}
		if clientCert {
			cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, ccPKI.Roots
		}
		return peers.StartGo(t, cfg)
	}
	var (
		rsaKX     = server([]uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}, false)
		rsaKXCert = server([]uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}, true)
		ecdheCert = server([]uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, true)
		aes256    = server([]uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}, false)
		aes128    = server([]uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, false)
		tls12     = server(nil, false) // crypto/tls's defaults: TLS 1.2 to this device
	)

	device := func(id, policy string) string {
		return "  - id: " + id + "\n    psk: " + pskHex + "\n    roots_file: root.pem\n    allowed_names: [server.test]\n" + policy
	}
	const cert = "    client_cert_file: device.crt\n    client_key_file: device.key\n"
	conf := func(kx, suite, ver string) string {
		return "listen: 127.0.0.1:0\ndevices:\n" +
			device("kx", kx) + device("suite", suite) + device("ver", "    min_version: \"1.0\"\n"+ver) +
			device("cert", cert) + device("cert-rsa", cert+"    key_exchanges: [ecdhe_rsa, ecdhe_ecdsa, rsa]\n")
	}
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"offloader.yaml": conf("", "", ""),
		"root.pem":       string(ccPKI.RootPEM()),
		"device.crt":     string(ccEC.ChainPEM()),
		"device.key":     string(ccEC.KeyPEM()),
	})
	path := filepath.Join(dir, "offloader.yaml")
	d := startDaemon(t, buildOffloader(t), path, 0)

	psk, _ := hex.DecodeString(pskHex)
	newDevice := func(id string) *client.Client {
		c, err := client.New(client.Config{Addrs: []string{d.addr}, DeviceID: id, PSK: psk})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	devs := map[string]*client.Client{}
	for _, id := range []string{"kx", "suite", "ver", "cert", "cert-rsa"} {
		devs[id] = newDevice(id)
	}
	allowed := func(id, addr string, tweak func(*tlsclient.Config), suite, version uint16) {
		t.Helper()
		st, err := policyHandshake(devs[id], addr, tweak)
		if err != nil {
			t.Fatalf("%s: %v\n%s", id, err, tail(d.logged(), 10))
		}
		if st.CipherSuite != suite || st.Version != version {
			t.Errorf("%s: negotiated %s in %#04x, want %s in %#04x", id, handshake.SuiteByID(st.CipherSuite).Name, st.Version,
				handshake.SuiteByID(suite).Name, version)
		}
	}
	denied := func(dev *client.Client, id, addr string, tweak func(*tlsclient.Config), op wire.Op, detail string) {
		t.Helper()
		_, err := policyHandshake(dev, addr, tweak)
		var we *wire.Error
		if !errors.As(err, &we) || we.Status != wire.StatusPolicyDenied || we.Op != op || we.Detail != detail {
			t.Fatalf("%s: error %v\nwant the offloader's %v refusal of %s: %q", id, err, wire.StatusPolicyDenied, op, detail)
		}
		// The operator's audit line says the same.
		waitLog(t, d, fmt.Sprintf("device=%s server_name=server.test verdict=policy_denied failed_op=%s reason=%q", id, op, detail))
	}

	// Under the first config every device's server picks what its policy
	// allows: RSA key exchange is on by default, but not for a device with
	// a client certificate unless listed.
	allowed("kx", rsaKX, nil, tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.VersionTLS12)
	allowed("suite", aes256, nil, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.VersionTLS12)
	allowed("ver", tls12, nil, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.VersionTLS12)
	allowed("cert", ecdheCert, nil, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.VersionTLS12)
	allowed("cert-rsa", rsaKXCert, nil, tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.VersionTLS12)

	// The device with a client certificate offers RSA key exchange beyond
	// what Start answered it (a hand-made ClientHello); the server picks
	// it; Auth refuses.
	addRSA := func(c *tlsclient.Config) {
		c.ShapeClientHello = func(h *handshake.ClientHello) error {
			h.CipherSuites = append(h.CipherSuites, handshake.TLS_RSA_WITH_AES_128_GCM_SHA256)
			return nil
		}
	}
	denied(devs["cert"], "cert", rsaKXCert, addRSA, wire.OpAuth,
		"key exchange rsa (cipher suite TLS_RSA_WITH_AES_128_GCM_SHA256) not allowed for this device")

	// A live reload narrows three policies.
	writeAtomic(t, path, conf(
		"    key_exchanges: [ecdhe_rsa, ecdhe_ecdsa]\n",
		"    cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n",
		"    max_version: \"1.1\"\n"))
	waitLog(t, d, "generation=2")

	// The devices' Start answers are cached (start_ttl): their ClientHellos
	// still offer what the new policy forbids, the servers pick it, and
	// Auth refuses it.
	denied(devs["kx"], "kx", rsaKX, nil, wire.OpAuth,
		"key exchange rsa (cipher suite TLS_RSA_WITH_AES_128_GCM_SHA256) not allowed for this device")
	denied(devs["suite"], "suite", aes256, nil, wire.OpAuth,
		"cipher suite TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 not allowed for this device")
	denied(devs["ver"], "ver", tls12, nil, wire.OpAuth,
		"protocol version TLS 1.2 not allowed for this device (it allows TLS 1.0 to TLS 1.1)")
	// What the new policies allow still works.
	allowed("kx", aes128, nil, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.VersionTLS12)
	allowed("suite", aes128, nil, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.VersionTLS12)
	allowed("cert-rsa", rsaKXCert, nil, tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.VersionTLS12)

	// Devices asking Start afresh, offering only what is now forbidden,
	// are refused there.
	onlyRSA := func(c *tlsclient.Config) { c.CipherSuites = []uint16{handshake.TLS_RSA_WITH_AES_128_GCM_SHA256} }
	denied(newDevice("kx"), "kx", rsaKX, onlyRSA, wire.OpStart,
		"no offered cipher suite is allowed for this device (key exchange rsa not allowed)")
	denied(newDevice("ver"), "ver", tls12, nil, wire.OpStart,
		"no offered protocol version is allowed for this device (it allows TLS 1.0 to TLS 1.1)")

	if err := d.stop(t); err != nil {
		t.Fatalf("exit: %v\n%s", err, tail(d.logged(), 20))
	}
}
