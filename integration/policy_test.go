package integration

// A device's verification policy as an operator writes it (issue 9):
// profile, pins and crls_file in `offloader serve`'s config, each device
// tried with ocurl through the daemon against openssl s_server.

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/internal/peers"
)

// spkiPin is the config's form of c's key pin.
func spkiPin(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return "sha256/" + base64.StdEncoding.EncodeToString(sum[:])
}

// TestDevicePolicyThroughOffloaderProcess: one daemon, one device per
// policy; for each, ocurl's exit code and message against a real server.
func TestDevicePolicyThroughOffloaderProcess(t *testing.T) {
	bin := requirePeer(t, "openssl")
	now := time.Now()
	build := func(s testpki.Spec) *testpki.Case {
		s.Names = []string{"localhost", "127.0.0.1"}
		s.LeafKey, s.IntermediateKey, s.RootKey = testpki.ECDSAP256, testpki.ECDSAP256, testpki.ECDSAP256
		c, err := testpki.Build(now, s)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// A private PKI's leaf without authorityKeyIdentifier: RFC 5280 lets it
	// through (4.2.1.1 makes it a CA's duty, not the verifier's), the
	// Baseline Requirements do not (7.1.2.3).
	noAKI := build(testpki.Spec{LeafDER: func(tbs *testpki.TBS) { tbs.Remove(testpki.OIDAuthorityKeyID) }})
	if len(noAKI.Leaf.AuthorityKeyId) != 0 {
		t.Fatal("the leaf has an authorityKeyIdentifier: the case would test nothing")
	}
	sound := build(testpki.Spec{})
	other := build(testpki.Spec{}) // its root's key is pinned by nobody here

	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	rootPEM := func(c *testpki.Case) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.RootCerts[0].Raw})
	}
	write("noaki-root.pem", rootPEM(noAKI))
	write("sound-root.pem", rootPEM(sound))
	// The sound leaf revoked by its issuer's CRL, made by openssl ca.
	ca := newOCSPCA(t, "sound", sound.Issuer, sound.IssuerKey)
	ca.setStatus(t, sound.Leaf, "R")
	crl, err := os.ReadFile(ca.crl(t, bin))
	if err != nil {
		t.Fatal(err)
	}
	write("sound.crl", crl)

	type device struct {
		id, policy string // policy: YAML lines of the device entry beyond id, psk and allowed_names
	}
	devices := []device{
		{"webpki", "    roots_file: noaki-root.pem\n"},
		{"explicit-webpki", "    roots_file: noaki-root.pem\n    profile: webpki\n"},
		{"rfc5280", "    roots_file: noaki-root.pem\n    profile: rfc5280\n"},
		{"pinned-root", "    roots_file: sound-root.pem\n    pins: [\"" + spkiPin(sound.RootCerts[0]) + "\"]\n"},
		{"pinned-other", "    roots_file: sound-root.pem\n    pins: [\"" + spkiPin(other.RootCerts[0]) + "\"]\n"},
		{"crl", "    roots_file: sound-root.pem\n    crls_file: sound.crl\n"},
		{"no-crl", "    roots_file: sound-root.pem\n"},
	}
	var cfg strings.Builder
	cfg.WriteString("listen: \"127.0.0.1:0\"\ndevices:\n")
	psks := map[string]string{}
	for _, d := range devices {
		psk := make([]byte, 32)
		rand.Read(psk)
		psks[d.id] = write(d.id+".psk", []byte(hex.EncodeToString(psk)+"\n"))
		fmt.Fprintf(&cfg, "  - id: %s\n    psk_file: %s.psk\n    allowed_names: [\"*\"]\n%s", d.id, d.id, d.policy)
	}
	cfgFile := write("offloader.yaml", []byte(cfg.String()))
	off := peers.StartReporting(t, peers.Cmd{Bin: buildBinary(t, "cmd/offloader"), Args: []string{"serve", "--config", cfgFile}},
		listeningRE).Addr

	servers := map[*testpki.Case]string{}
	for _, c := range []*testpki.Case{noAKI, sound} {
		servers[c] = startOpenSSL(t, &testpki.Leaf{Chain: c.Chain, Key: c.LeafKey, Cert: c.Leaf}, "-www", "-tls1_2")
	}
	for _, tc := range []struct {
		device string
		c      *testpki.Case
		code   int    // ocurl's exit code
		says   string // in its stderr when refused
	}{
		{"webpki", noAKI, 60, "nonconforming certificate: leaf \"localhost\": no authority key identifier"},
		{"explicit-webpki", noAKI, 60, "no authority key identifier"},
		{"rfc5280", noAKI, 0, ""},
		{"pinned-root", sound, 0, ""},
		{"pinned-other", sound, 90, "pinned"},
		{"crl", sound, 60, "certificate revoked: leaf \"localhost\": revoked at"},
		{"no-crl", sound, 0, ""},
	} {
		t.Run(tc.device, func(t *testing.T) {
			_, port, _ := strings.Cut(servers[tc.c], ":")
			code, stdout, stderr := runOcurl(t, "-sS", "--offloader", off, "--device-id", tc.device, "--psk-file", psks[tc.device],
				"--resolve", "localhost:"+port+":127.0.0.1", "https://localhost:"+port+"/")
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %.200s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if tc.code == 0 {
				if !strings.Contains(stdout, "Cipher is") {
					t.Fatalf("s_server's page not fetched: %.300s", stdout)
				}
				return
			}
			if !strings.Contains(stderr, tc.says) {
				t.Fatalf("stderr %q does not say %q", stderr, tc.says)
			}
		})
	}
}

