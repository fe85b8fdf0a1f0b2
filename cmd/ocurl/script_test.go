package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tlsoffload/tlsoffload/internal/testserver"
)

// TestMain makes this test binary also the ocurl command: testscript.Main
// puts a copy named "ocurl" first on PATH, and a run of that copy is
// ocurl's own main. Scripts and the side-by-side test run ocurl as a
// process, as a user does.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"ocurl": main})
}

// TestScript runs testdata/script/*.txtar: one script per behaviour, each
// running ocurl against testserver. A script sees, in its environment:
//
//	HTTPS, H2, HTTP, MTLS   the server's URLs (https://localhost:PORT, ...)
//	PORT, H2PORT, HTTPPORT  their ports
//	ROOT                    the root certificate file (for --cacert)
//	CLIENTCERT, CLIENTKEY   a client certificate MTLS accepts
//	PIN                     the server key's sha256//... pin
//	REFUSED                 127.0.0.1:PORT where connections are refused
//	PROXY                   an HTTP proxy of the script's own
//	AUTHPROXY, PROXYUSER    a proxy requiring PROXYUSER (user:password);
//	AUTHPROXYADDR           its host:port
//	PROG                    ocurl (curl under OCURL_SCRIPT_CURL=1), for shells
//
// and these commands besides testscript's:
//
//	exits N PROG ARGS...        run PROG, want exit code N (stdout and stderr kept)
//	tty [-stdout] N PROG ARGS...  the same with stderr (and with -stdout, stdout
//	                            too) on a pseudo-terminal: stderr is then what
//	                            the terminal showed (scripts using it start
//	                            with "[!pty] skip")
//	errmsg N [REGEXP]           stderr has the line "ocurl: (N) " and REGEXP after it
//	proxylog [auth]             print the records of PROXY (or AUTHPROXY)
//	crlf FILE                   turn FILE's LF line ends into CRLF
//	expand FILE                 replace $VAR and ${VAR} in FILE by their values
//	mkpattern bytes|text FILE OFF N   write the server's /bytes or /text body
//	cmppattern bytes|text FILE OFF N  FILE must be that body exactly
//	perm FILE MODE              FILE has MODE less the umask (e.g. 0666)
//
// TestScriptWithCurl runs the same scripts with Debian's curl in place of
// ocurl (OCURL_SCRIPT_CURL=1 makes TestScript do so too).
func TestScript(t *testing.T) {
	runScripts(t, os.Getenv("OCURL_SCRIPT_CURL") == "1")
}

// TestScriptWithCurl runs every "exits N ocurl" (and "tty N ocurl") with
// Debian's curl instead (and errmsg wants "curl: (N)"), so each script is
// checked against what curl does: a line for ocurl only starts with the
// condition [ocurl], a script for ocurl only with "[!ocurl] skip". Like the
// side-by-side test, it fails without curl under TLSOFFLOAD_REQUIRE_PEERS=1.
func TestScriptWithCurl(t *testing.T) {
	requireCurl(t)
	runScripts(t, true)
}

