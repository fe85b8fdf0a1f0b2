package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/internal/testserver"
)

// The side-by-side test runs Debian's curl and ocurl with the same
// arguments against the same testserver, each in a fresh directory of its
// own, and compares what a user sees: the exit code, stdout, the files left
// in the directory (names, contents, modes), the "(N)" code of each error
// line on stderr, and what the proxy was asked to do. Both trust the test
// root through --cacert (curl with OpenSSL, ocurl with its embedded
// offloader), given first to every case unless the case says noCA.
//
// Run one case with: go test ./cmd/ocurl -run 'TestSideBySide/^NAME$' -v
//
// Placeholders in arguments, input files and environment values:
//
//	{https} {h2} {http} {mtls}   the server's URLs (https://localhost:PORT, ...)
//	{port} {h2port} {httpport}   their ports
//	{root} {clientcert} {clientkey} {pin} {refused}
//	{capath}                     a directory holding the root under its
//	                             OpenSSL hash name (openssl rehash), for both
//	{proxy} {authproxy}          proxies of this run's own (each tool has its own)
//	{tool}                       "curl-N" or "ocurl-N", unique per run (for /flaky
//	                             ids, which must not be printed)

// sideCase is one invocation.
type sideCase struct {
	name  string
	args  []string
	files map[string]string // input files, written into each tool's directory first
	stdin string
	env   []string // NAME=VALUE added to the environment
	noCA  bool     // do not prepend --cacert {root}
	// timing: -w prints times; each number with six decimals becomes "T".
	timing bool
	// jsonKeys: stdout is -w '%{json}'; compare only these keys.
	jsonKeys []string
	// except names aspects not compared ("stdout", "files", "exit",
	// "stderr"), each with the reason the difference is on purpose.
	except map[string]string
}

// runCounter makes {tool} unique per run.
var runCounter atomic.Int64

const (
	body12   = "binary\nbody\n"
	formText = "x=1\ny=2\n"
	upText   = "hello upload\n"
)

