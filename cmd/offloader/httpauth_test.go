package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
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
	h := cfg.httpAuth.wrap(ok)
	for _, tt := range []struct {
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
	none.wrap(ok).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != 200 {
		t.Errorf("no auth configured: %d", rec.Code)
	}
}
