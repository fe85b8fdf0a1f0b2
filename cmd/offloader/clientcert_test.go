package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

// Client certificate files for the config tests, made once.
var (
	ccOnce                       sync.Once
	ccPKI                        *testpki.PKI
	ccRSA, ccEC, ccServer, ccRSB *testpki.Leaf
	ccErr                        error
)

func clientCertFixtures(t *testing.T) {
	t.Helper()
	ccOnce.Do(func() {
		if ccPKI, ccErr = testpki.New(time.Now()); ccErr != nil {
			return
		}
		for _, l := range []struct {
			dst **testpki.Leaf
			kt  testpki.KeyType
			d   testpki.Defect
		}{
			{&ccRSA, testpki.RSA2048, testpki.NoServerAuth},
			{&ccRSB, testpki.RSA2048, testpki.NoServerAuth},
			{&ccEC, testpki.ECDSAP256, testpki.NoServerAuth},
			{&ccServer, testpki.ECDSAP384, testpki.Good},
		} {
			if *l.dst, ccErr = ccPKI.Issue([]string{"device.clients.test"}, l.kt, l.d); ccErr != nil {
				return
			}
		}
	})
	if ccErr != nil {
		t.Fatal(ccErr)
	}
}

func pemBlock(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func pkcs1PEM(l *testpki.Leaf) string {
	return pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(l.Key.(*rsa.PrivateKey)))
}

// sec1PEM is what `openssl ecparam -genkey` writes: EC PARAMETERS, then the key.
func sec1PEM(t *testing.T, l *testpki.Leaf) string {
	der, err := x509.MarshalECPrivateKey(l.Key.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}) + pemBlock("EC PRIVATE KEY", der)
}

// keyBody is the base64 of a key PEM, which no message may quote.
func keyBodies(pems ...string) []string {
	var out []string
	for _, p := range pems {
		for _, line := range strings.Split(p, "\n") {
			if len(line) >= 40 && !strings.HasPrefix(line, "-----") {
				out = append(out, line[:40])
			}
		}
	}
	return out
}

func TestClientCertConfig(t *testing.T) {
	clientCertFixtures(t)
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"offloader.yaml": `
listen: "127.0.0.1:7443"
devices:
  - id: rsa-pkcs1
    psk: ` + pskHex + `
    client_cert_file: certs/rsa.pem
    client_key_file: keys/rsa-pkcs1.key
  - id: rsa-pkcs8
    psk: ` + pskHex + `
    client_cert_file: certs/rsa.pem
    client_key_file: keys/rsa-pkcs8.key
  - id: ec-sec1
    psk: ` + pskHex + `
    client_cert_file: certs/ec.pem
    client_key_file: keys/ec-sec1.key
  - id: none
    psk: ` + pskHex + `
`,
		"certs/rsa.pem":      string(ccRSA.ChainPEM()),
		"certs/ec.pem":       string(ccEC.ChainPEM()),
		"keys/rsa-pkcs1.key": pkcs1PEM(ccRSA),
		"keys/rsa-pkcs8.key": string(ccRSA.KeyPEM()),
		"keys/ec-sec1.key":   sec1PEM(t, ccEC),
	})
	path := filepath.Join(dir, "offloader.yaml")
	if code, out, errOut := run("check", "--config", path); code != 0 || out != "ok: 4 devices\n" || errOut != "" {
		t.Fatalf("check: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []*testpki.Leaf{ccRSA, ccRSA, ccEC, nil} {
		d := cfg.devices[i]
		if want == nil {
			if d.ClientCertificate != nil || d.ClientKey != nil {
				t.Errorf("%s: a client certificate appeared", d.ID)
			}
			continue
		}
		if len(d.ClientCertificate) != len(want.Chain) || string(d.ClientCertificate[0]) != string(want.Chain[0]) {
			t.Errorf("%s: chain of %d certificates, not the file's", d.ID, len(d.ClientCertificate))
		}
		if d.ClientKey == nil || !want.Cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(d.ClientKey.Public()) {
			t.Errorf("%s: key does not match", d.ID)
		}
	}
}