var sideCases = []sideCase{
	// Fetching and output.
	{name: "get", args: []string{"{https}/echo"}},
	{name: "get-http", args: []string{"{http}/echo?a=1"}},
	{name: "get-ip-literal", args: []string{"https://127.0.0.1:{port}/echo"}},
	{name: "include", args: []string{"-i", "{https}/raw/headers"}},
	{name: "include-echo", args: []string{"-i", "{https}/echo"}},
	{name: "include-chunked", args: []string{"-i", "{https}/chunked?chunks=4"}},
	{name: "include-no-reason", args: []string{"-i", "{https}/raw/no-reason"}},
	{name: "head", args: []string{"-I", "{https}/text/1000"}},
	{name: "head-raw", args: []string{"-I", "{https}/raw/headers"}},
	{name: "output", args: []string{"-o", "out.txt", "{https}/text/1000"}},
	{name: "output-binary", args: []string{"-o", "out.bin", "{https}/bytes/100000"}},
	{name: "output-large", args: []string{"-o", "large.bin", "{https}/bytes/20000000"}},
	{name: "progress-bar", args: []string{"-#", "-o", "out.txt", "{https}/text/5000"}},
	{name: "long-names", args: []string{"--location", "--include", "--user-agent", "agent/2", "--referer", "https://ref.test/", "--header", "X-A: 1",
		"--user", "u:p", "--data-raw", "x=1", "--output", "out.txt", "--dump-header", "hdr.txt", "--write-out", "%{http_code} %{num_redirects}\\n", "{https}/redirect/307"}},
	{name: "long-names-proxy", args: []string{"--proxy", "{authproxy}", "--proxy-user", "puser:ppass", "--insecure", "--silent", "--show-error", "--fail", "{https}/status/404"}, noCA: true},
	{name: "stdout-binary", args: []string{"{https}/bytes/3000"}},
	{name: "remote-name", args: []string{"-O", "{https}/text/2048"}},
	{name: "remote-header-name", args: []string{"-OJ", "{https}/disposition?filename=report.txt"}},
	{name: "remote-header-name-path", args: []string{"-OJ", "{https}/disposition?filename=../evil.txt"}},
	{name: "create-dirs", args: []string{"--create-dirs", "-o", "a/b/c.txt", "{https}/text/24"}},
	{name: "dump-header", args: []string{"-D", "hdr.txt", "{https}/raw/headers"}},
	{name: "dump-header-stdout", args: []string{"-D", "-", "{https}/status/202"}},
	{name: "chunked", args: []string{"{https}/chunked?chunks=5&size=7"}},
	{name: "slow-body", args: []string{"{https}/slow?chunks=3&delay=50ms"}},
	{name: "status-404", args: []string{"{https}/status/404"}},
	{name: "status-500-include", args: []string{"-i", "{https}/status/500"}},
	{name: "fail", args: []string{"-f", "{https}/status/404"}},
	{name: "fail-silent", args: []string{"-sf", "{https}/status/500"}},
	{name: "fail-with-body", args: []string{"--fail-with-body", "{https}/status/503"}},
	{name: "fail-output-file", args: []string{"-f", "-o", "out.txt", "{https}/status/500"}},

	// Redirects.
	{name: "redirect-not-followed", args: []string{"{https}/redirect/302"}},
	{name: "location-301", args: []string{"-L", "{https}/redirect/301"}},
	{name: "location-302-post", args: []string{"-L", "-d", "a=1", "{https}/redirect/302"}},
	{name: "location-303-post", args: []string{"-L", "-d", "a=1", "{https}/redirect/303"}},
	{name: "location-307-post", args: []string{"-L", "-d", "a=1", "{https}/redirect/307"}},
	{name: "location-308-data-binary", args: []string{"-L", "--data-binary", "@body.bin", "{https}/redirect/308"}, files: map[string]string{"body.bin": body12}},
	{name: "location-chain", args: []string{"-L", "{https}/chain/5?code=307"}},
	{name: "location-include", args: []string{"-iL", "{https}/chain/2"}},
	{name: "max-redirs", args: []string{"-L", "--max-redirs", "2", "{https}/chain/5"}},
	{name: "redirect-loop", args: []string{"-L", "{https}/loop"}},
	{name: "location-other-host", args: []string{"-L", "-u", "u:p", "--resolve", "other.test:{port}:127.0.0.1", "{https}/redirect/302?to=https://other.test:{port}/echo"}},
	{name: "location-trusted", args: []string{"-L", "--location-trusted", "-u", "u:p", "--resolve", "other.test:{port}:127.0.0.1", "{https}/redirect/302?to=https://other.test:{port}/echo"}},

	// Request bodies and methods.
	{name: "data", args: []string{"-d", "a=1", "-d", "b=2", "{https}/echo"}},
	{name: "data-file", args: []string{"-d", "@form.txt", "{https}/echo"}, files: map[string]string{"form.txt": formText}},
	{name: "data-binary", args: []string{"--data-binary", "@form.txt", "{https}/echo"}, files: map[string]string{"form.txt": formText}},
	{name: "data-raw", args: []string{"--data-raw", "@form.txt", "{https}/echo"}},
	{name: "data-urlencode", args: []string{"--data-urlencode", "q=a b&c/d", "{https}/echo"}},
	{name: "data-stdin", args: []string{"-d", "@-", "{https}/echo"}, stdin: formText},
	{name: "json", args: []string{"--json", `{"a":1}`, "{https}/echo"}},
	{name: "form", args: []string{"-F", "name=value", "-F", "file=@up.txt", "-F", "typed=@up.txt;type=application/x-test", "{https}/upload"}, files: map[string]string{"up.txt": upText}},
	{name: "upload", args: []string{"-T", "up.txt", "{https}/upload"}, files: map[string]string{"up.txt": upText}},
	{name: "upload-to-dir", args: []string{"-T", "up.txt", "{https}/upload/"}, files: map[string]string{"up.txt": upText}},
	{name: "upload-stdin", args: []string{"-T", "-", "{https}/upload"}, stdin: upText},
	{name: "get-with-data", args: []string{"-G", "-d", "a=1", "-d", "b=x", "{https}/echo"}},
	{name: "request-delete", args: []string{"-X", "DELETE", "{https}/echo"}},

	// Credentials and headers.
	{name: "user", args: []string{"-u", "alice:s3cret", "{https}/basic-auth/alice/s3cret"}},
	{name: "user-wrong", args: []string{"-u", "alice:nope", "{https}/basic-auth/alice/s3cret"}},
	{name: "user-agent", args: []string{"-A", "agent/9", "{https}/echo"}},
	{name: "referer", args: []string{"-e", "https://ref.test/page", "{https}/echo"}},
	{name: "header-replace", args: []string{"-H", "user-agent: mine", "-H", "Accept: text/plain", "{https}/echo"}},
	{name: "header-remove", args: []string{"-H", "Accept:", "{https}/echo"}},
	{name: "header-empty", args: []string{"-H", "X-Empty;", "{https}/echo"}},
	{name: "header-file", args: []string{"-H", "@headers.txt", "{https}/echo"}, files: map[string]string{"headers.txt": "X-From-File: one\nX-Second: two\n"}},
	{name: "header-host", args: []string{"-H", "Host: virtual.test", "{http}/echo"}},

	// Cookies.
	{name: "cookie-send", args: []string{"-b", "a=1; b=2", "{https}/cookies"}},
	{name: "cookie-jar", args: []string{"-c", "jar.txt", "{https}/cookies/fixed"}},
	{name: "cookie-file", args: []string{"-b", "jar.txt", "{https}/cookies"}, files: map[string]string{"jar.txt": "# Netscape HTTP Cookie File\n\n#HttpOnly_localhost\tFALSE\t/\tFALSE\t0\tsession\tabc123\nlocalhost\tFALSE\t/\tFALSE\t1924992000\ttheme\tdark\nlocalhost\tFALSE\t/other\tFALSE\t0\tother\tno\n"}},
	{name: "cookie-default-path", args: []string{"-c", "jar.txt", "-L", "{https}/cookies/set?c=a%3D1&c=b%3D2%3B%20Path%3D%2Fcookies%2F&redirect=/cookies"}},
	{name: "cookie-engine-redirect", args: []string{"-L", "-b", "", "{https}/cookies/fixed?redirect=/cookies"}},

	// Ranges and resume.
	{name: "range", args: []string{"-r", "0-99", "{https}/text/1000"}},
	{name: "range-suffix", args: []string{"-r", "-100", "{https}/text/1000"}},
	{name: "range-416", args: []string{"-r", "5000-6000", "{https}/text/1000"}},
	{name: "resume", args: []string{"-C", "-", "-o", "part.txt", "{https}/text/1000"}, files: map[string]string{"part.txt": string(testserver.Text(0, 300))}},

	// Compression.
	{name: "compressed-gzip", args: []string{"--compressed", "{https}/compress/gzip"}},
	{name: "compressed-deflate", args: []string{"--compressed", "{https}/compress/deflate"}},
	{name: "compressed-br", args: []string{"--compressed", "{https}/compress/br"}},
	{name: "compressed-auto", args: []string{"--compressed", "-i", "{https}/compress/auto"}},
	{name: "not-compressed", args: []string{"-o", "raw.gz", "{https}/compress/gzip"}},

	// -w.
	{name: "write-out", args: []string{"-L", "-o", "out.txt", "-w", "%{http_code} %{response_code} %{size_download} %{num_redirects} %{content_type} %{url_effective}\\n", "{https}/chain/2"}},
	{name: "write-out-tls", args: []string{"-o", "out.txt", "-w", "%{ssl_verify_result} %{scheme} %{method} %{http_version}\\n", "{https}/echo"}},
	{name: "write-out-timing", args: []string{"-o", "out.txt", "-w", "%{time_namelookup} %{time_connect} %{time_appconnect} %{time_total}\\n", "{https}/echo"}, timing: true},
	{name: "write-out-json", args: []string{"-o", "out.txt", "-w", "%{json}", "{https}/status/404"},
		jsonKeys: []string{"http_code", "response_code", "url_effective", "num_redirects", "size_download", "content_type", "method", "scheme", "exitcode", "http_version", "ssl_verify_result", "filename_effective"}},

	// Proxies.
	{name: "proxy-connect", args: []string{"-x", "{proxy}", "{https}/echo"}},
	{name: "proxy-forward", args: []string{"-x", "{proxy}", "{http}/echo"}},
	{name: "proxy-user", args: []string{"-x", "{authproxy}", "-U", "puser:ppass", "{https}/echo"}},
	{name: "proxy-auth-missing", args: []string{"-x", "{authproxy}", "{https}/echo"}},
	{name: "proxy-env", args: []string{"{https}/echo"}, env: []string{"https_proxy={proxy}"}},
	{name: "proxy-env-no-proxy", args: []string{"{http}/echo"}, env: []string{"http_proxy={proxy}", "no_proxy=localhost"}},
	{name: "noproxy", args: []string{"--noproxy", "*", "{http}/echo"}, env: []string{"http_proxy={proxy}"}},

	// Connection.
	{name: "resolve", args: []string{"--resolve", "server.test:{port}:127.0.0.1", "https://server.test:{port}/echo"}},
	{name: "resolve-wildcard", args: []string{"--resolve", "*:{port}:127.0.0.1", "https://server.test:{port}/echo"}},
	{name: "connect-to", args: []string{"--connect-to", "other.test:443:localhost:{port}", "https://other.test/echo"}},
	{name: "retry", args: []string{"--retry", "2", "--retry-delay", "1", "{https}/flaky?id={tool}-retry&fail=1"}},
	{name: "retry-max-time", args: []string{"--retry", "5", "--retry-delay", "1", "--retry-max-time", "1", "{https}/flaky?id={tool}-max&fail=5"}},
	{name: "retry-all-errors", args: []string{"-f", "--retry", "1", "--retry-delay", "1", "--retry-all-errors", "{https}/flaky?id={tool}-all&fail=1&code=404"}},
	{name: "multiple-urls", args: []string{"{https}/text/12", "{https}/status/200"}},
	{name: "multiple-outputs", args: []string{"-o", "a.txt", "{https}/text/24", "-o", "b.txt", "{https}/status/201"}},
	{name: "output-order", args: []string{"{https}/text/12", "-o", "d.txt", "{https}/status/200"}},
	{name: "parallel", args: []string{"-Z", "-o", "p1.txt", "{https}/text/1000", "-o", "p2.bin", "{https}/bytes/100000"}},
	{name: "config-file", args: []string{"-K", "conf.txt"}, files: map[string]string{"conf.txt": "# a config\nurl = \"{https}/echo\"\nheader: \"X-From-Config: yes\"\n-o out.txt\nwrite-out = \"code %{http_code}\\n\"\n"}},
	{name: "url-option", args: []string{"--url", "{https}/echo"}},
	{name: "limit-rate", args: []string{"--limit-rate", "200k", "-o", "out.txt", "{https}/text/40000"}},
	{name: "max-time-0", args: []string{"-m", "0", "{https}/slow?head=100ms"}},
	{name: "http2", args: []string{"--http2", "-i", "{h2}/echo"}},
	{name: "http1.1", args: []string{"--http1.1", "{h2}/echo"}},
	{name: "http2-prior-knowledge", args: []string{"--http2-prior-knowledge", "{http}/echo"}},

	// TLS.
	{name: "insecure", args: []string{"-k", "{https}/echo"}, noCA: true},
	{name: "pinnedpubkey", args: []string{"--pinnedpubkey", "{pin}", "{https}/echo"}},
	{name: "client-cert", args: []string{"--cert", "{clientcert}", "--key", "{clientkey}", "{mtls}/echo"}},
	{name: "ciphers", args: []string{"--ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384", "{https}/echo"}},
	{name: "ciphers-list", args: []string{"--ciphers", "TLS_AES_128_GCM_SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-SHA", "{https}/echo"}},
	{name: "ciphers-unknown", args: []string{"--ciphers", "NO-SUCH-SUITE", "{https}/echo"}},
	{name: "ciphers-mismatch", args: []string{"--ciphers", "AES128-GCM-SHA256", "{https}/echo"}},
	{name: "capath", args: []string{"--capath", "{capath}", "{https}/echo"}, noCA: true},
	{name: "capath-empty", args: []string{"--capath", "empty", "{https}/echo"}, files: map[string]string{"empty/.keep": ""}, noCA: true},

	// Brackets and braces: curl globs them; ocurl refuses (3) all but "[]".
	{name: "globoff", args: []string{"-g", "{https}/echo?q={a,b}&r=[1-3]"}},
	{name: "glob-empty-brackets", args: []string{"{https}/echo?a[]=1&a[]=2"}},

	// More flags and combinations people type.
	{name: "resolve-plus-several", args: []string{"--resolve", "+server.test:{port}:127.0.0.1,127.0.0.1", "https://server.test:{port}/echo"}},
	{name: "data-urlencode-file", args: []string{"--data-urlencode", "name@val.txt", "--data-urlencode", "=a b", "{https}/echo"}, files: map[string]string{"val.txt": "a b&c=d\n"}},
	{name: "json-stdin", args: []string{"--json", "@-", "{https}/echo"}, stdin: "{\"a\":1}\n"},
	{name: "write-out-file", args: []string{"-w", "@fmt.txt", "-o", "out.txt", "{https}/text/10"}, files: map[string]string{"fmt.txt": "%{http_code} %{size_download}\r cut by the CR\n %{content_type} %{response_code} %{num_connects}\\n\n"}},
	{name: "referer-auto", args: []string{"-L", "-e", "https://first.test/;auto", "{https}/redirect/302?to=/echo"}},
	{name: "head-location", args: []string{"-I", "-L", "{https}/redirect/301"}},
	{name: "header-twice", args: []string{"-H", "X-A: 1", "-H", "X-A: 2", "-H", "accept: text/plain", "{https}/echo"}},
	{name: "user-in-url", args: []string{"https://u:p@localhost:{port}/echo"}},
	{name: "output-dir", args: []string{"--output-dir", "d", "--create-dirs", "-O", "{https}/text/10"}},
	{name: "remote-name-all", args: []string{"--remote-name-all", "{https}/text/10", "{https}/text/20"}},
	{name: "max-filesize", args: []string{"--max-filesize", "100", "{https}/bytes/1000"}},
	{name: "post301", args: []string{"--post301", "-L", "-d", "x=1", "{https}/redirect/301"}},
	{name: "head-http2", args: []string{"-I", "--http2", "{h2}/echo"}},
	{name: "noproxy-star", args: []string{"-x", "{proxy}", "--noproxy", "*", "{https}/echo"}},
	{name: "get-data-and-query", args: []string{"-G", "-d", "b=2", "--data-urlencode", "c=x y", "{https}/echo?a=1"}},
	{name: "upload-put-post", args: []string{"-T", "up.txt", "-X", "POST", "{https}/echo"}, files: map[string]string{"up.txt": upText}},
	{name: "form-type", args: []string{"-F", "f=@up.txt;type=text/x-up", "-F", "s=str", "{https}/upload"}, files: map[string]string{"up.txt": upText}},
	{name: "fail-with-body-file", args: []string{"--fail-with-body", "-o", "out.txt", "{https}/status/500"}},
	{name: "json-writeout-keys", args: []string{"-o", "out.txt", "-w", "%{json}", "{https}/text/10"}, jsonKeys: []string{"http_code", "size_download", "url_effective", "num_redirects", "content_type", "http_version", "scheme", "method", "exitcode", "errormsg", "ssl_verify_result"}},
	{name: "include-dump-both", args: []string{"-i", "-D", "h.txt", "{https}/text/5"}},
	{name: "range-open", args: []string{"-r", "95-", "{https}/bytes/100"}},
	{name: "resume-file", args: []string{"-C", "-", "-o", "part.bin", "{https}/bytes/100"}, files: map[string]string{"part.bin": "0123456789"}},
	{name: "cookie-jar-and-send", args: []string{"-b", "a=1", "-c", "jar.txt", "-L", "{https}/cookies/fixed?redirect=/cookies"}},
	{name: "location-303-put", args: []string{"-L", "-X", "PUT", "-d", "x", "{https}/redirect/303"}},
	{name: "user-agent-empty", args: []string{"-A", "", "{https}/echo"}},
	{name: "header-host-override", args: []string{"-H", "Host: other.test", "{https}/echo"}},
	{name: "fail-22-stdout", args: []string{"-f", "{https}/status/401"}},
	{name: "exit-23-bad-dir", args: []string{"-o", "no/such/dir/out.txt", "{https}/text/10"}},
	{name: "exit-26-upload-missing", args: []string{"-T", "missing.txt", "{https}/upload"}},
	{name: "exit-26-form-missing", args: []string{"-F", "f=@missing.txt", "{https}/upload"}},
	{name: "exit-2-bad-retry", args: []string{"--retry", "x", "{https}/echo"}},
	{name: "exit-33-resume", args: []string{"-C", "5", "{https}/echo"}},
	{name: "parallel-outputs", args: []string{"-Z", "-o", "a.txt", "{https}/text/30", "-o", "b.txt", "{https}/text/40"}},
	{name: "url-twice", args: []string{"--url", "{https}/text/5", "--url", "{https}/text/6"}},
	{name: "data-crlf-file", args: []string{"-d", "@d.txt", "--data-binary", "@d.txt", "{https}/echo"}, files: map[string]string{"d.txt": "a=1\r\nb=2\r\n"}},
	{name: "form-from-file", args: []string{"-F", "a=<d.txt", "--form-string", "b=@literal", "{https}/upload"}, files: map[string]string{"d.txt": "content\n"}},
	{name: "compressed-include", args: []string{"--compressed", "-i", "{https}/compress/gzip"}},
	{name: "dump-stdout-output", args: []string{"-D", "-", "-o", "out.txt", "{https}/text/5"}},
	{name: "remote-name-query", args: []string{"-O", "{https}/text/7?x=1"}},
	{name: "remote-name-slash", args: []string{"-O", "{https}/echo/"}},
	{name: "remote-header-name-none", args: []string{"-O", "-J", "{https}/text/9"}},
	{name: "redirect-url", args: []string{"-w", "%{redirect_url}|%{http_code}", "{https}/redirect/302"}},
	{name: "sizes", args: []string{"-A", "x", "-o", "out.txt", "-d", "abc", "-w", "%{size_header} %{size_request} %{size_upload} %header{content-type} %{content_type}", "{https}/text/10"}},
	{name: "sizes-big", args: []string{"-A", "x", "-o", "out.txt", "-d", "@big.txt", "-w", "%{size_request} %{size_upload}", "{https}/echo"}, files: map[string]string{"big.txt": strings.Repeat("a", 70000)}},
	{name: "sizes-mid", args: []string{"-A", "x", "-o", "out.txt", "-d", "@big.txt", "-w", "%{size_request} %{size_upload}", "{https}/echo"}, files: map[string]string{"big.txt": strings.Repeat("a", 20000)}},
	{name: "sizes-upload", args: []string{"-A", "x", "-o", "out.txt", "-T", "big.txt", "-w", "%{size_request} %{size_upload}", "{https}/echo"}, files: map[string]string{"big.txt": strings.Repeat("a", 2000)}},
	{name: "sizes-form", args: []string{"-A", "x", "-o", "out.txt", "-F", "a=b", "-w", "%{size_request} %{size_upload}", "{https}/upload"}},
	{name: "sizes-h2", args: []string{"-A", "x", "-o", "out.txt", "--http2", "-d", "abc", "-w", "%{size_request} %{size_upload}", "{h2}/echo"}},
	{name: "sizes-redirect", args: []string{"-A", "x", "-L", "-o", "out.txt", "-d", "abc", "-w", "%{size_request} %{size_upload}", "{https}/redirect/307"}},
	{name: "max-redirs-0", args: []string{"-L", "--max-redirs", "0", "{https}/redirect/302"}},
	{name: "relative-location", args: []string{"-L", "{https}/redirect/302?to=../echo/x"}},
	{name: "tls-max", args: []string{"--tlsv1.2", "--tls-max", "1.2", "-w", "%{http_code}", "-o", "out.txt", "{https}/echo"}},
	{name: "http2-location", args: []string{"--http2", "-i", "-L", "{h2}/redirect/301"}},
	{name: "data-empty", args: []string{"-d", "", "{https}/echo"}},
	{name: "create-dirs-deep", args: []string{"--create-dirs", "-o", "a/b/c.txt", "{https}/text/3"}},
	{name: "basic-auth", args: []string{"-u", "alice:secret", "{https}/basic-auth/alice/secret"}},
	{name: "basic-auth-wrong-fail", args: []string{"-f", "-u", "alice:nope", "{https}/basic-auth/alice/secret"}},
	{name: "head-output", args: []string{"-I", "-o", "h.txt", "{https}/text/3"}},
	{name: "silent-fail-output", args: []string{"-sf", "-o", "out.txt", "{https}/status/503"}},
	{name: "header-file-crlf", args: []string{"-H", "@h.txt", "{https}/echo"}, files: map[string]string{"h.txt": "X-One: 1\r\nX-Two: 2\r\n"}},
	{name: "json-twice", args: []string{"--json", "{\"a\":", "--json", "1}", "{https}/echo"}},
	{name: "upload-glob-no", args: []string{"-T", "up.txt", "{https}/upload/"}, files: map[string]string{"up.txt": upText}},
	{name: "write-out-urlnum", args: []string{"-w", "%{urlnum} %{exitcode}\n", "{https}/text/2", "https://localhost:{httpport}/"}},
	{name: "config-stdin", args: []string{"-K", "-", "{https}/text/4"}, stdin: "silent\n-w \"%{http_code}\\n\"\n"},
	{name: "location-307-upload", args: []string{"-L", "-T", "up.txt", "{https}/redirect/307"}, files: map[string]string{"up.txt": upText}},
	{name: "include-304", args: []string{"-i", "{https}/status/304"}},
	{name: "status-204", args: []string{"-i", "{https}/status/204"}},
	{name: "proxytunnel-http", args: []string{"-p", "-x", "{proxy}", "{http}/echo"}},
	{name: "proxy-env-upper", args: []string{"{http}/echo"}, env: []string{"HTTP_PROXY={proxy}"}},
	{name: "proxy-env-all", args: []string{"{https}/echo"}, env: []string{"all_proxy={proxy}"}},
	{name: "proxy-env-https-upper", args: []string{"{https}/echo"}, env: []string{"HTTPS_PROXY={proxy}"}},
	{name: "proxy-env-noproxy-list", args: []string{"{https}/echo"}, env: []string{"https_proxy={proxy}", "no_proxy=example.com, localhost"}},
	{name: "proxy-env-noproxy-star", args: []string{"{https}/echo"}, env: []string{"https_proxy={proxy}", "NO_PROXY=*"}},
	{name: "proxy-option-empty", args: []string{"-x", "", "{https}/echo"}, env: []string{"https_proxy={proxy}"}},
	{name: "noproxy-ip", args: []string{"-x", "{proxy}", "--noproxy", "127.0.0.1", "https://127.0.0.1:{port}/echo"}},
	{name: "proxy-refused", args: []string{"-x", "{refused}", "{https}/echo"}},
	{name: "proxy-include-connect", args: []string{"-i", "-x", "{proxy}", "{https}/text/5"}},
	{name: "proxy-writeout", args: []string{"-x", "{proxy}", "-o", "out.txt", "-w", "%{http_connect} %{http_code}", "{https}/text/5"}},
	{name: "proxy-auth-fail-writeout", args: []string{"-x", "{authproxy}", "-w", "%{http_connect} %{http_code}", "{https}/text/5"}},
	{name: "ua-header-and-A", args: []string{"-A", "one", "-H", "User-Agent: two", "{https}/echo"}},
	{name: "accept-replace", args: []string{"-H", "Accept: text/html", "{https}/echo"}},
	{name: "content-type-replace", args: []string{"-H", "Content-Type: text/plain", "-d", "x", "{https}/echo"}},
	{name: "header-remove-accept", args: []string{"-H", "Accept:", "{https}/echo"}},
	{name: "referer-header", args: []string{"-H", "Referer: r1", "{https}/echo"}},
	{name: "O-and-o", args: []string{"-O", "{https}/text/11", "-o", "b.txt", "{https}/text/12"}},
	{name: "retry-connrefused", args: []string{"--retry", "1", "--retry-delay", "1", "--retry-connrefused", "http://{refused}/"}},
	{name: "fail-early", args: []string{"--fail-early", "-f", "{https}/status/404", "{https}/text/3"}},
	{name: "fail-not-early", args: []string{"-f", "{https}/status/404", "{https}/text/3"}},
	{name: "get-head-data", args: []string{"-G", "-I", "-d", "a=1", "{https}/echo"}},
	{name: "x-head", args: []string{"-X", "HEAD", "-m", "5", "{https}/text/0"}},
	{name: "method-lower", args: []string{"-X", "patch", "-d", "p", "{https}/echo"}},
	{name: "range-with-C", args: []string{"-r", "1-3", "{https}/text/50"}},
	{name: "compressed-head", args: []string{"--compressed", "-I", "{https}/compress/br"}},
	{name: "cookie-file-missing", args: []string{"-b", "nofile.txt", "{https}/cookies"}},
	{name: "cookie-name-only", args: []string{"-b", "justname", "{https}/cookies"}},
	{name: "json-file", args: []string{"--json", "@j.json", "{https}/echo"}, files: map[string]string{"j.json": "{\"a\": [1,2]}\n"}},
	{name: "connect-to-empty-host", args: []string{"--connect-to", "::127.0.0.1:{port}", "https://localhost:{port}/echo"}},
	{name: "connect-to-port-only", args: []string{"--connect-to", "localhost:1::{port}", "https://localhost:1/echo"}},
	{name: "connect-to-several", args: []string{"--connect-to", "nomatch.test:443:x:1", "--connect-to", "other.test:443:localhost:{port}", "https://other.test/echo"}},
	{name: "resolve-remove", args: []string{"--resolve", "server.test:{port}:127.0.0.1", "--resolve", "-server.test:{port}", "--resolve", "server.test:{port}:127.0.0.1", "https://server.test:{port}/echo"}},
	{name: "dump-header-redirects", args: []string{"-L", "-D", "h.txt", "-o", "b.txt", "{https}/redirect/302"}},
	{name: "include-redirects", args: []string{"-L", "-i", "{https}/redirect/301?to=/redirect/302"}},
	{name: "num-redirects", args: []string{"-L", "-o", "b.txt", "-w", "%{num_redirects} %{url_effective} %{http_code}", "{https}/redirect/301?to=/redirect/302"}},
	{name: "remote-header-name-exists", args: []string{"-OJ", "{https}/disposition?filename=report.txt"}, files: map[string]string{"report.txt": "old\n"}},
	{name: "remote-name-output-dir", args: []string{"--output-dir", "dir", "-O", "{https}/text/12"}, files: map[string]string{"dir/.keep": ""}},
	{name: "resume-complete", args: []string{"-C", "-", "-o", "part.txt", "{https}/text/300"}, files: map[string]string{"part.txt": string(testserver.Text(0, 300))}},
	{name: "resume-offset", args: []string{"-C", "100", "{https}/text/300"}},
	{name: "compressed-output", args: []string{"--compressed", "-o", "c.txt", "-w", "%{size_download}", "{https}/compress/gzip"}},
	{name: "data-at-literal", args: []string{"--data-raw", "@notafile", "{https}/echo"}},
	{name: "data-urlencode-plain", args: []string{"--data-urlencode", "a b=c&d", "{https}/echo"}},
	{name: "form-filename", args: []string{"-F", "f=@up.txt;filename=other.txt", "{https}/upload"}, files: map[string]string{"up.txt": upText}},
	{name: "get-I-head-redir", args: []string{"-I", "{https}/redirect/302"}},
	{name: "fail-include", args: []string{"-f", "-i", "{https}/status/404"}},
	{name: "write-out-header-json", args: []string{"-o", "o.txt", "-w", "%{header_json}", "{https}/raw/headers"},
		except: map[string]string{"stdout": "curl 7.88 keeps the CR of an empty field (X-Empty:) in %{header_json} as \"\\r\"; ocurl writes \"\""}},
	{name: "write-out-stdout-kw", args: []string{"-o", "o.txt", "-w", "%{stdout}a%{stderr}b%{stdout}c", "{https}/text/3"}},
	{name: "write-out-percent", args: []string{"-o", "o.txt", "-w", "100%% %{nope} %header{nope} \\t|", "{https}/text/3"}},
	{name: "write-out-filename", args: []string{"-O", "-w", "%{filename_effective}", "{https}/text/3"}},
	{name: "http2-prior-http", args: []string{"--http2-prior-knowledge", "-i", "{h2}/echo"}},
	{name: "user-colon-empty", args: []string{"-u", "user:", "{https}/echo"}},
	{name: "bearer", args: []string{"--oauth2-bearer", "tok", "{https}/echo"}},
	{name: "expect-big-post", args: []string{"-o", "o.txt", "-w", "%{http_code} %{size_upload}", "-d", "@big.txt", "{https}/upload"}, files: map[string]string{"big.txt": strings.Repeat("b", 1100000)}},
	{name: "max-time-ok", args: []string{"-m", "20", "{https}/text/5"}},
	{name: "ipv4", args: []string{"-4", "{https}/echo"}},
	// Errors and their exit codes.
	{name: "exit-1-protocol", args: []string{"foo://localhost/"}},
	{name: "exit-3-port", args: []string{"https://localhost:99999/"}},
	{name: "exit-3-space", args: []string{"http://exa mple.com/"}},
	{name: "exit-3-glob-range", args: []string{"{https}/echo/[a]"}},
	{name: "exit-3-glob-brace", args: []string{"{https}/echo/x}"}},
	{name: "exit-6-resolve", args: []string{"https://nonexistent.invalid/"}},
	{name: "exit-7-refused", args: []string{"http://{refused}/"}},
	{name: "exit-7-refused-https", args: []string{"https://{refused}/"}},
	{name: "exit-18-truncated", args: []string{"{https}/truncated?length=1000&send=100"}},
	{name: "exit-18-truncated-chunked", args: []string{"{https}/truncated-chunked"}},
	{name: "exit-18-output-file", args: []string{"-o", "out.txt", "{https}/truncated?length=5000&send=1000"},
		except: map[string]string{"files": "ocurl writes a regular file through a temporary file and leaves no partial file after a failure (issue 7, item 1); curl keeps what arrived"}},
	{name: "exit-22", args: []string{"-sSf", "{https}/status/403"}},
	{name: "exit-28-timeout", args: []string{"-m", "1", "{https}/slow?head=5s"}},
	{name: "exit-35-no-client-cert", args: []string{"{mtls}/echo"}},
	{name: "exit-47", args: []string{"-L", "--max-redirs", "0", "{https}/redirect/302"}},
	{name: "exit-60-untrusted", args: []string{"{https}/echo"}, noCA: true},
	{name: "exit-60-wrong-name", args: []string{"--resolve", "wrong.example:{port}:127.0.0.1", "https://wrong.example:{port}/echo"}},
	{name: "exit-77-cacert", args: []string{"--cacert", "missing.pem", "{https}/echo"}, noCA: true},
	{name: "exit-90-pin", args: []string{"--pinnedpubkey", "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "{https}/echo"}},
	{name: "no-scheme", args: []string{"localhost:{httpport}/echo"}},
}

// toolResult is what one tool did.
type toolResult struct {
	exit           int
	stdout, stderr string
	files          map[string]fileResult
	proxy          []string
	err            error // the tool could not be run at all
}

type fileResult struct {
	mode fs.FileMode
	data string
}

// requireCurl finds Debian's curl, or skips (fails under
// TLSOFFLOAD_REQUIRE_PEERS=1, as CI sets).
func requireCurl(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("TLSOFFLOAD_REQUIRE_PEERS") == "1" {
			t.Fatal("curl is not installed and TLSOFFLOAD_REQUIRE_PEERS=1 (.ci/run installs it)")
		}
		t.Skip("curl is not installed")
	}
	return path
}

func TestSideBySide(t *testing.T) {
	curl := requireCurl(t)
	ocurl := ocurlBinary(t)
	ts := sideServer(t)
	srv := &sideWorld{Server: ts, capath: capathDir(t, ts.RootFile)}

	names := map[string]bool{}
	for _, c := range sideCases {
		if names[c.name] {
			t.Fatalf("two cases named %s", c.name)
		}
		names[c.name] = true
	}

	for _, c := range sideCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if srv.capath == "" && strings.Contains(strings.Join(c.args, " "), "{capath}") {
				t.Skip("openssl is not installed (it makes {capath})")
			}
			var res [2]toolResult
			var wg sync.WaitGroup
			for i, bin := range []string{curl, ocurl} {
				tool := []string{"curl", "ocurl"}[i]
				dir := filepath.Join(t.TempDir(), tool)
				wg.Add(1)
				go func() {
					defer wg.Done()
					res[i] = runTool(srv, c, tool, bin, dir)
				}()
			}
			wg.Wait()
			t.Logf("curl and ocurl: exit %d and %d, %d and %d bytes of stdout, %d and %d files", res[0].exit, res[1].exit,
				len(res[0].stdout), len(res[1].stdout), len(res[0].files), len(res[1].files))
			if diffs := compareResults(c, res[0], res[1]); len(diffs) > 0 {
				t.Errorf("ocurl %s\n%s", strings.Join(c.args, " "), strings.Join(diffs, "\n"))
			}
		})
	}
}

