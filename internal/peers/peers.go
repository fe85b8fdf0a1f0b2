// Package peers starts the real TLS servers the tests talk to — openssl
// s_server, gnutls-serv, nginx, crypto/tls — on loopback, in the test's own
// t.TempDir, and stops them in t.Cleanup. A peer binary that is missing
// skips the test, unless TLSOFFLOAD_REQUIRE_PEERS=1 (CI sets it), which makes
// it a failure. The test PKI stays in certs/testpki.
//
// A server is ready only when it says so itself (openssl's ACCEPT line,
// gnutls-serv's "IPv4 ... done") or, for nginx, when the process is seen
// holding the listening socket: a port picked free and released can be taken
// by another process before the peer binds it, and a connect that succeeds
// then reaches the wrong server. A peer that loses its port that way is
// started again on another one.
package peers

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

// readyTimeout bounds how long a peer may take to listen.
const readyTimeout = 20 * time.Second

// attempts is how often a peer that lost its port is started again.
const attempts = 5

// Require returns the path of a peer binary, or skips (fails under
// TLSOFFLOAD_REQUIRE_PEERS=1) when it is not installed.
func Require(t testing.TB, name string) string {
	t.Helper()
	if path := lookPath(name); path != "" {
		return path
	}
	if os.Getenv("TLSOFFLOAD_REQUIRE_PEERS") == "1" {
		t.Fatalf("peer %s is not installed and TLSOFFLOAD_REQUIRE_PEERS=1 (.ci/run installs it)", name)
	}
	t.Skipf("peer %s is not installed", name)
	return ""
}

// Installed reports whether Require would find the peer binary.
func Installed(name string) bool { return lookPath(name) != "" }

// lookPath finds name on PATH or in the sbin directories a test's PATH
// may lack; "" if it is nowhere.
func lookPath(name string) string {
	if path, err := exec.LookPath(name); err == nil {
		return path
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// Output collects a process's stdout and stderr (the first MiB) for a test
// to read while it runs.
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.b.Len() < 1<<20 {
		o.b.Write(p)
	}
	return len(p), nil
}

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// Server is a running peer.
type Server struct {
	Addr string  // 127.0.0.1:port
	Out  *Output // the process's stdout and stderr
}

// Cmd is a process to start: its binary, arguments, extra environment
// (KEY=value) and working directory ("" for the test's).
type Cmd struct {
	Bin  string
	Args []string
	Env  []string
	Dir  string
}

// start starts c with its output in a fresh Output and stops it in
// t.Cleanup. Lines are sent on the returned channel until the output ends
// (the process exited), when it is closed.
func (c Cmd) start(t testing.TB) (*exec.Cmd, *Output, <-chan string) {
	t.Helper()
	cmd := exec.Command(c.Bin, c.Args...)
	cmd.Dir = c.Dir
	if c.Env != nil {
		cmd.Env = append(os.Environ(), c.Env...)
	}
	// An os.Pipe, not an io.Pipe: Wait has no copying goroutine to wait
	// for, and the reader sees EOF when the process dies.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	err = cmd.Start()
	pw.Close()
	if err != nil {
		pr.Close()
		t.Fatalf("start %s: %v", c.Bin, err)
	}
	out := &Output{}
	lines := make(chan string, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			out.Write([]byte(line + "\n"))
			select {
			case lines <- line:
			default: // nobody is reading any more
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		<-done
		pr.Close()
		if t.Failed() {
			o := out.String()
			t.Logf("%s output (the end):\n%s", filepath.Base(c.Bin), o[max(0, len(o)-4096):])
		}
	})
	return cmd, out, lines
}

// StartReporting starts c and waits for the output line whose first group
// of listening is the address it listens on (the peer chose the port).
func StartReporting(t testing.TB, c Cmd, listening *regexp.Regexp) *Server {
	t.Helper()
	_, out, lines := c.start(t)
	timeout := time.After(readyTimeout)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("%s exited before listening; output:\n%s", c.Bin, out.String())
			}
			if m := listening.FindStringSubmatch(line); m != nil {
				addr := strings.Replace(m[1], "[::]", "127.0.0.1", 1)
				addr = strings.Replace(addr, "0.0.0.0", "127.0.0.1", 1)
				return &Server{Addr: addr, Out: out}
			}
		case <-timeout:
			t.Fatalf("%s did not report listening within %v; output:\n%s", c.Bin, readyTimeout, out.String())
		}
	}
}

