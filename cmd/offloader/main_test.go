package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tlsoffload/tlsoffload/certs"
)

const (
	pskHex   = "42a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f"
	tokenHex = "01f2e3d4c5b6a798897a6b5c4d3e2f1001f2e3d4c5b6a798897a6b5c4d3e2f10"
)

func run(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = Main(args, &o, &e)
	return code, o.String(), e.String()
}

// writeFiles writes name → content under dir and returns dir.
func writeFiles(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// rootPEM is a self-signed CA certificate in PEM.
func rootPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test root"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// testPin is an SPKI pin in the config's form.
const testPin = "sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

// crlPEM is an empty CRL of a fresh CA, in PEM.
func crlPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CRL issuer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		SubjectKeyId: []byte{1, 2, 3},
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(time.Hour),
	}, ca, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}))
}

// TestCheckValid loads a config using every field; its files are named
// relative to the config's directory, which is not the working directory.
func TestCheckValid(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"etc/offloader.yaml": `
listen: "unix:/run/tlsoffload/offloader.sock"
plaintext: true
plaintext_uids: [1000, 1001]
metrics_listen: "127.0.0.1:9464"
token_key_file: keys/token.hex
start_ttl: 5m
token_ttl: 30s
frame_timeout: 10s
idle_timeout: 5m
max_in_flight: 32
devices:
  - id: sensor-1
    psk: ` + pskHex + `
    allowed_names: ["api.example.com", "*.example.net"]
  - id: sensor-2
    psk_file: keys/sensor-2.psk
    roots_file: roots.pem
    allowed_names: ["*"]
    min_version: "1.0"
    profile: rfc5280
    pins: ["` + testPin + `"]
    crls_file: crls/ca.crl
`,
		"etc/keys/token.hex":    tokenHex + "\n",
		"etc/keys/sensor-2.psk": "  " + pskHex + "\n\n",
		"etc/roots.pem":         rootPEM(t),
		"etc/crls/ca.crl":       crlPEM(t),
	})
	path := filepath.Join(dir, "etc/offloader.yaml")
	code, out, errOut := run("check", "--config", path)
	if code != 0 || out != "ok: 2 devices\n" || errOut != "" {
		t.Fatalf("check: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.startTTL != 5*time.Minute || cfg.tokenTTL != 30*time.Second || cfg.frameTimeout != 10*time.Second ||
		cfg.idleTimeout != 5*time.Minute || cfg.maxInFlight != 32 || !cfg.plaintext || len(cfg.plaintextUIDs) != 2 ||
		cfg.metricsListen != "127.0.0.1:9464" || hex.EncodeToString(cfg.tokenKey) != tokenHex {
		t.Errorf("loaded %+v", cfg)
	}
	d := cfg.devices[1]
	if d.ID != "sensor-2" || hex.EncodeToString(d.PSK) != pskHex || d.Roots == nil || len(d.AllowedNames) != 1 {
		t.Errorf("device %+v", d)
	}
	if cfg.devices[0].Roots != nil {
		t.Error("a device without roots_file has roots")
	}
	if cfg.devices[0].Profile != certs.ProfileWebPKI || d.Profile != certs.ProfileRFC5280 {
		t.Errorf("profile: %v %v, want webpki by default and rfc5280 as set", cfg.devices[0].Profile, d.Profile)
	}
	if len(cfg.devices[0].Pins) != 0 || len(d.Pins) != 1 || d.Pins[0].String() != testPin {
		t.Errorf("pins: %v %v", cfg.devices[0].Pins, d.Pins)
	}
	if cfg.devices[0].CRLs != nil || d.CRLs.Len() != 1 {
		t.Errorf("crls_file: %v, %d CRLs", cfg.devices[0].CRLs, d.CRLs.Len())
	}
	if cfg.devices[0].MinVersion != 0x0303 || d.MinVersion != 0x0301 {
		t.Errorf("min_version: %#04x %#04x, want TLS 1.2 by default and TLS 1.0 as set", cfg.devices[0].MinVersion, d.MinVersion)
	}
	// The short flag too.
	if code, out, _ := run("check", "-c", path); code != 0 || out != "ok: 2 devices\n" {
		t.Errorf("check -c: exit %d, %q", code, out)
	}
}

func TestBadConfigs(t *testing.T) {
	roots := rootPEM(t)
	dev := func(extra string) string {
		return "listen: 127.0.0.1:7443\ndevices:\n  - id: d1\n" + extra
	}
	tests := []struct {
		name  string
		yaml  string
		files map[string]string
		want  string // after "offloader: config PATH: "
	}{
		{"missing listen", "devices:\n  - id: d\n    psk: " + pskHex + "\n", nil, "listen: missing"},
		{"bad listen", "listen: nohost\n", nil, `listen: "nohost": want "host:port"`},
		{"bad port", "listen: 127.0.0.1:99999\n", nil, `listen: "127.0.0.1:99999": bad port`},
		{"empty unix", "listen: 'unix:'\n", nil, "listen: unix: needs a socket path"},
		{"plaintext on a public address", "listen: 0.0.0.0:7443\nplaintext: true\n", nil,
			`plaintext: only allowed with a unix: listen address (the peer's uid is checked), not "0.0.0.0:7443"`},
		{"plaintext on loopback", "listen: 127.0.0.1:7443\nplaintext: true\nplaintext_uids: [0]\n", nil,
			`plaintext: only allowed with a unix: listen address (the peer's uid is checked), not "127.0.0.1:7443"`},
		{"plaintext without uids", "listen: unix:/run/o.sock\nplaintext: true\n", nil,
			"plaintext_uids: missing: plaintext needs the uids whose processes may claim a device"},
		{"uids without plaintext", "listen: unix:/run/o.sock\nplaintext_uids: [1]\n", nil,
			"plaintext_uids: set without plaintext: true"},
		{"constant token_key", "listen: 127.0.0.1:1\ntoken_key: " + strings.Repeat("00", 32) + "\n", nil,
			"token_key: every byte is the same: not a key"},
		{"constant token_key_file", "listen: 127.0.0.1:1\ntoken_key_file: t.hex\n", map[string]string{"t.hex": strings.Repeat("ab", 32)},
			"token_key_file: every byte is the same: not a key"},
		{"all-zero psk", dev("    psk: " + strings.Repeat("00", 16) + "\n"), nil,
			"devices[0].psk: every byte is the same: not a key"},
		{"constant psk_file", dev("    psk_file: p\n"), map[string]string{"p": strings.Repeat("42", 32)},
			"devices[0].psk_file: every byte is the same: not a key"},
		{"bad metrics_listen", "listen: 127.0.0.1:1\nmetrics_listen: x\n", nil, "metrics_listen: "},
		{"unknown key", "listen: 127.0.0.1:1\nlisten_addr: x\n", nil, `line 2: unknown field "listen_addr"`},
		{"unknown device key", dev("    psk: " + pskHex + "\n    pks: x\n"), nil, `line 5: unknown field "pks"`},
		{"yaml syntax", "listen: [\n", nil, "yaml: "},
		{"empty file", "", nil, "empty file"},
		{"two documents", "listen: 127.0.0.1:1\n---\nlisten: 127.0.0.1:2\n", nil, "more than one YAML document"},
		{"bad duration", "listen: 127.0.0.1:1\nstart_ttl: 5 minutes\n", nil,
			`start_ttl: "5 minutes" is not a duration`},
		{"number as duration", "listen: 127.0.0.1:1\ntoken_ttl: 30\n", nil, `token_ttl: "30" is not a duration`},
		{"negative duration", "listen: 127.0.0.1:1\nidle_timeout: -1s\n", nil, `idle_timeout: "-1s" is negative`},
		{"negative max_in_flight", "listen: 127.0.0.1:1\nmax_in_flight: -1\n", nil, "max_in_flight: -1 is negative"},
		{"token_key short", "listen: 127.0.0.1:1\ntoken_key: abcd\n", nil,
			"token_key: must be 64 hex characters (32 bytes), got 4 characters"},
		{"token_key and file", "listen: 127.0.0.1:1\ntoken_key: " + tokenHex + "\ntoken_key_file: t\n", nil,
			"token_key: set token_key or token_key_file, not both"},
		{"token_key_file missing", "listen: 127.0.0.1:1\ntoken_key_file: nope.hex\n", nil,
			"token_key_file: open DIR/nope.hex: no such file or directory"},
		{"no devices", "listen: 127.0.0.1:1\n", nil, "devices: none configured"},
		{"device without id", "listen: 127.0.0.1:1\ndevices:\n  - psk: " + pskHex + "\n", nil, "devices[0].id: missing"},
		{"device id with space", "listen: 127.0.0.1:1\ndevices:\n  - id: a b\n    psk: " + pskHex + "\n", nil,
			`devices[0].id: "a b": only printable ASCII without spaces`},
		{"device id not ASCII", "listen: 127.0.0.1:1\ndevices:\n  - id: capteur-é\n    psk: " + pskHex + "\n", nil,
			`devices[0].id: "capteur-é": only printable ASCII without spaces`},
		{"duplicate id", dev("    psk: " + pskHex + "\n  - id: d1\n    psk: " + pskHex + "\n"), nil,
			`devices[1].id: duplicate device id "d1" (also devices[0])`},
		{"no psk", dev(""), nil, "devices[0].psk: missing"},
		{"psk short", dev("    psk: abcdef\n"), nil, "devices[0].psk: must be 32..128 hex characters (16..64 bytes), got 6"},
		{"psk odd", dev("    psk: " + pskHex[:33] + "\n"), nil, "devices[0].psk: must be 32..128 hex characters (16..64 bytes), got 33"},
		{"psk not hex", dev("    psk: " + strings.Repeat("zz", 16) + "\n"), nil, "devices[0].psk: must be 32..128 hex characters (16..64 bytes): not hex"},
		{"psk and psk_file", dev("    psk: " + pskHex + "\n    psk_file: p\n"), nil, "devices[0].psk: set psk or psk_file, not both"},
		{"psk_file missing", dev("    psk: " + pskHex + "\n  - id: d2\n    psk_file: nope.psk\n"), nil,
			"devices[1].psk_file: open DIR/nope.psk: no such file or directory"},
		{"psk_file bad", dev("    psk_file: d1.psk\n"), map[string]string{"d1.psk": "0123\n"},
			"devices[0].psk_file: DIR/d1.psk: must be 32..128 hex characters (16..64 bytes), got 4"},
		{"roots_file without PEM", dev("    psk: " + pskHex + "\n    roots_file: r.pem\n"), map[string]string{"r.pem": "hello"},
			"devices[0].roots_file: DIR/r.pem: no PEM certificate in it"},
		{"roots_file missing", dev("    psk: " + pskHex + "\n    roots_file: r.pem\n"), nil,
			"devices[0].roots_file: open DIR/r.pem: no such file"},
		{"bad pattern", dev("    psk: " + pskHex + "\n    roots_file: r.pem\n    allowed_names: [a.com, 'a*.b.com']\n"),
			map[string]string{"r.pem": roots},
			`devices[0].allowed_names[1]: "a*.b.com": a wildcard must be the whole first label`},
		{"bad min_version", dev("    psk: " + pskHex + "\n    min_version: 1.3\n"), nil,
			`devices[0].min_version: "1.3" is not a TLS version: use "1.0", "1.1" or "1.2"`},
		{"SSL 3.0 min_version", dev("    psk: " + pskHex + "\n    min_version: ssl3\n"), nil,
			`devices[0].min_version: "ssl3" is not a TLS version`},
		{"empty pattern", dev("    psk: " + pskHex + "\n    allowed_names: ['']\n"), nil,
			`devices[0].allowed_names[0]: "" is not a name pattern`},
		{"unknown profile", dev("    psk: " + pskHex + "\n    profile: legacy\n"), nil,
			`devices[0].profile: unknown verification profile "legacy" (want "webpki" or "rfc5280")`},
		{"pin without its prefix", dev("    psk: " + pskHex + "\n    pins: [\"" + testPin + "\", \"" + testPin[len("sha256/"):] + "\"]\n"), nil,
			`devices[0].pins[1]: pin "` + testPin[len("sha256/"):] + `" does not begin with "sha256/"`},
		{"pin too short", dev("    psk: " + pskHex + "\n    pins: [\"sha256/AAAA\"]\n"), nil,
			`devices[0].pins[0]: pin "sha256/AAAA": want 44 base64 characters`},
		{"crls_file missing", dev("    psk: " + pskHex + "\n    crls_file: ca.crl\n"), nil,
			"devices[0].crls_file: CRL file: open DIR/ca.crl: no such file"},
		{"crls_file of certificates", dev("    psk: " + pskHex + "\n    crls_file: ca.crl\n"), map[string]string{"ca.crl": roots},
			`devices[0].crls_file: CRL file DIR/ca.crl: PEM block "CERTIFICATE", want "X509 CRL"`},
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
			for _, cmd := range []string{"check", "serve"} {
				code, out, errOut := run(cmd, "--config", path)
				if code != 1 || out != "" || !strings.HasPrefix(errOut, want) {
					t.Errorf("%s: exit %d, stdout %q, stderr %q\nwant exit 1 and stderr starting %q", cmd, code, out, errOut, want)
				}
				if strings.Contains(errOut, pskHex) || strings.Contains(errOut, tokenHex) || strings.Contains(errOut, "zzzz") {
					t.Errorf("%s: a key is quoted in %q", cmd, errOut)
				}
			}
		})
	}
}

