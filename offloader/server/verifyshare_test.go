package server

import (
	"context"
	"fmt"
	"testing"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
)

// TestVerifyCacheShare: a device verifying many servers fills only its own
// share of the verified-chain cache; another device's entry stays.
func TestVerifyCacheShare(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.VerifyCacheSize = 16 }) // 8 chains per device
	if err := fx.reg.Add(Device{ID: "other", PSK: testPSK, Roots: testPKI(t).Roots, AllowedNames: []string{"*.example.com"}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	verify := func(id string, leaf *testpki.Leaf) {
		t.Helper()
		p := startHandshake(t, hsOpts{suite: handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, leaf: leaf})
		checkOK(t, fx.srv.Do(ctx, id, pipelined(p.transcript)))
	}
	verify("other", testLeaf(t, testpki.ECDSAP256, testpki.Good))
	for range 20 {
		leaf, err := testPKI(t).Issue([]string{testHost}, testpki.ECDSAP256, testpki.Good)
		if err != nil {
			t.Fatal(err)
		}
		verify(testDevice, leaf)
	}
	if n := fx.srv.verified.forDevice("other").Len(); n != 1 {
		t.Errorf("the other device's cache holds %d chains after a flood by %s, want 1", n, testDevice)
	}
	if n := fx.srv.verified.forDevice(testDevice).Len(); n > 8 {
		t.Errorf("%s holds %d chains, want its share of 8 at most", testDevice, n)
	}
}

// TestVerifyCacheDevicesLRU: past maxDevices, the least recently used
// device's cache gives way.
func TestVerifyCacheDevicesLRU(t *testing.T) {
	c := newDeviceVerifyCaches(16) // 8 per device, 8 devices
	first := c.forDevice("d0")
	for i := 1; i < 8; i++ {
		c.forDevice(fmt.Sprint("d", i))
	}
	if c.forDevice("d0") != first {
		t.Fatal("a device's cache was dropped within the bound")
	}
	c.forDevice("d8") // d1 is now the least recently used
	if c.forDevice("d0") != first {
		t.Fatal("the most recently used device's cache was dropped")
	}
	if c.lru.Len() != 8 {
		t.Fatalf("%d device caches, want 8", c.lru.Len())
	}
	if _, ok := c.index["d1"]; ok {
		t.Fatal("the least recently used device's cache was kept")
	}
	var none *deviceVerifyCaches
	if none.forDevice("x") != nil || none.Len() != 0 {
		t.Fatal("a nil set of caches caches")
	}
}