// errPortTaken is a peer that could not bind the port it was given.
var errPortTaken = fmt.Errorf("peers: port taken")

// retryPorts runs try with free ports until one is not taken by someone
// else before the peer binds it.
func retryPorts(t testing.TB, bin string, try func(port int) (*Server, error)) *Server {
	t.Helper()
	for i := 1; ; i++ {
		srv, err := try(freePort(t))
		if err == nil {
			return srv
		}
		if err != errPortTaken || i == attempts {
			t.Fatalf("%s: %v", bin, err)
		}
		t.Logf("%s lost its port to another process; again on another one", bin)
	}
}

// freePort returns a loopback port no one listens on right now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// addrInUse is how the peers say a port is taken.
var addrInUse = regexp.MustCompile(`(?i)address already in use`)

// StartGnuTLS runs gnutls-serv with args (everything but --port). gnutls-serv
// cannot report a port of the kernel's choosing, and when the IPv4 bind
// fails it goes on listening on IPv6 alone: so it is given a free port and
// is ready when it reports the IPv4 bind done, and started again on another
// port when it reports that bind failed.
func StartGnuTLS(t testing.TB, args ...string) *Server {
	t.Helper()
	bin := Require(t, "gnutls-serv")
	return retryPorts(t, bin, func(port int) (*Server, error) { return gnutlsOn(t, bin, port, args) })
}

// gnutlsOn is one attempt of StartGnuTLS, on port.
func gnutlsOn(t testing.TB, bin string, port int, args []string) (*Server, error) {
	c := Cmd{Bin: bin, Args: append([]string{"--port", strconv.Itoa(port)}, args...)}
	cmd, out, lines := c.start(t)
	timeout := time.After(readyTimeout)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				return nil, fmt.Errorf("exited before listening; output:\n%s", out.String())
			}
			if !strings.Contains(line, "IPv4") {
				continue
			}
			if strings.HasSuffix(line, "...done") {
				return &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), Out: out}, nil
			}
			if addrInUse.MatchString(line) {
				cmd.Process.Kill()
				return nil, errPortTaken
			}
		case <-timeout:
			return nil, fmt.Errorf("did not listen within %v; output:\n%s", readyTimeout, out.String())
		}
	}
}

// StartPolled runs a server (name, for messages) that reports nothing when
// it listens (nginx): cmdFor gives the process for a port, and logFile (may be "") where it
// logs. It is ready when it accepts a connection and, where /proc tells,
// the listening socket is its own; it is started again on another port when
// it exits or logs that the address is in use.
func StartPolled(t testing.TB, name string, cmdFor func(port int) (c Cmd, logFile string)) *Server {
	t.Helper()
	return retryPorts(t, name, func(port int) (*Server, error) { return polledOn(t, port, cmdFor) })
}

