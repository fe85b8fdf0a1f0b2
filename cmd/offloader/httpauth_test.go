package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/server/metrics"
)

const httpToken = "s3cret-token-0123456789abcdef"

func authConfig(t *testing.T, listen, extra string, files map[string]string) (path string) {
	t.Helper()
	all := map[string]string{"o.yaml": "listen: 127.0.0.1:7443\nmetrics_listen: \"" + listen + "\"\n" + extra +
		"devices:\n  - id: d\n    psk: " + pskHex + "\n    allowed_names: ['*']\n"}
	for k, v := range files {
		all[k] = v
	}
	return filepath.Join(writeFiles(t, t.TempDir(), all), "o.yaml")
}

// TestCheckWarnsWhenExposed: check warns (and still succeeds) when the
// HTTP address is reachable from elsewhere with no credential; not when
// it is loopback or guarded.
func TestCheckWarnsWhenExposed(t *testing.T) {
	files := map[string]string{"http.token": httpToken + "\n", "http.basic": "ops:correct horse\n"}
	for _, tt := range []struct {
		listen, extra string
		warn          bool
	}{
		{"0.0.0.0:9464", "", true},
		{":9464", "", true},
		{"192.0.2.7:9464", "", true},
		{"127.0.0.1:9464", "", false},
		{"[::1]:9464", "", false},
		{"localhost:9464", "", false},
		{"0.0.0.0:9464", "http_token_file: http.token\n", false},
		{"0.0.0.0:9464", "http_basic_auth_file: http.basic\n", false},
	} {
		code, out, errOut := run("check", "-c", authConfig(t, tt.listen, tt.extra, files))
		if code != 0 || out != "ok: 1 devices\n" {
			t.Errorf("%s %q: exit %d, stdout %q, stderr %q", tt.listen, tt.extra, code, out, errOut)
		}
		warned := strings.HasPrefix(errOut, "offloader: warning: metrics_listen \""+tt.listen+"\" is not a loopback address")
		if warned != tt.warn || !tt.warn && errOut != "" {
			t.Errorf("%s %q: stderr %q, want a warning: %v", tt.listen, tt.extra, errOut, tt.warn)
		}
	}
}

func TestBadHTTPAuthConfigs(t *testing.T) {
	for _, tt := range []struct {
		name, extra, file, want string
	}{
		{"short token", "http_token_file: f\n", "abc\n", "http_token_file: DIR/f: want one token of 16 to 1024 characters, got 3"},
		{"token with a space", "http_token_file: f\n", "abcdefgh ijklmnopq\n", "http_token_file: DIR/f: the token has a space"},
		{"token file missing", "http_token_file: nofile\n", "", "http_token_file: open DIR/nofile: no such file or directory"},
		{"basic without colon", "http_basic_auth_file: f\n", "opscorrecthorse\n", "http_basic_auth_file: DIR/f: want \"user:password\", found no colon"},
		{"basic empty user", "http_basic_auth_file: f\n", ":correct horse\n", "http_basic_auth_file: DIR/f: the user name is empty"},
		{"basic short password", "http_basic_auth_file: f\n", "ops:horse\n", "http_basic_auth_file: DIR/f: the password is shorter than 8 characters"},
		{"basic two lines", "http_basic_auth_file: f\n", "ops:correct horse\nops2:battery staple\n", "http_basic_auth_file: DIR/f: want one line"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{}
			if tt.file != "" {
				files["f"] = tt.file
			}
			path := authConfig(t, "127.0.0.1:9464", tt.extra, files)
			want := "offloader: config " + path + ": " + strings.ReplaceAll(tt.want, "DIR", filepath.Dir(path))
			code, _, errOut := run("check", "-c", path)
			if code != 1 || !strings.HasPrefix(errOut, want) {
				t.Fatalf("exit %d, stderr %q\nwant %q", code, errOut, want)
			}
			if strings.Contains(errOut, "correct horse") || strings.Contains(errOut, "ijklmnopq") {
				t.Fatalf("the error quotes the credential: %q", errOut)
			}
		})
	}
	// A credential with no HTTP address to guard is a mistake.
	dir := writeFiles(t, t.TempDir(), map[string]string{"t": httpToken, "o.yaml": "listen: 127.0.0.1:7443\nhttp_token_file: t\n" +
		"devices:\n  - id: d\n    psk: " + pskHex + "\n    allowed_names: ['*']\n"})
	if code, _, errOut := run("check", "-c", filepath.Join(dir, "o.yaml")); code != 1 || !strings.Contains(errOut, "http_token_file: set without metrics_listen") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// TestHTTPAuthWrap: every path but /healthz needs the token or the user
