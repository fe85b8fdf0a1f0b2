// Package pgtest starts a real PostgreSQL server for tests: initdb and
// pg_ctl in a temporary directory, listening only on a unix socket in it
// (listen_addresses=”), so no network is used. Start one per test
// package, in TestMain, and Stop it there.
//
// initdb refuses to run as root: when the test runs as root (CI), the
// server runs as the user "nobody", owning the data directory.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Server is a running PostgreSQL.
type Server struct {
	Dir  string // the temporary directory: data/ and the socket
	data string
	cred *syscall.Credential
	bin  string
}

// ErrMissing is returned when no PostgreSQL binaries are installed.
var ErrMissing = errors.New("pgtest: initdb/pg_ctl not found (install postgresql)")

// Where binDir looks; tests of this package change them.
var (
	noPath     = false // skip PATH and /usr/local/bin
	debianGlob = "/usr/lib/postgresql/*/bin"
)

// binDir finds initdb and pg_ctl: on PATH, /usr/local/bin, or Debian's
// /usr/lib/postgresql/N/bin.
func binDir() (string, error) {
	var cands []string
	if !noPath {
		if p, err := exec.LookPath("pg_ctl"); err == nil {
			if _, err := exec.LookPath("initdb"); err == nil {
				return filepath.Dir(p), nil
			}
		}
		cands = append(cands, "/usr/local/bin")
	}
	debian, _ := filepath.Glob(debianGlob)
	for i := len(debian) - 1; i >= 0; i-- {
		cands = append(cands, debian[i])
	}
	for _, d := range cands {
		if fileExists(filepath.Join(d, "initdb")) && fileExists(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", ErrMissing
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// Start initializes and starts a server in a new temporary directory.
func Start() (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, data: filepath.Join(dir, "data"), bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: running as root and no user nobody: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		// nobody must reach the directory through its parents (TMPDIR).
		for p := filepath.Dir(dir); p != "/" && p != "."; p = filepath.Dir(p) {
			if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o001 == 0 {
				os.RemoveAll(dir)
				return nil, fmt.Errorf("pgtest: %s is not searchable by nobody", p)
			}
		}
	}
	if out, err := s.run("initdb", "-D", s.data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "--no-instructions"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	if err := s.Restart(false); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *Server) run(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, name), args...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// Restart starts the server (stopping it first when stop is true).
func (s *Server) Restart(stop bool) error {
	if stop {
		if err := s.stop(); err != nil {
			return err
		}
	}
	opts := fmt.Sprintf("-k %s -c listen_addresses='' -c fsync=off -c max_connections=200", s.Dir)
	if out, err := s.run("pg_ctl", "-D", s.data, "-o", opts, "-l", filepath.Join(s.Dir, "log"), "-w", "-t", "60", "start"); err != nil {
		return fmt.Errorf("pgtest: pg_ctl start: %v\n%s", err, out)
	}
	return nil
}

// StopServer stops the server, keeping its data (Restart(false) starts it).
func (s *Server) StopServer() error { return s.stop() }

func (s *Server) stop() error {
	if out, err := s.run("pg_ctl", "-D", s.data, "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// Stop stops the server and removes its directory.
func (s *Server) Stop() {
	s.stop()
	os.RemoveAll(s.Dir)
}

// DSN is a connection string for database db (postgres: the default).
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("host=%s user=postgres dbname=%s sslmode=disable", s.Dir, db)
}

// Main runs a test package's tests with one server started for all of
// them (set into *srv). Without PostgreSQL it runs them anyway (each
// test then skips through Need) unless TLSOFFLOAD_REQUIRE_PEERS=1, when
// it fails.
//
// A fuzzing worker (go test -fuzz runs the test binary again per worker)
// starts no server: fuzz targets do not use the database.
func Main(run func() int, srv **Server) int {
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.fuzzworker") {
			return run()
		}
	}
	s, err := Start()
	if err != nil {
		if errors.Is(err, ErrMissing) && os.Getenv("TLSOFFLOAD_REQUIRE_PEERS") != "1" {
			fmt.Fprintln(os.Stderr, "pgtest:", err, "- PostgreSQL tests skip")
			return run()
		}
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*srv = s
	defer s.Stop()
	return run()
}
