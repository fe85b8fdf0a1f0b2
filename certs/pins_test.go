package certs_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

func TestParsePin(t *testing.T) {
	c, err := testpki.Build(now, testpki.Spec{LeafKey: testpki.ECDSAP256, IntermediateKey: testpki.ECDSAP256, RootKey: testpki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	pin := certs.PinOf(c.Leaf)
	back, err := certs.ParsePin(pin.String())
	if err != nil || back != pin {
		t.Fatalf("round trip: %v", err)
	}
	for _, bad := range []string{
		"", "sha256/", "sha1/" + pin.String()[7:], "SHA256/" + pin.String()[7:],
		pin.String()[:len(pin.String())-1], pin.String() + "=",
		"sha256/" + strings.Repeat("!", 44),
		"sha256/" + strings.Repeat("A", 43) + "B", // non-zero padding bits
	} {
		if _, err := certs.ParsePin(bad); err == nil || !strings.HasPrefix(err.Error(), "certs: ") {
			t.Errorf("ParsePin(%q): %v", bad, err)
		}
	}
}

// A pin computed as curl documents it with openssl equals PinOf.
func TestPinMatchesOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	for _, kt := range []testpki.KeyType{testpki.RSA2048, testpki.ECDSAP256} {
		c, err := testpki.Build(now, testpki.Spec{LeafKey: kt, IntermediateKey: testpki.ECDSAP256, RootKey: testpki.ECDSAP256})
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "leaf.pem")
		if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Leaf.Raw}), 0o600); err != nil {
			t.Fatal(err)
		}
		pub, err := exec.Command(openssl, "x509", "-in", file, "-pubkey", "-noout").Output()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(openssl, "pkey", "-pubin", "-outform", "der")
		cmd.Stdin = bytes.NewReader(pub)
		der, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command(openssl, "dgst", "-sha256", "-binary")
		cmd.Stdin = bytes.NewReader(der)
		digest, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		pin := certs.PinOf(c.Leaf)
		if !bytes.Equal(digest, pin[:]) {
			t.Errorf("%v: openssl %x, PinOf %x", kt, digest, pin[:])
		}
	}
}

// The path must hold a pinned key: the leaf's, an intermediate's or the
// root's.
func TestVerifyPins(t *testing.T) {
	c, err := testpki.Build(now, testpki.Spec{LeafKey: testpki.ECDSAP256, IntermediateKey: testpki.ECDSAP256, RootKey: testpki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	other, err := testpki.Build(now, testpki.Spec{LeafKey: testpki.ECDSAP256, IntermediateKey: testpki.ECDSAP256, RootKey: testpki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	inter, err := x509.ParseCertificate(c.Chain[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range profiles {
		verify := func(pins ...certs.Pin) error {
			v := &certs.Verifier{Roots: c.Roots, Time: func() time.Time { return now }, Profile: p, Pins: pins}
			_, err := v.Verify(c.Chain, c.ServerName)
			return err
		}
		for name, pin := range map[string]certs.Pin{"leaf": certs.PinOf(c.Leaf), "intermediate": certs.PinOf(inter), "root": certs.PinOf(c.RootCerts[0])} {
			if err := verify(certs.PinOf(other.Leaf), pin); err != nil {
				t.Errorf("%v: %s pinned: %v", p, name, err)
			}
		}
		err := verify(certs.PinOf(other.Leaf), certs.PinOf(other.RootCerts[0]))
		var ce *certs.Error
		if !errors.As(err, &ce) || ce.Reason != certs.ReasonPinMismatch || ce.Rule != certs.RulePin {
			t.Errorf("%v: no key pinned: %v", p, err)
		}
	}
}
