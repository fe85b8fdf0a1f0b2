package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tlsoffload/tlsoffload/internal/pgtest"
	"github.com/tlsoffload/tlsoffload/offloader/server/pgregistry"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// pg is the one PostgreSQL of this package's tests.
var pg *pgtest.Server

func TestMain(m *testing.M) {
	if os.Getenv(floodProcessEnv) != "" {
		os.Exit(floodProcess()) // abuse_test.go: this binary as a flooding device
	}
	os.Exit(pgtest.Main(m.Run, &pg))
}

var dbSeq atomic.Int32

// fleetConfig makes a database of its own and a config naming it; it
// returns the config's path.
func fleetConfig(t *testing.T) (dir, cfgPath string) {
	t.Helper()
	if pg == nil {
		t.Skip("no PostgreSQL installed")
	}
	ctx := context.Background()
	pool, err := pgregistry.NewPool(ctx, pg.DSN("postgres"), 1)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("cmd%d_%d", os.Getpid(), dbSeq.Add(1))
	_, err = pool.Exec(ctx, "CREATE DATABASE "+name)
	pool.Close()
	if err != nil {
		t.Fatal(err)
	}
	dir = writeFiles(t, t.TempDir(), map[string]string{
		"pg.dsn":  pg.DSN(name) + "\n",
		"kek.hex": tokenHex + "\n",
		"fleet.yaml": `listen: "127.0.0.1:0"
registry:
  postgres:
    dsn_file: pg.dsn
    kek_file: kek.hex
    cache_ttl: 1m
`,
	})
	return dir, filepath.Join(dir, "fleet.yaml")
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := run(args...)
	if code != 0 {
		t.Fatalf("offloader %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

var pskLine = regexp.MustCompile(`(?m)^psk ([0-9a-f]{64})$`)

func TestAdminCommands(t *testing.T) {
	dir, cfg := fleetConfig(t)
	if out := mustRun(t, "migrate", "-c", cfg); !strings.Contains(out, "applied 0001_registry.sql") {
		t.Fatalf("migrate: %q", out)
	}
	if out := mustRun(t, "migrate", "-c", cfg); !strings.Contains(out, "schema up to date") {
		t.Fatalf("migrate again: %q", out)
	}
	if out := mustRun(t, "check", "-c", cfg); out != "ok: registry postgres\n" {
		t.Errorf("check: %q", out)
	}
	writeFiles(t, dir, map[string]string{"roots.pem": rootPEM(t), "given.psk": pskHex})
	mustRun(t, "policy", "set", "-c", cfg, "cams", "--allow", "*.example.com", "--allow", "api.example.net", "--roots-file", filepath.Join(dir, "roots.pem"))

	out := mustRun(t, "device", "add", "-c", cfg, "cam-1", "--policy", "cams")
	m := pskLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("device add printed no PSK: %q", out)
	}
	if out := mustRun(t, "device", "add", "-c", cfg, "cam-2", "--policy", "cams", "--psk-file", filepath.Join(dir, "given.psk")); pskLine.MatchString(out) {
		t.Errorf("a PSK read from a file was printed: %q", out)
	}
	code, _, errOut := run("device", "add", "-c", cfg, "cam-1", "--policy", "cams")
	if code != 1 || !strings.Contains(errOut, "already exists") {
		t.Errorf("adding twice: exit %d %q", code, errOut)
	}
	code, _, errOut = run("device", "add", "-c", cfg, "cam-9", "--policy", "nope")
	if code != 1 || !strings.Contains(errOut, "no such policy") {
		t.Errorf("unknown policy: exit %d %q", code, errOut)
	}
	if code, _, _ := run("device", "add", "-c", cfg, "cam-9"); code != 2 {
		t.Errorf("add without --policy: exit %d, want 2", code)
	}
	if code, _, _ := run("device", "frob", "-c", cfg, "x"); code != 2 {
		t.Errorf("unknown subcommand: exit %d, want 2", code)
	}

	writeFiles(t, dir, map[string]string{"line.csv": "id,policy\nfab-1,cams\nfab-2,cams\n"})
	out = mustRun(t, "device", "add", "-c", cfg, "--csv", filepath.Join(dir, "line.csv"))
	if n := strings.Count(out, "\n"); n != 2 || !strings.HasPrefix(out, "fab-1,") {
		t.Errorf("csv add printed %q", out)
	}

	out = mustRun(t, "device", "show", "-c", cfg, "cam-1")
	if !strings.Contains(out, "policy:      cams") || !strings.Contains(out, "state:       active") || strings.Contains(out, m[1]) {
		t.Errorf("show: %q", out)
	}
	mustRun(t, "policy", "set", "-c", cfg, "strict", "--allow", "api.example.net", "--min-version", "1.2")
	mustRun(t, "device", "set", "-c", cfg, "cam-1", "--policy", "strict")
	out = mustRun(t, "device", "list", "-c", cfg, "--policy", "strict")
	if !strings.Contains(out, "cam-1") || strings.Contains(out, "cam-2") {
		t.Errorf("list --policy strict: %q", out)
	}
	if out := mustRun(t, "device", "list", "-c", cfg); strings.Count(out, "\n") != 5 {
		t.Errorf("list: %q", out)
	}
	out = mustRun(t, "device", "rotate-psk", "-c", cfg, "cam-1")
	if m2 := pskLine.FindStringSubmatch(out); m2 == nil || m2[1] == m[1] {
		t.Errorf("rotate-psk: %q", out)
	}
	mustRun(t, "device", "revoke", "-c", cfg, "cam-2")
	if out := mustRun(t, "device", "show", "-c", cfg, "cam-2"); !strings.Contains(out, "state:       revoked") {
		t.Errorf("show after revoke: %q", out)
	}
	code, _, errOut = run("device", "revoke", "-c", cfg, "ghost")
	if code != 1 || !strings.Contains(errOut, "no such device") {
		t.Errorf("revoke ghost: exit %d %q", code, errOut)
	}
	if strings.Contains(errOut, tokenHex) {
		t.Error("the KEK is in an error")
	}

	// import: a one-site YAML registry moved into PostgreSQL.
	writeFiles(t, dir, map[string]string{"site.yaml": `listen: "127.0.0.1:0"
devices:
  - id: site-1
    psk: ` + pskHex + `
    roots_file: roots.pem
    allowed_names: ["*.example.com"]
  - id: site-2
    psk: ` + pskHex + `
    roots_file: roots.pem
    allowed_names: ["*.example.com"]
  - id: site-3
    psk: ` + pskHex + `
    allowed_names: ["*"]
`})
	out = mustRun(t, "import", "-c", cfg, "--from", filepath.Join(dir, "site.yaml"))
	if out != "imported 3 devices under 2 policies\n" {
		t.Errorf("import: %q", out)
	}
	code, _, errOut = run("import", "-c", cfg, "--from", filepath.Join(dir, "site.yaml"))
	if code != 1 || !strings.Contains(errOut, "already exists") {
		t.Errorf("import twice: exit %d %q", code, errOut)
	}
	// A device's negotiation policy (schema version 3) is imported with it.
	writeFiles(t, dir, map[string]string{"narrow.yaml": `listen: "127.0.0.1:0"
devices:
  - id: narrow-1
    psk: ` + pskHex + `
    allowed_names: ["*"]
  - id: narrow-2
    psk: ` + pskHex + `
    allowed_names: ["*"]
    key_exchanges: [ecdhe_rsa]
`})
	if out := mustRun(t, "import", "-c", cfg, "--from", filepath.Join(dir, "narrow.yaml")); out != "imported 2 devices under 2 policies\n" {
		t.Errorf("import of a narrowed policy: %q", out)
	}
	if out := mustRun(t, "device", "show", "-c", cfg, "narrow-2"); !strings.Contains(out, "policy:      import-") {
		t.Errorf("narrow-2: %q", out)
	}
	// A config without registry.postgres cannot run admin commands.
	if code, _, _ := run("device", "list", "-c", filepath.Join(dir, "site.yaml")); code != 1 {
		t.Errorf("device list on a YAML-only config: exit %d", code)
	}
}

var pgListening = regexp.MustCompile(`^offloader: listening on (\S+) \(registry: postgres\)$`)

// startServe runs the built daemon on cfg and returns its address; the
// process is stopped with SIGTERM at cleanup.
func startServe(t *testing.T, bin, cfg string) string {
	t.Helper()
	cmd := exec.Command(bin, "serve", "-c", cfg)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := pgListening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-done
		cmd.Wait()
	})
	select {
	case a := <-addr:
		return a
	case <-done:
		t.Fatal("offloader serve exited before listening")
	case <-time.After(60 * time.Second):
		t.Fatal("offloader serve: no listening line")
	}
	return ""
}

