package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/tlsclient"
	"go.yaml.in/yaml/v3"
)

const (
	basicUser = "ops"
	basicPass = "correct horse battery"
)

// loadedDaemon is the built offloader serving real handshakes: devices
// handshake through it with real crypto/tls servers, some succeeding,
// some refused for different reasons, until the test ends.
type loadedDaemon struct {
	httpAddr string // metrics_listen, guarded by httpToken or basicUser:basicPass
	ok       chan struct{}
}

// startLoadedDaemon starts the daemon and the load. Refusals: an expired
// server certificate (expired), a certificate for another name
// (name_mismatch), a server name the device's policy refuses
// (policy_denied), and a device with a wrong PSK (wrong_psk).
func startLoadedDaemon(t *testing.T) *loadedDaemon {
	t.Helper()
	clientCertFixtures(t) // ccPKI: the servers' PKI, the devices' roots
	bin := buildOffloader(t)
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"offloader.yaml": `
listen: "127.0.0.1:0"
metrics_listen: "127.0.0.1:0"
http_token_file: http.token
http_basic_auth_file: http.basic
devices:
  - id: sensor-alpha-01
    psk: ` + pskHex + `
    roots_file: root.pem
    allowed_names: ["server.test"]
  - id: sensor-beta-02
    psk: ` + pskHex + `
    roots_file: root.pem
    allowed_names: ["server.test"]
  - id: sensor-gamma-03
    psk: ` + pskHex + `
    roots_file: root.pem
    allowed_names: ["server.test"]
`,
		"root.pem":   string(ccPKI.RootPEM()),
		"http.token": httpToken + "\n",
		"http.basic": basicUser + ":" + basicPass + "\n",
	})
	cmd := exec.Command(bin, "serve", "--config", filepath.Join(dir, "offloader.yaml"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	var logMu sync.Mutex
	lines := make(chan string, 100)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logMu.Lock()
			logged.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	var load sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		load.Wait()
		cmd.Process.Signal(syscall.SIGTERM)
		<-readDone
		if err := cmd.Wait(); err != nil {
			logMu.Lock()
			t.Errorf("offloader after SIGTERM: %v\n%s", err, logged.String())
			logMu.Unlock()
		}
	})
	var addr, httpAddr string
	timeout := time.After(60 * time.Second)
	for addr == "" {
		select {
		case l := <-lines:
			if m := metricsLine.FindStringSubmatch(l); m != nil {
				httpAddr = m[1]
			}
			if m := listeningLine.FindStringSubmatch(l); m != nil {
				addr = m[1]
			}
		case <-readDone:
			t.Fatalf("offloader exited before listening:\n%s", logged.String())
		case <-timeout:
			t.Fatal("no listening line after 60s")
		}
	}

	// The servers: crypto/tls with a good certificate, an expired one,
	// and one for another name.
	servers := map[string]string{}
	for name, defect := range map[string]testpki.Defect{"good": testpki.Good, "expired": testpki.Expired, "wrongname": testpki.WrongName} {
		leaf, err := ccPKI.Issue([]string{"server.test"}, testpki.ECDSAP256, defect)
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		cfg := &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}, MaxVersion: tls.VersionTLS12}
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					c.SetDeadline(time.Now().Add(10 * time.Second))
					tc := tls.Server(c, cfg)
					if tc.Handshake() == nil {
						io.Copy(io.Discard, tc)
					}
				}()
			}
		}()
		servers[name] = l.Addr().String()
	}

	psk, _ := hex.DecodeString(pskHex)
	wrong, _ := hex.DecodeString(tokenHex)
	d := &loadedDaemon{httpAddr: httpAddr, ok: make(chan struct{}, 1)}
	handshake := func(dev *client.Client, server, name string) error {
		raw, err := net.DialTimeout("tcp", server, 5*time.Second)
		if err != nil {
			return err
		}
		defer raw.Close()
		raw.SetDeadline(time.Now().Add(10 * time.Second))
		return tlsclient.Client(raw, &tlsclient.Config{Offloader: dev, ServerName: name}).Handshake()
	}
	type job struct {
		id, server, name string
		psk              []byte
		every            int // one handshake in every this many rounds
		wantOK           bool
	}
	jobs := []job{
		{"sensor-alpha-01", servers["good"], "server.test", psk, 1, true},
		{"sensor-beta-02", servers["good"], "server.test", psk, 2, true},
		{"sensor-gamma-03", servers["expired"], "server.test", psk, 5, false},
		{"sensor-gamma-03", servers["wrongname"], "server.test", psk, 7, false},
		{"sensor-beta-02", servers["good"], "elsewhere.test", psk, 6, false},
		{"sensor-alpha-01", servers["good"], "server.test", wrong, 9, false},
	}
	for _, j := range jobs {
		dev, err := client.New(client.Config{Addrs: []string{addr}, DeviceID: j.id, PSK: j.psk})
		if err != nil {
			t.Fatal(err)
		}
		load.Add(1)
		go func() {
			defer load.Done()
			defer dev.Close()
			for round := 0; ; round++ {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Duration(j.every) * 40 * time.Millisecond):
				}
				err := handshake(dev, j.server, j.name)
				if j.wantOK && err == nil {
					select {
					case d.ok <- struct{}{}:
					default:
					}
				}
				if ctx.Err() == nil && (err == nil) != j.wantOK {
					t.Errorf("%s to %s as %s: %v, want success %v", j.id, j.server, j.name, err, j.wantOK)
					return
				}
			}
		}()
	}
	select {
	case <-d.ok:
	case <-time.After(30 * time.Second):
		t.Fatal("no handshake succeeded in 30s")
	}
	return d
}

