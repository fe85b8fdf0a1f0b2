// Command offbench measures tlsoffload's device against Go's crypto/tls client,
// side by side on one machine, in one invocation: device CPU, allocations
// and retained heap per handshake, record throughput, the offloader's cost
// against the floor of the primitives it must run, and the round trips a
// handshake adds on the device↔offloader path. docs/PERFORMANCE.md holds its
// latest output.
//
//	go run ./cmd/offbench                          # full run, prints the tables
//	go run ./cmd/offbench -write docs/PERFORMANCE.md
//	go run ./cmd/offbench -quick                   # small N, under a minute (CI)
//
// The TLS server (crypto/tls) and the offloader run in other processes,
// re-executions of this binary with a hidden subcommand (serve-tls,
// serve-offloader, load-device), so the CPU this process spends is the
// device's own. No figure is asserted: the command measures and reports.
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
	quick      bool
	cmdline    string
	write      string
	only       map[string]bool
	cpuProfile string
	memProfile string

	runs        int           // repetitions of each measurement (median, min, max)
	handshakes  int           // sequential handshakes per CPU/alloc run
	idleConns   int           // K idle connections for the retained heap
	bulkBytes   int64         // bytes per bulk transfer
	loadTime    time.Duration // each device process's load per offloader run
	loadDevices int           // device processes loading the offloader
	floorOps    int           // iterations of each primitive of the floor
	delay       time.Duration // one-way delay added to the offloader path
	latencyN    int           // handshakes per latency run and mode
	profileN    int           // handshakes under -cpuprofile/-memprofile
}

// sections, in the order they run and print.
var sections = []string{"cpu", "allocs", "throughput", "offloader", "roundtrips"}

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("offbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.BoolVar(&o.quick, "quick", false, "small N: every figure in under a minute (CI checks the command works)")
	fs.StringVar(&o.write, "write", "", "also write the report (markdown) to this file, e.g. docs/PERFORMANCE.md")
	only := fs.String("only", "", "comma-separated sections to run: "+strings.Join(sections, ",")+" (profile: none, only the profiles)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the device's offloaded handshakes to this file")
	fs.StringVar(&o.memProfile, "memprofile", "", "write an allocation profile of the device's offloaded handshakes to this file")
	runs := fs.Int("runs", 0, "repetitions of each measurement (default 5, quick 3)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: offbench [-quick] [-write FILE] [-only SECTIONS] [-runs N] [-cpuprofile FILE] [-memprofile FILE]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.quick {
		o.runs, o.handshakes, o.idleConns = 3, 20, 30
		o.bulkBytes = 4 << 20
		o.loadTime, o.loadDevices, o.floorOps = 500*time.Millisecond, 2, 20
		o.delay, o.latencyN, o.profileN = 5*time.Millisecond, 3, 50
	} else {
		o.runs, o.handshakes, o.idleConns = 5, 200, 200
		o.bulkBytes = 64 << 20
		o.loadTime, o.loadDevices, o.floorOps = 3*time.Second, 3, 300
		o.delay, o.latencyN, o.profileN = 20*time.Millisecond, 10, 5000
	}
	if *runs != 0 {
		if *runs < 1 || *runs > 100 {
			return nil, fmt.Errorf("-runs must be 1..100")
		}
		o.runs = *runs
	}
	if *only != "" {
		o.only = map[string]bool{}
		for _, s := range strings.Split(*only, ",") {
			known := false
			for _, k := range sections {
				known = known || k == s
			}
			known = known || s == "profile" // only the -cpuprofile/-memprofile loops
			if !known {
				return nil, fmt.Errorf("-only: unknown section %q (known: %s)", s, strings.Join(sections, ","))
			}
			o.only[s] = true
		}
	}
	return o, nil
}

func (o *options) wants(section string) bool { return o.only == nil || o.only[section] }

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
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
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
	"load-device":     loadDevice,
}

// run starts the server processes, runs each section and prints (and
// writes) the report.
func run(o *options, stdout, stderr io.Writer) error {
	start := time.Now()
	world, err := newEnv(o)
	if err != nil {
		return err
	}
	defer world.close()

	rep := &report{out: stdout, cmdline: o.cmdline}
	rep.machine(o)
	steps := []struct {
		section string
		f       func(*env, *options, *report) error
	}{
		{"cpu", measureHandshakeCPU},
		{"allocs", measureAllocs},
		{"throughput", measureThroughput},
		{"offloader", measureOffloaderCost},
		{"roundtrips", measureRoundTrips},
	}
	for _, s := range steps {
		if !o.wants(s.section) {
			continue
		}
		fmt.Fprintf(stderr, "offbench: %s...\n", s.section)
		if err := s.f(world, o, rep); err != nil {
			return fmt.Errorf("%s: %w", s.section, err)
		}
	}
	if o.cpuProfile != "" || o.memProfile != "" {
		fmt.Fprintf(stderr, "offbench: profiling...\n")
		prof, err := profileDevice(world, o)
		if err != nil {
			return fmt.Errorf("profile: %w", err)
		}
		summarizeProfiles(world, o, rep, prof)
	}
	rep.goals()
	rep.printf("\nLoad average at the end: %s.\n", loadAverage())
	rep.printf("\nTotal run time: %s.\n", time.Since(start).Round(time.Second))
	if o.write != "" {
		if err := writeFileAtomic(o.write, keepTail(o.write, rep.doc())); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "offbench: wrote %s\n", o.write)
	}
	return nil
}

// keptMarker starts the part of the report file that offbench does not
// make (figures measured elsewhere, such as the PostgreSQL registry's
// benchmarks): -write keeps it, from the marker to the end.
const keptMarker = "<!-- offbench -write keeps everything below this line -->"

// keepTail appends to doc the kept part of the file at path, if any.
func keepTail(path string, doc []byte) []byte {
	old, err := os.ReadFile(path)
	if err != nil {
		return doc
	}
	i := bytes.Index(old, []byte(keptMarker))
	if i < 0 {
		return doc
	}
	return append(append(doc, '\n'), old[i:]...)
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, so a failed run leaves no partial report.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".offbench-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}
