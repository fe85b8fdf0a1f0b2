package integration

import (
	"os/exec"
	"slices"
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
	"github.com/jackc/",
	"github.com/refraction-networking/",
	"go.yaml.in/",
	"net/http", // a device that wants HTTP brings it; the TLS path does not
}

func TestDevicePackagesStayLean(t *testing.T) {
	checkDeps(t, "device path", devicePackages, forbiddenOnDevice)
}

// daemonOnly are the packages only cmd/offloader may link: Prometheus,
// the daemon's export of it, and the operator's dashboard (its page, its
// API, its history).
var daemonOnly = []string{
	"github.com/prometheus/",
	"github.com/tlsoffload/tlsoffload/offloader/server/metrics",
	"github.com/tlsoffload/tlsoffload/offloader/server/dashboard",
	// The PostgreSQL registry and its driver.
	"github.com/jackc/",
	"github.com/tlsoffload/tlsoffload/offloader/server/pgregistry",
}

// TestNoPrometheusOutsideTheDaemon: the server core counts in plain Go and
// only the daemon's packages (offloader/server/metrics and
// offloader/server/dashboard, linked by cmd/offloader) bring Prometheus and
// the dashboard, so ocurl, which embeds the server, and the server core
// itself link none of them.
func TestNoPrometheusOutsideTheDaemon(t *testing.T) {
	pkgs := append([]string{
		"github.com/tlsoffload/tlsoffload/cmd/ocurl",
		"github.com/tlsoffload/tlsoffload/offloader/server",
	}, devicePackages...)
	checkDeps(t, "ocurl, the server core or the device path", pkgs, daemonOnly)
	// And the check can fail: the daemon does link each of them (the PostgreSQL registry too).
	deps := listDeps(t, "github.com/tlsoffload/tlsoffload/cmd/offloader")
	for _, want := range daemonOnly {
		if !slices.ContainsFunc(deps, func(d string) bool { return d == want || strings.HasPrefix(d, want) && strings.HasSuffix(want, "/") }) {
			t.Errorf("cmd/offloader does not link %s: is /metrics or the dashboard gone?", want)
		}
	}
}

// checkDeps fails for every package pkgs link that forbidden names: an
// entry ending in "/" forbids a whole tree, any other entry one package.
func checkDeps(t *testing.T, what string, pkgs, forbidden []string) {
	t.Helper()
	for _, dep := range listDeps(t, pkgs...) {
		for _, bad := range forbidden {
			if dep == bad || strings.HasSuffix(bad, "/") && strings.HasPrefix(dep, bad) {
				t.Errorf("%s links %s", what, dep)
			}
		}
	}
}

// listDeps is go list -deps of pkgs.
func listDeps(t *testing.T, pkgs ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < len(pkgs) {
		t.Fatalf("go list returned %d packages", len(deps))
	}
	return deps
}

// noPublicKeyOnDevice are the standard packages of TLS, X.509 and
// public-key cryptography: the device does none of it (the offloader does),
// so its packages link none, nor encoding/asn1 (the device packages parse
// with internal/cryptobyte, not x/crypto's, whose ASN.1 half imports it).
// math/big is not listed: crypto/rand imports it at package level, for
// Prime and Int, so every package using crypto/rand depends on it; that a
// device binary keeps none of its code is checked on the binary's symbols
// (footprint_test.go).
var noPublicKeyOnDevice = []string{"crypto/tls", "crypto/x509", "crypto/rsa", "crypto/ecdsa", "crypto/ecdh", "encoding/asn1"}

func TestDeviceLinksNoPublicKeyCode(t *testing.T) {
	checkDeps(t, "device path", devicePackages, noPublicKeyOnDevice)
	// And the check can fail: the conversion to crypto/tls's
	// ConnectionState, kept out of tlsclient for this, links them.
	deps := listDeps(t, "github.com/tlsoffload/tlsoffload/tlsclient/tlsstate")
	for _, p := range []string{"crypto/tls", "crypto/x509"} {
		if !slices.Contains(deps, p) {
			t.Errorf("tlsclient/tlsstate links no %s: is the check still looking?", p)
		}
	}
}