// TestDuration: Go duration strings are durations; an empty or null value
// is unset; anything else is kept for the loader to report by field name.
func TestDuration(t *testing.T) {
	for _, c := range []struct {
		yaml string
		want time.Duration
		err  string // of check
	}{
		{`d: "30s"`, 30 * time.Second, ""},
		{`d: 1h30m`, 90 * time.Minute, ""},
		{`d: 300ms`, 300 * time.Millisecond, ""},
		{`d: 0`, 0, ""},
		{`d: ""`, 0, ""},
		{`d:`, 0, ""},
		{`d: ~`, 0, ""},
		{`e: 1s`, 0, ""},
		{`d: 30`, 0, `"30" is not a duration (like "30s" or "5m")`},
		{`d: 5 minutes`, 0, `"5 minutes" is not a duration`},
		{`d: -1s`, -time.Second, `"-1s" is negative`},
	} {
		var v struct {
			D Duration `yaml:"d"`
			E Duration `yaml:"e"`
		}
		if err := yaml.Unmarshal([]byte(c.yaml), &v); err != nil {
			t.Errorf("%s: %v", c.yaml, err)
			continue
		}
		err := v.D.check()
		if v.D.D != c.want || (err == nil) != (c.err == "") || err != nil && !strings.HasPrefix(err.Error(), c.err) {
			t.Errorf("%s: %v, check %v; want %v, %q", c.yaml, v.D.D, err, c.want, c.err)
		}
	}
	var v struct {
		D Duration `yaml:"d"`
	}
	if err := yaml.Unmarshal([]byte("d: [1s]\n"), &v); err == nil || !strings.Contains(err.Error(), "line 1: cannot unmarshal !!seq into a duration") {
		t.Errorf("a list as a duration: %v", err)
	}
}

func TestMissingConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.yaml")
	code, _, errOut := run("check", "--config", path)
	if code != 1 || !strings.HasPrefix(errOut, "offloader: config: open "+path+": no such file") {
		t.Errorf("exit %d, %q", code, errOut)
	}
}

func TestPSK(t *testing.T) {
	seen := map[string]bool{}
	shape := regexp.MustCompile(`^[0-9a-f]{64}\n$`)
	for range 3 {
		code, out, errOut := run("psk")
		if code != 0 || errOut != "" || !shape.MatchString(out) {
			t.Fatalf("psk: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if seen[out] {
			t.Fatalf("psk printed %q twice", out)
		}
		seen[out] = true
		// What psk prints, psk: takes.
		if _, err := decodeKey(out, 16, 64); err != nil {
			t.Errorf("psk output refused as a psk: %v", err)
		}
	}
}

func TestUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "no command"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"serve"}, "serve: --config FILE is required"},
		{[]string{"check", "--config"}, "check: flag needs an argument: -config"},
		{[]string{"check", "--verbose"}, "check: flag provided but not defined: -verbose"},
		{[]string{"check", "-c", "x.yaml", "extra"}, `check: unexpected argument "extra"`},
		{[]string{"psk", "32"}, `psk takes no arguments, got "32"`},
	} {
		code, out, errOut := run(tt.args...)
		want := "offloader: error: " + tt.want + "\noffloader: hint: run 'offloader help' for usage\n"
		if code != 2 || out != "" || errOut != want {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2, %q", tt.args, code, out, errOut, want)
		}
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"check", "-h"}} {
		code, out, errOut := run(args...)
		if code != 0 || errOut != "" || !strings.Contains(out, "exit status:") || !strings.Contains(out, "serve --config FILE") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}

