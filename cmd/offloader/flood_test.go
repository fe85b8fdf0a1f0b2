package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/tlsclient"
)

// daemon is an offloader process a test started.
type daemon struct {
	cmd               *exec.Cmd
	addr, metricsAddr string
	exited            chan struct{} // closed when stderr ends

	mu  sync.Mutex
	log bytes.Buffer // stderr so far

	stopOnce sync.Once
	exitErr  error
}

func (d *daemon) logged() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

func (d *daemon) alive() bool {
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits for the process (at most 30 s, then kill).
func (d *daemon) stop(t *testing.T) error {
	t.Helper()
	d.stopOnce.Do(func() {
		d.cmd.Process.Signal(syscall.SIGTERM)
		d.exitErr = d.waitExit()
	})
	return d.exitErr
}

// waited waits for a process that was told to end (a signal the test
// sent itself) as stop does, without signalling it: a second SIGTERM
// could reach it after it stopped catching them.
func (d *daemon) waited() error {
	d.stopOnce.Do(func() { d.exitErr = d.waitExit() })
	return d.exitErr
}

// waitExit waits at most 30 s for the process to exit, then kills it.
func (d *daemon) waitExit() error {
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
	}
	return d.cmd.Wait()
}

// startDaemon runs bin serve on the config at path, with its file
// descriptors limited to nofile (0: no change) by the shell's ulimit, and
// waits for its listening lines.
func startDaemon(t *testing.T, bin, path string, nofile int) *daemon {
	t.Helper()
	args := []string{"serve", "--config", path}
	var cmd *exec.Cmd
	if nofile > 0 {
		cmd = exec.Command("sh", append([]string{"-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, nofile), bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: cmd, exited: make(chan struct{})}
	t.Cleanup(func() { d.stop(t) })
	lines := make(chan string, 16)
	go func() {
		defer close(d.exited)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			d.mu.Lock()
			d.log.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
			select {
			case lines <- sc.Text():
			default:
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	timeout := time.After(60 * time.Second)
	for d.addr == "" {
		select {
		case l := <-lines:
			if m := metricsLine.FindStringSubmatch(l); m != nil {
				d.metricsAddr = m[1]
			}
			if m := listeningLine.FindStringSubmatch(l); m != nil {
				d.addr = m[1]
			}
		case <-d.exited:
			t.Fatalf("offloader exited before listening:\n%s", d.logged())
		case <-timeout:
			t.Fatal("no listening line after 60s")
		}
	}
	return d
}

// realHandshake runs a full handshake of device sensor-1 through the
// offloader at addr against a crypto/tls server presenting leaf, and an
// echo over it.
func realHandshake(ctx context.Context, addr string, psk []byte, leaf *testpki.Leaf) error {
	return realHandshakeAs(ctx, addr, "sensor-1", psk, leaf)
}

// realHandshakeAs is realHandshake for device id.
func realHandshakeAs(ctx context.Context, addr, id string, psk []byte, leaf *testpki.Leaf) error {
	return realHandshakeCert(ctx, addr, id, psk, leaf.TLSCertificate())
}

// realHandshakeCert is realHandshakeAs with the server's certificate and
// key given as they are.
func realHandshakeCert(ctx context.Context, addr, id string, psk []byte, cert tls.Certificate) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS12})
		io.Copy(tc, tc)
	}()
	dev, err := client.New(client.Config{Addrs: []string{addr}, DeviceID: id, PSK: psk})
	if err != nil {
		return err
	}
	defer dev.Close()
	raw, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		return err
	}
	defer raw.Close()
	if dl, ok := ctx.Deadline(); ok {
		raw.SetDeadline(dl)
	}
	c := tlsclient.Client(raw, &tlsclient.Config{Offloader: dev, ServerName: "server.test"})
	if err := c.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if _, err := io.WriteString(c, "ping"); err != nil {
		return err
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		return fmt.Errorf("echo %q: %v", buf, err)
	}
	return nil
}

// floodDialer dials from src:port, a port below the kernel's ephemeral
// range (32768 and up on Linux): thousands of flood connections must not
// take ports that tests running beside these (the integration harness picks
// a free ephemeral port, then starts a peer on it) are about to bind.
// SO_REUSEADDR lets a port left in TIME_WAIT by an earlier run be bound
// again.
func floodDialer(src net.IP, port int) *net.Dialer {
	return &net.Dialer{
		LocalAddr: &net.TCPAddr{IP: src, Port: port},
		Timeout:   10 * time.Second,
		Control: func(network, address string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
			})
			if err != nil {
				return err
			}
			return serr
		},
	}
}