// get fetches path with the bearer token.
func (d *loadedDaemon) get(t *testing.T, path string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+d.httpAddr+path, nil)
	req.Header.Set("Authorization", "Bearer "+httpToken)
	resp, err := http.DefaultClient.Do(req)
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

// waitMetrics scrapes until every want is in /metrics.
func (d *loadedDaemon) waitMetrics(t *testing.T, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		body := d.get(t, "/metrics")
		missing := ""
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = w
			}
		}
		if missing == "" {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics still lacks %s after 30s:\n%s", missing, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// exposedNames are the series names in a text exposition.
func exposedNames(body string) map[string]bool {
	names := map[string]bool{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		names[name] = true
	}
	return names
}

var metricRef = regexp.MustCompile(`\b(?:tlsoffload|process|go)_[a-z0-9_]+\b`)

// deployExprs reads every PromQL expression of deploy/: the Grafana
// dashboard's targets and the alerting rules, checking their shape.
func deployExprs(t *testing.T) map[string]string {
	t.Helper()
	exprs := map[string]string{} // where → expr
	raw, err := os.ReadFile("../../deploy/grafana/tlsoffload.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string
		UID    string
		Panels []struct {
			Title   string
			Type    string
			Targets []struct{ Expr, RefID string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("grafana dashboard: %v", err)
	}
	if dash.Title == "" || dash.UID == "" || len(dash.Panels) < 10 {
		t.Fatalf("grafana dashboard: title %q, uid %q, %d panels", dash.Title, dash.UID, len(dash.Panels))
	}
	for _, p := range dash.Panels {
		if p.Title == "" || p.Type == "" || len(p.Targets) == 0 {
			t.Errorf("grafana panel %q (%s) has no title, type or target", p.Title, p.Type)
		}
		for _, tg := range p.Targets {
			exprs["grafana "+p.Title+" "+tg.RefID] = tg.Expr
		}
	}
	raw, err = os.ReadFile("../../deploy/prometheus/tlsoffload.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert       string
				Expr        string
				For         string
				Labels      map[string]string
				Annotations map[string]string
			}
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&rules); err != nil {
		t.Fatalf("alerting rules: %v", err)
	}
	alerts := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if _, err := time.ParseDuration(r.For); r.Alert == "" || r.Expr == "" || err != nil || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("rule %q: want alert, expr, for, labels.severity and annotations.summary", r.Alert)
			}
			alerts[r.Alert] = true
			exprs["rule "+r.Alert] = r.Expr
		}
	}
	// The alerts the issue asks for.
	for _, a := range []string{"TLSOffloadHandshakeFailureRatioHigh", "TLSOffloadFlightLatencyHigh", "TLSOffloadDevicesRateLimited",
		"TLSOffloadConfigReloadFailed", "TLSOffloadFileDescriptorsHigh"} {
		if !alerts[a] {
			t.Errorf("no alert %s", a)
		}
	}
	return exprs
}