// TestExampleConfig keeps offloader.example.yaml valid: every key it shows
// is one the loader knows.
func TestExampleConfig(t *testing.T) {
	example, err := os.ReadFile("../../offloader.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"offloader.yaml":        string(example),
		"keys/token.hex":        tokenHex + "\n",
		"keys/sensor-0042.psk":  pskHex + "\n",
		"roots/internal-ca.pem": rootPEM(t),
	})
	// As shipped, it holds no usable secret: check refuses it.
	path := filepath.Join(dir, "offloader.yaml")
	code, out, errOut := run("check", "--config", path)
	if code != 1 || out != "" || !strings.Contains(errOut, "devices[1].psk: must be") {
		t.Errorf("example config as shipped: exit %d, stdout %q, stderr %q; want refused at devices[1].psk", code, out, errOut)
	}
	if strings.Contains(string(example), `"*"]`) {
		t.Error("the example allows every server name")
	}
	// Filled in, it passes.
	filled := strings.Replace(string(example), "REPLACE with the output of: offloader psk", tokenHex, 1)
	writeFiles(t, dir, map[string]string{"offloader.yaml": filled})
	code, out, errOut = run("check", "--config", path)
	if code != 0 || out != "ok: 2 devices\n" || errOut != "" {
		t.Errorf("example config filled in: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// FuzzLoadConfig: no config file makes the loader panic, and an accepted
// one satisfies the invariants serve relies on.
func FuzzLoadConfig(f *testing.F) {
	example, err := os.ReadFile("../../offloader.example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte("listen: unix:/tmp/x.sock\nplaintext: true\ndevices:\n  - id: a\n    psk: " + pskHex + "\n    allowed_names: ['*', '*.a.b']\n"))
	f.Add([]byte("listen: 127.0.0.1:0\nstart_ttl: 1h\ndevices: [{id: a, psk: " + pskHex + "}]\n"))
	f.Add([]byte("listen: &a x\ndevices: *a\n"))
	f.Add([]byte("listen: unix:/run/o.sock\nplaintext: true\nplaintext_uids: [7]\nmax_conns: 9\nmin_frame_rate: -1\n" +
		"device_limits: {rate: 2.5, frame_bytes: 9}\ndevices:\n  - id: a\n    psk: " + pskHex + "\n    limits: {max_channels: 3}\n"))
	f.Add([]byte("listen: 127.0.0.1:0\ndevices:\n  - id: a\n    psk: " + pskHex + "\n    min_version: '1.0'\n    max_version: '1.1'\n" +
		"    cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls_rsa_with_aes_256_cbc_sha]\n    key_exchanges: [ecdhe_rsa, RSA]\n"))
	dir := f.TempDir()
	path := filepath.Join(dir, "c.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadConfig(path)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "offloader: config") {
				t.Errorf("error %q lacks the prefix", err)
			}
			return
		}
		if cfg.listen == "" || len(cfg.devices) == 0 || cfg.startTTL < 0 || cfg.maxInFlight < 0 {
			t.Errorf("accepted %+v", cfg)
		}
		l := cfg.serviceLimits
		if l.maxConns < 0 || l.maxOpeningPerSource < 0 || l.openTimeout < 0 || l.flightWait < 0 || l.frameBudget < 0 ||
			l.minFrameRate < -1 || l.deviceLimits.Rate < 0 || (cfg.plaintext && (len(cfg.plaintextUIDs) == 0 || !strings.HasPrefix(cfg.listen, "unix:"))) {
			t.Errorf("accepted limits %+v, plaintext %v %v on %q", l, cfg.plaintext, cfg.plaintextUIDs, cfg.listen)
		}
		ids := map[string]bool{}
		for _, d := range cfg.devices {
			if ids[d.ID] || len(d.PSK) < 16 || len(d.PSK) > 64 || constantKey(d.PSK) || d.Limits.MaxChannels < 0 || d.Limits.Rate < 0 {
				t.Errorf("accepted device %q", d.ID)
			}
			if err := d.Check(); err != nil { // the registry takes what the loader accepts
				t.Errorf("accepted device %q that Check refuses: %v", d.ID, err)
			}
			ids[d.ID] = true
		}
	})
}
