package tlsclient

import (
	"runtime"
	"slices"
	"testing"

	"golang.org/x/sys/cpu"

	"github.com/tlsoffload/tlsoffload/handshake"
)

// The orders the default list must have, written out: AES-GCM first is the
// table's order; ChaCha20 first moves only the two ChaCha20 suites.
var (
	aesFirst = []uint16{
		handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		handshake.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, handshake.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		handshake.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, handshake.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	}
	chachaFirst = []uint16{
		handshake.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, handshake.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		handshake.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, handshake.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	}
)

// checkOrder: got starts with head and holds every suite of the table
// once, the rest in the table's order.
func checkOrder(t *testing.T, what string, got, head []uint16) {
	t.Helper()
	if !slices.Equal(got[:min(len(head), len(got))], head) {
		t.Errorf("%s: starts %#04x, want %#04x", what, got[:min(len(head), len(got))], head)
	}
	table := handshake.SuiteIDs(handshake.Suites)
	if len(got) != len(table) {
		t.Fatalf("%s: %d suites, want the table's %d", what, len(got), len(table))
	}
	sorted, want := slices.Clone(got), slices.Clone(table)
	slices.Sort(sorted)
	slices.Sort(want)
	if !slices.Equal(sorted, want) {
		t.Errorf("%s: %#04x is not a permutation of the table", what, got)
	}
	if !slices.Equal(got[len(head):], table[len(head):]) {
		t.Errorf("%s: after the AEADs %#04x, want the table's %#04x", what, got[len(head):], table[len(head):])
	}
}

// TestDefaultSuiteOrderFollowsHardware: with the hardware's answer
// injected, a Config with neither CipherSuites nor AEADPreference offers
// AES-GCM first on a CPU with AES and carry-less multiply, ChaCha20 first
// on one without.
func TestDefaultSuiteOrderFollowsHardware(t *testing.T) {
	for _, tc := range []struct {
		hw   bool
		want []uint16
	}{{true, aesFirst}, {false, chachaFirst}} {
		SetAESGCMHardware(t, tc.hw)
		got, err := (&Config{}).cipherSuites()
		if err != nil {
			t.Fatal(err)
		}
		checkOrder(t, map[bool]string{true: "AES hardware", false: "no AES hardware"}[tc.hw], got, tc.want)
	}
}

// TestAEADPreferenceOverridesHardware: the Config field wins over either
// hardware answer; an explicit CipherSuites list wins over both; an
// unknown preference is refused.
func TestAEADPreferenceOverridesHardware(t *testing.T) {
	for _, hw := range []bool{true, false} {
		SetAESGCMHardware(t, hw)
		for _, tc := range []struct {
			pref AEADPreference
			want []uint16
		}{{AEADPreferAESGCM, aesFirst}, {AEADPreferChaCha20, chachaFirst}} {
			got, err := (&Config{AEADPreference: tc.pref}).cipherSuites()
			if err != nil {
				t.Fatal(err)
			}
			checkOrder(t, "preference "+map[AEADPreference]string{AEADPreferAESGCM: "AES-GCM", AEADPreferChaCha20: "ChaCha20"}[tc.pref], got, tc.want)
		}
		explicit := []uint16{handshake.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, handshake.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}
		got, err := (&Config{CipherSuites: explicit, AEADPreference: AEADPreferChaCha20}).cipherSuites()
		if err != nil || !slices.Equal(got, explicit) {
			t.Errorf("explicit list with a preference: %#04x, %v; want the list as given", got, err)
		}
	}
	if _, err := (&Config{AEADPreference: 7}).cipherSuites(); err == nil {
		t.Error("AEADPreference 7 accepted")
	}
}

// TestHasAESGCMHardware: on amd64 the answer is x/sys/cpu's AES &&
// PCLMULQDQ; on a port without Go assembly for AES it is no.
func TestHasAESGCMHardware(t *testing.T) {
	switch runtime.GOARCH {
	case "amd64":
		if hasAESGCMHardware() != (cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ) {
			t.Error("amd64: the answer is not x/sys/cpu's AES && PCLMULQDQ")
		}
	case "arm", "386", "mips", "mipsle", "riscv64", "loong64":
		if hasAESGCMHardware() {
			t.Errorf("%s: AES-GCM hardware reported where Go's AES is software", runtime.GOARCH)
		}
	}
	t.Logf("this machine (%s): AES-GCM hardware %v", runtime.GOARCH, aesGCMHardware)
}
