package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// buildOffloader builds this command into a temporary directory.
func buildOffloader(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "offloader")
	out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

var (
	listeningLine = regexp.MustCompile(`^offloader: listening on (\S+) \((\d+) devices\)$`)
	metricsLine   = regexp.MustCompile(`^offloader: metrics on http://(\S+)/metrics$`)
)

// TestServeEndToEnd runs the built daemon as a user would, talks to it
// with the device-side client, scrapes its metrics and stops it with
// SIGTERM.
func TestServeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildOffloader(t)
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"offloader.yaml": `
listen: "127.0.0.1:0"
metrics_listen: "127.0.0.1:0"
start_ttl: 2m
devices:
  - id: sensor-1
    psk_file: sensor-1.psk
    allowed_names: ["api.example.com", "*.example.net"]
  - id: sensor-2
    psk: ` + tokenHex + `
  - id: sensor-3
    psk_file: sensor-1.psk
    allowed_names: ["*"]
    min_version: "1.1"
`,
		"sensor-1.psk": pskHex + "\n",
	})
	cmd := exec.Command(bin, "serve", "--config", filepath.Join(dir, "offloader.yaml"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	// Read stderr to the end in the background; hand over the two lines
	// that say where the server listens.
	lines := make(chan string, 100)
	var logged bytes.Buffer
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logged.WriteString(sc.Text() + "\n")
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	var addr, metricsAddr string
	timeout := time.After(60 * time.Second)
	for addr == "" {
		select {
		case l := <-lines:
			if m := metricsLine.FindStringSubmatch(l); m != nil {
				metricsAddr = m[1]
			}
			if m := listeningLine.FindStringSubmatch(l); m != nil {
				addr = m[1]
				if m[2] != "3" {
					t.Errorf("listening line %q: want 3 devices", l)
				}
			}
		case <-readDone:
			t.Fatalf("offloader exited before listening:\n%s", logged.String())
		case <-timeout:
			t.Fatal("no listening line after 60s")
		}
	}
	if metricsAddr == "" {
		t.Fatal("no metrics line before the listening line")
	}
	if strings.HasSuffix(addr, ":0") {
		t.Fatalf("listening line names port 0, not the bound port: %q", addr)
	}

	psk, _ := hex.DecodeString(pskHex)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := func(c *client.Client, name string) *wire.Result {
		t.Helper()
		r, err := c.Do(ctx, &wire.Flight{Requests: []wire.Request{&wire.StartRequest{
			ServerName:          name,
			Versions:            []uint16{0x0303, 0x0302},
			CipherSuites:        []uint16{0xc02f, 0xc02b, 0xcca8},
			Groups:              []uint16{29, 23},
			SignatureAlgorithms: []uint16{0x0804, 0x0403, 0x0401},
		}}})
		if err != nil {
			t.Fatalf("Do start %s: %v", name, err)
		}
		return &r.Results[0]
	}
	for _, plaintext := range []bool{false} { // plaintext: TestServePlaintextUnix

		c, err := client.New(client.Config{Addrs: []string{addr}, DeviceID: "sensor-1", PSK: psk, Plaintext: plaintext})
		if err != nil {
			t.Fatal(err)
		}
		res := start(c, "api.example.com")
		sr, _ := res.Body.(*wire.StartResponse)
		if res.Err != nil || sr == nil {
			t.Fatalf("plaintext %v: start for an allowed name: %v", plaintext, res.Err)
		}
		if len(sr.Versions) != 1 || sr.Versions[0] != 0x0303 || sr.TTL != 2*time.Minute {
			t.Errorf("start answer %+v: want TLS 1.2 only and the configured 2m TTL", sr)
		}
		if res := start(c, "a.example.net"); res.Err != nil {
			t.Errorf("wildcard name refused: %v", res.Err)
		}
		res = start(c, "evil.example.org")
		if res.Err == nil || res.Err.Status != wire.StatusPolicyDenied {
			t.Errorf("start for a denied name: %+v, want StatusPolicyDenied", res.Err)
		}
		c.Close()
	}

	// sensor-3's min_version reaches the registry: TLS 1.1 is allowed too.
	c3, err := client.New(client.Config{Addrs: []string{addr}, DeviceID: "sensor-3", PSK: psk})
	if err != nil {
		t.Fatal(err)
	}
	if res := start(c3, "api.example.com"); res.Err != nil || len(res.Body.(*wire.StartResponse).Versions) != 2 || res.Body.(*wire.StartResponse).Versions[1] != 0x0302 {
		t.Errorf("sensor-3 (min_version 1.1): %+v %v, want TLS 1.2 and 1.1", res.Body, res.Err)
	}
	c3.Close()

	// The PSK of the other device is refused for this one.
	other, _ := hex.DecodeString(tokenHex)
	bad, err := client.New(client.Config{Addrs: []string{addr}, DeviceID: "sensor-1", PSK: other})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Do(ctx, &wire.Flight{Requests: []wire.Request{&wire.StartRequest{ServerName: "api.example.com", Versions: []uint16{0x0303}, CipherSuites: []uint16{0xc02f}}}}); !errors.Is(err, wire.StatusAuthFailed) {
		t.Errorf("wrong PSK: %v, want StatusAuthFailed", err)
	}
	bad.Close()

	get := func(path string) string {
		t.Helper()
		resp, err := http.Get("http://" + metricsAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		return string(body)
	}
	metrics := get("/metrics")
	for _, want := range []string{"tlsoffload_requests_total", `op="start"`, "tlsoffload_channels_total"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, metrics)
		}
	}
	if h := get("/healthz"); h != "ok\n" {
		t.Errorf("/healthz: %q", h)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-readDone
	if err := cmd.Wait(); err != nil {
		t.Fatalf("offloader after SIGTERM: %v\n%s", err, logged.String())
	}
	if cmd.ProcessState.ExitCode() != 0 {
		t.Errorf("exit code %d after SIGTERM", cmd.ProcessState.ExitCode())
	}
	log := logged.String()
	if strings.Contains(log, pskHex) || strings.Contains(log, tokenHex) {
		t.Errorf("a PSK is in the log:\n%s", log)
	}
	if !strings.Contains(log, "shutting down") || !strings.Contains(log, "flights in flight answered; channels closed") {
		t.Errorf("no graceful shutdown in the log:\n%s", log)
	}
	if !strings.Contains(log, `device=sensor-2`) {
		t.Errorf("no warning for sensor-2's empty allowed_names:\n%s", log)
	}
	if stdout.Len() != 0 {
		t.Errorf("serve wrote to stdout: %q", stdout.String())
	}
}

// TestServeListenFails: an address already taken is an error, exit 1.
func TestServeListenFails(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir := writeFiles(t, t.TempDir(), map[string]string{"o.yaml": "listen: " + l.Addr().String() +
		"\ndevices:\n  - id: d\n    psk: " + pskHex + "\n    allowed_names: ['*']\n"})
	code, out, errOut := run("serve", "-c", filepath.Join(dir, "o.yaml"))
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "offloader: listen: listen tcp "+l.Addr().String()) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