func openFleetChannel(t *testing.T, addr, id string, psk []byte) (*wire.Channel, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	ch, err := wire.ClientOpen(c, wire.ChannelConfig{DeviceID: id, PSK: psk})
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	t.Cleanup(func() { ch.Close() })
	return ch, nil
}

// TestFleetOfThreeReplicas is issue 13's "done when": three offloader
// processes on one PostgreSQL serve a fleet provisioned with the admin
// commands, and a revoke closes the device's channels on all three. How
// fast is logged, not asserted (tests never assert timings): the bound
// below is for a loaded CI machine; pgregistry's BenchmarkRevokeThreeReplicas
// measures the figure docs/PERFORMANCE.md reports.
func TestFleetOfThreeReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildOffloader(t)
	_, cfg := fleetConfig(t)
	mustRun(t, "migrate", "-c", cfg)
	mustRun(t, "policy", "set", "-c", cfg, "p", "--allow", "*")
	m := pskLine.FindStringSubmatch(mustRun(t, "device", "add", "-c", cfg, "lost-1", "--policy", "p"))
	psk, _ := hex.DecodeString(m[1])
	var addrs []string
	for range 3 {
		addrs = append(addrs, startServe(t, bin, cfg))
	}
	var chans []*wire.Channel
	for _, a := range addrs {
		ch, err := openFleetChannel(t, a, "lost-1", psk)
		if err != nil {
			t.Fatalf("opening on %s: %v", a, err)
		}
		chans = append(chans, ch)
	}
	start := time.Now()
	mustRun(t, "device", "revoke", "-c", cfg, "lost-1")
	ended := make(chan time.Duration, len(chans))
	for _, ch := range chans {
		go func() {
			if _, err := ch.ReadFrame(); err == nil {
				ended <- -1
				return
			}
			ended <- time.Since(start)
		}()
	}
	const revokeDeadline = 10 * time.Second
	deadline := time.After(revokeDeadline)
	for range chans {
		select {
		case d := <-ended:
			if d < 0 {
				t.Fatal("a frame on a revoked channel")
			}
			t.Logf("closed %v after the revoke command started", d)
		case <-deadline:
			t.Fatalf("a replica kept the revoked device's channel open %v after the revoke", revokeDeadline)
		}
	}
	for _, a := range addrs {
		if _, err := openFleetChannel(t, a, "lost-1", psk); !errors.Is(err, wire.StatusAuthFailed) {
			t.Errorf("%s: opening after the revoke: %v", a, err)
		}
	}
}

