package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlsoffload/tlsoffload/internal/testserver"
)

// -O names the file after the URL, -J after Content-Disposition (no
// directory, never over a file), --output-dir and --create-dirs place it,
// and -o/-O pair with the URLs in order.
func TestRemoteNames(t *testing.T) {
	s := testserver.Start(t)
	base := s.HTTPURL
	cd := base + "/disposition?filename=../evil/from-cd.txt"
	dir := t.TempDir()
	t.Chdir(dir)
	if code, out, _ := ocurl("-O", base+"/echo/a/plain.txt"); code != 0 || out != "" {
		t.Fatalf("-O: exit %d out %q", code, out)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "plain.txt")); !strings.HasPrefix(string(got), "method: GET\nuri: /echo/a/plain.txt\n") {
		t.Fatalf("-O wrote %q", got)
	}
	code, _, errOut := ocurl("-O", base+"/echo/a/")
	if code != exitWrite || !strings.Contains(errOut, "Remote file name has no length!") {
		t.Fatalf("-O without a name: exit %d %s", code, errOut)
	}
	if code, _, errOut := ocurl("-OJ", "--output-dir", "sub", "--create-dirs", cd); code != 0 {
		t.Fatalf("-OJ: exit %d %s", code, errOut)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "sub", "from-cd.txt")); string(got) != "attachment body\n" {
		t.Fatalf("-OJ wrote %q", got)
	}
	code, _, errOut = ocurl("-OJ", "--output-dir", "sub", cd)
	if code != exitWrite || !strings.Contains(errOut, "Refusing to overwrite sub/from-cd.txt") {
		t.Fatalf("-OJ over a file: exit %d %s", code, errOut)
	}
	if code, _, _ := ocurl("-OJ", base+"/echo/b/nocd.txt"); code != 0 {
		t.Fatalf("-OJ without Content-Disposition: exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "nocd.txt")); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := ocurl("-iOJ", cd); code != exitUsage || !strings.Contains(errOut, "cannot be combined") {
		t.Fatalf("-iOJ: exit %d %s", code, errOut)
	}
	code, out, _ := ocurl("-o", "first", base+"/text/1", base+"/text/2", "-o", "deep/er/second", "--create-dirs", base+"/text/3")
	a, _ := os.ReadFile("first")
	b, _ := os.ReadFile("deep/er/second")
	if code != 0 || out != "lin" || string(a) != "l" || string(b) != "li" {
		t.Fatalf("pairing: exit %d out %q first %q second %q", code, out, a, b)
	}
	if code, out, _ := ocurl("--remote-name-all", "--output-dir", "all", "--create-dirs", base+"/echo/x1", base+"/echo/x2"); code != 0 || out != "" {
		t.Fatalf("--remote-name-all: exit %d out %q", code, out)
	}
	if entries, _ := os.ReadDir("all"); len(entries) != 2 {
		t.Fatalf("--remote-name-all wrote %v", entries)
	}
	if code, _, _ := ocurl("-o", "no/such/dir/file", base+"/text/1"); code != exitWrite {
		t.Fatalf("-o into a missing directory: exit %d", code)
	}
}

// -f writes nothing of an error's body (the head still with -i);
// --fail-with-body writes it; both exit 22.
func TestFailWithBody(t *testing.T) {
	s := testserver.Start(t)
	url := s.HTTPURL + "/status/404"
	if code, out, errOut := ocurl("-f", url); code != exitHTTPError || out != "" || !strings.Contains(errOut, "ocurl: (22) The requested URL returned error: 404") {
		t.Fatalf("-f: exit %d out %q err %q", code, out, errOut)
	}
	if code, out, _ := ocurl("-fi", url); code != exitHTTPError || !strings.HasPrefix(out, "HTTP/1.1 404 Not Found\r\n") || strings.Contains(out, "status 404") {
		t.Fatalf("-fi: exit %d out %q", code, out)
	}
	if code, out, _ := ocurl("--fail-with-body", url); code != exitHTTPError || out != "status 404\n" {
		t.Fatalf("--fail-with-body: exit %d out %q", code, out)
	}
	file := filepath.Join(t.TempDir(), "out")
	if code, _, _ := ocurl("--fail-with-body", "-o", file, url); code != exitHTTPError {
		t.Fatalf("exit %d", code)
	}
	if got, err := os.ReadFile(file); err != nil || string(got) != "status 404\n" {
		t.Fatalf("--fail-with-body -o: the file holds %q (%v); curl keeps the body", got, err)
	}
	if code, _, _ := ocurl("-f", "-o", file+"2", url); code != exitHTTPError {
		t.Fatalf("exit %d", code)
	}
	if _, err := os.Stat(file + "2"); err == nil {
		t.Fatal("-f -o left a file")
	}
}

