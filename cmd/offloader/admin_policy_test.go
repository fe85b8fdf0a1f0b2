package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/server"
	"github.com/tlsoffload/tlsoffload/offloader/server/pgregistry"
)

// replicaView opens the registry as a replica does (serve's openRegistry),
// to see what the admin commands stored as a replica would serve it.
func replicaView(t *testing.T, cfgPath string) *pgregistry.Registry {
	t.Helper()
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := openRegistry(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	return reg
}

// waitFor polls cond for up to 10 s: a bound for a loaded CI machine, not
// a measurement.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// showField returns the value of "field:" in policy show's output.
func showField(t *testing.T, out, field string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("policy show printed no %s: %q", field, out)
	return ""
}

// TestAdminPolicyFields: policy set takes every field of a policy (the
// fields a YAML device has as profile, pins, crls_file and limits among
// them); a replica serves the device with them; policy show and list tell
// them; a second policy set replaces the policy whole.
func TestAdminPolicyFields(t *testing.T) {
	dir, cfg := fleetConfig(t)
	mustRun(t, "migrate", "-c", cfg)
	crl := crlPEM(t)
	block, _ := pem.Decode([]byte(crl))
	crlSum := sha256.Sum256(block.Bytes)
	writeFiles(t, dir, map[string]string{"crls.pem": crl, "roots.pem": rootPEM(t), "junk.crl": "not a CRL"})
	pin2 := certs.Pin{9, 8, 7}.String()
	mustRun(t, "policy", "set", "-c", cfg, "strict", "--allow", "*.example.com", "--allow", "api.example.net",
		"--min-version", "1.1", "--roots-file", filepath.Join(dir, "roots.pem"),
		"--profile", "rfc5280", "--pin", testPin, "--pin", pin2, "--crls-file", filepath.Join(dir, "crls.pem"),
		"--max-channels", "3", "--max-in-flight", "2", "--rate", "12.5", "--burst", "4", "--frame-bytes", "1048576")
	mustRun(t, "policy", "set", "-c", cfg, "plain", "--allow", "*")
	mustRun(t, "device", "add", "-c", cfg, "s-1", "--policy", "strict")
	mustRun(t, "device", "add", "-c", cfg, "s-2", "--policy", "strict")
	mustRun(t, "device", "add", "-c", cfg, "p-1", "--policy", "plain")

	// What a replica serves.
	reg := replicaView(t, cfg)
	d, err := reg.LookupDevice("s-1")
	if err != nil {
		t.Fatal(err)
	}
	wantPin, _ := certs.ParsePin(testPin)
	wantPin2, _ := certs.ParsePin(pin2)
	wantLimits := server.DeviceLimits{MaxChannels: 3, MaxInFlight: 2, Rate: 12.5, Burst: 4, FrameBytes: 1 << 20}
	if d.Profile != certs.ProfileRFC5280 || !slices.Equal(d.Pins, []certs.Pin{wantPin, wantPin2}) || d.Limits != wantLimits ||
		d.MinVersion != handshake.VersionTLS11 || !slices.Equal(d.AllowedNames, []string{"*.example.com", "api.example.net"}) ||
		d.Roots == nil || d.CRLs == nil || d.CRLs.Len() != 1 {
		t.Errorf("served device: profile %v pins %v limits %+v version %#x names %v roots %v crls %v",
			d.Profile, d.Pins, d.Limits, d.MinVersion, d.AllowedNames, d.Roots != nil, d.CRLs)
	}

	out := mustRun(t, "policy", "show", "-c", cfg, "strict")
	for field, want := range map[string]string{
		"name":          "strict",
		"devices":       "2",
		"allowed_names": "*.example.com api.example.net",
		"min_version":   "1.1",
		"profile":       "rfc5280",
		"pins":          testPin + " " + pin2,
		"crls":          "sha256:" + hex.EncodeToString(crlSum[:]),
		"limits":        "max_channels=3 max_in_flight=2 rate=12.5 burst=4 frame_bytes=1048576 (0: the replica's)",
	} {
		if got := showField(t, out, field); got != want {
			t.Errorf("policy show: %s %q, want %q", field, got, want)
		}
	}
	if r := showField(t, out, "roots"); !strings.HasPrefix(r, "sha256:") {
		t.Errorf("policy show: roots %q", r)
	}
	out = mustRun(t, "policy", "show", "-c", cfg, "plain")
	if showField(t, out, "roots") != "system" || showField(t, out, "crls") != "none" || showField(t, out, "profile") != "webpki" ||
		showField(t, out, "limits") != "the replica's device_limits" || showField(t, out, "min_version") != "1.2" {
		t.Errorf("policy show plain: %q", out)
	}

	out = mustRun(t, "policy", "list", "-c", cfg)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") ||
		!slices.Equal(strings.Fields(lines[1]), []string{"plain", "1", "webpki", "1.2", "1.2", "default", "default", "*"}) ||
		!slices.Equal(strings.Fields(lines[2]), []string{"strict", "2", "rfc5280", "1.1", "1.2", "default", "default", "*.example.com,api.example.net"}) {
		t.Errorf("policy list: %q", out)
	}

	// policy set replaces the whole policy: what is not given is dropped,
	// and the replica's cached device follows (the change is notified).
	mustRun(t, "policy", "set", "-c", cfg, "strict", "--allow", "*.example.com")
	waitFor(t, "the replaced policy to reach the replica", func() bool {
		d, err := reg.LookupDevice("s-1")
		return err == nil && d.Profile == certs.ProfileWebPKI && d.Pins == nil && d.CRLs == nil && d.Limits == (server.DeviceLimits{})
	})
	out = mustRun(t, "policy", "show", "-c", cfg, "strict")
	if showField(t, out, "pins") != "" || showField(t, out, "crls") != "none" || showField(t, out, "limits") != "the replica's device_limits" {
		t.Errorf("policy show after the replacement: %q", out)
	}

	// Refusals: exit 1 with the flag at fault named, nothing stored.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--profile", "strict-ish"}, "--profile:"},
		{[]string{"--pin", "sha1/AAAA"}, "--pin:"},
		{[]string{"--crls-file", filepath.Join(dir, "junk.crl")}, "crls:"},
		{[]string{"--crls-file", filepath.Join(dir, "missing.crl")}, "--crls-file:"},
		{[]string{"--max-channels", "-1"}, "--max-channels: must not be negative"},
		{[]string{"--frame-bytes", "-5"}, "--frame-bytes: must not be negative"},
		{[]string{"--rate", "-1"}, "--rate: must not be negative"},
		{[]string{"--burst", "4294967296"}, "out of range"},
	} {
		args := append([]string{"policy", "set", "-c", cfg, "bad", "--allow", "*"}, c.args...)
		code, _, errOut := run(args...)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("policy set %v: exit %d %q, want 1 and %q", c.args, code, errOut, c.want)
		}
	}
	if code, _, _ := run("policy", "set", "-c", cfg, "bad", "--max-channels", "many"); code != 2 {
		t.Errorf("--max-channels many: exit %d, want 2", code)
	}
	code, _, errOut := run("policy", "show", "-c", cfg, "bad")
	if code != 1 || !strings.Contains(errOut, "no such policy") {
		t.Errorf("show of a policy never stored: exit %d %q", code, errOut)
	}
	if code, _, _ := run("policy", "show", "-c", cfg); code != 2 {
		t.Errorf("policy show without NAME: exit %d, want 2", code)
	}
	if code, _, _ := run("policy", "list", "-c", cfg, "extra"); code != 2 {
		t.Errorf("policy list with an argument: exit %d, want 2", code)
	}
}

