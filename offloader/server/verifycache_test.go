package server

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// The server remembers a verified chain per device root pool, and a
// remembered chain is still refused for another pool and after it expires.
func TestVerifyCacheAcrossHandshakes(t *testing.T) {
	fx := newFixture(t, nil)
	leaf := testLeaf(t, testpki.RSA2048, testpki.Good)
	o := hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, leaf: leaf}
	handshakeThrough(t, fx, o)
	handshakeThrough(t, fx, o)
	if n := fx.srv.verified.Len(); n != 1 {
		t.Fatalf("cache holds %d chains after two handshakes with one server, want 1", n)
	}

	// Another device trusting nothing of this PKI.
	if err := fx.reg.Add(Device{ID: "stranger", PSK: testPSK, Roots: x509.NewCertPool(), AllowedNames: []string{"*.example.com"}}); err != nil {
		t.Fatal(err)
	}
	p := startHandshake(t, o)
	e := checkStatus(t, fx.srv.Do(context.Background(), "stranger", pipelined(p.transcript)), 0, wire.StatusInvalidCertificate)
	if e.Reason != wire.ReasonUnknownAuthority {
		t.Fatalf("other roots: reason %v, want unknown authority", e.Reason)
	}

	// Past the leaf's NotAfter (24h after the PKI's time).
	fx.clock.advance(25 * time.Hour)
	p = startHandshake(t, o)
	e = checkStatus(t, fx.srv.Do(context.Background(), testDevice, pipelined(p.transcript)), 0, wire.StatusInvalidCertificate)
	if e.Reason != wire.ReasonExpired {
		t.Fatalf("after expiry: reason %v, want expired", e.Reason)
	}
}

func TestVerifyCacheOff(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.VerifyCacheSize = -1 })
	o := hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, leaf: testLeaf(t, testpki.RSA2048, testpki.Good)}
	handshakeThrough(t, fx, o)
	handshakeThrough(t, fx, o)
	if fx.srv.verified != nil || fx.srv.verified.Len() != 0 {
		t.Fatal("a negative VerifyCacheSize should keep no cache")
	}
}

// A device on the system roots gets a fresh pool per verification, which
// could never be a cache key: its chains are verified afresh every time.
func TestVerifyCacheSkipsSystemRoots(t *testing.T) {
	fx := newFixture(t, nil)
	if err := fx.reg.Add(Device{ID: "system", PSK: testPSK, AllowedNames: []string{"*.example.com"}}); err != nil {
		t.Fatal(err)
	}
	p := startHandshake(t, hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, leaf: testLeaf(t, testpki.RSA2048, testpki.Good)})
	resp := fx.srv.Do(context.Background(), "system", pipelined(p.transcript))
	if resp.Results[0].Err == nil {
		t.Fatal("a test PKI chain verified against the system roots")
	}
	if n := fx.srv.verified.Len(); n != 0 {
		t.Fatalf("cache holds %d chains", n)
	}
}
