package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlsoffload/tlsoffload/internal/testserver"
)

// The flag tests run ocurl's Main in-process (ocurl, ocurlIn) against
// internal/testserver: its Server for what net/http can serve, its Raw
// server where a test needs the exact bytes of a request or a response,
// its Proxy for -x. Tests that need a real process (signals, a closed
// stdout, a umask) run ocurlBinary.

// ocurl runs Main's code with no stdin and an empty environment (no
// proxy from the machine's).
func ocurl(args ...string) (int, string, string) {
	return ocurlIn("", nil, args...)
}

// ocurlIn runs ocurl with stdin and an environment of its own.
func ocurlIn(stdin string, env map[string]string, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	iv := &invocation{stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr,
		getenv: func(k string) string { return env[k] }}
	code := iv.main(args)
	return code, stdout.String(), stderr.String()
}

// ocurlBinary links this test binary as DIR/ocurl: run by that name,
// TestMain runs ocurl's main (testscript.Main dispatches on the name).
func ocurlBinary(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "ocurl")
	if err := os.Symlink(self, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// echo is testserver's /echo answer, read back.
type echo struct {
	method, uri, proto, host string
	headers                  map[string][]string // by the name as sent
	transferEncoding         string
	clientCert               string
	bodyLength               string
	body                     string
	raw                      string
}

// header returns the values of a request header, joined with ", ".
func (e echo) header(name string) string {
	return strings.Join(e.headers[name], ", ")
}

// parseEcho reads an /echo answer; a body that is not one fails the test.
func parseEcho(t *testing.T, out string) echo {
	t.Helper()
	e := echo{headers: map[string][]string{}, raw: out}
	head, body, hasBody := strings.Cut(out, "\nbody:\n")
	if hasBody {
		e.body = body
	}
	for _, line := range strings.Split(head, "\n") {
		k, v, _ := strings.Cut(line, ": ")
		switch k {
		case "method":
			e.method = v
		case "uri":
			e.uri = v
		case "proto":
			e.proto = v
		case "host":
			e.host = v
		case "header":
			name, value, _ := strings.Cut(v, ": ")
			e.headers[name] = append(e.headers[name], value)
		case "transfer-encoding":
			e.transferEncoding = v
		case "client-certificate":
			e.clientCert = v
		case "body-length":
			e.bodyLength = v
		}
	}
	if e.method == "" || e.bodyLength == "" {
		t.Fatalf("not an /echo answer: %q", out)
	}
	return e
}

// reply is a Raw 200 answer with body.
var reply = testserver.Reply

// writeFile writes a file in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
