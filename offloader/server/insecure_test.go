package server

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"testing"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// A device entry with InsecureSkipVerify (ocurl --insecure) accepts chains
// that fail verification, completing real handshakes with them; the same
// chains are refused without it.
func TestInsecureSkipVerify(t *testing.T) {
	fx := newFixture(t, nil)
	for _, d := range []testpki.Defect{testpki.Expired, testpki.SelfSigned, testpki.UnknownRoot, testpki.WrongName} {
		t.Run(d.String(), func(t *testing.T) {
			leaf := testLeaf(t, testpki.RSA2048, d)
			o := hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ems: true, leaf: leaf}
			addDevice(t, fx, Device{})
			p := startHandshake(t, o)
			checkStatus(t, fx.srv.Do(context.Background(), testDevice, pipelined(p.transcript)), 0, wire.StatusInvalidCertificate)

			addDevice(t, fx, Device{InsecureSkipVerify: true})
			p = startHandshake(t, o)
			f := pipelined(p.transcript)
			f.Requests[2].(*wire.KeyRequest).ClientMessages = p.clientMsgs
			resp := fx.srv.Do(context.Background(), testDevice, f)
			checkOK(t, resp)
			p.finish(t, resp.Results[1].Body.(*wire.KeyGenResponse).ClientKeyExchange, resp.Results[2].Body.(*wire.KeyResponse))
		})
	}
	// The ServerKeyExchange signature is still checked under the presented leaf.
	addDevice(t, fx, Device{InsecureSkipVerify: true})
	p := startHandshake(t, hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, leaf: testLeaf(t, testpki.RSA2048, testpki.SelfSigned)})
	p.transcript[len(p.transcript)-10] ^= 1 // inside the ServerKeyExchange signature, before ServerHelloDone (4 bytes)
	checkStatus(t, fx.srv.Do(context.Background(), testDevice, pipelined(p.transcript)), 0, wire.StatusBadSignature)
}

// LeafPins refuse any other leaf key, with verification and without it.
func TestLeafPins(t *testing.T) {
	fx := newFixture(t, nil)
	good := testLeaf(t, testpki.ECDSAP256, testpki.Good)
	self := testLeaf(t, testpki.ECDSAP256, testpki.SelfSigned)
	pin := func(l *testpki.Leaf) [sha256.Size]byte {
		c, err := x509.ParseCertificate(l.Chain[0])
		if err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(c.RawSubjectPublicKeyInfo)
	}
	other := sha256.Sum256([]byte("some other key"))
	for _, c := range []struct {
		name     string
		dev      Device
		leaf     *testpki.Leaf
		mismatch bool
	}{
		{"pinned", Device{LeafPins: [][sha256.Size]byte{other, pin(good)}}, good, false},
		{"not pinned", Device{LeafPins: [][sha256.Size]byte{other}}, good, true},
		{"insecure pinned", Device{InsecureSkipVerify: true, LeafPins: [][sha256.Size]byte{pin(self)}}, self, false},
		{"insecure not pinned", Device{InsecureSkipVerify: true, LeafPins: [][sha256.Size]byte{pin(good)}}, self, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			addDevice(t, fx, c.dev)
			o := hsOpts{suite: handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, ems: true, leaf: c.leaf}
			p := startHandshake(t, o)
			f := pipelined(p.transcript)
			f.Requests[2].(*wire.KeyRequest).ClientMessages = p.clientMsgs
			resp := fx.srv.Do(context.Background(), testDevice, f)
			if c.mismatch {
				if e := checkStatus(t, resp, 0, wire.StatusInvalidCertificate); e.Reason != wire.ReasonPinMismatch {
					t.Fatalf("reason %v (%q), want pin mismatch", e.Reason, e.Detail)
				}
				return
			}
			checkOK(t, resp)
			p.finish(t, resp.Results[1].Body.(*wire.KeyGenResponse).ClientKeyExchange, resp.Results[2].Body.(*wire.KeyResponse))
		})
	}
}

// addDevice replaces the test device with d, keeping its id, PSK, roots and
// allowed names.
func addDevice(t *testing.T, fx *fixture, d Device) {
	t.Helper()
	d.ID, d.PSK, d.Roots, d.AllowedNames = testDevice, testPSK, testPKI(t).Roots, []string{"*.example.com"}
	if err := fx.reg.Add(d); err != nil {
		t.Fatal(err)
	}
}