// and password; a wrong one gets 401 and the challenge a browser answers.
func TestHTTPAuthWrap(t *testing.T) {
	path := authConfig(t, "0.0.0.0:9464", "http_token_file: t\nhttp_basic_auth_file: b\n",
		map[string]string{"t": httpToken + "\n", "b": "ops:correct horse\n"})
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("in")) })
	h := cfg.httpAuth.wrap(ok, newLoginGuard(cfg.serviceLimits, new(metrics.HTTPAuthRefusals), slog.New(slog.DiscardHandler)))
	for i, tt := range []struct {
		path string
		set  func(*http.Request)
		code int
	}{
		{"/", nil, 401},
		{"/metrics", nil, 401},
		{"/api/v1/stats", nil, 401},
		{"/healthz", nil, 200},
		{"/metrics", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+httpToken) }, 200},
		{"/metrics", func(r *http.Request) { r.Header.Set("Authorization", "bearer "+httpToken) }, 200},
		{"/metrics", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+httpToken+"x") }, 401},
		{"/metrics", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+httpToken[:20]) }, 401},
		{"/metrics", func(r *http.Request) { r.Header.Set("Authorization", httpToken) }, 401},
		{"/", func(r *http.Request) { r.SetBasicAuth("ops", "correct horse") }, 200},
		{"/", func(r *http.Request) { r.SetBasicAuth("ops", "correct horsE") }, 401},
		{"/", func(r *http.Request) { r.SetBasicAuth("root", "correct horse") }, 401},
		{"/", func(r *http.Request) { r.SetBasicAuth("ops", "") }, 401},
	} {
		req := httptest.NewRequest(http.MethodGet, tt.path, nil)
		req.RemoteAddr = fmt.Sprintf("192.0.2.%d:1234", i) // each its own source: none throttled
		if tt.set != nil {
			tt.set(req)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.code {
			t.Errorf("%s %v: %d, want %d", tt.path, req.Header, rec.Code, tt.code)
		}
		if rec.Code == 401 && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Basic realm=") {
			t.Errorf("401 with challenge %q", rec.Header().Get("WWW-Authenticate"))
		}
		if rec.Code == 401 && rec.Body.String() == "in" {
			t.Error("a refused request reached the handler")
		}
	}
	// No credential configured: the handler itself.
	var none httpAuth
	rec := httptest.NewRecorder()
	none.wrap(ok, nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != 200 {
		t.Errorf("no auth configured: %d", rec.Code)
	}
}

func TestSourceKey(t *testing.T) {
	for _, tt := range []struct{ remote, want string }{
		{"127.0.0.1:5000", "127.0.0.1/32"},
		{"192.0.2.7:1", "192.0.2.7/32"},
		{"[::ffff:192.0.2.7]:1", "192.0.2.7/32"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:80", "2001:db8:1:2::/64"},
		{"[2001:db8:1:3::1]:80", "2001:db8:1:3::/64"},
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"@", "invalid Prefix"},
		{"", "invalid Prefix"},
	} {
		if got := sourceKey(tt.remote).String(); got != tt.want {
			t.Errorf("%q: %s, want %s", tt.remote, got, tt.want)
		}
	}
}