// TestDeployFilesMatchMetrics: every metric the Grafana dashboard and the
// alerting rules name is one a running offloader under load exports, so
// they cannot drift from the code.
func TestDeployFilesMatchMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	exprs := deployExprs(t)
	d := startLoadedDaemon(t)
	body := d.waitMetrics(t,
		`tlsoffload_handshakes_total{result="ok"}`, `tlsoffload_handshakes_total{result="expired"}`,
		`tlsoffload_flight_queue_seconds_bucket{kind="pipelined"`, `tlsoffload_verify_cache_lookups_total{result="hit"}`)
	names := exposedNames(body)
	var refs []string
	for where, e := range exprs {
		found := metricRef.FindAllString(e, -1)
		if len(found) == 0 {
			t.Errorf("%s names no metric: %s", where, e)
		}
		for _, name := range found {
			if !names[name] {
				t.Errorf("%s names %s, which the offloader does not export", where, name)
			}
			refs = append(refs, name)
		}
	}
	sort.Strings(refs)
	t.Logf("%d expressions, %d metric references, all exported", len(exprs), len(refs))
	// The check can fail: a name the offloader does not export.
	if names["tlsoffload_handshakes"] || !names["tlsoffload_handshakes_total"] {
		t.Error("exposedNames misreads the exposition")
	}
	// The API reads the same counters: what /metrics said a moment ago,
	// the API says too, or more for a count that grew since.
	var api struct {
		Handshakes     struct{ OK uint64 }
		DevicesTracked int               `json:"devices_tracked"`
		MaxInFlight    int               `json:"flights_max_in_flight"`
		Cache          struct{ Max int } `json:"verify_cache"`
	}
	if err := json.Unmarshal([]byte(d.get(t, "/api/v1/stats")), &api); err != nil {
		t.Fatal(err)
	}
	value := func(series string) float64 {
		for _, line := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(line, series+" "); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("%s: %v", line, err)
				}
				return f
			}
		}
		t.Fatalf("/metrics has no %s", series)
		return 0
	}
	if ok := value(`tlsoffload_handshakes_total{result="ok"}`); float64(api.Handshakes.OK) < ok || ok == 0 {
		t.Errorf("API: %d handshakes ok; /metrics said %v before", api.Handshakes.OK, ok)
	}
	if v := value("tlsoffload_devices_tracked"); float64(api.DevicesTracked) != v || v != 3 {
		t.Errorf("devices tracked: API %d, /metrics %v, want 3", api.DevicesTracked, v)
	}
	if v := value("tlsoffload_flights_max_in_flight"); float64(api.MaxInFlight) != v {
		t.Errorf("max in flight: API %d, /metrics %v", api.MaxInFlight, v)
	}
	if v := value("tlsoffload_verify_cache_max_entries"); float64(api.Cache.Max) != v {
		t.Errorf("cache max: API %d, /metrics %v", api.Cache.Max, v)
	}

	// Without a credential, /metrics is refused.
	resp, err := http.Get("http://" + d.httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/metrics without a credential: %s", resp.Status)
	}
}