// polledOn is one attempt of StartPolled, on port.
func polledOn(t testing.TB, port int, cmdFor func(port int) (Cmd, string)) (*Server, error) {
	c, logFile := cmdFor(port)
	cmd, out, lines := c.start(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	exited := false
	logged := func() string {
		b, _ := os.ReadFile(logFile)
		return out.String() + string(b)
	}
	deadline := time.Now().Add(readyTimeout)
	for {
		for drained := false; !drained && !exited; {
			select {
			case _, ok := <-lines:
				exited = !ok
			default:
				drained = true
			}
		}
		if addrInUse.MatchString(logged()) {
			cmd.Process.Kill()
			return nil, errPortTaken
		}
		if exited {
			return nil, fmt.Errorf("%v exited before listening:\n%s", c.Args, logged())
		}
		if cn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			cn.Close()
			if owns, known := listens(cmd.Process.Pid, port); owns || !known {
				return &Server{Addr: addr, Out: out}, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("did not listen on %s within %v:\n%s", addr, readyTimeout, logged())
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// listens reports whether process pid holds a TCP socket listening on
// port; known is false where /proc does not say.
func listens(pid, port int) (owns, known bool) {
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		known = true
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			if len(f) < 10 || f[3] != "0A" {
				continue
			}
			_, hexPort, _ := strings.Cut(f[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil && int(p) == port {
				inodes["socket:["+f[9]+"]"] = true
			}
		}
	}
	if !known {
		return false, false
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false, false
	}
	for _, fd := range fds {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && inodes[l] {
			return true, true
		}
	}
	return false, true
}

// StartNginx runs nginx in the foreground with dir as its prefix (its pid,
// error.log and temporary files go there): http holds more http-level
// directives, server the server block's own after its listen directive.
func StartNginx(t testing.TB, dir, http, server string) *Server {
	t.Helper()
	return StartPolled(t, "nginx", nginxCmd(t, Require(t, "nginx"), dir, http, server))
}

// nginxCmd is StartNginx's process for a port.
func nginxCmd(t testing.TB, bin, dir, http, server string) func(port int) (Cmd, string) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	confFile := filepath.Join(dir, "nginx.conf")
	logFile := filepath.Join(dir, "error.log")
	return func(port int) (Cmd, string) {
		conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/tmp; proxy_temp_path %[1]s/tmp; fastcgi_temp_path %[1]s/tmp;
  uwsgi_temp_path %[1]s/tmp; scgi_temp_path %[1]s/tmp;
  %[2]s
  server {
    listen 127.0.0.1:%[3]d ssl;
    %[4]s
  }
}
`, dir, http, port, server)
		if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Remove(logFile) // only this attempt's errors
		return Cmd{Bin: bin, Args: []string{"-p", dir, "-c", confFile, "-e", logFile}}, logFile
	}
}

// OpenSSL is an openssl s_server configuration.
type OpenSSL struct {
	Leaf *testpki.Leaf
	// Options, when set, is the Options line of the openssl.cnf the
	// server reads (e.g. "-ExtendedMasterSecret"); otherwise it reads an
	// empty one, not the machine's.
	Options string
	// Args are more s_server flags (the version, -www, -cipher, ...).
	Args []string
}

// StartOpenSSL runs openssl s_server with o on a loopback port of its own
// choosing, in a fresh t.TempDir, and returns it once it reports listening.
func StartOpenSSL(t testing.TB, o OpenSSL) *Server {
	t.Helper()
	bin := Require(t, "openssl")
	dir := t.TempDir()
	certFile, keyFile, err := o.Leaf.WriteFiles(dir, "server")
	if err != nil {
		t.Fatal(err)
	}
	cnf := "openssl_conf = default_conf\n[default_conf]\n"
	if o.Options != "" {
		cnf += "ssl_conf = ssl_sect\n[ssl_sect]\nsystem_default = sys\n[sys]\nOptions = " + o.Options + "\n"
	}
	conf := filepath.Join(dir, "openssl.cnf")
	if err := os.WriteFile(conf, []byte(cnf), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"s_server", "-accept", "127.0.0.1:0", "-cert", certFile, "-key", keyFile}
	// -cert sends only the first certificate of its file: the rest of the
	// chain goes in -cert_chain.
	if len(o.Leaf.Chain) > 1 {
		var chain []byte
		for _, der := range o.Leaf.Chain[1:] {
			chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
		}
		chainFile := filepath.Join(dir, "chain.pem")
		if err := os.WriteFile(chainFile, chain, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-cert_chain", chainFile)
	}
	c := Cmd{Bin: bin, Args: append(args, o.Args...), Env: []string{"OPENSSL_CONF=" + conf}, Dir: dir}
	return StartReporting(t, c, regexp.MustCompile(`ACCEPT\s+(\S+)`))
}

// StartGo runs a crypto/tls server with cfg on loopback in this process and
// returns its address. It echoes what each connection sends; the listener
// and connections close in t.Cleanup.
func StartGo(t testing.TB, cfg *tls.Config) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				io.Copy(c, c)
			}()
		}
	}()
	return l.Addr().String()
}
