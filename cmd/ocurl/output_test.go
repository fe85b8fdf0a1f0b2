package main

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/internal/testserver"
)

// -o onto a character device writes through it: the node stays a device.
// Before the fix, ocurl renamed a temporary file over it (as root, over
// /dev/null itself). The node is made with mknod in the test's own
// directory, as the same device as /dev/null.
func TestOutputCharDeviceStaysDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mknod needs root")
	}
	s := testserver.Start(t)
	dev := filepath.Join(t.TempDir(), "null")
	if err := syscall.Mknod(dev, syscall.S_IFCHR|0o666, int(mkdev(1, 3))); err != nil {
		t.Fatalf("mknod: %v", err)
	}
	code, out, errOut := ocurl("--cacert", s.RootFile, "-o", dev, s.URL+"/echo/page")
	if code != 0 || out != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	fi, err := os.Lstat(dev)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&fs.ModeCharDevice == 0 || fi.Mode()&fs.ModeDevice == 0 {
		t.Fatalf("after -o the node is %v, want a character device", fi.Mode())
	}
	assertNoTemps(t, filepath.Dir(dev))
}

func mkdev(major, minor uint32) uint64 {
	return uint64(major)<<8 | uint64(minor) // the old Linux encoding, enough for (1, 3)
}

// -o onto a FIFO writes into it, for the reader at the other end.
func TestOutputFIFO(t *testing.T) {
	s := testserver.Start(t)
	fifo := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// The test holds a write end of its own until ocurl has exited, so the
	// reader's open does not block and, if ocurl never wrote into the FIFO,
	// the reader sees EOF with nothing rather than waiting for ever.
	keep, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := os.Open(fifo)
	if err != nil {
		keep.Close()
		t.Fatal(err)
	}
	defer r.Close()
	var got []byte
	var readErr error
	var wg sync.WaitGroup
	wg.Go(func() { got, readErr = io.ReadAll(r) })
	code, _, errOut := ocurl("--cacert", s.RootFile, "-o", fifo, s.URL+"/echo/fifo")
	keep.Close()
	wg.Wait()
	if code != 0 || readErr != nil || !strings.HasPrefix(string(got), "method: GET\nuri: /echo/fifo\n") {
		t.Fatalf("exit %d, stderr %q; reader got %q, %v", code, errOut, got, readErr)
	}
	fi, _ := os.Lstat(fifo)
	if fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Fatalf("after -o the FIFO is %v", fi.Mode())
	}
}

// -o through a symlink writes the file the link points to and keeps the
// link; a file that is replaced keeps its mode; a dangling link creates its
// target.
func TestOutputSymlink(t *testing.T) {
	s := testserver.Start(t)
	url := s.URL + "/echo/linked"
	dir := t.TempDir()
	target := filepath.Join(dir, "real.txt")
	link := filepath.Join(dir, "link.txt")
	if err := os.WriteFile(target, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(target, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real.txt", link); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := ocurl("--cacert", s.RootFile, "-o", link, url); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	fi, err := os.Lstat(link)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("the link is gone or replaced: %v, %v", fi, err)
	}
	got, _ := os.ReadFile(target)
	if !strings.HasPrefix(string(got), "method: GET\nuri: /echo/linked\n") {
		t.Fatalf("target holds %q", got)
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o640 {
		t.Fatalf("the replaced file's mode is %v, want 0640 kept", fi.Mode().Perm())
	}

	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink("created.txt", dangling); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := ocurl("--cacert", s.RootFile, "-o", dangling, url); code != 0 {
		t.Fatalf("dangling link: exit %d, stderr %q", code, errOut)
	}
	if fi, err := os.Lstat(dangling); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("the dangling link was replaced: %v, %v", fi, err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "created.txt")); err != nil || !strings.HasPrefix(string(got), "method: GET\nuri: /echo/linked\n") {
		t.Fatalf("the link's target holds %q, %v", got, err)
	}
	assertNoTemps(t, dir)
}

// A failed transfer leaves an existing regular file as it was.
func TestOutputFailureKeepsOldFile(t *testing.T) {
	s := testserver.Start(t)
	out := filepath.Join(t.TempDir(), "keep.txt")
	if err := os.WriteFile(out, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := ocurl("--cacert", s.RootFile, "-o", out, s.URL+"/truncated?length=100000&send=13")
	if code != exitPartial {
		t.Fatalf("a truncated body: exit %d, stderr %q", code, errOut)
	}
	if got, _ := os.ReadFile(out); string(got) != "precious" {
		t.Fatalf("the old file now holds %q", got)
	}
	assertNoTemps(t, filepath.Dir(out))
}

func assertNoTemps(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".part-") {
			t.Errorf("temporary file %s left in %s", e.Name(), dir)
		}
	}
}

// The built binary, as a user runs it: a new file gets 0666 less the
// umask, and SIGINT or SIGTERM in the middle of a body removes the
// temporary file.
func TestOutputBinaryUmaskAndSignals(t *testing.T) {
	bin := ocurlBinary(t)
	s := testserver.Start(t)
	base := s.URL

	dir := t.TempDir()
	out := filepath.Join(dir, "umask.txt")
	cmd := exec.Command("/bin/sh", "-c", `umask 027 && exec "$0" "$@"`, bin, "-s", "--cacert", s.RootFile, "-o", out, base+"/text/10")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ocurl: %v\n%s", err, b)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("a new file under umask 027 has mode %v (%v), want 0640", fi.Mode().Perm(), err)
	}

	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		out := filepath.Join(dir, "stalled-"+sig.String())
		cmd := exec.Command(bin, "-s", "--cacert", s.RootFile, "-o", out, base+"/slow?chunks=2&delay=30s")
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go io.Copy(io.Discard, bufio.NewReader(stderr))
		// Wait for the body to have reached the temporary file.
		deadline := time.Now().Add(20 * time.Second)
		for !tempHasData(dir) {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatal("no temporary file with data appeared")
			}
			time.Sleep(10 * time.Millisecond)
		}
		cmd.Process.Signal(sig)
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 128+int(sig) {
			t.Errorf("%v: ocurl ended with %v, want exit %d", sig, err, 128+int(sig))
		}
		assertNoTemps(t, dir)
		if _, err := os.Lstat(out); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%v: %s exists after an interrupted transfer", sig, out)
		}
	}
}

func tempHasData(dir string) bool {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".part-") {
			if fi, err := e.Info(); err == nil && fi.Size() > 0 {
				return true
			}
		}
	}
	return false
}
