package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/server"
)

// TestPolicyConfig: max_version, cipher_suites and key_exchanges load into
// the device as the server enforces them; names are taken case aside, and
// Go's older ChaCha20-Poly1305 names too.
func TestPolicyConfig(t *testing.T) {
	clientCertFixtures(t)
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"offloader.yaml": `
listen: "127.0.0.1:7443"
devices:
  - id: capped
    psk: ` + pskHex + `
    min_version: "1.0"
    max_version: "1.1"
  - id: listed
    psk: ` + pskHex + `
    cipher_suites:
      - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
      - tls_ecdhe_rsa_with_aes_128_gcm_sha256
      - TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305
    key_exchanges: [ecdhe_ecdsa, ECDHE_RSA]
  - id: cert-rsa
    psk: ` + pskHex + `
    client_cert_file: device.crt
    client_key_file: device.key
    cipher_suites: [TLS_RSA_WITH_AES_128_GCM_SHA256]
    key_exchanges: [rsa]
  - id: defaults
    psk: ` + pskHex + `
`,
		"device.crt": string(ccEC.ChainPEM()),
		"device.key": string(ccEC.KeyPEM()),
	})
	path := filepath.Join(dir, "offloader.yaml")
	if code, out, errOut := run("check", "--config", path); code != 0 || out != "ok: 4 devices\n" || errOut != "" {
		t.Fatalf("check: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	capped, listed, certRSA, defaults := cfg.devices[0], cfg.devices[1], cfg.devices[2], cfg.devices[3]
	if capped.MinVersion != handshake.VersionTLS10 || capped.MaxVersion != handshake.VersionTLS11 {
		t.Errorf("capped: versions %#04x..%#04x, want TLS 1.0..1.1", capped.MinVersion, capped.MaxVersion)
	}
	if want := []uint16{handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		handshake.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}; !slices.Equal(listed.CipherSuites, want) {
		t.Errorf("listed: cipher suites %x, want %x", listed.CipherSuites, want)
	}
	if want := []handshake.KeyExchange{handshake.KeyExchangeECDHEECDSA, handshake.KeyExchangeECDHERSA}; !slices.Equal(listed.KeyExchanges, want) {
		t.Errorf("listed: key exchanges %v, want %v", listed.KeyExchanges, want)
	}
	if !slices.Equal(certRSA.KeyExchanges, []handshake.KeyExchange{handshake.KeyExchangeRSA}) ||
		!slices.Equal(certRSA.CipherSuites, []uint16{handshake.TLS_RSA_WITH_AES_128_GCM_SHA256}) {
		t.Errorf("cert-rsa: %x %v", certRSA.CipherSuites, certRSA.KeyExchanges)
	}
	if defaults.MaxVersion != 0 || defaults.CipherSuites != nil || defaults.KeyExchanges != nil {
		t.Errorf("defaults: %#04x %x %v, want all unset (the server's defaults)", defaults.MaxVersion, defaults.CipherSuites, defaults.KeyExchanges)
	}
	// The registry takes each entry as loaded.
	reg := server.NewRegistry()
	for _, d := range cfg.devices {
		if err := reg.Add(d); err != nil {
			t.Errorf("%s: %v", d.ID, err)
		}
	}
}

// TestBadPolicyConfigs: check and serve refuse a bad policy field, naming
// the file and the field (and the entry of a list).
func TestBadPolicyConfigs(t *testing.T) {
	clientCertFixtures(t)
	dev := func(extra string) string {
		return "listen: 127.0.0.1:7443\ndevices:\n  - id: d1\n    psk: " + pskHex + "\n" + extra
	}
	certFiles := map[string]string{"device.crt": string(ccEC.ChainPEM()), "device.key": string(ccEC.KeyPEM())}
	const cert = "    client_cert_file: device.crt\n    client_key_file: device.key\n"
	for _, tt := range []struct {
		name  string
		yaml  string
		files map[string]string
		want  string // after "offloader: config PATH: "
	}{
		{"bad max_version", dev("    max_version: 1.3\n"), nil,
			`devices[0].max_version: "1.3" is not a TLS version: use "1.0", "1.1" or "1.2"`},
		{"max_version below the default min", dev("    max_version: \"1.1\"\n"), nil,
			"devices[0].max_version: TLS 1.1 is below the lowest version, TLS 1.2"},
		{"max_version below min_version", dev("    min_version: \"1.1\"\n    max_version: \"1.0\"\n"), nil,
			"devices[0].max_version: TLS 1.0 is below the lowest version, TLS 1.1"},
		{"unknown suite", dev("    cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]\n"), nil,
			`devices[0].cipher_suites[1]: "TLS_AES_128_GCM_SHA256" is not a cipher suite the offloader implements`},
		{"OpenSSL suite name", dev("    cipher_suites: [ECDHE-RSA-AES128-GCM-SHA256]\n"), nil,
			`devices[0].cipher_suites[0]: "ECDHE-RSA-AES128-GCM-SHA256" is not a cipher suite the offloader implements`},
		{"suite as a number", dev("    cipher_suites: [0xc02f]\n"), nil,
			`devices[0].cipher_suites[0]: "0xc02f" is not a cipher suite`},
		{"suite twice", dev("    cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA, tls_rsa_with_aes_128_cbc_sha]\n"), nil,
			"devices[0].cipher_suites[1]: TLS_RSA_WITH_AES_128_CBC_SHA is listed twice"},
		{"unknown key exchange", dev("    key_exchanges: [ecdhe_rsa, dhe_rsa]\n"), nil,
			`devices[0].key_exchanges[1]: "dhe_rsa" is not a key exchange: use ecdhe_rsa, ecdhe_ecdsa or rsa`},
		{"key exchange twice", dev("    key_exchanges: [rsa, ecdhe_rsa, rsa]\n"), nil,
			"devices[0].key_exchanges[2]: rsa is listed twice"},
		{"suites as a string", dev("    cipher_suites: TLS_RSA_WITH_AES_128_CBC_SHA\n"), nil, "cannot unmarshal"},
		{"suite outside key_exchanges", dev("    cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_RSA_WITH_AES_128_GCM_SHA256]\n    key_exchanges: [ecdhe_rsa]\n"), nil,
			"devices[0].cipher_suites[1]: TLS_RSA_WITH_AES_128_GCM_SHA256 uses key exchange rsa, which the device's key exchanges do not list"},
		{"RSA suite with a client certificate", dev(cert + "    cipher_suites: [TLS_RSA_WITH_AES_128_GCM_SHA256]\n"), certFiles,
			"devices[0].cipher_suites[0]: TLS_RSA_WITH_AES_128_GCM_SHA256 uses key exchange rsa, which is off for a device with a client certificate unless its key exchanges list it"},
		{"TLS 1.2 suite above max_version", dev("    min_version: \"1.0\"\n    max_version: \"1.1\"\n    cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n"), nil,
			"devices[0].cipher_suites[1]: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 needs TLS 1.2, above the device's highest version, TLS 1.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{"offloader.yaml": tt.yaml}
			for k, v := range tt.files {
				files[k] = v
			}
			writeFiles(t, dir, files)
			path := filepath.Join(dir, "offloader.yaml")
			want := "offloader: config " + path + ": " + tt.want
			if tt.want == "cannot unmarshal" {
				want = "offloader: config " + path + ": "
			}
			for _, cmd := range []string{"check", "serve"} {
				code, out, errOut := run(cmd, "--config", path)
				if code != 1 || out != "" || !strings.HasPrefix(errOut, want) || !strings.Contains(errOut, tt.want) {
					t.Errorf("%s: exit %d, stdout %q, stderr %q\nwant exit 1 and stderr starting %q", cmd, code, out, errOut, want)
				}
				if strings.Contains(errOut, pskHex) {
					t.Errorf("%s: the PSK is quoted in %q", cmd, errOut)
				}
			}
		})
	}
}

// TestExamplePolicy keeps the example's commented policy fields valid:
// uncommented, the example loads them.
func TestExamplePolicy(t *testing.T) {
	example, err := os.ReadFile("../../offloader.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(example), "REPLACE with the output of: offloader psk", tokenHex, 1) // the example ships no key
	for _, k := range []string{"max_version", "cipher_suites", "key_exchanges"} {
		if !strings.Contains(text, "    # "+k+": ") {
			t.Fatalf("the example does not show %s", k)
		}
		text = strings.Replace(text, "    # "+k+": ", "    "+k+": ", 1)
	}
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"offloader.yaml":        text,
		"keys/token.hex":        tokenHex + "\n",
		"keys/sensor-0042.psk":  pskHex + "\n",
		"roots/internal-ca.pem": rootPEM(t),
	})
	cfg, err := loadConfig(filepath.Join(dir, "offloader.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.devices[0]
	if d.MaxVersion != handshake.VersionTLS12 || len(d.CipherSuites) != 2 || len(d.KeyExchanges) != 2 {
		t.Errorf("the example's policy did not load: %#04x %x %v", d.MaxVersion, d.CipherSuites, d.KeyExchanges)
	}
}
