package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// An output file, as -o opens it.
//
// A regular file (or a name that does not exist yet) is written to a
// temporary file beside it and renamed over it only once the whole body has
// arrived, so a failed transfer leaves no partial file and an old file is
// kept whole. Anything else — a character device such as /dev/null, a FIFO,
// a socket — is opened and written in place, exactly as curl does: renaming
// over a device node would replace the node with a regular file. Symlinks
// are followed: the rename lands on the file the link points to, and the
// link itself stays. A new file gets mode 0666 less the umask (the kernel
// applies it, since the temporary file is created with 0666); a file that is
// replaced keeps its mode.
type outputFile struct {
	*os.File
	final string // the path renamed onto at commit; "" when written in place
}

// openOutput opens path for -o.
func openOutput(path string) (*outputFile, error) {
	target, err := resolveLinks(path)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(target)
	switch {
	case err == nil && fi.IsDir():
		return nil, fmt.Errorf("%s is a directory", path)
	case err == nil && !fi.Mode().IsRegular():
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
		if err != nil {
			return nil, err
		}
		return &outputFile{File: f}, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	f, err := createTemp(target)
	if err != nil {
		return nil, err
	}
	if fi != nil {
		// Keep the mode of the file being replaced, as writing in place would.
		if err := f.Chmod(fi.Mode().Perm()); err != nil {
			f.Close()
			forgetTemp(f.Name(), true)
			return nil, err
		}
	}
	return &outputFile{File: f, final: target}, nil
}

// Commit makes the written body the output: it closes the file and, for a
// regular file, renames the temporary file onto the target.
func (o *outputFile) Commit() error {
	err := o.File.Close()
	if o.final == "" {
		return err
	}
	if err == nil {
		err = os.Rename(o.File.Name(), o.final)
	}
	forgetTemp(o.File.Name(), err != nil)
	return err
}

// Abort drops a failed transfer: the temporary file goes; a file written in
// place keeps what was written, as curl leaves it.
func (o *outputFile) Abort() {
	o.File.Close()
	if o.final != "" {
		forgetTemp(o.File.Name(), true)
	}
}

// resolveLinks follows symlinks in the last element of path (at most 40, as
// the kernel allows), so that a dangling link still names the file it would
// create. Directory components are left to the kernel.
func resolveLinks(path string) (string, error) {
	for range 40 {
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		dest, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(path), dest)
		}
		path = dest
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", path)
}

// createTemp makes an empty temporary file beside target with mode 0666, so
// the kernel applies the umask as it would to the file curl creates.
func createTemp(target string) (*os.File, error) {
	dir, base := filepath.Split(target)
	var suffix [6]byte
	for range 100 {
		if _, err := rand.Read(suffix[:]); err != nil {
			return nil, err
		}
		name := filepath.Join(dir, "."+base+".part-"+hex.EncodeToString(suffix[:]))
		f, err := openTemp(name)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, fmt.Errorf("cannot create a temporary file beside %s", target)
}

// The temporary files of transfers in progress, removed if ocurl is
// interrupted (SIGINT, SIGTERM) so that no partial file is left behind.
var temps struct {
	sync.Mutex
	names map[string]struct{}
}

// openTemp creates name and records it in one step under the lock, so a
// signal cannot come between the two and leave the file behind.
func openTemp(name string) (*os.File, error) {
	temps.Lock()
	defer temps.Unlock()
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return nil, err
	}
	if temps.names == nil {
		temps.names = make(map[string]struct{})
	}
	temps.names[name] = struct{}{}
	return f, nil
}

func forgetTemp(name string, remove bool) {
	temps.Lock()
	defer temps.Unlock()
	delete(temps.names, name)
	if remove {
		os.Remove(name)
	}
}

// removeTempsOnSignal removes every temporary output file and exits with
// 128+signal (130, 143) when ocurl is interrupted or terminated. Only the command's
// main installs it; Main, as tests call it, leaves signals alone.
func removeTempsOnSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-ch
		temps.Lock() // held until exit: no new temporary file is made
		for name := range temps.names {
			os.Remove(name)
		}
		code := exitInterrupted
		if sig == syscall.SIGTERM {
			code = exitTerminated
		}
		os.Exit(code)
	}()
}

// remoteName is -O's file name: the last segment of the URL's path, as
// curl takes it (still percent-encoded; no directory part).
func remoteName(u *url.URL) (string, error) {
	p := u.EscapedPath()
	name := p[strings.LastIndexByte(p, '/')+1:]
	if name == "" || name == "." || name == ".." {
		return "", fail(exitWrite, "Remote file name has no length!")
	}
	return name, nil
}

// createDirs makes the directories a file's path names (--create-dirs),
// with mode 0750 less the umask as curl does.
func createDirs(path string) error {
	dir := filepath.Dir(path)
	if dir == "." || dir == "/" {
		return nil
	}
	return os.MkdirAll(dir, 0o750)
}