func runScripts(t *testing.T, asCurl bool) {
	srv := testserver.Start(t)
	testscript.Run(t, testscript.Params{
		Dir:         filepath.Join("testdata", "script"),
		WorkdirRoot: t.TempDir(),
		Setup: func(env *testscript.Env) error {
			vars := map[string]string{
				"HTTPS": srv.URL, "H2": srv.H2URL, "HTTP": srv.HTTPURL, "MTLS": srv.MTLSURL,
				"PORT": srv.Port, "H2PORT": srv.H2Port, "HTTPPORT": srv.HTTPPort,
				"ROOT": srv.RootFile, "CLIENTCERT": srv.ClientCertFile, "CLIENTKEY": srv.ClientKeyFile,
				"PIN": srv.Pin, "REFUSED": srv.RefusedAddr, "PROXYUSER": "puser:ppass",
			}
			for k, v := range vars {
				env.Setenv(k, v)
			}
			for _, p := range []struct {
				key string
				cfg testserver.ProxyConfig
			}{
				{"PROXY", testserver.ProxyConfig{}},
				{"AUTHPROXY", testserver.ProxyConfig{User: "puser", Password: "ppass"}},
			} {
				proxy, err := testserver.NewProxy(p.cfg)
				if err != nil {
					return err
				}
				env.Defer(proxy.Close)
				env.Values[p.key] = proxy
				env.Setenv(p.key, proxy.URL)
				env.Setenv(p.key+"ADDR", proxy.Addr)
			}
			env.Setenv("PROG", "ocurl")
			if asCurl {
				env.Setenv("PROG", "curl")
			}
			env.Values[curlModeKey{}] = asCurl
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "ocurl":
				return !asCurl, nil
			case "pty":
				m, s, err := newPTY()
				if err != nil {
					return false, nil
				}
				m.Close()
				s.Close()
				return true, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"tty":        cmdTTY,
			"exits":      cmdExits,
			"errmsg":     cmdErrmsg,
			"proxylog":   cmdProxylog,
			"crlf":       cmdCRLF,
			"expand":     cmdExpand,
			"mkpattern":  cmdMkpattern,
			"cmppattern": cmdCmppattern,
			"perm":       cmdPerm,
		},
	})
}

type curlModeKey struct{}

func curlMode(ts *testscript.TestScript) bool {
	b, _ := ts.Value(curlModeKey{}).(bool)
	return b
}

// exits N PROG ARGS...
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits N PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: %q is not an exit code", args[0])
	}
	prog := args[1]
	if prog == "ocurl" && curlMode(ts) {
		prog = "curl"
	}
	err = ts.Exec(prog, args[2:]...)
	got := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		got = exitErr.ExitCode()
	case err != nil:
		ts.Fatalf("exits: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", prog, got, want)
	}
}

// tty [-stdout] N PROG ARGS...
func cmdTTY(ts *testscript.TestScript, neg bool, args []string) {
	toTTY := len(args) > 0 && args[0] == "-stdout"
	if toTTY {
		args = args[1:]
	}
	if neg || len(args) < 2 {
		ts.Fatalf("usage: tty [-stdout] N PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("tty: %q is not an exit code", args[0])
	}
	prog := args[1]
	if prog == "ocurl" && curlMode(ts) {
		prog = "curl"
	}
	path := ""
	for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
		if p := filepath.Join(dir, prog); fileIsExecutable(p) {
			path = p
			break
		}
	}
	if path == "" {
		ts.Fatalf("tty: %s is not on PATH", prog)
	}
	master, tty, err := newPTY()
	ts.Check(err)
	defer master.Close()
	read := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(master) // EIO once every copy of tty is closed
		read <- b
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args[2:]...)
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = []string{"PATH=" + ts.Getenv("PATH"), "HOME=" + ts.Getenv("HOME"), "TMPDIR=" + ts.Getenv("TMPDIR"), "LC_ALL=C"}
	if c := ts.Getenv("COLUMNS"); c != "" {
		cmd.Env = append(cmd.Env, "COLUMNS="+c)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, tty
	if toTTY {
		cmd.Stdout = tty
	}
	err = cmd.Run()
	tty.Close()
	terminal := <-read
	got := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		got = exitErr.ExitCode()
	case err != nil:
		ts.Fatalf("tty: %v", err)
	}
	ts.Stdout().Write(out.Bytes())
	ts.Stderr().Write(terminal)
	if got != want {
		ts.Logf("[terminal]\n%q", terminal)
		ts.Fatalf("%s exited %d, want %d", prog, got, want)
	}
}

func fileIsExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// errmsg N [REGEXP]
func cmdErrmsg(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: errmsg N [REGEXP]")
	}
	prog := "ocurl"
	if curlMode(ts) {
		prog = "curl"
	}
	pattern := "(?m)^" + prog + `: \(` + regexp.QuoteMeta(args[0]) + `\) `
	if len(args) == 2 {
		pattern += ".*" + args[1]
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		ts.Fatalf("errmsg: %v", err)
	}
	stderr := ts.ReadFile("stderr")
	if re.MatchString(stderr) == neg {
		if neg {
			ts.Fatalf("stderr matches %q:\n%s", pattern, stderr)
		}
		ts.Fatalf("stderr does not match %q:\n%s", pattern, stderr)
	}
}

