package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// publicKeyPackages are the packages whose code must not be linked into a
// device binary: TLS and X.509 (the offloader verifies), public-key
// cryptography and what only it needs (big numbers, ASN.1, the FIPS
// module's curves, lattices and modular arithmetic). A symbol belongs to
// one when its name holds the package path followed by "." or "/" (so an
// entry covers its sub-packages, and crypto/ecdh does not match
// crypto/internal/fips140/ecdh, which has an entry of its own).
var publicKeyPackages = []string{
	"crypto/tls",
	"crypto/x509",
	"crypto/ecdsa",
	"crypto/rsa",
	"crypto/ecdh",
	"crypto/ed25519",
	"crypto/elliptic",
	"crypto/dsa",
	"crypto/mlkem",
	"math/big",
	"encoding/asn1",
	"encoding/pem",
	"crypto/internal/fips140/nistec",
	"crypto/internal/fips140/ecdsa",
	"crypto/internal/fips140/ecdh",
	"crypto/internal/fips140/rsa",
	"crypto/internal/fips140/mlkem",
	"crypto/internal/fips140/edwards25519",
	"crypto/internal/fips140/ed25519",
	"crypto/internal/fips140/bigmod",
	"golang.org/x/crypto/curve25519",
	"golang.org/x/crypto/cryptobyte/asn1",
	"golang.org/x/crypto/ocsp",
}

// unneededPackages are packages a device binary links no symbol of
// although they are ordinary: the device packages do without them on
// purpose, for size (issue 12). fmt, with the reflection-based printing it
// brings (about 160 KB of a linux/arm program), stays out while no device
// package formats with it; crypto/hmac and crypto/hkdf (and x/crypto's
// hkdf over them) pass every hash through crypto/internal/fips140hash,
// which links crypto/sha3, so the device packages use internal/hmac.
var unneededPackages = []string{
	"fmt",
	"crypto/sha3",
	"crypto/hmac",
	"crypto/hkdf",
	"golang.org/x/crypto/hkdf",
}

// unneededSymbols are functions a device binary must not link, with what
// to use instead: errors.As finds its target through internal/reflectlite,
// which cost a linux/arm device program some 20 KB (errors.Is needs only a
// little of it); errors.AsType does the same with type assertions.
var unneededSymbols = map[string]string{
	"errors.As": "errors.AsType",
}

// TestDeviceBinaryLinksNoPublicKeyCode builds the minimal device program
// (internal/minimal/device: tlsclient.Dialer with a remote offloader, GET,
// print) for linux/arm GOARM=7, as a device would ship it but with its
// symbol table, and fails for every symbol of publicKeyPackages (or of
// unneededPackages) it links, the way Go's TestLinkerGC guards crypto/tls's footprint. A package list
// (deps_test.go) cannot say this: crypto/rand imports math/big, yet a
// binary that never calls rand.Int or rand.Prime links none of it; an init
// function or a reachable method value can keep a whole package alive
// (x/crypto/cryptobyte's did for math/big and encoding/asn1).
func TestDeviceBinaryLinksNoPublicKeyCode(t *testing.T) {
	dir := t.TempDir()
	syms := armSymbols(t, dir, "device")
	if len(syms) < 1000 {
		t.Fatalf("go tool nm listed %d symbols: is the binary stripped?", len(syms))
	}
	bad := symbolsOf(syms, publicKeyPackages)
	for pkg, list := range bad {
		t.Errorf("the device binary links %d symbols of %s, e.g. %s", len(list), pkg, strings.Join(list[:min(3, len(list))], ", "))
	}
	for pkg, list := range symbolsOf(syms, unneededPackages) {
		t.Errorf("the device binary links %d symbols of %s, which it does without (unneededPackages), e.g. %s", len(list), pkg, strings.Join(list[:min(3, len(list))], ", "))
	}
	for _, s := range syms {
		if instead, ok := unneededSymbols[s]; ok {
			t.Errorf("the device binary links %s; the device packages use %s", s, instead)
		}
	}

	// And the check can fail: the same program on crypto/tls links them.
	ref := symbolsOf(armSymbols(t, dir, "cryptotls"), slices.Concat(publicKeyPackages, unneededPackages))
	for _, pkg := range []string{"crypto/tls", "crypto/x509", "crypto/ecdsa", "crypto/rsa", "math/big", "crypto/internal/fips140/nistec", "crypto/internal/fips140/bigmod", "fmt", "crypto/sha3", "crypto/hmac"} {
		if len(ref[pkg]) == 0 {
			t.Errorf("the crypto/tls program links no symbol of %s: is the check still looking?", pkg)
		}
	}
	if !slices.Contains(syms, "errors.Is") {
		t.Error("the device binary links no errors.Is: are function symbols still named so that unneededSymbols can match?")
	}
}