// sideWorld is what both tools see: the server and {capath}.
type sideWorld struct {
	*testserver.Server
	capath string // "" without openssl
}

// capathDir makes {capath}: the test root under its OpenSSL subject hash,
// as c_rehash leaves a CA directory (curl with OpenSSL looks certificates
// up by that name; ocurl reads every file). "" if openssl is missing,
// which fails under TLSOFFLOAD_REQUIRE_PEERS=1.
func capathDir(t *testing.T, rootFile string) string {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("TLSOFFLOAD_REQUIRE_PEERS") == "1" {
			t.Fatal("openssl is not installed and TLSOFFLOAD_REQUIRE_PEERS=1")
		}
		return ""
	}
	hash, err := exec.Command(openssl, "x509", "-subject_hash", "-noout", "-in", rootFile).Output()
	if err != nil {
		t.Fatalf("openssl x509 -subject_hash: %v", err)
	}
	root, err := os.ReadFile(rootFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, strings.TrimSpace(string(hash))+".0"), root, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// sideServer is the server both tools talk to. Its /echo shows each
// tool's own User-Agent product token ("curl/7.88.1", "ocurl/1") as "UA",
// as the comparison normalises it anyway: else the echoed body's length,
// and with it Content-Length and %{size_download}, would differ by the
// length of the tool's name. A User-Agent of any other form (-A, -H) is
// shown as sent.
func sideServer(t *testing.T) *testserver.Server {
	return testserver.StartWith(t, testserver.Options{
		EchoUserAgent: func(v string) string { return userAgentRE.ReplaceAllString(v, "UA") },
	})
}

