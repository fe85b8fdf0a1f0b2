// Package loop is the measuring loop the minimal device programs share:
// n handshakes in sequence, then this process's CPU (getrusage user+sys,
// every thread) per handshake, printed for offbench to read.
package loop

import (
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

// Main runs the program: with no loop arguments, one GET of / over conn
// printed to stdout; with "N" or "N resume", a warm-up handshake, then N
// handshakes (each dial, handshake, close) measured, then one more that
// says whether it resumed (asked outside the measured loop).
func Main(host string, args []string, dial func() (net.Conn, error), resumed func(net.Conn) bool) {
	if len(args) == 0 {
		c, err := dial()
		if err != nil {
			Fail(err)
		}
		io.WriteString(c, "GET / HTTP/1.0\r\nHost: "+host+"\r\n\r\n")
		io.Copy(os.Stdout, c)
		c.Close()
		return
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 {
		Fail(err)
	}
	once := func(check bool) bool {
		c, err := dial()
		if err != nil {
			Fail(err)
		}
		r := check && resumed != nil && resumed(c)
		c.Close()
		return r
	}
	once(false) // the channel, the Start cache, the session; qemu's translation
	stop := startProfile()
	before := cpu()
	for range n {
		once(false)
	}
	spent := cpu() - before
	stop()
	os.Stdout.WriteString("cpu_ns_per_handshake " + strconv.FormatInt(int64(spent)/int64(n), 10) +
		" resumed " + strconv.FormatBool(once(true)) + "\n")
}

// startProfile starts profiling the measured loop and returns what stops
// it; a no-op unless built with the pprof tag (pprof.go).
var startProfile = func() func() { return func() {} }

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Fail prints err (nil: bad arguments) and exits 1.
func Fail(err error) {
	msg := "bad arguments"
	if err != nil {
		msg = err.Error()
	}
	os.Stderr.WriteString("error: " + msg + "\n")
	os.Exit(1)
}
