// Package integration tests tlsoffload end to end against real peers:
// Go's crypto/tls, OpenSSL's s_server, nginx, the offloader daemon and ocurl
// as processes. A peer binary that is missing skips its tests, unless
// TLSOFFLOAD_REQUIRE_PEERS=1 (CI sets it), which makes it a failure.
package integration

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/internal/peers"
	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/offloader/server"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
	"github.com/tlsoffload/tlsoffload/tlsclient"
)

const deviceID = "device-1"

// requirePeer and startOpenSSL are the package's names for internal/peers.
func requirePeer(t testing.TB, name string) string { return peers.Require(t, name) }

// startOpenSSL runs openssl s_server with the leaf on a loopback port and
// returns its address; extra are more s_server flags.
func startOpenSSL(t testing.TB, leaf *testpki.Leaf, extra ...string) string {
	t.Helper()
	return peers.StartOpenSSL(t, peers.OpenSSL{Leaf: leaf, Args: extra}).Addr
}

// pkiOnce makes one test PKI for the whole package: RSA key generation is
// the slow part of these tests.
var (
	pkiOnce sync.Once
	pki     *testpki.PKI
	pkiErr  error
)

func testPKI(t testing.TB) *testpki.PKI {
	t.Helper()
	pkiOnce.Do(func() { pki, pkiErr = testpki.New(time.Now()) })
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pki
}

func issue(t testing.TB, key testpki.KeyType, defect testpki.Defect, names ...string) *testpki.Leaf {
	t.Helper()
	if len(names) == 0 {
		names = []string{"localhost", "127.0.0.1"}
	}
	leaf, err := testPKI(t).Issue(names, key, defect)
	if err != nil {
		t.Fatalf("issue %v/%v: %v", key, defect, err)
	}
	return leaf
}

// offloaderEnv is an offloader server listening on loopback TCP in this
// process, and a device client reaching it over the PSK channel.
type offloaderEnv struct {
	srv    *server.Server
	addr   string
	psk    []byte
	client *client.Client
}

func newOffloader(t testing.TB, roots *x509.CertPool, allowed ...string) *offloaderEnv {
	t.Helper()
	if len(allowed) == 0 {
		allowed = []string{"*"}
	}
	psk := make([]byte, 32)
	rand.Read(psk)
	reg := server.NewRegistry()
	if err := reg.Add(server.Device{ID: deviceID, PSK: psk, Roots: roots, AllowedNames: allowed}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l, false)
	cl, err := client.New(client.Config{Addrs: []string{l.Addr().String()}, DeviceID: deviceID, PSK: psk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close(); srv.Close() })
	return &offloaderEnv{srv: srv, addr: l.Addr().String(), psk: psk, client: cl}
}

// wireErr is the offloader's *wire.Error a *tlsclient.CertificateError
// wraps, or a zero one.
func wireErr(ce *tlsclient.CertificateError) *wire.Error {
	var we *wire.Error
	if !errors.As(ce.Err, &we) {
		return &wire.Error{}
	}
	return we
}

// sequentialClient is a second client of e's offloader, in the patent's
// sequential mode (Auth, KeyGen and Key one flight at a time).
func (e *offloaderEnv) sequentialClient(t *testing.T) *client.Client {
	t.Helper()
	cl, err := client.New(client.Config{Addrs: []string{e.addr}, DeviceID: deviceID, PSK: e.psk, Sequential: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func (e *offloaderEnv) config(serverName string) *tlsclient.Config {
	return &tlsclient.Config{Offloader: e.client, ServerName: serverName}
}

// buildDir holds the binaries buildBinary builds, once per test process
// for the whole package: a directory TestMain makes and removes at exit,
// the one place these tests write outside a t.TempDir (building cmd/ocurl
// and cmd/offloader again for every test would take minutes).
var (
	buildDir string
	buildMu  sync.Mutex
	built    = map[string]string{}
)

func buildBinary(t testing.TB, pkg string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[pkg]; ok {
		return p
	}
	out := filepath.Join(buildDir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, "github.com/tlsoffload/tlsoffload/"+pkg)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	built[pkg] = out
	return out
}

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "tlsoffload-integration-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(1)
	}
	buildDir = d
	code := m.Run()
	os.RemoveAll(buildDir)
	os.Exit(code)
}

// offloaderProcess runs `offloader serve` with a config for one device and
// returns its address and the device's PSK file.
type offloaderProcess struct {
	addr, pskFile, configFile string
}

// listeningRE is the line `offloader serve` reports its address in.
var listeningRE = regexp.MustCompile(`listening on (\S+)`)

func startOffloaderProcess(t testing.TB, rootsPEM []byte, allowed ...string) *offloaderProcess {
	t.Helper()
	bin := buildBinary(t, "cmd/offloader")
	dir := t.TempDir()
	psk := make([]byte, 32)
	rand.Read(psk)
	pskFile := filepath.Join(dir, "device.psk")
	os.WriteFile(pskFile, []byte(hex.EncodeToString(psk)+"\n"), 0o600)
	rootsFile := filepath.Join(dir, "roots.pem")
	os.WriteFile(rootsFile, rootsPEM, 0o644)
	if len(allowed) == 0 {
		allowed = []string{"*"}
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = fmt.Sprintf("%q", a)
	}
	cfg := fmt.Sprintf(`listen: "127.0.0.1:0"
devices:
  - id: %s
    psk_file: device.psk
    roots_file: roots.pem
    allowed_names: [%s]
`, deviceID, strings.Join(quoted, ", "))
	cfgFile := filepath.Join(dir, "offloader.yaml")
	os.WriteFile(cfgFile, []byte(cfg), 0o644)
	addr := peers.StartReporting(t, peers.Cmd{Bin: bin, Args: []string{"serve", "--config", cfgFile}}, listeningRE).Addr
	return &offloaderProcess{addr: addr, pskFile: pskFile, configFile: cfgFile}
}

// runOcurl runs the built ocurl binary and returns its exit code, stdout and stderr.
func runOcurl(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	bin := buildBinary(t, "cmd/ocurl")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("ocurl %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return code, stdout.String(), stderr.String()
}