func TestRegistryConfigErrors(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"pg.dsn": "host=/nonexistent dbname=x\n", "kek.hex": tokenHex, "short.hex": "abcd", "empty": ""})
	for _, c := range []struct{ yaml, want string }{
		{"registry: {postgres: {kek_file: kek.hex}}", "registry.postgres.dsn_file: missing"},
		{"registry: {postgres: {dsn_file: empty, kek_file: kek.hex}}", "registry.postgres.dsn_file: " + filepath.Join(dir, "empty") + " is empty"},
		{"registry: {postgres: {dsn_file: pg.dsn}}", "registry.postgres.kek_file: missing"},
		{"registry: {postgres: {dsn_file: pg.dsn, kek_file: short.hex}}", "must be 64 hex characters"},
		{"registry: {postgres: {dsn_file: pg.dsn, kek_file: kek.hex, previous_kek_file: short.hex}}", "registry.postgres.previous_kek_file: pgregistry: kek"},
		{"registry: {postgres: {dsn_file: pg.dsn, kek_file: kek.hex, cache_size: -1}}", "registry.postgres.cache_size: -1 is negative"},
		{"registry: {postgres: {dsn_file: pg.dsn, kek_file: kek.hex, cache_ttl: soon}}", "registry.postgres.cache_ttl: \"soon\" is not a duration"},
		{"registry: {postgres: {dsn: x}}", `unknown field "dsn"`},
	} {
		writeFiles(t, dir, map[string]string{"o.yaml": "listen: 127.0.0.1:0\n" + c.yaml + "\n"})
		code, _, errOut := run("check", "-c", filepath.Join(dir, "o.yaml"))
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, %q; want %q", c.yaml, code, errOut, c.want)
		}
		if strings.Contains(errOut, tokenHex[:16]) {
			t.Errorf("%s: the KEK is in the error", c.yaml)
		}
	}
	// Devices and a PostgreSQL registry at once: loadable (for import), not servable.
	writeFiles(t, dir, map[string]string{"both.yaml": "listen: 127.0.0.1:0\nregistry: {postgres: {dsn_file: pg.dsn, kek_file: kek.hex}}\ndevices:\n  - id: d\n    psk: " + pskHex + "\n    allowed_names: ['*']\n"})
	code, _, errOut := run("serve", "-c", filepath.Join(dir, "both.yaml"))
	if code != 1 || !strings.Contains(errOut, "offloader import") {
		t.Errorf("serve with both: exit %d %q", code, errOut)
	}
}

// TestRegistryMetrics: a replica's registry counters reach Prometheus.
func TestRegistryMetrics(t *testing.T) {
	_, cfgPath := fleetConfig(t)
	mustRun(t, "migrate", "-c", cfgPath)
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := openRegistry(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	reg.LookupDevice("nobody") // one miss
	prom := prometheus.NewRegistry()
	if err := prom.Register(newRegistryCollector(reg)); err != nil {
		t.Fatal(err)
	}
	mfs, err := prom.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "{" + l.GetValue() + "}"
			}
			got[name] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	for name, want := range map[string]float64{
		"offloader_registry_lookups_total{miss}":        1,
		"offloader_registry_lookups_total{unavailable}": 0,
		"offloader_registry_listening":                  1,
		"offloader_registry_resyncs_total":              1,
		"offloader_registry_cached_entries":             1,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
}
