package main

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/internal/peers"
	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/tlsclient"
)

// echoServer serves TLS 1.2 with leaf on loopback until the test ends,
// echoing what it reads.
func echoServer(t *testing.T, leaf *testpki.Leaf) string {
	t.Helper()
	return peers.StartGo(t, &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}, MaxVersion: tls.VersionTLS12})
}

// handshakeWith runs one full handshake and echo with dev against addr.
func handshakeWith(ctx context.Context, dev *client.Client, addr string) error {
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer raw.Close()
	if dl, ok := ctx.Deadline(); ok {
		raw.SetDeadline(dl)
	}
	c := tlsclient.Client(raw, &tlsclient.Config{Offloader: dev, ServerName: "server.test"})
	if err := c.HandshakeContext(ctx); err != nil {
		return err
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

// TestReplicas is issue 10's replica scenario, on loopback and bounded:
// three offloader processes share token_key; four devices (each a client
// listing the three addresses, in a rotated order, so load spreads) make
// 100 handshakes each. A third of the way in, one replica is killed
// (SIGKILL): only handshakes in flight on it may fail, and each succeeds
// on retry through another address. Two thirds in, it is started again on
// its address and takes a device's load again; meanwhile another replica
// reloads its config under load. The figures are logged.
func TestReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three daemons")
	}
	const devices, perDevice = 4, 100
	pki, leaf := serverPKI(t, testpki.ECDSAP256)
	server := echoServer(t, leaf)
	bin := buildOffloader(t)
	conf := func(listen string, extra int) string {
		var b strings.Builder
		fmt.Fprintf(&b, "listen: %q\nmetrics_listen: 127.0.0.1:0\ntoken_key: %s\ndevices:\n", listen, tokenHex)
		for i := range devices + extra {
			fmt.Fprintf(&b, "  - id: dev%d\n    psk: %s\n    roots_file: %s\n    allowed_names: [server.test]\n",
				i, deviceHex(i), filepath.Join("..", "root.pem"))
		}
		return b.String()
	}
	top := writeFiles(t, t.TempDir(), map[string]string{"root.pem": string(pki.RootPEM())})
	var paths []string
	var ds []*daemon
	for i := range 3 {
		path := filepath.Join(top, fmt.Sprint("r", i), "o.yaml")
		writeFiles(t, top, map[string]string{fmt.Sprint("r", i, "/o.yaml"): conf("127.0.0.1:0", 0)})
		paths = append(paths, path)
		ds = append(ds, startDaemon(t, bin, path, 0))
	}
	addrs := []string{ds[0].addr, ds[1].addr, ds[2].addr}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var (
		done                          atomic.Int64 // handshakes finished
		firstFailures, finalFailures  atomic.Int64
		mu                            sync.Mutex
		latencies                     []time.Duration
		failed                        []string
		killAt, restartAt, reloadedAt = int64(devices * perDevice / 3), int64(2 * devices * perDevice / 3), int64(0)
	)
	events := make(chan string, 4)
	var wg sync.WaitGroup
	for i := range devices {
		psk, _ := hex.DecodeString(deviceHex(i))
		order := append(slices.Clone(addrs[i%3:]), addrs[:i%3]...)
		dev, err := client.New(client.Config{Addrs: order, DeviceID: fmt.Sprint("dev", i), PSK: psk, DialTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer dev.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perDevice {
				begin := time.Now()
				err := handshakeWith(ctx, dev, server)
				if err != nil {
					firstFailures.Add(1)
					if err = handshakeWith(ctx, dev, server); err != nil {
						finalFailures.Add(1)
						mu.Lock()
						failed = append(failed, err.Error())
						mu.Unlock()
					}
				}
				took := time.Since(begin)
				mu.Lock()
				latencies = append(latencies, took)
				mu.Unlock()
				switch done.Add(1) {
				case killAt:
					events <- "kill"
				case restartAt:
					events <- "restart"
				}
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()

	var restarted *daemon
	for running := true; running; {
		select {
		case ev := <-events:
			switch ev {
			case "kill":
				ds[0].cmd.Process.Kill()
				<-ds[0].exited
				ds[0].cmd.Wait()
			case "restart":
				writeFiles(t, top, map[string]string{"r0/o.yaml": conf(addrs[0], 0)})
				restarted = startDaemon(t, bin, paths[0], 0)
				// Another replica reloads under load (one more device).
				writeAtomic(t, paths[1], conf("127.0.0.1:0", 1))
				reloadedAt = done.Load()
			}
		case <-finished:
			running = false
		case <-ctx.Done():
			t.Fatal("the load did not finish within 3 minutes")
		}
	}
	if restarted == nil {
		t.Fatal("the replica was never restarted")
	}
	waitLog(t, ds[1], "generation=2")

	// The restarted replica takes load again: a device listing it first
	// is served by it.
	psk, _ := hex.DecodeString(deviceHex(0))
	dev, err := client.New(client.Config{Addrs: []string{addrs[0]}, DeviceID: "dev0", PSK: psk})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	if err := handshakeWith(ctx, dev, server); err != nil {
		t.Fatalf("through the restarted replica: %v", err)
	}

	slices.Sort(latencies)
	n := len(latencies)
	t.Logf("replicas: %d handshakes by %d devices over 3 replicas; replica 0 killed after %d, restarted after %d, replica 1 reloaded after %d; "+
		"%d failed on the first try, %d after one retry; p50 %v, p99 %v, max %v",
		n, devices, killAt, restartAt, reloadedAt, firstFailures.Load(), finalFailures.Load(),
		latencies[n/2].Round(time.Microsecond), latencies[n*99/100].Round(time.Microsecond), latencies[n-1].Round(time.Microsecond))
	if n != devices*perDevice {
		t.Errorf("%d handshakes, want %d", n, devices*perDevice)
	}
	if finalFailures.Load() != 0 {
		t.Errorf("%d handshakes failed after a retry: %q", finalFailures.Load(), failed)
	}
	// Each device has at most one handshake in flight: the kill can cost
	// at most one first try per device.
	if firstFailures.Load() > devices {
		t.Errorf("%d handshakes failed on the first try, want at most %d (those in flight on the killed replica)", firstFailures.Load(), devices)
	}
	for i, d := range []*daemon{restarted, ds[1], ds[2]} {
		if err := d.stop(t); err != nil {
			t.Errorf("replica %d exit: %v", i, err)
		}
	}
}