// TestLoginThrottle: a source may fail burst times, then waits for its
// bucket; being admitted costs nothing; failures admitted together are
// paid for in waiting; other sources are untouched.
func TestLoginThrottle(t *testing.T) {
	const every = 10 * time.Second
	th := newLoginThrottle(5, every, 100)
	a, b, c := sourceKey("127.0.0.1:1"), sourceKey("127.0.0.2:1"), sourceKey("127.0.0.3:1")
	now := time.Unix(1000, 0)
	try := func(s netip.Prefix, at time.Time) bool {
		_, ok := th.admit(s, at)
		if ok {
			th.fail(s, at)
		}
		return ok
	}
	for i := range 20 {
		if _, ok := th.admit(a, now); !ok {
			t.Fatalf("admission %d with no failure refused", i)
		}
	}
	if th.size() != 0 {
		t.Fatalf("admissions alone hold %d sources", th.size())
	}
	for i := range 5 {
		if !try(a, now) {
			t.Fatalf("failure %d refused", i+1)
		}
	}
	if wait, ok := th.admit(a, now); ok || wait != every {
		t.Fatalf("6th try: ok %v, wait %v; want refused, %v", ok, wait, every)
	}
	if wait, ok := th.admit(a, now.Add(4*time.Second)); ok || wait != 6*time.Second {
		t.Fatalf("4s later: ok %v, wait %v; want refused, 6s", ok, wait)
	}
	if !try(b, now) {
		t.Fatal("another source throttled by a's failures")
	}
	if !try(a, now.Add(every)) {
		t.Fatal("no try after one refill period")
	}
	if try(a, now.Add(every)) {
		t.Fatal("two tries after one refill period")
	}
	// 20 tries admitted at once, all failing: c waits for all of them.
	for range 20 {
		if _, ok := th.admit(c, now); !ok {
			t.Fatal("c refused")
		}
	}
	for range 20 {
		th.fail(c, now)
	}
	if wait, ok := th.admit(c, now); ok || wait != 16*every {
		t.Errorf("after 20 concurrent failures: ok %v, wait %v; want refused, %v", ok, wait, 16*every)
	}
}

// TestLoginThrottleBound: a spray from many sources never grows the table
// past its bound; past it the sources not held share one bucket, so the
// spray gets no more guesses than one source; sources held and throttled
// stay throttled (a spray cannot evict them to reset them); sources whose
// buckets are full again make room.
func TestLoginThrottleBound(t *testing.T) {
	const every, max = 10 * time.Second, 8
	th := newLoginThrottle(5, every, max)
	now := time.Unix(1000, 0)
	src := func(i int) netip.Prefix {
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
	}
	fail := func(s netip.Prefix, at time.Time) bool {
		_, ok := th.admit(s, at)
		if ok {
			th.fail(s, at)
		}
		return ok
	}
	for i := range max {
		for range 5 {
			fail(src(i), now)
		}
	}
	// The spray: 10,000 sources, one guess each, over 3 s.
	got := 0
	for i := max; i < max+10000; i++ {
		if fail(src(i), now.Add(time.Duration(i)*300*time.Microsecond)) {
			got++
		}
	}
	if n := th.size(); n > max {
		t.Fatalf("table holds %d sources, bound %d", n, max)
	}
	if got != 5 {
		t.Errorf("the spray got %d guesses, want 5 (the shared bucket's)", got)
	}
	if fail(src(0), now.Add(3*time.Second)) {
		t.Error("a throttled source was evicted by the spray")
	}
	// Once the held sources' buckets are full again, a new source gets a
	// bucket of its own.
	later := now.Add(6 * every)
	if !fail(src(1<<20), later) {
		t.Fatal("a new source refused once the table could be swept")
	}
	th.mu.Lock()
	_, held := th.sources[src(1<<20)]
	th.mu.Unlock()
	if !held || th.size() != 1 {
		t.Errorf("after the sweep: new source held %v, table %d", held, th.size())
	}
}