// runTool runs one tool for one case in dir, with proxies of its own.
func runTool(srv *sideWorld, c sideCase, tool, bin, dir string) toolResult {
	proxy, err := testserver.NewProxy(testserver.ProxyConfig{})
	if err != nil {
		return toolResult{err: err}
	}
	defer proxy.Close()
	authProxy, err := testserver.NewProxy(testserver.ProxyConfig{User: "puser", Password: "ppass"})
	if err != nil {
		return toolResult{err: err}
	}
	defer authProxy.Close()

	expand := strings.NewReplacer(
		"{https}", srv.URL, "{h2}", srv.H2URL, "{http}", srv.HTTPURL, "{mtls}", srv.MTLSURL,
		"{port}", srv.Port, "{h2port}", srv.H2Port, "{httpport}", srv.HTTPPort,
		"{root}", srv.RootFile, "{clientcert}", srv.ClientCertFile, "{clientkey}", srv.ClientKeyFile,
		"{pin}", srv.Pin, "{refused}", srv.RefusedAddr, "{capath}", srv.capath,
		"{proxy}", proxy.URL, "{authproxy}", authProxy.URL, "{tool}", fmt.Sprintf("%s-%d", tool, runCounter.Add(1)),
	).Replace

	work := filepath.Join(dir, "work")
	home := filepath.Join(dir, "home")
	tmp := filepath.Join(dir, "tmp")
	for _, d := range []string{work, home, tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return toolResult{err: err}
		}
	}
	for name, content := range c.files {
		p := filepath.Join(work, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return toolResult{err: err}
		}
		if err := os.WriteFile(p, []byte(expand(content)), 0o644); err != nil {
			return toolResult{err: err}
		}
	}

	var args []string
	if !c.noCA {
		args = append(args, "--cacert", srv.RootFile)
	}
	for _, a := range c.args {
		args = append(args, expand(a))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = work
	// A clean environment: no proxy variables or curlrc from the machine.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + tmp, "LC_ALL=C"}
	for _, e := range c.env {
		cmd.Env = append(cmd.Env, expand(e))
	}
	cmd.Stdin = strings.NewReader(c.stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	r := toolResult{}
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok || ctx.Err() != nil {
			return toolResult{err: fmt.Errorf("%s: %v (stderr %q)", tool, err, stderr.String())}
		}
		r.exit = ee.ExitCode()
	}
	r.stdout, r.stderr = stdout.String(), stderr.String()
	r.files, err = readTree(work)
	if err != nil {
		return toolResult{err: err}
	}
	for _, p := range []*testserver.Proxy{proxy, authProxy} {
		for _, rec := range p.Records() {
			r.proxy = append(r.proxy, rec.String())
		}
	}
	return r
}

