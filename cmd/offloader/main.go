// Command offloader is the tlsoffload offloader daemon: it serves the PSK
// channels of the devices its config file lists and runs their public-key
// operations. docs/OFFLOADER.md documents the commands and the config file.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK    = 0 // success; serve: shut down on SIGINT/SIGTERM
	exitError = 1 // bad config, or the server failed
	exitUsage = 2 // bad command line
)

var usage = fmt.Sprintf(usageText, adminUsage)

const usageText = `usage: offloader <command> [flags]

commands:
  serve --config FILE   run the offloader with the config FILE (YAML)
  check --config FILE   validate FILE and print "ok: N devices"
  psk                   print a fresh random 32-byte PSK as 64 hex characters
  help                  print this text

%s
flags:
  -c, --config FILE     the config file (see offloader.example.yaml)
  --allow-open-key-files
                        only warn (do not refuse) key files readable by
                        group or others

exit status:
  0  success (serve: stopped by SIGINT or SIGTERM)
  1  the config is invalid or the server failed
  2  the command line is wrong
`

// newPSKLen is the size of the PSKs `offloader psk` makes: well within
// wire.MinPSKLen..wire.MaxPSKLen, and a full-strength key for HKDF-SHA256.
const newPSKLen = 32

// usageError is a command line offloader cannot run; it exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// Main runs the command line args and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return usageFail(stderr, &usageError{"no command"})
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "psk":
		if len(rest) > 0 {
			return usageFail(stderr, &usageError{fmt.Sprintf("psk takes no arguments, got %q", rest[0])})
		}
		psk := make([]byte, newPSKLen)
		if _, err := rand.Read(psk); err != nil {
			fmt.Fprintf(stderr, "offloader: error: %v\n", err)
			return exitError
		}
		fmt.Fprintln(stdout, hex.EncodeToString(psk))
		return exitOK
	case "migrate", "device", "policy", "import", "registry":
		return adminCommand(cmd, rest, stdout, stderr)
	case "check", "serve":
		path, opts, help, err := parseConfigFlag(cmd, rest)
		if err != nil {
			return usageFail(stderr, err)
		}
		if help {
			fmt.Fprint(stdout, usage)
			return exitOK
		}
		cfg, err := loadConfigWith(path, opts)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitError
		}
		if cmd == "check" && cfg.postgres != nil {
			fmt.Fprintln(stdout, "ok: registry postgres")
			return exitOK
		}
		if cmd == "check" {
			for _, w := range cfg.warnings {
				fmt.Fprintf(stderr, "offloader: warning: config %s: %s\n", path, w)
			}
			if w := exposureWarning(cfg); w != "" {
				fmt.Fprintf(stderr, "offloader: warning: %s\n", w)
			}
			fmt.Fprintf(stdout, "ok: %d devices\n", len(cfg.devices))
			return exitOK
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := serve(ctx, cfg, stderr); err != nil {
			fmt.Fprintln(stderr, err)
			return exitError
		}
		return exitOK
	}
	return usageFail(stderr, &usageError{fmt.Sprintf("unknown command %q", cmd)})
}

func usageFail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "offloader: error: %v\n", err)
	fmt.Fprintln(stderr, "offloader: hint: run 'offloader help' for usage")
	return exitUsage
}

// parseConfigFlag parses the flags of serve and check: -c/--config FILE
// and --allow-open-key-files.
func parseConfigFlag(cmd string, args []string) (path string, opts loadOptions, help bool, err error) {
	fs := flag.NewFlagSet("offloader "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&path, "config", "", "")
	fs.StringVar(&path, "c", "", "")
	fs.BoolVar(&opts.allowOpenKeyFiles, "allow-open-key-files", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", opts, true, nil
		}
		return "", opts, false, &usageError{cmd + ": " + err.Error()}
	}
	if fs.NArg() > 0 {
		return "", opts, false, &usageError{fmt.Sprintf("%s: unexpected argument %q", cmd, fs.Arg(0))}
	}
	if path == "" {
		return "", opts, false, &usageError{cmd + ": --config FILE is required"}
	}
	return path, opts, false, nil
}
