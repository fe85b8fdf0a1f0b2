// Command offbench measures what needs real processes: record throughput
// of the device against Go's crypto/tls client, the offloader's cost
// against the floor of the primitives it must run, and the round trips a
// handshake adds on the device↔offloader path; or, with -device arm, the
// minimal device program cross-built for 32-bit ARM and run under qemu-arm
// against crypto/tls's, and the programs' binary sizes. The TLS-only CPU,
// allocations and retained heap per handshake come from tlsclient's
// replay benchmarks (go test -bench, no network): see docs/PERFORMANCE.md.
//
//	go run ./cmd/offbench -write docs/PERFORMANCE.md               # ~2 min
//	go run ./cmd/offbench -device arm -write docs/PERFORMANCE.md   # ~1 min
//	go run ./cmd/offbench -quick [-device arm]   # small N (the tests run both)
//
// The TLS server (crypto/tls) and the offloader run in other processes,
// re-executions of this binary with a hidden subcommand (serve-tls,
// serve-offloader). No figure is asserted: the command measures and reports.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // a measurement failed
	exitUsage = 2
)

// options are the command line's settings, with the sizes every
// measurement uses; quick shrinks them.
type options struct {
	quick                  bool
	write, device, cmdline string // device: "" or "arm"

	runs        int           // repetitions of each measurement (median, min, max)
	bulkBytes   int64         // bytes per bulk transfer
	loadTime    time.Duration // each load of the offloader
	loadDevices int           // devices loading the offloader
	floorOps    int           // iterations of each primitive of the floor
	delay       time.Duration // delay added each way on the offloader path
	latencyN    int           // handshakes per latency run and mode
	emulatedN   int           // handshakes per run of the emulated device
}

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("offbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.BoolVar(&o.quick, "quick", false, "small N: every figure in a minute or two (the tests check the command works)")
	fs.StringVar(&o.write, "write", "", "also write the report into this markdown file, between its offbench markers (docs/PERFORMANCE.md)")
	fs.StringVar(&o.device, "device", "", "measure an emulated device instead: arm (linux/arm GOARM=7 under qemu-arm)")
	runs := fs.Int("runs", 0, "repetitions of each measurement (default 5, quick 3)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.device != "" && o.device != "arm":
		return nil, fmt.Errorf("-device: unknown device %q (known: arm)", o.device)
	case *runs < 0 || *runs > 100:
		return nil, errors.New("-runs must be 1..100")
	}
	o.runs, o.bulkBytes, o.loadTime, o.loadDevices = 5, 64<<20, 3*time.Second, 3
	o.floorOps, o.delay, o.latencyN, o.emulatedN = 300, 20*time.Millisecond, 10, 200
	if o.quick {
		o.runs, o.bulkBytes, o.loadTime, o.loadDevices = 3, 4<<20, 500*time.Millisecond, 2
		o.floorOps, o.delay, o.latencyN, o.emulatedN = 20, 5*time.Millisecond, 3, 10
	}
	if *runs != 0 {
		o.runs = *runs
	}
	return o, nil
}

// Main runs offbench with args and returns the exit code. The hidden
// subcommands are the other processes of a run.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if sub, ok := subcommands[args[0]]; ok {
			if err := sub(args[1:], os.Stdin, stdout); err != nil {
				fmt.Fprintf(stderr, "offbench %s: error: %v\n", args[0], err)
				return exitError
			}
			return exitOK
		}
	}
	o, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	} else if err != nil {
		fmt.Fprintf(stderr, "offbench: error: %v\n", err)
		return exitUsage
	}
	o.cmdline = strings.Join(args, " ")
	if err := run(o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "offbench: error: %v\n", err)
		return exitError
	}
	return exitOK
}

// subcommands are the processes a run starts by re-executing itself.
var subcommands = map[string]func(args []string, stdin io.Reader, stdout io.Writer) error{
	"serve-tls":       serveTLS,
	"serve-offloader": serveOffloader,
}

// run starts the server processes, runs each section and prints (and
// writes) the report.
func run(o *options, stdout, stderr io.Writer) error {
	start := time.Now()
	world, err := newEnv()
	if err != nil {
		return err
	}
	defer world.close()
	rep := &report{out: stdout, cmdline: o.cmdline}
	rep.machine(o)
	steps := []struct {
		name string
		f    func(*env, *options, *report) error
	}{{"throughput", measureThroughput}, {"offloader", measureOffloaderCost}, {"roundtrips", measureRoundTrips}}
	if o.device == "arm" { // the emulated device alone
		steps = steps[:1]
		steps[0].name, steps[0].f = "device", measureEmulatedDevice
	}
	for _, s := range steps {
		fmt.Fprintf(stderr, "offbench: %s...\n", s.name)
		if err := s.f(world, o, rep); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	rep.printf("\nLoad average at the end: %s. Total run time: %s.\n", loadAverage(), time.Since(start).Round(time.Second))
	if o.write == "" {
		return nil
	}
	if err := writeBetweenMarkers(o.write, o.device, rep.doc()); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "offbench: wrote %s\n", o.write)
	return nil
}

// markers are the lines of the -write file between which a run's report
// goes, one pair for the native run and one for -device arm; the rest of
// the file (the replay benchmarks' figures, the method) is kept as it is.
func markers(device string) (begin, end string) {
	what := "offbench"
	if device != "" {
		what += " -device " + device
	}
	return "<!-- begin " + what + " output: do not edit by hand, re-run it with -write -->\n", "<!-- end " + what + " output -->\n"
}

// writeBetweenMarkers replaces what lies between the device's markers in
// path with report, through a temporary file in the same directory, so a
// failed run leaves the file as it was.
func writeBetweenMarkers(path, device string, report []byte) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	beginMarker, endMarker := markers(device)
	head, rest, ok1 := bytes.Cut(old, []byte(beginMarker))
	_, tail, ok2 := bytes.Cut(rest, []byte(endMarker))
	if !ok1 || !ok2 {
		return fmt.Errorf("%s: no lines %q and %q to write between", path, strings.TrimSpace(beginMarker), strings.TrimSpace(endMarker))
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".offbench-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(bytes.Join([][]byte{head, []byte(beginMarker), report, []byte(endMarker), tail}, nil))
	if err = errors.Join(err, f.Close(), os.Chmod(f.Name(), 0o644)); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
