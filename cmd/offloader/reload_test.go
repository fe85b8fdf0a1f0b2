package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// writeAtomic replaces path's content in one rename, as an editor does.
func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// openChannel opens a sealed channel to addr as id.
func openChannel(t *testing.T, addr, id, pskHex string) *wire.Channel {
	t.Helper()
	psk, _ := hex.DecodeString(pskHex)
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	ch, err := wire.ClientOpen(c, wire.ChannelConfig{DeviceID: id, PSK: psk})
	if err != nil {
		t.Fatalf("open %s: %v", id, err)
	}
	return ch
}

// startOn runs one Start for api.example.com on ch.
func startOn(ch *wire.Channel, id uint32) error {
	f := &wire.Flight{ID: id, Requests: []wire.Request{&wire.StartRequest{
		ServerName: "api.example.com", Versions: []uint16{0x0303}, CipherSuites: []uint16{0xc02f}}}}
	b, _ := f.Marshal()
	if err := ch.WriteFrame(b); err != nil {
		return err
	}
	b, err := ch.ReadFrame()
	if err != nil {
		return err
	}
	var resp wire.FlightResponse
	if err := resp.Unmarshal(b); err != nil {
		return err
	}
	if e := resp.Results[0].Err; e != nil {
		return e
	}
	return nil
}

// waitLog waits (at most 30 s) for the daemon's log to contain s.
func waitLog(t *testing.T, d *daemon, s string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(d.logged(), s); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) || !d.alive() {
			t.Fatalf("no %q in the log (alive %v):\n%s", s, d.alive(), tail(d.logged(), 30))
		}
	}
}

// TestReload: the built daemon reloads its config when the file changes
// and on SIGHUP; a removed device's and a changed PSK's channels close; a
// bad file is refused, naming the field, and the old config keeps serving.
func TestReload(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	const pskB = "b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0"
	const pskA2 = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
	conf := func(devices ...string) string {
		return "listen: 127.0.0.1:0\nmetrics_listen: 127.0.0.1:0\ndevices:\n" + strings.Join(devices, "")
	}
	dev := func(id, psk string) string {
		return fmt.Sprintf("  - id: %s\n    psk: %s\n    allowed_names: [api.example.com]\n", id, psk)
	}
	dir := writeFiles(t, t.TempDir(), map[string]string{"o.yaml": conf(dev("a", pskHex), dev("b", pskB))})
	path := filepath.Join(dir, "o.yaml")
	d := startDaemon(t, buildOffloader(t), path, 0)

	a, b := openChannel(t, d.addr, "a", pskHex), openChannel(t, d.addr, "b", pskB)
	for i, ch := range []*wire.Channel{a, b} {
		if err := startOn(ch, uint32(i+1)); err != nil {
			t.Fatal(err)
		}
	}

	// b removed: its channel closes, a's stays.
	writeAtomic(t, path, conf(dev("a", pskHex)))
	waitLog(t, d, "generation=2")
	if _, err := b.ReadFrame(); err == nil {
		t.Fatal("the removed device's channel was kept")
	}
	if err := startOn(a, 3); err != nil {
		t.Fatalf("a after b's removal: %v", err)
	}

	// A bad file: refused with the field named; the old config serves.
	writeAtomic(t, path, conf(dev("a", strings.Repeat("00", 32))))
	waitLog(t, d, "config reload refused")
	if !strings.Contains(d.logged(), "devices[0].psk: every byte is the same") {
		t.Errorf("the refusal does not name the field:\n%s", tail(d.logged(), 10))
	}
	if err := startOn(a, 4); err != nil {
		t.Fatalf("a after a refused reload: %v", err)
	}

	// SIGHUP reloads too (the file is still bad: refused again).
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, d, "trigger=SIGHUP")

	// a's PSK changed: its channel closes; the new PSK opens one.
	writeAtomic(t, path, conf(dev("a", pskA2)))
	waitLog(t, d, "generation=3")
	if _, err := a.ReadFrame(); err == nil {
		t.Fatal("a channel under the old PSK was kept")
	}
	if err := startOn(openChannel(t, d.addr, "a", pskA2), 5); err != nil {
		t.Fatal(err)
	}

	resp, err := http.Get("http://" + d.metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"tlsoffload_config_generation 3",
		`tlsoffload_config_reloads_total{result="ok"} 2`,
		`tlsoffload_config_reloads_total{result="refused"} 2`,
		"tlsoffload_config_last_reload_successful 1",
		`tlsoffload_refused_total{reason="revoked"} 2`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if err := d.stop(t); err != nil {
		t.Fatalf("exit: %v\n%s", err, tail(d.logged(), 20))
	}
}

// restartFields lists what a reload changed but cannot apply, and not the
// HTTP credentials, which a reload applies.
func TestRestartFields(t *testing.T) {
	base := &config{listen: "127.0.0.1:1", httpAuth: httpAuth{user: []byte("op"), password: []byte("a")}}
	same := *base
	same.httpAuth = httpAuth{user: []byte("op"), password: []byte("a")}
	password := *base
	password.httpAuth.password = []byte("b")
	token := *base
	token.httpAuth.token = []byte("0123456789abcdef")
	listen := *base
	listen.listen = "127.0.0.1:2"
	for _, c := range []struct {
		name string
		next *config
		want []string
	}{
		{"nothing", &same, nil},
		{"password", &password, nil},
		{"token", &token, nil},
		{"listen", &listen, []string{"listen"}},
	} {
		if got := restartFields(base, c.next); !slices.Equal(got, c.want) {
			t.Errorf("%s changed: restart fields %q, want %q", c.name, got, c.want)
		}
	}
}
