package server

import (
	"context"
	"testing"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// FuzzDoFlight feeds arbitrary frame payloads through the path ServeConn
// takes for each one: wire.Flight.Unmarshal, then Do. Unlike FuzzDo, the
// fuzzer shapes the whole flight: the ops and their order, the handshake
// id, the state token, Start requests. Seeds are real flights: a Start, a
// pipelined Auth+KeyGen+Key over a crypto/tls server's flight, and the
// sequential mode's three flights with the tokens Do really issued (the
// fixture, and so its token key and clock, outlive the seeds).
//
// Invariants: no panic, one result per request, nothing after the first
// failure but StatusAborted, never StatusInternal, and a token only on a
// one-request Auth or KeyGen flight that succeeded.
func FuzzDoFlight(f *testing.F) {
	fx := newFixture(f, nil)
	ctx := context.Background()
	add := func(fl *wire.Flight) {
		b, err := fl.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	add(&wire.Flight{ID: 1, Requests: []wire.Request{&wire.StartRequest{
		ServerName:          testHost,
		Versions:            []uint16{handshake.VersionTLS12},
		CipherSuites:        handshake.SuiteIDs(handshake.Suites),
		Groups:              handshake.DefaultGroups,
		SignatureAlgorithms: handshake.DefaultSignatureAlgorithms,
	}}})
	for _, o := range []hsOpts{
		{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ems: true, sni: testHost, leaf: testLeaf(f, testpki.RSA2048, testpki.Good)},
		{suite: handshake.TLS_RSA_WITH_AES_128_GCM_SHA256, leaf: testLeaf(f, testpki.RSA2048, testpki.Good)},
	} {
		p := startHandshake(f, o)
		p.rc.NetConn().Close()
		add(pipelined(p.transcript))

		// The sequential mode, with the tokens the server hands out.
		hid := [16]byte{9, 9, 9}
		seq := []*wire.Flight{
			{ID: 2, HandshakeID: hid, Requests: []wire.Request{authReq(testHost, p.transcript)}},
			{ID: 3, HandshakeID: hid, Requests: []wire.Request{keyGenReq()}},
			{ID: 4, HandshakeID: hid, Requests: []wire.Request{keyReq()}},
		}
		var token []byte
		for _, fl := range seq {
			fl.Token = token
			add(fl)
			resp := fx.srv.Do(ctx, testDevice, fl)
			if r := resp.Results[0]; r.Err != nil {
				f.Fatalf("seed flight %d: %v", fl.ID, r.Err)
			}
			token = resp.Token
		}
	}

	f.Fuzz(func(t *testing.T, frame []byte) {
		var fl wire.Flight
		if err := fl.Unmarshal(frame); err != nil {
			return
		}
		resp := fx.srv.Do(ctx, testDevice, &fl)
		if resp.ID != fl.ID || len(resp.Results) != len(fl.Requests) {
			t.Fatalf("response id %d with %d results for flight %d of %d requests", resp.ID, len(resp.Results), fl.ID, len(fl.Requests))
		}
		failed := false
		for i, r := range resp.Results {
			if r.Op() != fl.Requests[i].Op() {
				t.Fatalf("result %d is for op %v, request was %v", i, r.Op(), fl.Requests[i].Op())
			}
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
		if len(resp.Token) > 0 {
			if failed || len(fl.Requests) != 1 || (fl.Requests[0].Op() != wire.OpAuth && fl.Requests[0].Op() != wire.OpKeyGen) {
				t.Fatalf("token issued for a flight of %d requests (failed %v)", len(fl.Requests), failed)
			}
		}
		// What Do answers must go back on the wire.
		if _, err := resp.Marshal(); err != nil {
			t.Fatalf("response does not marshal: %v", err)
		}
	})
}
