package server

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// FuzzDo feeds arbitrary transcripts to an Auth+KeyGen+Key flight, seeded
// with real server flights (ECDHE with RSA and ECDSA certificates, RSA key
// exchange). It must never panic, and the flight either succeeds whole or
// stops at its first failure.
func FuzzDo(f *testing.F) {
	fx := newFixture(f, nil)
	for _, o := range []hsOpts{
		{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ems: true, sni: testHost, leaf: testLeaf(f, testpki.RSA2048, testpki.Good)},
		{suite: handshake.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, groups: []uint16{handshake.GroupP384}, leaf: testLeaf(f, testpki.ECDSAP256, testpki.Good)},
		{suite: handshake.TLS_RSA_WITH_AES_128_GCM_SHA256, leaf: testLeaf(f, testpki.RSA2048, testpki.Good)},
	} {
		p := startHandshake(f, o)
		p.rc.NetConn().Close()
		f.Add(p.transcript, []byte{})
	}
	f.Add([]byte{handshake.TypeClientHello, 0, 0, 0}, []byte{handshake.TypeCertificate, 0, 0, 3, 0, 0, 0})
	f.Fuzz(func(t *testing.T, transcript, clientMsgs []byte) {
		fl := pipelined(transcript)
		fl.Requests[2].(*wire.KeyRequest).ClientMessages = clientMsgs
		resp := fx.srv.Do(context.Background(), testDevice, fl)
		if len(resp.Results) != 3 {
			t.Fatalf("%d results", len(resp.Results))
		}
		failed := false
		for i, r := range resp.Results {
			if failed && (r.Err == nil || r.Err.Status != wire.StatusAborted) {
				t.Fatalf("result %d after a failure: %+v", i, r.Err)
			}
			if r.Err != nil {
				failed = true
				if r.Err.Status == wire.StatusInternal {
					t.Fatalf("result %d: internal error %q", i, r.Err.Detail)
				}
			}
		}
	})
}

// FuzzTokenState feeds arbitrary plaintexts to the token state parser,
// seeded with real states. What parses must encode to a state that parses
// and encodes to itself (a hash state's unused buffer bytes are not kept,
// so the first encoding may differ from the input there).
func FuzzTokenState(f *testing.F) {
	fx := newFixture(f, nil)
	p := startHandshake(f, hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ems: true, leaf: testLeaf(f, testpki.RSA2048, testpki.Good)})
	p.rc.NetConn().Close()
	dev, _ := fx.reg.lookup(testDevice)
	st := &hsState{}
	if _, e := fx.srv.auth(dev, st, &wire.AuthRequest{ServerName: testHost, Transcript: p.transcript}); e != nil {
		f.Fatal(e)
	}
	expiry := time.Now().UnixNano()
	b, err := marshalState(st, expiry)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	if _, e := fx.srv.keyGen(dev, st); e != nil {
		f.Fatal(e)
	}
	if b, err = marshalState(st, expiry); err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		st, exp, err := unmarshalState(b)
		if err != nil {
			return
		}
		once, err := marshalState(st, exp)
		if err != nil {
			t.Fatal(err)
		}
		st2, exp2, err := unmarshalState(once)
		if err != nil {
			t.Fatalf("re-encoded state does not parse: %v", err)
		}
		twice, err := marshalState(st2, exp2)
		if err != nil || !bytes.Equal(once, twice) {
			t.Fatalf("state does not round-trip: %v\n%x\n%x", err, once, twice)
		}
	})
}