// TestNegotiationPolicyThroughOffloaderProcess: per-device versions,
// cipher suites and key exchanges (issue 10) as an operator writes them,
// each device tried with ocurl through the daemon against openssl
// s_server. A device offering only what its policy forbids is refused by
// the offloader, which says what it refused; the same device offering more
// gets a handshake within its policy.
func TestNegotiationPolicyThroughOffloaderProcess(t *testing.T) {
	requirePeer(t, "openssl")
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	write("root.pem", testPKI(t).RootPEM())
	devices := []struct{ id, policy string }{
		{"rsa", ""},
		{"no-rsa", "    key_exchanges: [ecdhe_rsa, ecdhe_ecdsa]\n"},
		{"tls11", "    min_version: \"1.0\"\n    max_version: \"1.1\"\n"},
		{"aes256", "    cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_RSA_WITH_AES_256_GCM_SHA384]\n"},
	}
	var cfg strings.Builder
	cfg.WriteString("listen: \"127.0.0.1:0\"\ndevices:\n")
	psks := map[string]string{}
	for _, d := range devices {
		psk := make([]byte, 32)
		rand.Read(psk)
		psks[d.id] = write(d.id+".psk", []byte(hex.EncodeToString(psk)+"\n"))
		fmt.Fprintf(&cfg, "  - id: %s\n    psk_file: %s.psk\n    roots_file: root.pem\n    allowed_names: [localhost]\n%s", d.id, d.id, d.policy)
	}
	cfgFile := write("offloader.yaml", []byte(cfg.String()))
	off := peers.StartReporting(t, peers.Cmd{Bin: buildBinary(t, "cmd/offloader"), Args: []string{"serve", "--config", cfgFile}},
		listeningRE).Addr

	leaf := issue(t, testpki.RSA2048, testpki.Good)
	tls12 := startOpenSSL(t, leaf, "-www", "-tls1_2")
	tls11 := startOpenSSL(t, leaf, "-www", "-tls1_1", "-cipher", "ECDHE-RSA-AES128-SHA:@SECLEVEL=0")
	const denied = "policy denied: "
	for _, tc := range []struct {
		name, device, server string
		args                 []string
		says                 string // in stdout (s_server's page) when it succeeds, in stderr when refused
		refused              bool
	}{
		{"RSA key exchange allowed", "rsa", tls12, []string{"--ciphers", "AES128-GCM-SHA256"}, "Cipher is AES128-GCM-SHA256", false},
		{"RSA key exchange refused", "no-rsa", tls12, []string{"--ciphers", "AES128-GCM-SHA256"},
			denied + "no offered cipher suite is allowed for this device (key exchange rsa not allowed)", true},
		{"ECDHE within key_exchanges", "no-rsa", tls12, []string{"--ciphers", "ECDHE-RSA-AES128-GCM-SHA256:AES128-GCM-SHA256"}, "Cipher is ECDHE-RSA-AES128-GCM-SHA256", false},
		{"TLS 1.2 above max_version", "tls11", tls12, nil, denied + "no offered protocol version is allowed for this device (it allows TLS 1.0 to TLS 1.1)", true},
		{"TLS 1.1 within max_version", "tls11", tls11, []string{"--tlsv1.1"}, "Protocol  : TLSv1.1", false},
		{"suite not listed", "aes256", tls12, []string{"--ciphers", "ECDHE-RSA-AES128-GCM-SHA256"}, denied + "no offered cipher suite is allowed for this device", true},
		{"suite listed", "aes256", tls12, nil, "Cipher is ECDHE-RSA-AES256-GCM-SHA384", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, port, _ := strings.Cut(tc.server, ":")
			args := append([]string{"-sS", "--offloader", off, "--device-id", tc.device, "--psk-file", psks[tc.device],
				"--resolve", "localhost:" + port + ":127.0.0.1"}, tc.args...)
			code, stdout, stderr := runOcurl(t, append(args, "https://localhost:"+port+"/")...)
			if !tc.refused {
				if code != 0 || !strings.Contains(stdout, tc.says) {
					t.Fatalf("exit %d, want 0 and s_server's page saying %q\nstdout: %.600s\nstderr: %s", code, tc.says, stdout, stderr)
				}
				return
			}
			if code != 35 || !strings.Contains(stderr, tc.says) || !strings.Contains(stderr, "ocurl: hint: the offloader's policy for this device refuses") {
				t.Fatalf("exit %d, want 35 and stderr saying %q and the policy hint\nstderr: %s", code, tc.says, stderr)
			}
		})
	}
}
