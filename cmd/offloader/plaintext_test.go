package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// serveConfig runs serve on the config file at path in this process until
// the test ends, and returns its device address.
func serveConfig(t *testing.T, path string) string {
	t.Helper()
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	served := make(chan error, 1)
	go func() { served <- serve(ctx, cfg, pw); pw.Close() }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	sc := bufio.NewScanner(pr)
	var addr string
	for addr == "" && sc.Scan() {
		if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatal("serve printed no listening line")
	}
	go io.Copy(io.Discard, pr)
	return addr
}

// TestServePlaintextUnix: plaintext channels open on a unix socket for a
// peer whose uid plaintext_uids lists, and for no other.
func TestServePlaintextUnix(t *testing.T) {
	psk, _ := hex.DecodeString(pskHex)
	for _, c := range []struct {
		uid  int
		want error
	}{
		{os.Getuid(), nil},
		{os.Getuid() + 1, wire.StatusPlaintextRefused},
	} {
		t.Run(fmt.Sprint("uid ", c.uid), func(t *testing.T) {
			dir := writeFiles(t, t.TempDir(), nil)
			writeFiles(t, dir, map[string]string{"o.yaml": fmt.Sprintf(`
listen: "unix:%s"
plaintext: true
plaintext_uids: [%d]
devices:
  - id: sensor-1
    psk: %s
    allowed_names: ["api.example.com"]
`, filepath.Join(dir, "o.sock"), c.uid, pskHex)})
			addr := serveConfig(t, filepath.Join(dir, "o.yaml"))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for _, plaintext := range []bool{true, false} {
				cl, err := client.New(client.Config{Addrs: []string{addr}, DeviceID: "sensor-1", PSK: psk, Plaintext: plaintext})
				if err != nil {
					t.Fatal(err)
				}
				_, err = cl.Do(ctx, &wire.Flight{Requests: []wire.Request{&wire.StartRequest{
					ServerName: "api.example.com", Versions: []uint16{0x0303}, CipherSuites: []uint16{0xc02f}}}})
				cl.Close()
				want := c.want
				if !plaintext {
					want = nil // sealed channels are not affected
				}
				if (want == nil) != (err == nil) || (want != nil && !errors.Is(err, want)) {
					t.Errorf("plaintext %v: %v, want %v", plaintext, err, want)
				}
			}
		})
	}
}
