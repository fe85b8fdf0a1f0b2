package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuickRuns builds offbench (it re-executes itself for its server and
// device processes), runs `offbench -quick -write FILE` end to end, and
// checks that every figure is printed and written: the labels and a value
// in each row, never the values themselves (no timing assertions).
func TestQuickRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole quick benchmark (~15 s)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "offbench")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	doc := filepath.Join(dir, "PERFORMANCE.md")
	cmd := exec.Command(bin, "-quick", "-write", doc,
		"-cpuprofile", filepath.Join(dir, "cpu.prof"), "-memprofile", filepath.Join(dir, "mem.prof"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("offbench -quick: %v\nstderr:\n%s\nstdout:\n%s", err, stderr.String(), stdout.String())
	}
	out := stdout.String()
	written, err := os.ReadFile(doc)
	if err != nil {
		t.Fatalf("-write: %v", err)
	}
	if !strings.Contains(string(written), out) {
		t.Errorf("%s does not hold the printed output", doc)
	}
	for _, want := range []string{
		// the machine
		"- Go: go1.", "- CPU: ", "cores visible",
		// device CPU, full and resumed
		"Full handshake: device CPU per handshake",
		"| ECDHE-RSA-2048, X25519 |", "| ECDHE-RSA-2048, P-256 |", "| ECDHE-ECDSA-P256, P-256 |", "| RSA-2048 key exchange |",
		"offloaded TLS-only", "crypto/tls TLS-only", "ratio offloaded / crypto/tls (TLS-only)",
		"Resumed handshake", "| session ticket (RFC 5077), crypto/tls server |", "| session ID, openssl s_server -no_ticket |",
		// memory
		"Allocations per full handshake", "ratio (bytes)", "ratio (count)",
		"Retained heap per idle connection", "plain TCP conn",
		// throughput
		"| AES-128-GCM | device → server (seal) |", "| AES-128-GCM | server → device (open) |",
		"| ChaCha20-Poly1305 | device → server (seal) |", "| ChaCha20-Poly1305 | server → device (open) |",
		"raw AEAD, 16 KiB records (limit)",
		// offloader cost
		"Primitive operations", "| X25519 key generation", "| P-256 ECDH", "PSS-SHA256 verify", "| ECDSA P-256 SHA-256 verify",
		"2-certificate chain", "encrypt premaster", "(PRF) |", "channel AEAD",
		"handshakes/s per core", "floor handshakes/s per core", "ratio measured / floor",
		// round trips
		"full handshake, pipelined", "full handshake, sequential (Config.Sequential)", "first handshake of a Config",
		"resumption (session ticket, Config.SessionCache)", "added / added RTT",
		// the device profile
		"## Device profile", "Allocations: top 10 sites by bytes", "tlsoffload/", "Retained by 30 idle connections",
		// the goals summary
		"## Goals", "| Device TLS-only CPU per full handshake", "| Offloader handshakes/s per core",
		"| Added latency of a resumption",
		"Total run time",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// Every table row carries figures: a median with its min and max, or a
	// stated n/a; none is empty or NaN.
	rows := 0
	figures, _, _ := strings.Cut(out, "## Device profile")
	lines := strings.Split(figures, "\n")
	for i, line := range lines {
		header := i+1 < len(lines) && strings.HasPrefix(lines[i+1], "|---")
		if !strings.HasPrefix(line, "| ") || header {
			continue
		}
		rows++
		if strings.Contains(line, "NaN") || strings.Contains(line, "Inf") {
			t.Errorf("row with a bad figure: %s", line)
		}
		if !strings.Contains(line, "–") && !strings.Contains(line, "n/a") {
			t.Errorf("row without a median (min–max): %s", line)
		}
	}
	for _, p := range []string{"cpu.prof", "mem.prof", "mem.prof.idle"} {
		if st, err := os.Stat(filepath.Join(dir, p)); err != nil || st.Size() == 0 {
			t.Errorf("profile %s not written: %v", p, err)
		}
	}
	if rows < 30 {
		t.Errorf("only %d table rows printed:\n%s", rows, out)
	}
}

func TestUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"-only", "nonsense"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("-only nonsense: exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr.String(), "offbench: error: -only: unknown section") {
		t.Errorf("stderr: %q", stderr.String())
	}
	stderr.Reset()
	if code := Main([]string{"extra"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("extra argument: exit %d, want %d", code, exitUsage)
	}
}

func TestSamples(t *testing.T) {
	s := samples{5, 1, 3, 2, 4}
	if s.median() != 3 || s.min() != 1 || s.max() != 5 {
		t.Errorf("median/min/max of %v: %v %v %v", s, s.median(), s.min(), s.max())
	}
	if got := (samples{1, 3}).median(); got != 2 {
		t.Errorf("even median %v", got)
	}
	if got := s.fmt(1); got != "3.0 (1.0–5.0)" {
		t.Errorf("fmt: %q", got)
	}
	if got := (samples{0.5, 0.25}).ratio(samples{1, 1}).pct(); got != "37.5 (25.0–50.0) %" {
		t.Errorf("pct: %q", got)
	}
}

// TestKeepTail: -write keeps the hand-kept part of the old report.
func TestKeepTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "P.md")
	if got := string(keepTail(path, []byte("new\n"))); got != "new\n" {
		t.Errorf("no file: %q", got)
	}
	os.WriteFile(path, []byte("old\n"+keptMarker+"\n## Registry\nfigures\n"), 0o600)
	if got := string(keepTail(path, []byte("new\n"))); got != "new\n\n"+keptMarker+"\n## Registry\nfigures\n" {
		t.Errorf("kept: %q", got)
	}
	os.WriteFile(path, []byte("old only\n"), 0o600)
	if got := string(keepTail(path, []byte("new\n"))); got != "new\n" {
		t.Errorf("no marker: %q", got)
	}
}