// flood opens n idle TCP connections to addr from loopback addresses
// 127.0.1.1.. (20 each, so that no per-source cap applies) and ports from
// basePort up, and returns them.
func flood(t *testing.T, addr string, n, basePort int) []net.Conn {
	t.Helper()
	var conns []net.Conn
	for i := range n {
		c, err := floodDialer(net.IPv4(127, 0, 1, byte(1+i/20)), basePort+i).Dial("tcp", addr)
		if err != nil {
			t.Fatalf("flood connection %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return conns
}

// TestServeFDExhaustion is issue 10's first finding, as a regression test:
// under a 512-descriptor limit, 700 idle connections to the device port
// and 700 to the metrics port, held open together, leave the daemon alive
// (its accept loop backs off on EMFILE instead of exiting), its /healthz
// answering, and a real device's handshake through it succeeding.
func TestServeFDExhaustion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and floods it")
	}
	const nofile, idle = 512, 700
	pki, leaf := serverPKI(t, testpki.ECDSAP256)
	bin := buildOffloader(t)
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"offloader.yaml": `
listen: "127.0.0.1:0"
metrics_listen: "127.0.0.1:0"
open_timeout: 1s
devices:
  - id: sensor-1
    psk: ` + pskHex + `
    roots_file: root.pem
    allowed_names: ["server.test"]
`,
		"root.pem": string(pki.RootPEM()),
	})
	d := startDaemon(t, bin, filepath.Join(dir, "offloader.yaml"), nofile)
	psk, _ := hex.DecodeString(pskHex)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := realHandshake(ctx, d.addr, psk, leaf); err != nil {
		t.Fatalf("before the flood: %v", err)
	}

	flood(t, d.addr, idle, 20000)
	flood(t, d.metricsAddr, idle, 21000)
	// The daemon ran out of descriptors and said so, and lives.
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(d.logged(), "too many open files"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) || !d.alive() {
			t.Fatalf("alive %v; no EMFILE in the log after the flood:\n%s", d.alive(), tail(d.logged(), 40))
		}
	}
	// While the flood's connections are still held open, a good device
	// gets through (the daemon drops unopened connections after
	// open_timeout) and /healthz answers.
	if err := realHandshake(ctx, d.addr, psk, leaf); err != nil {
		t.Fatalf("during the flood: %v\n%s", err, tail(d.logged(), 40))
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	var healthErr error
	for range 50 { // the metrics cap refuses while the flood holds its slots
		resp, err := hc.Get("http://" + d.metricsAddr + "/healthz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && string(body) == "ok\n" {
				healthErr = nil
				break
			}
			err = fmt.Errorf("%s %q", resp.Status, body)
		}
		healthErr = err
		time.Sleep(200 * time.Millisecond)
	}
	if healthErr != nil {
		t.Errorf("/healthz during the flood: %v", healthErr)
	}
	if !d.alive() {
		t.Fatalf("the daemon died:\n%s", tail(d.logged(), 40))
	}
	if err := d.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, tail(d.logged(), 40))
	}
	t.Logf("flood of %d+%d idle connections under a %d-fd limit: %d accept warnings logged, the daemon lived",
		idle, idle, nofile, strings.Count(d.logged(), "offloader: accept"))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