func TestBadClientCertConfigs(t *testing.T) {
	clientCertFixtures(t)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edDER, err := x509.MarshalPKCS8PrivateKey(edKey)
	if err != nil {
		t.Fatal(err)
	}
	encrypted := "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"
	rsaChain, ecChain := string(ccRSA.ChainPEM()), string(ccEC.ChainPEM())
	rsaKey, ecKey := pkcs1PEM(ccRSA), string(ccEC.KeyPEM())
	dev := func(extra string) string {
		return "listen: 127.0.0.1:7443\ndevices:\n  - id: d1\n    psk: " + pskHex + "\n" + extra
	}
	both := dev("    client_cert_file: c.pem\n    client_key_file: k.pem\n")
	tests := []struct {
		name  string
		yaml  string
		files map[string]string
		want  string // after "offloader: config PATH: "
	}{
		{"cert without key", dev("    client_cert_file: c.pem\n"), map[string]string{"c.pem": rsaChain},
			"devices[0].client_key_file: missing (client_cert_file needs its key)"},
		{"key without cert", dev("    client_key_file: k.pem\n"), map[string]string{"k.pem": rsaKey},
			"devices[0].client_cert_file: missing (client_key_file needs its certificate)"},
		{"cert file missing", both, map[string]string{"k.pem": rsaKey},
			"devices[0].client_cert_file: open DIR/c.pem: no such file or directory"},
		{"key file missing", both, map[string]string{"c.pem": rsaChain},
			"devices[0].client_key_file: open DIR/k.pem: no such file or directory"},
		{"no certificate", both, map[string]string{"c.pem": "hello", "k.pem": rsaKey},
			"devices[0].client_cert_file: DIR/c.pem: no PEM certificate in it"},
		{"key in the chain file", both, map[string]string{"c.pem": rsaChain + rsaKey, "k.pem": rsaKey},
			`devices[0].client_cert_file: DIR/c.pem: holds a "RSA PRIVATE KEY" PEM block; want only CERTIFICATE blocks`},
		{"certificate does not parse", both, map[string]string{"c.pem": pemBlock("CERTIFICATE", []byte{0x30, 0}), "k.pem": rsaKey},
			"devices[0].client_cert_file: DIR/c.pem: certificate 0 does not parse"},
		{"no key", both, map[string]string{"c.pem": rsaChain, "k.pem": "hello"},
			"devices[0].client_key_file: DIR/k.pem: no PEM private key in it"},
		{"certificate as key", both, map[string]string{"c.pem": rsaChain, "k.pem": rsaChain},
			`devices[0].client_key_file: DIR/k.pem: holds a "CERTIFICATE" PEM block; want PRIVATE KEY`},
		{"two keys", both, map[string]string{"c.pem": rsaChain, "k.pem": rsaKey + rsaKey},
			"devices[0].client_key_file: DIR/k.pem: more than one PEM block besides EC PARAMETERS"},
		{"public key", both, map[string]string{"c.pem": ecChain, "k.pem": pemBlock("PUBLIC KEY", []byte{0x30})},
			`devices[0].client_key_file: DIR/k.pem: holds a "PUBLIC KEY" PEM block; want PRIVATE KEY`},
		{"encrypted key", both, map[string]string{"c.pem": rsaChain, "k.pem": encrypted},
			"devices[0].client_key_file: DIR/k.pem: the key is encrypted"},
		{"key does not parse", both, map[string]string{"c.pem": rsaChain, "k.pem": pemBlock("EC PRIVATE KEY", []byte{0x30, 0})},
			"devices[0].client_key_file: DIR/k.pem: EC PRIVATE KEY key does not parse"},
		{"key of another certificate", both, map[string]string{"c.pem": rsaChain, "k.pem": pkcs1PEM(ccRSB)},
			"devices[0].client_key_file: DIR/k.pem: the private key does not match the leaf certificate (certificate DIR/c.pem)"},
		{"ECDSA key for an RSA certificate", both, map[string]string{"c.pem": rsaChain, "k.pem": ecKey},
			"devices[0].client_key_file: DIR/k.pem: the private key does not match the leaf certificate"},
		{"Ed25519 key", both, map[string]string{"c.pem": ecChain, "k.pem": pemBlock("PRIVATE KEY", edDER)},
			"devices[0].client_key_file: DIR/k.pem: unsupported key type ed25519.PublicKey (want RSA or ECDSA)"},
		{"server certificate", both, map[string]string{"c.pem": string(ccServer.ChainPEM()), "k.pem": string(ccServer.KeyPEM())},
			"devices[0].client_cert_file: DIR/c.pem: the leaf's extended key usage does not allow client authentication"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{"offloader.yaml": tt.yaml}
			for k, v := range tt.files {
				files[k] = v
			}
			writeFiles(t, dir, files)
			path := filepath.Join(dir, "offloader.yaml")
			want := "offloader: config " + path + ": " + strings.ReplaceAll(tt.want, "DIR", dir)
			code, out, errOut := run("check", "--config", path)
			if code != 1 || out != "" || !strings.HasPrefix(errOut, want) {
				t.Fatalf("exit %d, stdout %q, stderr %q\nwant exit 1 and stderr starting %q", code, out, errOut, want)
			}
			for _, secret := range keyBodies(tt.files["k.pem"], rsaKey, ecKey) {
				if strings.Contains(errOut, secret) {
					t.Fatalf("the error quotes key material: %q", errOut)
				}
			}
		})
	}
}

// TestExampleClientCert keeps the example's commented client certificate
// fields valid: uncommented, with files in place, the example loads.
func TestExampleClientCert(t *testing.T) {
	clientCertFixtures(t)
	example, err := os.ReadFile("../../offloader.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(example), "REPLACE with the output of: offloader psk", tokenHex, 1) // the example ships no key
	for _, k := range []string{"client_cert_file", "client_key_file"} {
		if !strings.Contains(text, "    # "+k+": ") {
			t.Fatalf("the example does not show %s", k)
		}
		text = strings.Replace(text, "    # "+k+": ", "    "+k+": ", 1)
	}
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"offloader.yaml":          text,
		"keys/token.hex":          tokenHex + "\n",
		"keys/sensor-0042.psk":    pskHex + "\n",
		"roots/internal-ca.pem":   rootPEM(t),
		"clients/sensor-0042.crt": string(ccEC.ChainPEM()),
		"clients/sensor-0042.key": sec1PEM(t, ccEC),
	})
	cfg, err := loadConfig(filepath.Join(dir, "offloader.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.devices[0].ClientKey == nil || cfg.devices[1].ClientKey != nil {
		t.Fatal("the example's client certificate did not load on its device only")
	}
}
