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

	"github.com/tlsoffload/tlsoffload/internal/testserver"
	"unsafe"
)

// newPTY opens a pseudo-terminal pair through /dev/ptmx, its output
// processing off so the bytes read are the bytes written.
func newPTY() (master, tty *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, errNoPTY{err}
	}
	ioctl := func(f *os.File, req uintptr, arg unsafe.Pointer) error {
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), req, uintptr(arg)); e != 0 {
			return e
		}
		return nil
	}
	var unlock int32
	var n uint32
	if err := ioctl(m, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("unlockpt: %v", err)
	}
	if err := ioctl(m, syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	var tio syscall.Termios
	err = ioctl(s, syscall.TCGETS, unsafe.Pointer(&tio))
	if err == nil {
		tio.Oflag &^= syscall.OPOST
		err = ioctl(s, syscall.TCSETS, unsafe.Pointer(&tio))
	}
	if err != nil {
		m.Close()
		s.Close()
		return nil, nil, fmt.Errorf("termios: %v", err)
	}
	return m, s, nil
}

// errNoPTY: the machine has no pseudo-terminals (tests skip).
type errNoPTY struct{ err error }

func (e errNoPTY) Error() string { return "no pseudo-terminals here: " + e.err.Error() }

// openPTY is newPTY for a test, closed at its end.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, s, err := newPTY()
	if _, ok := err.(errNoPTY); ok {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
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
	s := testserver.Start(t)
	body := string(testserver.Text(0, 5000))
	url := s.HTTPURL + "/text/5000"
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
	code, term, _ = onTerminal(t, false, nil, s.HTTPURL+"/truncated?length=10&send=5")
	if code != exitPartial || !strings.Contains(term, "\r 50    10   50     5    0     0") || !strings.HasSuffix(term, "\nocurl: (18) transfer closed with 5 bytes remaining to read\n") {
		t.Errorf("failure: exit %d, terminal %q", code, term)
	}
}

// Binary data is not written to a terminal unless asked for with -o -.
func TestBinaryToTerminal(t *testing.T) {
	s := testserver.Start(t)
	url := rawURL(s.HTTPURL, []string{"Content-Length: 7"}, []byte("bin\x00ary"))
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
