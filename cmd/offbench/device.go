package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tlsoffload/tlsoffload/handshake"
)

// sizeTargets are the targets of the size table (the first also runs under
// qemu-arm): a name and the go build environment.
var sizeTargets = [][]string{
	{"linux/arm (GOARM=7)", "GOARCH=arm", "GOARM=7"},
	{"linux/arm64", "GOARCH=arm64"},
	{"linux/mipsle (softfloat)", "GOARCH=mipsle", "GOMIPS=softfloat"},
	{"linux/amd64", "GOARCH=amd64"},
}

// buildMinimal builds internal/minimal/PROG for the target into dir:
// stripped, -trimpath, no cgo, as a device image would ship it.
func buildMinimal(dir, prog string, target []string) (string, error) {
	out := filepath.Join(dir, prog+"-"+strings.Join(target[1:], "-"))
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "github.com/tlsoffload/tlsoffload/internal/minimal/"+prog)
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux"), target[1:]...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s for %s (run offbench inside the tlsoffload module): %v\n%s", prog, target[0], err, b)
	}
	return out, nil
}

// aeadSuites are the record ciphers measured (throughput, and the emulated
// handshakes, ECDHE-RSA-2048, X25519): serve-tls has a listener offering
// only that suite, so both emulated programs negotiate it with their
// default Configs.
var aeadSuites = []struct {
	name  string
	suite uint16
}{
	{"AES-128-GCM", handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
	{"ChaCha20-Poly1305", handshake.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256},
}

func listenerFor(suite uint16) string { return fmt.Sprintf("suite-%04x", suite) }

// measureEmulatedDevice: the minimal device program built for linux/arm
// GOARM=7 and run under qemu-arm user emulation against the native TLS
// server and offloader processes, CPU per full and resumed handshake
// against the same program on crypto/tls; then the programs' sizes.
func measureEmulatedDevice(e *env, o *options, rep *report) error {
	rep.section("The device on 32-bit ARM")
	qemu, err := exec.LookPath("qemu-arm")
	if err != nil {
		return fmt.Errorf("qemu-arm not found (Debian: apt-get install qemu-user): %w", err)
	}
	dev, err := buildMinimal(e.dir, "device", sizeTargets[0])
	if err != nil {
		return err
	}
	gotls, err := buildMinimal(e.dir, "cryptotls", sizeTargets[0])
	if err != nil {
		return err
	}
	t := &table{
		title:  fmt.Sprintf("Device process CPU per handshake under qemu-arm (linux/arm GOARM=7), µs: %d sequential handshakes per program and run, ECDHE-RSA-2048, X25519", o.emulatedN),
		header: []string{"suite", "handshake", "offloaded", "crypto/tls", "ratio offloaded / crypto/tls"},
	}
	plain, err := buildMinimal(e.dir, "plain", sizeTargets[0])
	if err != nil {
		return err
	}
	// The first suite's samples, for the floor table: [mode][program].
	first := map[string][]samples{}
	for si, s := range aeadSuites {
		addr := e.tlsSrv.vals[listenerFor(s.suite)]
		for _, mode := range []string{"full", "resumed"} {
			loop := []string{strconv.Itoa(o.emulatedN)}
			if mode == "resumed" {
				loop = append(loop, "resume")
			}
			progs := [][]string{
				append([]string{dev, addr, serverName, e.offAddr, deviceID, filepath.Join(e.dir, "device.psk")}, loop...),
				append([]string{gotls, addr, serverName, filepath.Join(e.dir, "root.pem")}, loop...),
			}
			if si == 0 && mode == "full" {
				// The floor, in the same runs: TCP dial and close, no TLS.
				progs = append(progs, []string{plain, addr, serverName, strconv.Itoa(o.emulatedN)})
			}
			us := make([]samples, len(progs))
			for r := 0; r < o.runs; r++ {
				for i, args := range progs {
					v, err := runEmulated(qemu, args, mode == "resumed")
					if err != nil {
						return fmt.Errorf("%s %s: %w", s.name, mode, err)
					}
					us[i] = append(us[i], v)
				}
			}
			t.rows = append(t.rows, []string{s.name, mode, us[0].fmt(0), us[1].fmt(0), us[0].ratio(us[1]).pct()})
			if si == 0 {
				first[mode] = us
			}
		}
	}
	t.notes = []string{
		"The minimal programs of `internal/minimal` (device: `tlsclient.Dialer` with the offloader over its sealed PSK channel; crypto/tls: `tls.Dialer`, TLS 1.2 at most, verifying the chain against the same root), cross-built for linux/arm GOARM=7 and run by `qemu-arm` (user-mode emulation, Debian's qemu-user) with GOMAXPROCS=1; the TLS server (crypto/tls) and the offloader are native processes on loopback. Each run: one warm-up handshake (channel, Start cache, session, qemu's code translation), then N handshakes (dial, handshake, Close), the program reading its own getrusage (user+sys of the qemu process, every thread) around them; a last handshake checks that resumption resumed.",
		"What the emulation says: the relative cost of the two programs' code on a 32-bit ARM instruction set without AES or carry-less multiply instructions (on GOARCH=arm Go has no assembly for AES-GCM, SHA-256 or the P-256 and X25519 field arithmetic, only for RSA's big-number multiply); system calls run natively. What it cannot say: the time on a real core (qemu translates every instruction, with an overhead of its own; a small device's caches, memory and clock differ), nor anything about the network. Read the ratios, not the µs.",
		"Goal (issue 12): offloaded ≤ 5 % of crypto/tls's CPU per full handshake for every suite measured.",
	}
	rep.table(t)

	// Floors: what a handshake costs under the emulation without any
	// public-key operation, as a share of crypto/tls's full handshake.
	tlsFull := first["full"][1]
	t = &table{
		title:  fmt.Sprintf("Floors under the same emulation, %s: device process CPU per connection, µs, and as a share of crypto/tls's full handshake", aeadSuites[0].name),
		header: []string{"what", "µs", "share of crypto/tls's full handshake"},
		rows: [][]string{
			{"TCP dial + close, no TLS (plain net.Dial)", first["full"][2].fmt(0), first["full"][2].ratio(tlsFull).pct()},
			{"crypto/tls, resumed handshake (no public-key operation)", first["resumed"][1].fmt(0), first["resumed"][1].ratio(tlsFull).pct()},
			{"device, resumed handshake (no offloader call)", first["resumed"][0].fmt(0), first["resumed"][0].ratio(tlsFull).pct()},
			{"device, full handshake (one offloader round trip)", first["full"][0].fmt(0), first["full"][0].ratio(tlsFull).pct()},
		},
		notes: []string{
			"The same loop and emulation as above (internal/minimal/plain dials the TLS server and closes, sending nothing). A resumed handshake does everything a full one does except the certificate, the key exchange and, for the device, the offloader round trip: TCP, two flights each way with the server, the transcript hash, the PRF, the record ciphers, the Go runtime's scheduling of the waits. Shares are run by run against crypto/tls's full handshake of the same round.",
			"Where a goal of a few per cent of crypto/tls's CPU sits below crypto/tls's own resumption, it is below the floor of any TLS 1.2 client on this emulation, not only the device's.",
		},
	}
	rep.table(t)

	t = &table{
		title:  "Binary size of the minimal program (stripped: -trimpath -ldflags='-s -w', CGO_ENABLED=0), bytes",
		header: []string{"target", "device (tlsclient + offloader/client)", "crypto/tls", "plain net.Dial (floor)", "ratio device / crypto/tls"},
		notes: []string{
			"The programs dial, GET / and print the answer (or loop over handshakes for the CPU figures above); the device's reaches its offloader over the sealed channel. Plain: the same GET over net.Dial, no TLS.",
			"Goal (issue 12): device ≤ 60 % of crypto/tls's on linux/arm, with no public-key symbol linked.",
		},
	}
	for _, tg := range sizeTargets {
		row := []string{tg[0]}
		var sizes []float64
		for _, prog := range []string{"device", "cryptotls", "plain"} {
			bin, err := buildMinimal(e.dir, prog, tg)
			if err != nil {
				return err
			}
			st, err := os.Stat(bin)
			if err != nil {
				return err
			}
			sizes, row = append(sizes, float64(st.Size())), append(row, strconv.FormatInt(st.Size(), 10))
		}
		t.rows = append(t.rows, append(row, samples{sizes[0] / sizes[1]}.pct()))
	}
	rep.table(t)
	return nil
}

// runEmulated runs one emulated program and returns its CPU per handshake
// in µs; a resumed run that did not resume is an error.
func runEmulated(qemu string, args []string, resume bool) (float64, error) {
	cmd := exec.Command(qemu, args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("%s: %v: %s", filepath.Base(args[0]), err, stderr.String())
	}
	f := strings.Fields(string(out))
	if len(f) != 4 || f[0] != "cpu_ns_per_handshake" || f[2] != "resumed" || f[3] != strconv.FormatBool(resume) {
		return 0, fmt.Errorf("%s printed %q (resumption wanted: %v)", filepath.Base(args[0]), out, resume)
	}
	ns, err := strconv.ParseFloat(f[1], 64)
	return ns / 1e3, err
}
