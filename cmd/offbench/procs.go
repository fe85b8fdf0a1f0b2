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

// rusageCPU returns this process's user+system CPU time.
func rusageCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// child is another offbench process: it prints "KEY VALUE" lines, then
// "ready"; it exits when its stdin closes, and answers lines written to its
// stdin (see each subcommand).
type child struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	vals  map[string]string
}

// startChild runs this binary with the subcommand and args and waits for
// its "ready" line.
func startChild(sub string, args ...string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, append([]string{sub}, args...)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{name: sub, cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout), vals: map[string]string{}}
	for {
		line, err := c.readLine()
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("%s did not start: %w", sub, err)
		}
		if line == "ready" {
			return c, nil
		}
		k, v, _ := strings.Cut(line, " ")
		c.vals[k] = v
	}
}

func (c *child) readLine() (string, error) {
	line, err := c.out.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

// ask writes a request line and returns the child's one-line answer.
func (c *child) ask(req string) (string, error) {
	if _, err := io.WriteString(c.stdin, req+"\n"); err != nil {
		return "", fmt.Errorf("%s: %w", c.name, err)
	}
	line, err := c.readLine()
	if err != nil {
		return "", fmt.Errorf("%s: %w", c.name, err)
	}
	return line, nil
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

// exitOnStdinEOF makes a child process exit when its parent goes away, and
// hands each line the parent writes to answer (nil: lines are ignored).
func exitOnStdinEOF(stdin io.Reader, answer func(line string)) {
	go func() {
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			if answer != nil {
				answer(sc.Text())
			}
		}
		os.Exit(0)
	}()
}
