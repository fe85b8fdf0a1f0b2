package server

import (
	"bytes"
	"context"
	"testing"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// TestTokenSingleUse: over channels, a token opens once, only on the
// channel it was sealed for, and not on another replica sharing the key.
func TestTokenSingleUse(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	a := newFixture(t, func(c *Config) { c.TokenKey = key })
	b := newFixture(t, func(c *Config) { c.TokenKey = key })
	cfg := wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK}
	chA, _, err := dial(t, a, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	chA2, _, err := dial(t, a, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	chB, _, err := dial(t, b, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	p := startHandshake(t, hsOpts{suite: handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, ems: true, leaf: testLeaf(t, testpki.ECDSAP256, testpki.Good)})
	hs := [16]byte{9}
	r1 := roundTrip(t, chA, &wire.Flight{ID: 1, HandshakeID: hs, Requests: []wire.Request{authReq(testHost, p.transcript)}})
	checkOK(t, r1)
	keyGen := func(ch *wire.Channel, id uint32) *wire.FlightResponse {
		return roundTrip(t, ch, &wire.Flight{ID: id, HandshakeID: hs, Token: r1.Token, Requests: []wire.Request{keyGenReq()}})
	}
	// Another channel of the same device, on this replica or another:
	// refused, and the token is not spent.
	checkStatus(t, keyGen(chA2, 2), 0, wire.StatusBadToken)
	checkStatus(t, keyGen(chB, 3), 0, wire.StatusBadToken)
	// Its own channel: once.
	r2 := keyGen(chA, 4)
	checkOK(t, r2)
	checkStatus(t, keyGen(chA, 5), 0, wire.StatusBadToken)
	r3 := roundTrip(t, chA, &wire.Flight{ID: 6, HandshakeID: hs, Token: r2.Token, Requests: []wire.Request{keyReq()}})
	checkOK(t, r3)
	p.finish(t, r2.Results[0].Body.(*wire.KeyGenResponse).ClientKeyExchange, r3.Results[0].Body.(*wire.KeyResponse))
}

// TestTokenSingleUseWithoutChannel: Do called directly binds to nothing,
// but a token still opens once per replica.
func TestTokenSingleUseWithoutChannel(t *testing.T) {
	fx := newFixture(t, nil)
	p := startHandshake(t, hsOpts{suite: handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, ems: true, leaf: testLeaf(t, testpki.ECDSAP256, testpki.Good)})
	ctx := context.Background()
	hs := [16]byte{3}
	r1 := fx.srv.Do(ctx, testDevice, &wire.Flight{HandshakeID: hs, Requests: []wire.Request{authReq(testHost, p.transcript)}})
	checkOK(t, r1)
	f := &wire.Flight{HandshakeID: hs, Token: r1.Token, Requests: []wire.Request{keyGenReq()}}
	checkOK(t, fx.srv.Do(ctx, testDevice, f))
	if e := checkStatus(t, fx.srv.Do(ctx, testDevice, f), 0, wire.StatusBadToken); e.Detail != "token used before" {
		t.Errorf("detail %q", e.Detail)
	}
}

func TestSeenTokensSweep(t *testing.T) {
	var s seenTokens
	nonce := func(i int) []byte { return []byte{byte(i), byte(i >> 8), byte(i >> 16), 1} }
	for i := range 3000 {
		if !s.firstUse(nonce(i), 100, 0) {
			t.Fatalf("nonce %d seen before", i)
		}
	}
	if s.firstUse(nonce(5), 100, 0) {
		t.Fatal("a nonce opened twice")
	}
	// Past their expiry the entries are swept on a later insertion.
	for i := 3000; i < 7000; i++ {
		s.firstUse(nonce(i), 300, 200)
	}
	if len(s.m) > 5000 {
		t.Errorf("%d entries kept after the first 3000 expired", len(s.m))
	}
}
