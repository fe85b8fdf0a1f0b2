package main

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

// -o onto a character device writes through it: the node stays a device.
// Before the fix, ocurl renamed a temporary file over it (as root, over
// /dev/null itself). The node is made with mknod in the test's own
// directory, as the same device as /dev/null.
func TestOutputCharDeviceStaysDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mknod needs root")
	}
	s := newTestServer(t, testpki.Good, echoHandler)
	dev := filepath.Join(t.TempDir(), "null")
	if err := syscall.Mknod(dev, syscall.S_IFCHR|0o666, int(mkdev(1, 3))); err != nil {
		t.Fatalf("mknod: %v", err)
	}
	code, out, errOut := ocurl("--cacert", s.rootFile, "-o", dev, "https://localhost:"+s.port+"/page")
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
	s := newTestServer(t, testpki.Good, echoHandler)
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
	code, _, errOut := ocurl("--cacert", s.rootFile, "-o", fifo, "https://localhost:"+s.port+"/fifo")
	keep.Close()
	wg.Wait()
	if code != 0 || readErr != nil || !strings.HasPrefix(string(got), "GET /fifo") {
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
	s := newTestServer(t, testpki.Good, echoHandler)
	url := "https://localhost:" + s.port + "/linked"
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
	if code, _, errOut := ocurl("--cacert", s.rootFile, "-o", link, url); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	fi, err := os.Lstat(link)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("the link is gone or replaced: %v, %v", fi, err)
	}
	got, _ := os.ReadFile(target)
	if !strings.HasPrefix(string(got), "GET /linked") {
		t.Fatalf("target holds %q", got)
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o640 {
		t.Fatalf("the replaced file's mode is %v, want 0640 kept", fi.Mode().Perm())
	}

	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink("created.txt", dangling); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := ocurl("--cacert", s.rootFile, "-o", dangling, url); code != 0 {
		t.Fatalf("dangling link: exit %d, stderr %q", code, errOut)
	}
	if fi, err := os.Lstat(dangling); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("the dangling link was replaced: %v, %v", fi, err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "created.txt")); err != nil || !strings.HasPrefix(string(got), "GET /linked") {
		t.Fatalf("the link's target holds %q, %v", got, err)
	}
	assertNoTemps(t, dir)
}

// A failed transfer leaves an existing regular file as it was.
func TestOutputFailureKeepsOldFile(t *testing.T) {
	s := newTestServer(t, testpki.Good, truncatingHandler)
	out := filepath.Join(t.TempDir(), "keep.txt")
	if err := os.WriteFile(out, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := ocurl("--cacert", s.rootFile, "-o", out, "https://localhost:"+s.port+"/")
	if code == 0 {
		t.Fatalf("a truncated body succeeded; stderr %q", errOut)
	}
	if got, _ := os.ReadFile(out); string(got) != "precious" {
		t.Fatalf("the old file now holds %q", got)
	}
	assertNoTemps(t, filepath.Dir(out))
}

// truncatingHandler promises more body than it sends, then drops the
// connection.
func truncatingHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "100000")
	io.WriteString(w, "only a little")
	w.(http.Flusher).Flush()
	panic(http.ErrAbortHandler)
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
	bin := buildOcurl(t)
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	s := newTestServer(t, testpki.Good, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stall" {
			w.Header().Set("Content-Length", "1000000")
			io.WriteString(w, strings.Repeat("x", 4096))
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		io.WriteString(w, "small body")
	})
	base := "https://localhost:" + s.port

	dir := t.TempDir()
	out := filepath.Join(dir, "umask.txt")
	cmd := exec.Command("/bin/sh", "-c", `umask 027 && exec "$0" "$@"`, bin, "-s", "--cacert", s.rootFile, "-o", out, base+"/")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ocurl: %v\n%s", err, b)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("a new file under umask 027 has mode %v (%v), want 0640", fi.Mode().Perm(), err)
	}

	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		out := filepath.Join(dir, "stalled-"+sig.String())
		cmd := exec.Command(bin, "-s", "--cacert", s.rootFile, "-o", out, base+"/stall")
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

// buildOcurl builds the command into the test's temp dir.
func buildOcurl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ocurl")
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
