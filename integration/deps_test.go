package integration

import (
	"os/exec"
	"strings"
	"testing"
)

// devicePackages are what a device binary links for the TLS path.
var devicePackages = []string{
	"github.com/tlsoffload/tlsoffload/tlsclient",
	"github.com/tlsoffload/tlsoffload/offloader/client",
	"github.com/tlsoffload/tlsoffload/offloader/wire",
	"github.com/tlsoffload/tlsoffload/record",
	"github.com/tlsoffload/tlsoffload/handshake",
}

// forbiddenOnDevice are packages that must never reach a device binary:
// the server, its metrics and config, the verifier, and uTLS (which a device
// links only through its own fingerprint sub-package, when it asks). An
// entry ending in "/" forbids a whole tree; any other entry one package.
var forbiddenOnDevice = []string{
	"github.com/tlsoffload/tlsoffload/offloader/server",
	"github.com/tlsoffload/tlsoffload/offloader/server/",
	"github.com/tlsoffload/tlsoffload/certs",
	"github.com/tlsoffload/tlsoffload/certs/",
	"github.com/prometheus/",
	"github.com/refraction-networking/",
	"go.yaml.in/",
	"net/http", // a device that wants HTTP brings it; the TLS path does not
}

func TestDevicePackagesStayLean(t *testing.T) {
	out, err := exec.Command("go", append([]string{"list", "-deps"}, devicePackages...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < len(devicePackages) {
		t.Fatalf("go list returned %d packages", len(deps))
	}
	for _, dep := range deps {
		for _, bad := range forbiddenOnDevice {
			if dep == bad || strings.HasSuffix(bad, "/") && strings.HasPrefix(dep, bad) {
				t.Errorf("device path links %s", dep)
			}
		}
	}
}
