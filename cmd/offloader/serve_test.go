package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestListenUnix: the socket is made 0660, a stale one left by a dead
// process is replaced, and one still served is not taken over.
func TestListenUnix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.sock")
	l, err := listen("unix:" + path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != socketMode {
		t.Errorf("socket mode %v, want %v", fi.Mode().Perm(), os.FileMode(socketMode))
	}
	if got := addrString(l.Addr()); got != "unix:"+path {
		t.Errorf("address %q", got)
	}
	if _, err := listen("unix:" + path); err == nil || !strings.Contains(err.Error(), "another process is listening on it") {
		t.Errorf("second listener on a live socket: %v", err)
	}
	l.Close()

	// A socket file whose listener is gone (as after a crash).
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false)
	ul.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	l, err = listen("unix:" + path)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	l.Close()

	// A regular file in the way is not removed.
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := listen("unix:" + path); err == nil {
		t.Error("listened over a regular file")
	}
	if _, err := os.Stat(path); err != nil {
		t.Error("a regular file was removed")
	}
}