// TestAdminDeviceDelete: device delete removes a device for good: a
// replica no longer knows it, show says so, and its id can be added again.
func TestAdminDeviceDelete(t *testing.T) {
	_, cfg := fleetConfig(t)
	mustRun(t, "migrate", "-c", cfg)
	mustRun(t, "policy", "set", "-c", cfg, "p", "--allow", "*")
	mustRun(t, "device", "add", "-c", cfg, "old-1", "--policy", "p")
	mustRun(t, "device", "add", "-c", cfg, "keep-1", "--policy", "p")
	reg := replicaView(t, cfg)
	if _, err := reg.LookupDevice("old-1"); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, "device", "delete", "-c", cfg, "old-1"); out != "deleted old-1\n" {
		t.Errorf("delete: %q", out)
	}
	waitFor(t, "the delete to reach the replica", func() bool {
		_, err := reg.LookupDevice("old-1")
		return errors.Is(err, server.ErrUnknownDevice)
	})
	if _, err := reg.LookupDevice("keep-1"); err != nil {
		t.Errorf("the other device: %v", err)
	}
	code, _, errOut := run("device", "show", "-c", cfg, "old-1")
	if code != 1 || !strings.Contains(errOut, "no such device") {
		t.Errorf("show after delete: exit %d %q", code, errOut)
	}
	code, _, errOut = run("device", "delete", "-c", cfg, "old-1")
	if code != 1 || !strings.Contains(errOut, "no such device") {
		t.Errorf("deleting twice: exit %d %q", code, errOut)
	}
	if code, _, _ := run("device", "delete", "-c", cfg); code != 2 {
		t.Errorf("delete without ID: exit %d, want 2", code)
	}
	if out := mustRun(t, "policy", "show", "-c", cfg, "p"); showField(t, out, "devices") != "1" {
		t.Errorf("the policy still counts the deleted device: %q", out)
	}
	mustRun(t, "device", "add", "-c", cfg, "old-1", "--policy", "p") // the id is free again
	if out := mustRun(t, "device", "list", "-c", cfg); !strings.Contains(out, "old-1") || !strings.Contains(out, "keep-1") {
		t.Errorf("list: %q", out)
	}
}