// armSymbols builds internal/minimal/PROG for linux/arm GOARM=7 into dir
// (-trimpath, no cgo, not stripped) and returns its symbol names.
func armSymbols(t *testing.T, dir, prog string) []string {
	t.Helper()
	bin := filepath.Join(dir, prog)
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "github.com/tlsoffload/tlsoffload/internal/minimal/"+prog)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm", "GOARM=7")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %s for linux/arm: %v\n%s", prog, err, out)
	}
	out, err := exec.Command("go", "tool", "nm", bin).Output()
	if err != nil {
		t.Fatalf("go tool nm %s: %v", prog, err)
	}
	var syms []string
	for _, line := range strings.Split(string(out), "\n") {
		// address, type, name; the name may hold spaces (it never starts
		// with one).
		f := strings.SplitN(strings.TrimSpace(line), " ", 3)
		if len(f) == 3 {
			syms = append(syms, f[2])
		}
	}
	return syms
}

// symbolsOf maps each package of pkgs to the symbols of syms that belong
// to it.
func symbolsOf(syms, pkgs []string) map[string][]string {
	bad := map[string][]string{}
	for _, s := range syms {
		for _, pkg := range pkgs {
			if symbolOf(s, pkg) {
				bad[pkg] = append(bad[pkg], s)
			}
		}
	}
	return bad
}

// symbolOf reports whether the symbol name s refers to package pkg or one
// below it: pkg appears not preceded by a path character and followed by
// "." or "/". That catches functions (math/big.nat.add), methods
// (crypto/x509.(*Certificate).Verify), types and itabs
// (type:*crypto/rsa.PublicKey, go:itab.*crypto/ecdsa.PublicKey,crypto.PublicKey)
// and init tasks.
func symbolOf(s, pkg string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], pkg)
		if j < 0 {
			return false
		}
		at := i + j
		end := at + len(pkg)
		if (at == 0 || !isPathByte(s[at-1])) && end < len(s) && (s[end] == '.' || s[end] == '/') {
			return true
		}
		i = at + 1
	}
}

func isPathByte(c byte) bool {
	return c == '/' || c == '_' || c == '-' || c == '.' ||
		'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func TestSymbolOf(t *testing.T) {
	for _, c := range []struct {
		sym, pkg string
		want     bool
	}{
		{"math/big.nat.add", "math/big", true},
		{"crypto/x509.(*Certificate).Verify", "crypto/x509", true},
		{"type:*crypto/rsa.PublicKey", "crypto/rsa", true},
		{"go:itab.*crypto/ecdsa.PublicKey,crypto.PublicKey", "crypto/ecdsa", true},
		{"crypto/internal/fips140/nistec/fiat.p256Mul", "crypto/internal/fips140/nistec", true},
		{"crypto/x509..inittask", "crypto/x509", true},
		{"crypto/internal/fips140/ecdh.GenerateKey", "crypto/ecdh", false},
		{"crypto/internal/fips140/ecdh.GenerateKey", "crypto/internal/fips140/ecdh", true},
		{"crypto/ecdhx.F", "crypto/ecdh", false},
		{"example.com/math/big.F", "math/big", false},
		{"crypto/sha256.New", "crypto/rsa", false},
		{"math/big", "math/big", false},
	} {
		if got := symbolOf(c.sym, c.pkg); got != c.want {
			t.Errorf("symbolOf(%q, %q) = %v, want %v", c.sym, c.pkg, got, c.want)
		}
	}
}
