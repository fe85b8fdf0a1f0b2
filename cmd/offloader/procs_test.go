package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

// Support for the replica tests with device processes (failover_test.go,
// replica_procs_test.go): the offloader daemons are started by
// startDaemon (flood_test.go), the devices are internal/loaddevice
// processes, each printing a line per handshake.

// buildPackage builds the command pkg (an import path) into a temporary
// directory.
func buildPackage(t *testing.T, pkg string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	if out, err := exec.Command(goBin, "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// deviceProc is a running internal/loaddevice process.
type deviceProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser // closing it ends a -until-eof load
	stderr bytes.Buffer
	done   chan struct{} // closed when its stdout ended
}

// handshakeLine is one line a device process printed.
type handshakeLine struct {
	word string // ok, retried, failed, client
	us   int64
	rest string
}

// startDevices runs n loaddevice processes as dev0..dev(n-1), each making
// per handshakes, and sends every line they print to lines.
func startDevices(t *testing.T, bin, dir, server string, addrs []string, n, per int, extra []string, lines chan<- handshakeLine) []*deviceProc {
	t.Helper()
	var ps []*deviceProc
	for i := range n {
		ps = append(ps, startDevice(t, bin, dir, server, addrs, i, per, extra, lines))
	}
	return ps
}

// startDevice runs one loaddevice process as dev<i>, its PSK deviceHex(i)
// in a file in dir.
func startDevice(t *testing.T, bin, dir, server string, addrs []string, i, per int, extra []string, lines chan<- handshakeLine) *deviceProc {
	t.Helper()
	psk := filepath.Join(dir, fmt.Sprintf("dev%d.psk", i))
	if err := os.WriteFile(psk, []byte(deviceHex(i)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-server", server, "-name", "server.test", "-offloaders", strings.Join(addrs, ","),
		"-device", fmt.Sprint("dev", i), "-psk-file", psk, "-n", strconv.Itoa(per)}, extra...)
	p := &deviceProc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.stdin.Close()
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		p.cmd.Wait()
	})
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			word, rest, _ := strings.Cut(sc.Text(), " ")
			us, _ := strconv.ParseInt(rest, 10, 64)
			lines <- handshakeLine{word: word, us: us, rest: rest}
		}
	}()
	return p
}

// waitDevices waits for every process of ps to exit, failing the test for
// each that did not exit 0 (with its stderr's tail) and logging the
// stderr of the others, if any.
func waitDevices(t *testing.T, what string, ps []*deviceProc) {
	t.Helper()
	for i, p := range ps {
		<-p.done
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("%s process %d: %v\n%s", what, i, err, tail(p.stderr.String(), 10))
		} else if p.stderr.Len() > 0 {
			t.Logf("%s process %d stderr:\n%s", what, i, tail(p.stderr.String(), 10))
		}
	}
}

// tally gathers, in the background, what device processes print: the
// tests' main goroutine stays free to act on the replicas (signals,
// reloads, scrapes) while the devices go on, never blocked on a pipe.
type tally struct {
	n    atomic.Int64  // handshakes reported so far
	done chan struct{} // closed once every process printed its client line

	mu      sync.Mutex
	lat     []time.Duration
	counts  map[string]int // by word: ok, retried, failed
	clients []clientLine
}

// clientLine is a device process's last line: its offloader client's
// counts (client.Stats), by name: "resends", "down", "busy", "drained".
type clientLine map[string]int

func parseClientLine(rest string) clientLine {
	c := clientLine{}
	f := strings.Fields(rest)
	for i := 0; i+1 < len(f); i += 2 {
		c[f[i]], _ = strconv.Atoi(f[i+1])
	}
	return c
}

// sum adds up one count over every client line.
func (t *tally) sum(name string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, c := range t.clients {
		n += c[name]
	}
	return n
}

