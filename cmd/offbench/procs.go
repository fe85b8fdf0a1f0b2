package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// rusageCPU returns this process's user+system CPU time, every thread.
func rusageCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// child is another offbench process: it prints "KEY VALUE" lines, then
// "ready"; it exits when its stdin closes.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	vals  map[string]string
}

// startChild runs this binary with the subcommand and args and waits for
// its "ready" line.
func startChild(sub string, args ...string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	c := &child{cmd: exec.Command(self, append([]string{sub}, args...)...), vals: map[string]string{}}
	c.cmd.Stderr = os.Stderr
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	for sc := bufio.NewScanner(stdout); sc.Scan(); {
		if sc.Text() == "ready" {
			return c, nil
		}
		k, v, _ := strings.Cut(sc.Text(), " ")
		c.vals[k] = v
	}
	c.stop()
	return nil, fmt.Errorf("%s did not start", sub)
}

// stop closes the child's stdin (its signal to exit) and waits a little
// before killing it.
func (c *child) stop() {
	c.stdin.Close()
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
}

// exitOnStdinEOF makes a child process exit when its parent goes away.
func exitOnStdinEOF(stdin io.Reader) {
	go func() {
		io.Copy(io.Discard, stdin)
		os.Exit(0)
	}()
}
