package integration

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/internal/peers"
)

// startNginx serves dir/www over TLS 1.2 with the leaf and returns its
// address; extra directives go in the server block.
func startNginx(t *testing.T, leaf *testpki.Leaf, extra ...string) (addr, www string) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile, err := leaf.WriteFiles(dir, "server")
	if err != nil {
		t.Fatal(err)
	}
	www = filepath.Join(dir, "www")
	os.Mkdir(www, 0o755)
	srv := peers.StartNginx(t, dir, "types { application/octet-stream bin; text/plain txt; }",
		fmt.Sprintf("ssl_certificate %s;\n    ssl_certificate_key %s;\n    ssl_protocols TLSv1.2;\n    root %s;\n    %s",
			certFile, keyFile, www, strings.Join(extra, "\n    ")))
	return srv.Addr, www
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
