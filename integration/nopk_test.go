package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/tlsclient"
)

// publicKeyFrames are the functions whose presence in a device profile would
// mean the device did public-key work or parsed certificates.
var publicKeyFrames = []string{
	"crypto/ecdh.",
	"crypto/ecdsa.",
	"crypto/rsa.",
	"crypto/ed25519.",
	"crypto/internal/fips140/ecdh.",
	"crypto/internal/fips140/ecdsa.",
	"crypto/internal/fips140/rsa.",
	"crypto/internal/fips140/nistec",
	"crypto/internal/fips140/edwards25519",
	"crypto/internal/fips140/bigmod",
	"golang.org/x/crypto/curve25519",
	"crypto/x509.ParseCertificate",
	"crypto/x509.(*Certificate).Verify",
}

// profileHandshakes runs n handshakes with dial under a CPU profile and
// returns the profile's stack traces as text.
func profileHandshakes(t *testing.T, n int, dial func() error) string {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "cpu.pprof"))
	if err != nil {
		t.Fatal(err)
	}
	// A higher rate than pprof's default 100 Hz, so short work is seen.
	// (The runtime warns that the rate is already set; the rate holds.)
	runtime.SetCPUProfileRate(1000)
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := dial(); err != nil {
			pprof.StopCPUProfile()
			t.Fatalf("handshake %d: %v", i, err)
		}
	}
	pprof.StopCPUProfile()
	runtime.SetCPUProfileRate(0)
	f.Close()
	out, err := exec.Command("go", "tool", "pprof", "-traces", f.Name()).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof: %v\n%s", err, out)
	}
	return string(out)
}

func publicKeySamples(traces string) []string {
	var hits []string
	for _, line := range strings.Split(traces, "\n") {
		for _, frame := range publicKeyFrames {
			if strings.Contains(line, frame) {
				hits = append(hits, strings.TrimSpace(line))
			}
		}
	}
	return hits
}

// The device performs no public-key operation: a CPU profile of the device
// side of 1000 full handshakes (the TLS server and the offloader are other
// processes) has no sample in ECDH, ECDSA, RSA or certificate parsing and
// verification. The same profile of Go's crypto/tls client doing the same
// handshakes has such samples, which shows the check can see them.
func TestDevicePerformsNoPublicKeyOperation(t *testing.T) {
	if testing.Short() {
		t.Skip("1000 handshakes; skipped in -short")
	}
	p := testPKI(t)
	off := startOffloaderProcess(t, p.RootPEM())
	addr := startOpenSSL(t, issue(t, testpki.RSA2048, testpki.Good), "-tls1_2", "-www")
	pskHex, _ := os.ReadFile(off.pskFile)
	psk, _ := hex.DecodeString(strings.TrimSpace(string(pskHex)))
	cl, err := client.New(client.Config{Addrs: []string{off.addr}, DeviceID: deviceID, PSK: psk})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// The first handshake fills the client's Start cache and opens the channel.
	cfg := &tlsclient.Config{Offloader: cl, ServerName: "localhost"}
	d := &tlsclient.Dialer{Config: cfg}
	dial := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
	if err := dial(); err != nil {
		t.Fatal(err)
	}
	traces := profileHandshakes(t, 1000, dial)
	if !strings.Contains(traces, "tlsclient.") {
		t.Fatalf("the profile holds no tlsclient sample; it measured nothing:\n%.2000s", traces)
	}
	if hits := publicKeySamples(traces); len(hits) > 0 {
		t.Fatalf("the device did public-key work: %d frames, e.g. %q", len(hits), hits[:min(5, len(hits))])
	}

	// Control: crypto/tls's client doing the same handshakes shows up.
	roots := x509.NewCertPool()
	roots.AddCert(p.Root)
	control := profileHandshakes(t, 200, func() error {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "localhost", MaxVersion: tls.VersionTLS12})
		if err != nil {
			return err
		}
		return c.Close()
	})
	t.Logf("device: %d stack traces, %d with public-key frames; crypto/tls control: %d traces, %d public-key frames",
		strings.Count(traces, "-----------+"), len(publicKeySamples(traces)),
		strings.Count(control, "-----------+"), len(publicKeySamples(control)))
	if len(publicKeySamples(control)) == 0 {
		t.Fatalf("the check saw no public-key work even in crypto/tls's client; it cannot fail:\n%.2000s", control)
	}
}