// TestImportVerificationAndLimits: import carries a YAML device's profile,
// pins, crls_file and limits into its policy (the CRL file's content is
// stored, read relative to the YAML file), and a replica serves them.
func TestImportVerificationAndLimits(t *testing.T) {
	dir, cfg := fleetConfig(t)
	mustRun(t, "migrate", "-c", cfg)
	writeFiles(t, dir, map[string]string{"site/crls.pem": crlPEM(t), "site/site.yaml": `listen: "127.0.0.1:0"
devices:
  - id: v-1
    psk: ` + pskHex + `
    allowed_names: ["*.example.com"]
    profile: rfc5280
    pins: ["` + testPin + `"]
    crls_file: crls.pem
    limits: {max_channels: 2, rate: 5}
  - id: v-2
    psk: ` + pskHex + `
    allowed_names: ["*.example.com"]
`})
	if out := mustRun(t, "import", "-c", cfg, "--from", filepath.Join(dir, "site", "site.yaml")); out != "imported 2 devices under 2 policies\n" {
		t.Errorf("import: %q", out)
	}
	reg := replicaView(t, cfg)
	d, err := reg.LookupDevice("v-1")
	if err != nil {
		t.Fatal(err)
	}
	pin, _ := certs.ParsePin(testPin)
	if d.Profile != certs.ProfileRFC5280 || !slices.Equal(d.Pins, []certs.Pin{pin}) || d.CRLs == nil ||
		d.Limits != (server.DeviceLimits{MaxChannels: 2, Rate: 5}) {
		t.Errorf("imported v-1: profile %v pins %v crls %v limits %+v", d.Profile, d.Pins, d.CRLs, d.Limits)
	}
	d, err = reg.LookupDevice("v-2")
	if err != nil || d.Profile != certs.ProfileWebPKI || d.CRLs != nil || d.Limits != (server.DeviceLimits{}) {
		t.Errorf("imported v-2: %+v %v", d, err)
	}
}

