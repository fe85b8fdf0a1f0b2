package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// openPTY opens a pseudo-terminal pair through /dev/ptmx, its output
// processing off so the bytes read are the bytes written.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		m.Close()
		t.Fatalf("unlockpt: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		m.Close()
		t.Fatalf("ptsname: %v", e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	var tio syscall.Termios
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, s.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&tio))); e != 0 {
		t.Fatal(e)
	}
	tio.Oflag &^= syscall.OPOST
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, s.Fd(), syscall.TCSETS, uintptr(unsafe.Pointer(&tio))); e != 0 {
		t.Fatal(e)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// onTerminal runs ocurl with stderr (and, if toTTY, stdout) on a pty and
// returns what the terminal showed and what went to a non-terminal stdout.
func onTerminal(t *testing.T, toTTY bool, env map[string]string, args ...string) (code int, terminal, stdout string) {
	t.Helper()
	m, tty := openPTY(t)
	read := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(m) // EIO once the terminal side is closed
		read <- b
	}()
	var out bytes.Buffer
	iv := &invocation{stdin: strings.NewReader(""), stdout: &out, stderr: tty, getenv: func(k string) string { return env[k] }}
	if toTTY {
		iv.stdout = tty
	}
	code = iv.main(args)
	tty.Close()
	return code, string(<-read), out.String()
}

// The meter shows on a terminal stderr while the body goes elsewhere, in
// curl's format; -s, --no-progress-meter and a body on the terminal turn
// it off; -# draws the bar.
func TestProgressMeter(t *testing.T) {
	body := strings.Repeat("m", 5000)
	s := newRawServer(t, func(q *rawRequest) rawReply { return reply(body) })
	url := "http://" + s.addr + "/"
	code, term, out := onTerminal(t, false, nil, url)
	final := regexp.MustCompile(`\r100  5000  100  5000    0     0  [ 0-9kMG.]{5}      0 --:--:-- --:--:-- --:--:-- [ 0-9kMG.]{5}\n$`)
	if code != 0 || out != body || !strings.HasPrefix(term, meterHeader+"\r  0     0    0     0    0     0      0      0 --:--:-- --:--:-- --:--:--     0") ||
		!final.MatchString(term) {
		t.Fatalf("meter: exit %d, terminal %q", code, term)
	}
	for _, args := range [][]string{{"-s"}, {"--no-progress-meter"}} {
		if code, term, _ := onTerminal(t, false, nil, append(args, url)...); code != 0 || term != "" {
			t.Errorf("%v: exit %d, terminal %q", args, code, term)
		}
	}
	if code, term, _ := onTerminal(t, true, nil, url); code != 0 || term != body {
		t.Errorf("body on the terminal: exit %d, terminal %q", code, term[:min(len(term), 200)])
	}
	code, term, _ = onTerminal(t, false, map[string]string{"COLUMNS": "40"}, "-#", url)
	if code != 0 || !strings.HasSuffix(term, "\r"+strings.Repeat("#", 32)+" 100.0%\n") {
		t.Errorf("-#: exit %d, terminal %q", code, term)
	}
	// Not on a terminal, no meter (curl draws it into pipes and logs too).
	if code, _, errOut := ocurl(url); code != 0 || errOut != "" {
		t.Errorf("stderr not a terminal: %q", errOut)
	}
	// A failed transfer ends the meter's line before the error.
	trunc := newRawServer(t, func(q *rawRequest) rawReply {
		return rawReply{data: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", close: true}
	})
	code, term, _ = onTerminal(t, false, nil, "http://"+trunc.addr+"/")
	if code != exitPartial || !strings.Contains(term, "\r 50    10   50     5    0     0") || !strings.HasSuffix(term, "\nocurl: (18) transfer closed with 5 bytes remaining to read\n") {
		t.Errorf("failure: exit %d, terminal %q", code, term)
	}
}

// Binary data is not written to a terminal unless asked for with -o -.
func TestBinaryToTerminal(t *testing.T) {
	s := newRawServer(t, func(q *rawRequest) rawReply { return reply("bin\x00ary") })
	url := "http://" + s.addr + "/"
	code, term, _ := onTerminal(t, true, nil, url)
	if code != exitWrite || strings.Contains(term, "bin\x00") || !strings.Contains(term, "ocurl: (23) Binary output can mess up your terminal") ||
		!strings.Contains(term, `ocurl: hint: use "--output -"`) {
		t.Fatalf("exit %d, terminal %q", code, term)
	}
	if code, term, _ := onTerminal(t, true, nil, "-o", "-", url); code != 0 || term != "bin\x00ary" {
		t.Fatalf("-o -: exit %d, terminal %q", code, term)
	}
	if code, out, _ := ocurl(url); code != 0 || out != "bin\x00ary" {
		t.Fatalf("to a pipe: exit %d out %q", code, out)
	}
}

func TestMax5AndTimeStr(t *testing.T) {
	for n, want := range map[int64]string{0: "    0", 99999: "99999", 100000: "  97k", 10000 * 1024: " 9.7M", 5 << 30: "5120M", 50 << 30: "50.0G", 100 << 30: " 100G"} {
		if got := max5(n); got != want {
			t.Errorf("max5(%d) = %q, want %q", n, got, want)
		}
	}
	for s, want := range map[int64]string{0: "--:--:--", 61: " 0:01:01", 3600*99 + 59: "99:00:59", 3600 * 100: "  4d 04h"} {
		if got := timeStr(s); got != want {
			t.Errorf("timeStr(%d) = %q, want %q", s, got, want)
		}
	}
}