// -w prints curl's variables after each transfer, failed ones too.
func TestWriteOut(t *testing.T) {
	s := testserver.Start(t)
	// A head with a header twice, in two cases.
	url := rawURL(s.HTTPURL, []string{"Content-Type: text/x", "X-A: 1", "x-a: 2", "Content-Length: 5"}, []byte("hello"))
	code, out, errOut := ocurl("-o", filepath.Join(t.TempDir(), "f"), "-w",
		`%{http_code} %{size_download} %{num_headers} %{content_type} %{http_version} %{method} %{scheme} %{url_effective} %{exitcode} %header{x-a}|%{nope}|%%\n\t\q%{`, url)
	want := "200 5 4 text/x 1.1 GET HTTP " + url + " 0 1, 2||%\n\t\\q%{"
	if code != 0 || out != want || !strings.Contains(errOut, "unknown --write-out variable: 'nope'") {
		t.Fatalf("exit %d\nout %q\nwant %q\nerr %q", code, out, want, errOut)
	}
	fmtFile := writeFile(t, t.TempDir(), "fmt", "%{http_code}\\n%{stderr}to stderr %{remote_port}")
	code, out, errOut = ocurl("-s", "-o", filepath.Join(t.TempDir(), "f"), "-w", "@"+fmtFile, url)
	if code != 0 || out != "200\n" || errOut != "to stderr "+s.HTTPPort {
		t.Fatalf("@file: exit %d out %q err %q", code, out, errOut)
	}
	code, out, _ = ocurl("-s", "-o", filepath.Join(t.TempDir(), "f"), "-w", "%{json}", url)
	var j map[string]any
	if err := json.Unmarshal([]byte(out), &j); err != nil || code != 0 {
		t.Fatalf("%%{json}: exit %d %v %q", code, err, out)
	}
	for k, v := range map[string]any{"http_code": 200.0, "size_download": 5.0, "errormsg": nil, "redirect_url": nil, "scheme": "HTTP",
		"url": url, "num_connects": 1.0, "tls_version": "", "curl_version": "ocurl/1 (tlsoffload)"} {
		if j[k] != v {
			t.Errorf("%%{json} %s = %#v, want %#v", k, j[k], v)
		}
	}
	// Over redirects, size_download is the last body's.
	code, out, _ = ocurl("-sL", "-o", filepath.Join(t.TempDir(), "f"), "-w", "%{size_download} %{num_redirects}", s.HTTPURL+"/redirect/302?to=/text/77")
	if code != 0 || out != "77 1" {
		t.Fatalf("-L size_download: %q, want 77 1", out)
	}
	code, out, _ = ocurl("-s", "-o", filepath.Join(t.TempDir(), "f"), "-w", "%{header_json}", url)
	if code != 0 || out != "{\"content-type\":[\"text/x\"],\n\"x-a\":[\"1\",\"2\"],\n\"content-length\":[\"5\"]\n}" {
		t.Fatalf("%%{header_json}: %q", out)
	}
	// A failed transfer: 000, its exit code and message; %{onerror}.
	refused := "http://" + s.RefusedAddr + "/"
	code, out, _ = ocurl("-s", "-w", "%{http_code} %{exitcode} %{url_effective}%{onerror} failed: %{errormsg}", refused)
	if code != exitConnect || !strings.HasPrefix(out, "000 7 "+refused+" failed: Failed to connect to 127.0.0.1 port ") {
		t.Fatalf("failure: exit %d out %q", code, out)
	}
	if code, out, _ := ocurl("-s", "-w", "ok%{onerror}not shown", url); code != 0 || out != "hellook" {
		t.Fatalf("%%{onerror} on success: %q", out)
	}
}

// The offload's own -w variables, over a real handshake: a full one makes
// one offloader round trip for Start and one for the pipelined flight; a
// resumed one none.
func TestWriteOutOffload(t *testing.T) {
	s := testserver.Start(t)
	url := s.URL + "/echo"
	w := "%{tls_version} %{tls_cipher} %{offload_round_trips} %{tls_resumed} %{ssl_verify_result} %{num_certs} %{time_offload}\n"
	dir := t.TempDir()
	code, out, errOut := ocurl("--cacert", s.RootFile, "-o", filepath.Join(dir, "1"), "-o", filepath.Join(dir, "2"), "-w", w, "-H", "Connection: close", url, url)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("exit %d out %q err %s", code, out, errOut)
	}
	f1, f2 := strings.Fields(lines[0]), strings.Fields(lines[1])
	if f1[0] != "TLSv1.2" || f1[1] != "ECDHE-ECDSA-AES128-GCM-SHA256" || f1[2] != "2" || f1[3] != "0" || f1[4] != "0" || f1[5] != "2" || f1[6] == "0.000000" {
		t.Errorf("full handshake: %q", lines[0])
	}
	if f2[2] != "0" || f2[3] != "1" || f2[6] != "0.000000" {
		t.Errorf("resumed handshake: %q", lines[1])
	}
	code, out, _ = ocurl("--sequential", "--cacert", s.RootFile, "-o", filepath.Join(t.TempDir(), "f"), "-w", "%{offload_round_trips}", url)
	if code != 0 || out != "4" {
		t.Errorf("--sequential: exit %d, %q round trips, want Start + 3", code, out)
	}
}
