package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/tlsclient"
)

// TestServeClientCertificate goes from the YAML fields to a server's
// verified peer certificate: serve loads client_cert_file and
// client_key_file, a device reaches it over a sealed channel, and a
// crypto/tls server requiring a client certificate from the test root sees
// the device's.
func TestServeClientCertificate(t *testing.T) {
	clientCertFixtures(t)
	serverLeaf, err := ccPKI.Issue([]string{"server.test"}, testpki.RSA2048, testpki.Good)
	if err != nil {
		t.Fatal(err)
	}
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"offloader.yaml": `
listen: "127.0.0.1:0"
devices:
  - id: sensor-1
    psk: ` + pskHex + `
    roots_file: root.pem
    allowed_names: ["server.test"]
    client_cert_file: device.crt
    client_key_file: device.key
`,
		"root.pem":   string(ccPKI.RootPEM()),
		"device.crt": string(ccEC.ChainPEM()),
		"device.key": string(ccEC.KeyPEM()),
	})
	cfg, err := loadConfig(filepath.Join(dir, "offloader.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	served := make(chan error, 1)
	go func() { served <- serve(ctx, cfg, pw); pw.Close() }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	sc := bufio.NewScanner(pr)
	var addr string
	for addr == "" && sc.Scan() {
		if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatal("serve printed no listening line")
	}
	go io.Copy(io.Discard, pr)

	psk, _ := hex.DecodeString(pskHex)
	dev, err := client.New(client.Config{Addrs: []string{addr}, DeviceID: "sensor-1", PSK: psk})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()

	scfg := &tls.Config{Certificates: []tls.Certificate{serverLeaf.TLSCertificate()}, MaxVersion: tls.VersionTLS12,
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ccPKI.Roots}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	seen := make(chan []*x509.Certificate, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		tc := tls.Server(c, scfg)
		if tc.Handshake() == nil {
			seen <- tc.ConnectionState().PeerCertificates
			io.Copy(tc, tc)
		}
		close(seen)
	}()
	raw, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(20 * time.Second))
	c := tlsclient.Client(raw, &tlsclient.Config{Offloader: dev, ServerName: "server.test"})
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "ping"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo %q %v", buf, err)
	}
	if got := <-seen; len(got) == 0 || !got[0].Equal(ccEC.Cert) {
		t.Fatal("the server did not see the certificate named in the config")
	}
}