// TestHTTPLoginThrottleDaemon: the built daemon, with both credential
// files and the default throttle. Five wrong passwords from 127.0.0.1 are
// answered 401; then 127.0.0.1 is answered 429 with Retry-After, the right
// password and the right token included, while 127.0.0.2 (another source
// on the same loopback) gets in with them, and /healthz stays open. The
// metric counts each refusal; the log names the source, never a
// credential.
func TestHTTPLoginThrottleDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	bin := buildOffloader(t)
	const wrongPass = "correct horse WRONG-guess"
	path := authConfig(t, "127.0.0.1:0", "http_token_file: t\nhttp_basic_auth_file: b\n",
		map[string]string{"t": httpToken + "\n", "b": basicUser + ":" + basicPass + "\n"})
	d := startDaemon(t, bin, path, 0)
	from := func(ip string) *http.Client {
		dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext}}
	}
	one, two := from("127.0.0.1"), from("127.0.0.2")
	defer one.CloseIdleConnections()
	defer two.CloseIdleConnections()
	get := func(c *http.Client, path string, set func(*http.Request)) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+d.metricsAddr+path, nil)
		if set != nil {
			set(req)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(strings.NewReader(string(body)))
		return resp
	}
	wrong := func(r *http.Request) { r.SetBasicAuth(basicUser, wrongPass) }
	rightBasic := func(r *http.Request) { r.SetBasicAuth(basicUser, basicPass) }
	rightToken := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+httpToken) }

	// A request with no credential is no guess: a browser's first.
	if resp := get(one, "/", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no credential: %s", resp.Status)
	}
	for i := range defaultHTTPAuthFailures {
		if resp := get(one, "/metrics", wrong); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %s", i+1, resp.Status)
		}
	}
	for _, tt := range []struct {
		name string
		path string
		set  func(*http.Request)
	}{
		{"wrong password", "/metrics", wrong},
		{"right password", "/", rightBasic},
		{"right token", "/api/v1/stats", rightToken},
	} {
		resp := get(one, tt.path, tt.set)
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("%s from 127.0.0.1 after %d failures: %s, want 429", tt.name, defaultHTTPAuthFailures, resp.Status)
		}
		ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if err != nil || ra < 1 || ra > int(defaultHTTPAuthRefill/time.Second) {
			t.Errorf("%s: Retry-After %q, want 1..%d seconds", tt.name, resp.Header.Get("Retry-After"), defaultHTTPAuthRefill/time.Second)
		}
	}
	if resp := get(one, "/healthz", nil); resp.StatusCode != 200 {
		t.Errorf("/healthz from a throttled source: %s", resp.Status)
	}
	// Another source is not throttled by 127.0.0.1's failures.
	if resp := get(two, "/", rightBasic); resp.StatusCode != 200 {
		t.Fatalf("right password from 127.0.0.2: %s", resp.Status)
	}
	resp := get(two, "/metrics", rightToken)
	if resp.StatusCode != 200 {
		t.Fatalf("right token from 127.0.0.2: %s", resp.Status)
	}
	body, _ := io.ReadAll(resp.Body)
	for reason, want := range map[string]float64{"no_credential": 1, "bad_credential": float64(defaultHTTPAuthFailures), "throttled": 3} {
		if got := metricIn(string(body), `tlsoffload_http_auth_refused_total{reason="`+reason+`"}`); got != want {
			t.Errorf("tlsoffload_http_auth_refused_total{reason=%q} %v, want %v", reason, got, want)
		}
	}
	waitLog(t, d, `reason=throttled remote=127.0.0.1 source=127.0.0.1/32 retry_after_s=`)
	logged := d.logged()
	if !strings.Contains(logged, `msg="offloader: http login refused" reason=bad_credential remote=127.0.0.1 source=127.0.0.1/32`) {
		t.Errorf("no log line for a wrong password:\n%s", tail(logged, 20))
	}
	for _, secret := range []string{wrongPass, basicPass, httpToken, basicUser + ":"} {
		if strings.Contains(logged, secret) {
			t.Errorf("the log holds a credential %q:\n%s", secret, logged)
		}
	}
	if err := d.stop(t); err != nil {
		t.Errorf("offloader after SIGTERM: %v\n%s", err, tail(d.logged(), 20))
	}
}

