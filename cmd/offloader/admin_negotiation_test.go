package main

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/server"
)

// TestAdminPolicyNegotiation: policy set takes a YAML device's
// max_version, cipher_suites and key_exchanges as --max-version,
// --cipher-suite and --key-exchange (the same names, the same parsing); a
// replica serves them; policy show and list tell them; refusals name the
// flag and the stored field, and a policy a device with a client
// certificate could not use names the device. import carries the fields.
func TestAdminPolicyNegotiation(t *testing.T) {
	clientCertFixtures(t)
	dir, cfg := fleetConfig(t)
	mustRun(t, "migrate", "-c", cfg)
	writeFiles(t, dir, map[string]string{"device.crt": string(ccEC.ChainPEM()), "device.key": string(ccEC.KeyPEM())})
	mustRun(t, "policy", "set", "-c", cfg, "legacy", "--allow", "*", "--min-version", "1.0", "--max-version", "1.1",
		"--cipher-suite", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "--cipher-suite", "tls_rsa_with_aes_128_cbc_sha",
		"--key-exchange", "ecdhe_rsa", "--key-exchange", "RSA")
	mustRun(t, "policy", "set", "-c", cfg, "ecdhe", "--allow", "*")
	mustRun(t, "device", "add", "-c", cfg, "l-1", "--policy", "legacy")
	mustRun(t, "device", "add", "-c", cfg, "cam-1", "--policy", "ecdhe",
		"--client-cert", filepath.Join(dir, "device.crt"), "--client-key", filepath.Join(dir, "device.key"))

	reg := replicaView(t, cfg)
	d, err := reg.LookupDevice("l-1")
	wantSuites := []uint16{handshake.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, handshake.TLS_RSA_WITH_AES_128_CBC_SHA}
	wantKX := []handshake.KeyExchange{handshake.KeyExchangeECDHERSA, handshake.KeyExchangeRSA}
	if err != nil || d.MinVersion != handshake.VersionTLS10 || d.MaxVersion != handshake.VersionTLS11 ||
		!slices.Equal(d.CipherSuites, wantSuites) || !slices.Equal(d.KeyExchanges, wantKX) {
		t.Fatalf("served l-1: %+v %v", d, err)
	}

	out := mustRun(t, "policy", "show", "-c", cfg, "legacy")
	for field, want := range map[string]string{
		"min_version":   "1.0",
		"max_version":   "1.1",
		"cipher_suites": "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA TLS_RSA_WITH_AES_128_CBC_SHA",
		"key_exchanges": "ecdhe_rsa rsa",
	} {
		if got := showField(t, out, field); got != want {
			t.Errorf("policy show: %s %q, want %q", field, got, want)
		}
	}
	out = mustRun(t, "policy", "show", "-c", cfg, "ecdhe")
	if !strings.HasPrefix(showField(t, out, "max_version"), "1.2 (default") || !strings.HasPrefix(showField(t, out, "cipher_suites"), "(default") ||
		!strings.Contains(showField(t, out, "key_exchanges"), "no rsa for a device with a client certificate") {
		t.Errorf("policy show of the defaults: %q", out)
	}
	lines := strings.Split(strings.TrimSpace(mustRun(t, "policy", "list", "-c", cfg)), "\n")
	if len(lines) != 3 || !slices.Equal(strings.Fields(lines[0]), []string{"NAME", "DEVICES", "PROFILE", "MIN_VERSION", "MAX_VERSION", "CIPHER_SUITES", "KEY_EXCHANGES", "ALLOWED_NAMES"}) ||
		!slices.Equal(strings.Fields(lines[2]), []string{"legacy", "1", "webpki", "1.0", "1.1", "2", "ecdhe_rsa,rsa", "*"}) {
		t.Errorf("policy list: %q", lines)
	}

	// Refusals: exit 1, the flag and the field named, nothing stored.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-version", "1.3"}, `--max-version: "1.3" is not a TLS version`},
		{[]string{"--max-version", "1.1"}, `--max-version: pgregistry: policy "bad": max_version: TLS 1.1 is below the lowest version, TLS 1.2`},
		{[]string{"--cipher-suite", "TLS_AES_128_GCM_SHA256"}, `--cipher-suite: "TLS_AES_128_GCM_SHA256" is not a cipher suite the offloader implements`},
		{[]string{"--cipher-suite", "TLS_RSA_WITH_AES_128_GCM_SHA256", "--cipher-suite", "TLS_RSA_WITH_AES_128_GCM_SHA256"},
			`--cipher-suite TLS_RSA_WITH_AES_128_GCM_SHA256: pgregistry: policy "bad": cipher_suites[1]: TLS_RSA_WITH_AES_128_GCM_SHA256 is listed twice`},
		{[]string{"--key-exchange", "dhe_rsa"}, `--key-exchange: "dhe_rsa" is not a key exchange`},
		{[]string{"--cipher-suite", "TLS_RSA_WITH_AES_128_GCM_SHA256", "--key-exchange", "ecdhe_rsa"},
			`--cipher-suite TLS_RSA_WITH_AES_128_GCM_SHA256: pgregistry: policy "bad": cipher_suites[0]: TLS_RSA_WITH_AES_128_GCM_SHA256 uses key exchange rsa, which the device's key exchanges do not list`},
	} {
		args := append([]string{"policy", "set", "-c", cfg, "bad", "--allow", "*"}, c.args...)
		code, _, errOut := run(args...)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("policy set %v: exit %d %q, want 1 and %q", c.args, code, errOut, c.want)
		}
	}
	if code, _, _ := run("policy", "show", "-c", cfg, "bad"); code != 1 {
		t.Error("a refused policy was stored")
	}
	// The client-certificate rule: RSA suites listed, rsa not, under a
	// device with a client certificate.
	code, _, errOut := run("policy", "set", "-c", cfg, "ecdhe", "--allow", "*", "--cipher-suite", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
		"--cipher-suite", "TLS_RSA_WITH_AES_128_GCM_SHA256")
	if code != 1 || !strings.Contains(errOut, `--cipher-suite TLS_RSA_WITH_AES_128_GCM_SHA256: pgregistry: policy "ecdhe" for device "cam-1", which has a client certificate: cipher_suites[1]`) {
		t.Errorf("narrowing a policy under a device with a client certificate: exit %d %q", code, errOut)
	}
	// The same policy under no such device is stored; moving the device
	// to it, or adding one with a client certificate, is refused.
	mustRun(t, "policy", "set", "-c", cfg, "rsa-suites", "--allow", "*", "--cipher-suite", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
		"--cipher-suite", "TLS_RSA_WITH_AES_128_GCM_SHA256")
	code, _, errOut = run("device", "set", "-c", cfg, "cam-1", "--policy", "rsa-suites")
	if code != 1 || !strings.Contains(errOut, `policy "rsa-suites" for device "cam-1", which has a client certificate: cipher_suites[1]: TLS_RSA_WITH_AES_128_GCM_SHA256 uses key exchange rsa, which is off for a device with a client certificate unless its key exchanges list it`) {
		t.Errorf("moving a device with a client certificate: exit %d %q", code, errOut)
	}
	code, _, errOut = run("device", "add", "-c", cfg, "cam-2", "--policy", "rsa-suites",
		"--client-cert", filepath.Join(dir, "device.crt"), "--client-key", filepath.Join(dir, "device.key"))
	if code != 1 || !strings.Contains(errOut, `policy "rsa-suites" for device "cam-2"`) {
		t.Errorf("adding a device with a client certificate: exit %d %q", code, errOut)
	}
	mustRun(t, "device", "set", "-c", cfg, "cam-1", "--policy", "legacy") // legacy lists rsa

	// import carries the negotiation fields into the policy it makes.
	writeFiles(t, dir, map[string]string{"site.yaml": `listen: "127.0.0.1:0"
devices:
  - id: y-1
    psk: ` + pskHex + `
    allowed_names: ["*"]
    max_version: "1.1"
    min_version: "1.0"
    key_exchanges: [ecdhe_rsa, ecdhe_ecdsa]
    cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA]
  - id: y-2
    psk: ` + pskHex + `
    allowed_names: ["*"]
`})
	if out := mustRun(t, "import", "-c", cfg, "--from", filepath.Join(dir, "site.yaml")); out != "imported 2 devices under 2 policies\n" {
		t.Errorf("import: %q", out)
	}
	d, err = reg.LookupDevice("y-1")
	if err != nil || d.MaxVersion != handshake.VersionTLS11 || d.MinVersion != handshake.VersionTLS10 ||
		!slices.Equal(d.KeyExchanges, []handshake.KeyExchange{handshake.KeyExchangeECDHERSA, handshake.KeyExchangeECDHEECDSA}) ||
		!slices.Equal(d.CipherSuites, []uint16{handshake.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, handshake.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}) {
		t.Errorf("imported y-1: %+v %v", d, err)
	}
	if d, err := reg.LookupDevice("y-2"); err != nil || d.MaxVersion != 0 || d.CipherSuites != nil || d.KeyExchanges != nil {
		t.Errorf("imported y-2: %+v %v", d, err)
	}
	if _, err := reg.LookupDevice("nobody"); !errors.Is(err, server.ErrUnknownDevice) {
		t.Errorf("unknown: %v", err)
	}
}
