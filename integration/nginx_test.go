package integration

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

// startNginx serves dir/www over TLS 1.2 with the leaf and returns its
// address; extra directives go in the server block.
func startNginx(t *testing.T, leaf *testpki.Leaf, extra ...string) (addr, www string) {
	t.Helper()
	bin := requirePeer(t, "nginx")
	dir := t.TempDir()
	certFile, keyFile, err := leaf.WriteFiles(dir, "server")
	if err != nil {
		t.Fatal(err)
	}
	www = filepath.Join(dir, "www")
	os.Mkdir(www, 0o755)
	os.Mkdir(filepath.Join(dir, "tmp"), 0o755)
	// nginx cannot report a port chosen by the kernel: take a free one.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = l.Addr().String()
	l.Close()
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/tmp; proxy_temp_path %[1]s/tmp; fastcgi_temp_path %[1]s/tmp;
  uwsgi_temp_path %[1]s/tmp; scgi_temp_path %[1]s/tmp;
  types { application/octet-stream bin; text/plain txt; }
  server {
    listen %[2]s ssl;
    ssl_certificate %[3]s;
    ssl_certificate_key %[4]s;
    ssl_protocols TLSv1.2;
    root %[5]s;
    %[6]s
  }
}
`, dir, addr, certFile, keyFile, www, strings.Join(extra, "\n    "))
	confFile := filepath.Join(dir, "nginx.conf")
	os.WriteFile(confFile, []byte(conf), 0o644)
	cmd := exec.Command(bin, "-p", dir, "-c", confFile, "-e", filepath.Join(dir, "error.log"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr, www
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not listen on %s: %v\n%s\n%s", addr, err, out.String(), log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ocurl against nginx serving a file: the body arrives byte for byte, and
// -o leaves no file at all when the fetch fails.
func TestOcurlNginxFile(t *testing.T) {
	p := testPKI(t)
	rootFile := filepath.Join(t.TempDir(), "root.pem")
	os.WriteFile(rootFile, p.RootPEM(), 0o644)
	for _, key := range []testpki.KeyType{testpki.RSA2048, testpki.ECDSAP256} {
		t.Run(fmt.Sprint(key), func(t *testing.T) {
			addr, www := startNginx(t, issue(t, key, testpki.Good))
			body := make([]byte, 1<<20+123)
			rand.Read(body)
			os.WriteFile(filepath.Join(www, "blob.bin"), body, 0o644)
			out := filepath.Join(t.TempDir(), "got.bin")
			_, port, _ := net.SplitHostPort(addr)
			code, _, stderr := runOcurl(t, "-sS", "--cacert", rootFile, "-o", out,
				"--resolve", "localhost:"+port+":127.0.0.1", "https://localhost:"+port+"/blob.bin")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			got, err := os.ReadFile(out)
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("body differs (%d bytes, want %d): %v", len(got), len(body), err)
			}

			// -f on a 404 exits 22 and leaves no output file behind.
			missing := filepath.Join(t.TempDir(), "missing.bin")
			code, _, stderr = runOcurl(t, "-f", "--cacert", rootFile, "-o", missing, "https://"+addr+"/nope")
			if code != 22 {
				t.Fatalf("exit %d, want 22: %s", code, stderr)
			}
			entries, _ := os.ReadDir(filepath.Dir(missing))
			if len(entries) != 0 {
				t.Fatalf("files left after a failure: %v", entries)
			}
		})
	}
}