// TestHTTPAuthWrapFree: right credentials and requests with none cost a
// source nothing: after many of them, it still has all its failures.
func TestHTTPAuthWrapFree(t *testing.T) {
	path := authConfig(t, "127.0.0.1:9464", "http_token_file: t\n", map[string]string{"t": httpToken + "\n"})
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	var counts metrics.HTTPAuthRefusals
	h := cfg.httpAuth.wrap(http.NotFoundHandler(), newLoginGuard(cfg.serviceLimits, &counts, slog.New(slog.DiscardHandler)))
	do := func(auth string) int {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.RemoteAddr = "[2001:db8::1]:5000"
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for range 20 {
		if c := do("Bearer " + httpToken); c != 404 {
			t.Fatalf("right token: %d", c)
		}
		if c := do(""); c != 401 {
			t.Fatalf("no credential: %d", c)
		}
	}
	for i := range defaultHTTPAuthFailures {
		if c := do("Bearer wrong-token-0123456789"); c != 401 {
			t.Fatalf("wrong token %d: %d", i+1, c)
		}
	}
	if c := do("Bearer " + httpToken); c != 429 {
		t.Fatalf("right token after %d failures: %d, want 429", defaultHTTPAuthFailures, c)
	}
	if counts.Count(metrics.HTTPAuthNoCredential) != 20 || counts.Count(metrics.HTTPAuthBadCredential) != uint64(defaultHTTPAuthFailures) ||
		counts.Count(metrics.HTTPAuthThrottled) != 1 {
		t.Errorf("counts: none %d, bad %d, throttled %d", counts.Count(metrics.HTTPAuthNoCredential),
			counts.Count(metrics.HTTPAuthBadCredential), counts.Count(metrics.HTTPAuthThrottled))
	}
}

// TestHTTPCredentialsReload: the built daemon applies a rotated password
// on SIGHUP: the old one is refused, the new one let in, with no restart.
// A reload that drops the credentials opens the address (as configured).
func TestHTTPCredentialsReload(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	bin := buildOffloader(t)
	path := authConfig(t, "127.0.0.1:0", "http_basic_auth_file: b\n",
		map[string]string{"b": basicUser + ":first pass\n"})
	basic := filepath.Join(filepath.Dir(path), "b")
	d := startDaemon(t, bin, path, 0)
	status := func(pass string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+d.metricsAddr+"/metrics", nil)
		if pass != "" {
			req.SetBasicAuth(basicUser, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	reload := func(gen string) {
		t.Helper()
		if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitLog(t, d, "generation="+gen)
	}
	if got := status("first pass"); got != http.StatusOK {
		t.Fatalf("the first password: %d", got)
	}
	if err := os.WriteFile(basic, []byte(basicUser+":second pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reload("2")
	if got := status("first pass"); got != http.StatusUnauthorized {
		t.Errorf("the rotated-out password after the reload: %d, want 401", got)
	}
	if got := status("second pass"); got != http.StatusOK {
		t.Errorf("the new password after the reload: %d, want 200", got)
	}
	if strings.Contains(d.logged(), "http_basic_auth_file") {
		t.Errorf("the reload said the credentials wait for a restart:\n%s", tail(d.logged(), 10))
	}
	cfg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(cfg), "http_basic_auth_file: b\n", "", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	reload("3")
	if got := status(""); got != http.StatusOK {
		t.Errorf("no credential after a reload that dropped them: %d, want 200", got)
	}
}