// proxylog [auth]
func cmdProxylog(ts *testscript.TestScript, neg bool, args []string) {
	key := "PROXY"
	if len(args) == 1 && args[0] == "auth" {
		key = "AUTHPROXY"
	} else if neg || len(args) != 0 {
		ts.Fatalf("usage: proxylog [auth]")
	}
	p := ts.Value(key).(*testserver.Proxy)
	for _, r := range p.Records() {
		fmt.Fprintln(ts.Stdout(), r)
	}
	ts.Stdout() // an empty log still replaces the last stdout
}

// crlf FILE
func cmdCRLF(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: crlf FILE")
	}
	name := ts.MkAbs(args[0])
	b, err := os.ReadFile(name)
	ts.Check(err)
	b = bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
	ts.Check(os.WriteFile(name, b, 0o666))
}

// expand FILE
func cmdExpand(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: expand FILE")
	}
	name := ts.MkAbs(args[0])
	b, err := os.ReadFile(name)
	ts.Check(err)
	ts.Check(os.WriteFile(name, []byte(os.Expand(string(b), ts.Getenv)), 0o666))
}

func patternArgs(ts *testscript.TestScript, cmd string, args []string) (string, []byte) {
	if len(args) != 4 {
		ts.Fatalf("usage: %s bytes|text FILE OFF N", cmd)
	}
	off, err1 := strconv.ParseInt(args[2], 10, 64)
	n, err2 := strconv.ParseInt(args[3], 10, 64)
	if err1 != nil || err2 != nil || off < 0 || n < 0 || n > 1<<30 {
		ts.Fatalf("%s: bad OFF or N", cmd)
	}
	switch args[0] {
	case "bytes":
		return ts.MkAbs(args[1]), testserver.Bytes(off, n)
	case "text":
		return ts.MkAbs(args[1]), testserver.Text(off, n)
	}
	ts.Fatalf("usage: %s bytes|text FILE OFF N", cmd)
	return "", nil
}

// mkpattern bytes|text FILE OFF N
func cmdMkpattern(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! mkpattern")
	}
	name, want := patternArgs(ts, "mkpattern", args)
	ts.Check(os.WriteFile(name, want, 0o666))
}

// cmppattern bytes|text FILE OFF N
func cmdCmppattern(ts *testscript.TestScript, neg bool, args []string) {
	name, want := patternArgs(ts, "cmppattern", args)
	got, err := os.ReadFile(name)
	ts.Check(err)
	if bytes.Equal(got, want) == neg {
		if neg {
			ts.Fatalf("%s is the pattern", args[1])
		}
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		ts.Fatalf("%s: %d bytes, want %d; first difference at offset %d", args[1], len(got), len(want), i)
	}
}

// perm FILE MODE
func cmdPerm(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: perm FILE MODE")
	}
	mode, err := strconv.ParseUint(args[1], 8, 32)
	if err != nil {
		ts.Fatalf("perm: %q is not an octal mode", args[1])
	}
	umask, err := processUmask()
	if err != nil {
		ts.Fatalf("perm: %v", err)
	}
	st, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	want := fs.FileMode(mode) &^ umask
	if (st.Mode().Perm() == want) == neg {
		ts.Fatalf("%s has mode %04o; want %s%04o (%s less the umask %04o)", args[0], st.Mode().Perm(), map[bool]string{true: "not ", false: ""}[neg], want, args[1], umask)
	}
}

// processUmask reads the umask from /proc (setting it to read it back would
// race with files other tests create meanwhile).
func processUmask() (fs.FileMode, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			return fs.FileMode(m), err
		}
	}
	return 0, errors.New("no Umask line in /proc/self/status")
}