// readTree returns every regular file under dir by its slash path.
func readTree(dir string) (map[string]fileResult, error) {
	files := map[string]fileResult{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		switch {
		case d.IsDir():
			if rel != "." {
				files[filepath.ToSlash(rel)+"/"] = fileResult{mode: info.Mode().Perm() | fs.ModeDir}
			}
		case info.Mode().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files[filepath.ToSlash(rel)] = fileResult{mode: info.Mode().Perm(), data: string(b)}
		default:
			files[filepath.ToSlash(rel)] = fileResult{mode: info.Mode()}
		}
		return nil
	})
	return files, err
}

// Normalisations: what must differ between the tools, each on purpose.
var (
	// The User-Agent names the tool and its version.
	userAgentRE = regexp.MustCompile(`\bo?curl/[0-9A-Za-z._+~-]+`)
	// Times of -w differ from run to run.
	timingRE = regexp.MustCompile(`\b[0-9]+\.[0-9]{6}\b`)
	// Error lines: "curl: (N) ..." and "ocurl: (N) ..."; the messages may
	// differ, the codes may not.
	errLineRE = regexp.MustCompile(`(?m)^(?:curl|ocurl): \(([0-9]+)\) `)
)

func normalise(c sideCase, s string) string {
	s = userAgentRE.ReplaceAllString(s, "UA")
	if c.timing {
		s = timingRE.ReplaceAllString(s, "T")
	}
	if len(c.jsonKeys) > 0 {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return "not JSON: " + s
		}
		keep := map[string]any{}
		for _, k := range c.jsonKeys {
			keep[k] = m[k]
		}
		b, _ := json.Marshal(keep)
		s = string(b)
	}
	return s
}

