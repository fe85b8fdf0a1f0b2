package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeyFileModes: a key file others may read is refused, naming the
// field and the file; --allow-open-key-files makes it a warning. The
// offloader's own group may read it (TestKeyFileGroup).
func TestKeyFileModes(t *testing.T) {
	for _, c := range []struct{ field, yaml, file string }{
		{"token_key_file", "token_key_file: t.hex\n", "t.hex"},
		{"devices[0].psk_file", "", "d.psk"},
		{"devices[0].client_key_file", "", "k.pem"},
	} {
		t.Run(c.field, func(t *testing.T) {
			clientCertFixtures(t)
			dev := "  - id: d\n    psk_file: d.psk\n"
			if c.file == "k.pem" {
				dev += "    client_cert_file: c.pem\n    client_key_file: k.pem\n"
			}
			dir := writeFiles(t, t.TempDir(), map[string]string{
				"o.yaml": "listen: 127.0.0.1:0\n" + c.yaml + "devices:\n" + dev,
				"t.hex":  tokenHex, "d.psk": pskHex,
				"c.pem": string(ccEC.ChainPEM()), "k.pem": string(ccEC.KeyPEM()),
			})
			key := filepath.Join(dir, c.file)
			if err := os.Chmod(key, 0o604); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "o.yaml")
			code, out, errOut := run("check", "-c", path)
			want := "offloader: config " + path + ": " + c.field + ": " + key + ": mode 0604 lets others at a key: chmod 600 it"
			if code != 1 || out != "" || !strings.HasPrefix(errOut, want) {
				t.Errorf("exit %d, stdout %q, stderr %q\nwant exit 1, stderr starting %q", code, out, errOut, want)
			}
			code, out, errOut = run("check", "--allow-open-key-files", "-c", path)
			warn := "offloader: warning: config " + path + ": " + c.field + ": " + key + ": mode 0604"
			if code != 0 || out != "ok: 1 devices\n" || !strings.HasPrefix(errOut, warn) {
				t.Errorf("--allow-open-key-files: exit %d, stdout %q, stderr %q\nwant exit 0, stderr starting %q", code, out, errOut, warn)
			}
			if err := os.Chmod(key, 0o600); err != nil {
				t.Fatal(err)
			}
			if code, _, errOut := run("check", "-c", path); code != 0 || errOut != "" {
				t.Errorf("mode 0600: exit %d, stderr %q", code, errOut)
			}
		})
	}
}

// TestKeyFileGroup: a key file its group may read passes when the group is
// the offloader's own, and is refused for another group (changing a
// file's group needs root, as in CI).
func TestKeyFileGroup(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"o.yaml": "listen: 127.0.0.1:0\ndevices:\n  - id: d\n    psk_file: d.psk\n", "d.psk": pskHex,
	})
	key, path := filepath.Join(dir, "d.psk"), filepath.Join(dir, "o.yaml")
	if err := os.Chmod(key, 0o440); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run("check", "-c", path); code != 0 || errOut != "" {
		t.Errorf("0440 in the offloader's group: exit %d, stderr %q", code, errOut)
	}
	if os.Getuid() != 0 {
		t.Skip("changing a file's group to one we are not in needs root")
	}
	if err := os.Chown(key, -1, os.Getegid()+4242); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run("check", "-c", path)
	if code != 1 || !strings.Contains(errOut, "devices[0].psk_file: "+key+": mode 0440 lets others at a key") {
		t.Errorf("0440 in another group: exit %d, stderr %q", code, errOut)
	}
}

// TestShortPSKWarned: a 16..31-byte PSK still loads (deployed devices hold
// them) with a warning; 32 bytes loads silently.
func TestShortPSKWarned(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"o.yaml": "listen: 127.0.0.1:0\ndevices:\n  - id: d\n    psk: " + pskHex[:32] + "\n  - id: e\n    psk: " + pskHex + "\n",
	})
	path := filepath.Join(dir, "o.yaml")
	code, out, errOut := run("check", "-c", path)
	want := "offloader: warning: config " + path + ": devices[0].psk: 16 bytes: new PSKs should have at least 32 (`offloader psk` makes one)\n"
	if code != 0 || out != "ok: 2 devices\n" || errOut != want {
		t.Errorf("exit %d, stdout %q, stderr %q\nwant exit 0, stderr %q", code, out, errOut, want)
	}
}