// collect reads lines until procs processes have printed their client
// line.
func collect(lines <-chan handshakeLine, procs int) *tally {
	t := &tally{done: make(chan struct{}), counts: map[string]int{}}
	go func() {
		defer close(t.done)
		for finished := 0; finished < procs; {
			l := <-lines
			t.mu.Lock()
			if l.word == "client" {
				t.clients = append(t.clients, parseClientLine(l.rest))
				finished++
			} else {
				t.counts[l.word]++
				t.lat = append(t.lat, time.Duration(l.us)*time.Microsecond)
			}
			t.mu.Unlock()
			if l.word != "client" {
				t.n.Add(1)
			}
		}
	}()
	return t
}

// reach waits until n handshakes were reported or the deadline passes.
func (t *tally) reach(n int64, deadline time.Time) bool {
	for t.n.Load() < n {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-t.done:
			return t.n.Load() >= n
		case <-time.After(5 * time.Millisecond):
		}
	}
	return true
}

// count returns the handshakes reported with word.
func (t *tally) count(word string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.counts[word]
}

// figures sums the tally up for the log: handshakes, their outcome and
// latency percentiles (each handshake's time as its device measured it,
// the device's retry included).
func (t *tally) figures() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return fmt.Sprintf("%d handshakes: %d ok on the first try, %d after the device's retry, %d failed; %s",
		len(t.lat), t.counts["ok"], t.counts["retried"], t.counts["failed"], percentiles(t.lat))
}

// percentiles sorts lat and gives its p50, p99 and maximum.
func percentiles(lat []time.Duration) string {
	if len(lat) == 0 {
		return "no latencies"
	}
	slices.Sort(lat)
	n := len(lat)
	pct := func(p int) time.Duration { return lat[min(n-1, n*p/100)].Round(time.Microsecond) }
	return fmt.Sprintf("p50 %v, p99 %v, max %v", pct(50), pct(99), lat[n-1].Round(time.Microsecond))
}

// serverPKI is a fresh test PKI and a leaf of key type key for
// "server.test", valid now.
func serverPKI(t *testing.T, key testpki.KeyType) (*testpki.PKI, *testpki.Leaf) {
	t.Helper()
	pki, err := testpki.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := pki.Issue([]string{"server.test"}, key, testpki.Good)
	if err != nil {
		t.Fatal(err)
	}
	return pki, leaf
}

// replicaFixture is what the replica tests share: a test PKI, a crypto/tls
// echo server for server.test, the built offloader and loaddevice, and a
// temporary directory holding the root certificate.
type replicaFixture struct {
	top, root   string // directory, root certificate's path in it
	server      string // the TLS server's address
	bin, devBin string // offloader, loaddevice
}

func newReplicaFixture(t *testing.T) *replicaFixture {
	t.Helper()
	pki, leaf := serverPKI(t, testpki.ECDSAP256)
	top := writeFiles(t, t.TempDir(), map[string]string{"root.pem": string(pki.RootPEM())})
	return &replicaFixture{
		top: top, root: filepath.Join(top, "root.pem"), server: echoServer(t, leaf),
		bin: buildOffloader(t), devBin: buildPackage(t, "github.com/tlsoffload/tlsoffload/internal/loaddevice"),
	}
}

// conf is a replica's config: listening on listen, with the shared
// token_key and the load devices dev0..dev(devices-1) (the keys
// startDevices gives them) allowed names, then more (YAML device items)
// appended to the list.
func (f *replicaFixture) conf(listen string, devices int, names []string, more string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: %q\nmetrics_listen: 127.0.0.1:0\ntoken_key: %s\ndevices:\n", listen, tokenHex)
	for i := range devices {
		fmt.Fprintf(&b, "  - id: dev%d\n    psk: %s\n    roots_file: %s\n    allowed_names: [%s]\n",
			i, deviceHex(i), f.root, strings.Join(names, ", "))
	}
	b.WriteString(more)
	return b.String()
}