// normaliseFile: a cookie jar's comment header names the program that wrote
// it ("generated by libcurl"), and the order of its lines has no meaning.
func normaliseFile(data string) string {
	if !strings.HasPrefix(data, "# Netscape HTTP Cookie File") {
		return data
	}
	var lines []string
	for _, l := range strings.Split(data, "\n") {
		if l == "" || (strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "#HttpOnly_")) {
			continue
		}
		lines = append(lines, l)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// compareResults lists every difference that is not on purpose.
func compareResults(c sideCase, curl, ocurl toolResult) []string {
	if curl.err != nil || ocurl.err != nil {
		return []string{fmt.Sprintf("could not run: curl: %v; ocurl: %v", curl.err, ocurl.err)}
	}
	var diffs []string
	if _, ok := c.except["exit"]; !ok && curl.exit != ocurl.exit {
		diffs = append(diffs, fmt.Sprintf("exit code: curl %d, ocurl %d", curl.exit, ocurl.exit))
	}
	if _, ok := c.except["stdout"]; !ok {
		if d := diffText("stdout", normalise(c, curl.stdout), normalise(c, ocurl.stdout)); d != "" {
			diffs = append(diffs, d)
		}
	}
	if _, ok := c.except["stderr"]; !ok {
		for _, m := range errLineRE.FindAllStringSubmatch(curl.stderr, -1) {
			want := regexp.MustCompile(`(?m)^ocurl: \(` + m[1] + `\) `)
			if !want.MatchString(ocurl.stderr) {
				diffs = append(diffs, fmt.Sprintf("stderr: curl says %q, ocurl has no \"ocurl: (%s) \" line; ocurl's stderr:\n%s", strings.TrimSpace(firstLine(curl.stderr[strings.Index(curl.stderr, m[0]):])), m[1], indent(ocurl.stderr)))
			}
		}
	}
	if _, ok := c.except["files"]; !ok {
		diffs = append(diffs, diffFiles(curl.files, ocurl.files)...)
	}
	if strings.Join(curl.proxy, "\n") != strings.Join(ocurl.proxy, "\n") {
		diffs = append(diffs, fmt.Sprintf("proxy log: curl\n%s\nocurl\n%s", indent(strings.Join(curl.proxy, "\n")), indent(strings.Join(ocurl.proxy, "\n"))))
	}
	return diffs
}

func diffFiles(curl, ocurl map[string]fileResult) []string {
	var names []string
	for n := range curl {
		names = append(names, n)
	}
	for n := range ocurl {
		if _, ok := curl[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var diffs []string
	for _, n := range names {
		cf, cok := curl[n]
		of, ook := ocurl[n]
		switch {
		case !ook:
			diffs = append(diffs, fmt.Sprintf("file %s: written by curl (%d bytes), not by ocurl", n, len(cf.data)))
		case !cok:
			diffs = append(diffs, fmt.Sprintf("file %s: written by ocurl (%d bytes), not by curl", n, len(of.data)))
		default:
			if cf.mode != of.mode {
				diffs = append(diffs, fmt.Sprintf("file %s: mode curl %v, ocurl %v", n, cf.mode, of.mode))
			}
			if d := diffText("file "+n, normaliseFile(cf.data), normaliseFile(of.data)); d != "" {
				diffs = append(diffs, d)
			}
		}
	}
	return diffs
}

// diffText describes how two outputs differ: sizes and the first
// differing line with its neighbours (as quoted strings, so CR, tabs and
// binary show).
func diffText(what, curl, ocurl string) string {
	if curl == ocurl {
		return ""
	}
	cl, ol := strings.SplitAfter(curl, "\n"), strings.SplitAfter(ocurl, "\n")
	i := 0
	for i < len(cl) && i < len(ol) && cl[i] == ol[i] {
		i++
	}
	show := func(lines []string) string {
		var b strings.Builder
		for j := max(0, i-2); j < min(len(lines), i+3); j++ {
			mark := "  "
			if j == i {
				mark = "> "
			}
			fmt.Fprintf(&b, "      %s%.200q\n", mark, lines[j])
		}
		return b.String()
	}
	return fmt.Sprintf("%s differs (curl %d bytes, ocurl %d bytes) at line %d:\n    curl:\n%s    ocurl:\n%s", what, len(curl), len(ocurl), i+1, show(cl), show(ol))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func indent(s string) string {
	if s == "" {
		return "      (nothing)"
	}
	return "      " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n      ")
}

// TestSideBySideCompare checks the comparison itself: each aspect that
// differs is reported, and only the normalised differences pass.
func TestSideBySideCompare(t *testing.T) {
	base := func() toolResult {
		return toolResult{
			stdout: "header: User-Agent: curl/7.88.1\n",
			stderr: "curl: (22) The requested URL returned error: 404\n",
			exit:   22,
			files: map[string]fileResult{
				"jar.txt": {mode: 0o644, data: "# Netscape HTTP Cookie File\n# generated by libcurl\n\nb\t2\na\t1\n"},
			},
			proxy: []string{"CONNECT localhost:1 200 auth=none"},
		}
	}
	curl := base()
	same := base()
	same.stdout = "header: User-Agent: ocurl/1\n"
	same.stderr = "ocurl: (22) the requested URL returned error: 404\nocurl: hint: …\n"
	same.files = map[string]fileResult{"jar.txt": {mode: 0o644, data: "# Netscape HTTP Cookie File\n\na\t1\nb\t2\n"}}
	if d := compareResults(sideCase{}, curl, same); len(d) != 0 {
		t.Fatalf("equal results after normalisation differ:\n%s", strings.Join(d, "\n"))
	}

	for name, change := range map[string]func(*toolResult){
		"exit code":  func(r *toolResult) { r.exit = 0 },
		"stdout":     func(r *toolResult) { r.stdout += "x" },
		"stderr":     func(r *toolResult) { r.stderr = "ocurl: error: 404\n" },
		"file jar":   func(r *toolResult) { r.files["jar.txt"] = fileResult{mode: 0o644, data: "a\t1\n"} },
		"mode":       func(r *toolResult) { r.files["jar.txt"] = fileResult{mode: 0o600, data: same.files["jar.txt"].data} },
		"not by":     func(r *toolResult) { delete(r.files, "jar.txt") },
		"proxy log":  func(r *toolResult) { r.proxy = nil },
		"could not":  func(r *toolResult) { r.err = fmt.Errorf("boom") },
		"written by": func(r *toolResult) { r.files["extra"] = fileResult{} },
	} {
		o := base()
		o.stdout, o.stderr = same.stdout, same.stderr
		o.files = map[string]fileResult{"jar.txt": same.files["jar.txt"]}
		change(&o)
		d := strings.Join(compareResults(sideCase{}, curl, o), "\n")
		if !strings.Contains(d, strings.Fields(name)[0]) {
			t.Errorf("%s: not reported; got %q", name, d)
		}
	}

	// An aspect in except is not compared.
	o := same
	o.exit = 0
	if d := compareResults(sideCase{except: map[string]string{"exit": "on purpose"}}, curl, o); len(d) != 0 {
		t.Errorf("except exit: %v", d)
	}
	// Timings and JSON keys.
	c := sideCase{timing: true}
	if normalise(c, "0.000123 1.500000\n") != normalise(c, "0.004567 0.000001\n") {
		t.Error("timings not normalised")
	}
	c = sideCase{jsonKeys: []string{"http_code"}}
	if normalise(c, `{"http_code":200,"curl_version":"x"}`) != normalise(c, `{"curl_version":"y","http_code":200}`) ||
		normalise(c, `{"http_code":200}`) == normalise(c, `{"http_code":404}`) {
		t.Error("JSON keys not compared as asked")
	}
}