// TestAdminRekey: registry rekey re-seals every secret under the config's
// kek_file, opening it with --old-kek-file (or previous_kek_file); a
// replica with the new KEK serves the device with the PSK it was given, one
// with only the old no longer can; a replica given both serves it
// throughout.
func TestAdminRekey(t *testing.T) {
	dir, oldCfg := fleetConfig(t)
	mustRun(t, "migrate", "-c", oldCfg)
	mustRun(t, "policy", "set", "-c", oldCfg, "p", "--allow", "*")
	m := pskLine.FindStringSubmatch(mustRun(t, "device", "add", "-c", oldCfg, "r-1", "--policy", "p"))
	if m == nil {
		t.Fatal("no PSK printed")
	}
	givenPSK, _ := hex.DecodeString(m[1])
	const newKEKHex = "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0"
	writeFiles(t, dir, map[string]string{
		"kek.new.hex": newKEKHex + "\n",
		"wrong.hex":   strings.Repeat("ab", 32) + "\n",
		"new.yaml":    "listen: \"127.0.0.1:0\"\nregistry:\n  postgres:\n    dsn_file: pg.dsn\n    kek_file: kek.new.hex\n",
		"both.yaml":   "listen: \"127.0.0.1:0\"\nregistry:\n  postgres:\n    dsn_file: pg.dsn\n    kek_file: kek.new.hex\n    previous_kek_file: kek.hex\n",
	})
	newCfg, bothCfg := filepath.Join(dir, "new.yaml"), filepath.Join(dir, "both.yaml")

	// Refusals first: no old KEK given; a wrong one (nothing changed).
	if code, _, errOut := run("registry", "rekey", "-c", newCfg); code != 2 || !strings.Contains(errOut, "--old-kek-file") {
		t.Errorf("rekey without the old KEK: exit %d %q", code, errOut)
	}
	code, _, errOut := run("registry", "rekey", "-c", newCfg, "--old-kek-file", filepath.Join(dir, "wrong.hex"))
	if code != 1 || !strings.Contains(errOut, "the KEK does not match the database") || strings.Contains(errOut, newKEKHex) || strings.Contains(errOut, tokenHex) {
		t.Errorf("rekey with a wrong old KEK: exit %d %q", code, errOut)
	}
	if code, _, _ := run("registry", "frob", "-c", newCfg); code != 2 {
		t.Errorf("registry frob: exit %d, want 2", code)
	}

	both := replicaView(t, bothCfg) // new KEK, old as previous: serves before and after
	if d, err := both.LookupDevice("r-1"); err != nil || !bytes.Equal(d.PSK, givenPSK) {
		t.Fatalf("before the rekey, a replica with both KEKs: %v", err)
	}
	out := mustRun(t, "registry", "rekey", "-c", newCfg, "--old-kek-file", filepath.Join(dir, "kek.hex"))
	if out != "re-sealed 1 secrets of 1 devices under the new KEK; 0 devices were under it already\n" {
		t.Errorf("rekey: %q", out)
	}
	if d, err := replicaView(t, newCfg).LookupDevice("r-1"); err != nil || !bytes.Equal(d.PSK, givenPSK) {
		t.Errorf("after the rekey, the new KEK: %v", err)
	}
	// The old KEK alone: refused at start, by name (the check value was
	// re-sealed with the secrets), and by every admin command.
	old, err := loadConfig(oldCfg)
	if err != nil {
		t.Fatal(err)
	}
	if reg, err := openRegistry(context.Background(), old, slog.New(slog.NewTextHandler(io.Discard, nil)), nil); !errors.Is(err, pgregistry.ErrKEKMismatch) {
		if err == nil {
			reg.Close()
		}
		t.Errorf("after the rekey, a replica with the old KEK alone: %v, want ErrKEKMismatch", err)
	}
	if code, _, errOut := run("device", "show", "-c", oldCfg, "r-1"); code != 1 || !strings.Contains(errOut, "the KEK does not match the database") {
		t.Errorf("after the rekey, device show with the old KEK: exit %d %q", code, errOut)
	}
	// Run again, the old KEK from previous_kek_file: nothing left to do.
	if out := mustRun(t, "registry", "rekey", "-c", bothCfg); !strings.Contains(out, "re-sealed 0 secrets of 0 devices") || !strings.Contains(out, "1 devices were under it already") {
		t.Errorf("rekey again: %q", out)
	}
	if code, _, errOut := run("check", "-c", filepath.Join(dir, "both.yaml")); code != 0 {
		t.Errorf("check of a config with previous_kek_file: exit %d %q", code, errOut)
	}
}
