// Command ocurl fetches URLs over HTTP/1.1 (HTTP/2 on request) like curl,
// with TLS done by tlsoffload: the handshake's public-key work runs on an
// offloader, embedded in this process by default or reached over its PSK
// channel with --offloader. Its flags, output and exit codes are curl's
// where curl has them; "ocurl --help" lists them all and what differs.
//
// The files: args.go and config.go read the command line and -K files,
// help.go is --help, offload.go is the one place that knows the offloader
// and tlsclient, dial.go makes connections (--resolve, --connect-to,
// proxies), http1.go and http2.go speak HTTP, request.go builds requests,
// transfer.go runs a URL (redirects, retries, output), and the rest are one
// feature each.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// A reader of stdout that goes away makes writes fail with EPIPE
	// (exit 23, as curl) instead of killing ocurl with SIGPIPE.
	signal.Ignore(syscall.SIGPIPE)
	removeTempsOnSignal()
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

// Main runs ocurl with the process's stdin and environment and returns its
// exit code; it never calls os.Exit.
func Main(args []string, stdout, stderr io.Writer) int {
	return (&invocation{stdin: os.Stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}).main(args)
}

// invocation is what one run of ocurl reads from and writes to.
type invocation struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

func (iv *invocation) main(args []string) int {
	o, err := parseArgs(args, iv)
	if err != nil {
		var f *failure
		if !errors.As(err, &f) {
			f = &failure{code: exitUsage, err: err}
		}
		if f.code == exitUsage && f.hint == "" {
			f.hint = "try 'ocurl --help'"
		}
		printFailure(iv.stderr, f)
		return f.code
	}
	switch {
	case o.help:
		io.WriteString(iv.stdout, helpText())
		return exitOK
	case o.version:
		io.WriteString(iv.stdout, versionText())
		return exitOK
	}
	return newRun(o, iv).all()
}

// printFailure prints "ocurl: (N) message" and the hint, as curl prints
// its errors.
func printFailure(w io.Writer, f *failure) {
	fmt.Fprintf(w, "ocurl: (%d) %v\n", f.code, f.err)
	if f.hint != "" {
		fmt.Fprintf(w, "ocurl: hint: %s\n", f.hint)
	}
}
