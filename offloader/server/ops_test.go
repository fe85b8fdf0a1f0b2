package server

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

func TestPipelinedHandshakes(t *testing.T) {
	fx := newFixture(t, nil)
	rsaLeaf := testLeaf(t, testpki.RSA2048, testpki.Good)
	p256 := testLeaf(t, testpki.ECDSAP256, testpki.Good)
	p384 := testLeaf(t, testpki.ECDSAP384, testpki.Good)
	cases := []struct {
		name string
		o    hsOpts
	}{
		{"ECDHE_RSA/X25519/EMS", hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, groups: []uint16{handshake.GroupX25519}, ems: true, sni: testHost, leaf: rsaLeaf}},
		{"ECDHE_RSA/P-256/PKCS1", hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, groups: []uint16{handshake.GroupP256}, sigs: []uint16{handshake.SigRSAPKCS1SHA256}, leaf: rsaLeaf}},
		{"ECDHE_RSA/P-384/SHA384/PSS", hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, groups: []uint16{handshake.GroupP384}, sigs: []uint16{handshake.SigRSAPSSRSAESHA384}, ems: true, leaf: rsaLeaf}},
		{"ECDHE_RSA/ChaCha20", hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, ems: true, leaf: rsaLeaf}},
		{"ECDHE_ECDSA/P-256 cert", hsOpts{suite: handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, ems: true, sni: testHost, leaf: p256}},
		{"ECDHE_ECDSA/P-384 cert/no EMS", hsOpts{suite: handshake.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, groups: []uint16{handshake.GroupP256, handshake.GroupP384}, leaf: p384}},
		{"RSA kx/EMS", hsOpts{suite: handshake.TLS_RSA_WITH_AES_128_GCM_SHA256, ems: true, leaf: rsaLeaf}},
		{"RSA kx/SHA384/no EMS", hsOpts{suite: handshake.TLS_RSA_WITH_AES_256_GCM_SHA384, leaf: rsaLeaf}},
		{"ECDHE_RSA/EMS/client certificate asked", hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ems: true, leaf: rsaLeaf, clientAuth: true}},
		{"RSA kx/no EMS/client certificate asked", hsOpts{suite: handshake.TLS_RSA_WITH_AES_128_GCM_SHA256, leaf: rsaLeaf, clientAuth: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { handshakeThrough(t, fx, c.o) })
	}
	if got := requests(t, fx, "key", "ok"); got != uint64(len(cases)) {
		t.Errorf("requests_total{op=key,result=ok} = %v, want %d", got, len(cases))
	}
	if got := fx.srv.Stats().Flights.Pipelined; got != uint64(len(cases)) {
		t.Errorf("flights_total{mode=pipelined} = %v, want %d", got, len(cases))
	}
	if got := fx.srv.Stats().Flights.InFlight; got != 0 {
		t.Errorf("flights_in_flight = %v after every flight ended", got)
	}
}

// sequential runs Auth, KeyGen and Key as three one-request flights,
// carrying the token from each answer to the next flight.
func TestSequentialHandshake(t *testing.T) {
	for _, c := range []struct {
		name string
		o    hsOpts
	}{
		{"ECDHE", hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ems: true, leaf: testLeaf(t, testpki.RSA2048, testpki.Good)}},
		{"ECDHE/SHA384/P-384", hsOpts{suite: handshake.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, groups: []uint16{handshake.GroupP384}, ems: true, leaf: testLeaf(t, testpki.ECDSAP384, testpki.Good)}},
		{"RSA kx/RSA-4096", hsOpts{suite: handshake.TLS_RSA_WITH_AES_128_GCM_SHA256, ems: true, leaf: testLeaf(t, testpki.RSA4096, testpki.Good)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t, nil)
			p := startHandshake(t, c.o)
			hs := [16]byte{9, 9, 9}
			ctx := context.Background()
			r1 := fx.srv.Do(ctx, testDevice, &wire.Flight{ID: 1, HandshakeID: hs, Requests: []wire.Request{authReq(testHost, p.transcript)}})
			checkOK(t, r1)
			if len(r1.Token) == 0 || len(r1.Token) > wire.MaxToken {
				t.Fatalf("auth token is %d bytes", len(r1.Token))
			}
			r2 := fx.srv.Do(ctx, testDevice, &wire.Flight{ID: 2, HandshakeID: hs, Token: r1.Token, Requests: []wire.Request{keyGenReq()}})
			checkOK(t, r2)
			if len(r2.Token) == 0 || len(r2.Token) > wire.MaxToken {
				t.Fatalf("keygen token is %d bytes", len(r2.Token))
			}
			// The wire codec carries the token.
			b, err := (&wire.FlightResponse{ID: 2, Token: r2.Token, Results: r2.Results}).Marshal()
			if err != nil {
				t.Fatalf("marshal a response with a token: %v", err)
			}
			var back wire.FlightResponse
			if err := back.Unmarshal(b); err != nil || !bytes.Equal(back.Token, r2.Token) {
				t.Fatalf("token did not survive the codec: %v", err)
			}
			r3 := fx.srv.Do(ctx, testDevice, &wire.Flight{ID: 3, HandshakeID: hs, Token: r2.Token, Requests: []wire.Request{keyReq()}})
			checkOK(t, r3)
			if len(r3.Token) != 0 {
				t.Fatal("Key answered with a token")
			}
			p.finish(t, r2.Results[0].Body.(*wire.KeyGenResponse).ClientKeyExchange, r3.Results[0].Body.(*wire.KeyResponse))
			if got := fx.srv.Stats().Flights.Sequential; got != 3 {
				t.Errorf("flights_total{mode=sequential} = %v, want 3", got)
			}
		})
	}
}

func TestBadTokens(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.TokenTTL = 10 * time.Second })
	if err := fx.reg.Add(Device{ID: "device-2", PSK: testPSK, Roots: testPKI(t).Roots, AllowedNames: []string{"*"}}); err != nil {
		t.Fatal(err)
	}
	p := startHandshake(t, hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, leaf: testLeaf(t, testpki.RSA2048, testpki.Good)})
	hs := [16]byte{1}
	ctx := context.Background()
	r1 := fx.srv.Do(ctx, testDevice, &wire.Flight{HandshakeID: hs, Requests: []wire.Request{authReq(testHost, p.transcript)}})
	checkOK(t, r1)
	tok := r1.Token

	keyGen := func(dev string, hs [16]byte, tok []byte) *wire.FlightResponse {
		return fx.srv.Do(ctx, dev, &wire.Flight{HandshakeID: hs, Token: tok, Requests: []wire.Request{keyGenReq(), keyReq()}})
	}
	tampered := slices.Clone(tok)
	tampered[len(tampered)/2] ^= 1
	cases := []struct {
		name string
		dev  string
		hs   [16]byte
		tok  []byte
	}{
		{"tampered", testDevice, hs, tampered},
		{"truncated", testDevice, hs, tok[:len(tok)-1]},
		{"another handshake", testDevice, [16]byte{2}, tok},
		{"another device", "device-2", hs, tok},
		{"garbage", testDevice, hs, []byte("not a token")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkStatus(t, keyGen(c.dev, c.hs, c.tok), 0, wire.StatusBadToken) })
	}
	// A token from a server with another key is refused.
	other := newFixture(t, nil)
	checkStatus(t, other.srv.Do(ctx, testDevice, &wire.Flight{HandshakeID: hs, Token: tok, Requests: []wire.Request{keyGenReq()}}), 0, wire.StatusBadToken)

	// The token is good until it expires.
	fx.clock.advance(9 * time.Second)
	checkOK(t, keyGen(testDevice, hs, tok))
	fx.clock.advance(2 * time.Second)
	e := checkStatus(t, keyGen(testDevice, hs, tok), 0, wire.StatusBadToken)
	if e.Detail != "token expired" {
		t.Errorf("detail %q", e.Detail)
	}
	if got := requests(t, fx, "keygen", "bad_token"); got != uint64(len(cases)+1) {
		t.Errorf("requests_total{keygen,bad_token} = %v", got)
	}
	if got := requests(t, fx, "key", "aborted"); got != uint64(len(cases)+1) {
		t.Errorf("requests_total{key,aborted} = %v", got)
	}
}

func TestReplicasShareTokenKey(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	a := newFixture(t, func(c *Config) { c.TokenKey = key })
	b := newFixture(t, func(c *Config) { c.TokenKey = key })
	o := hsOpts{suite: handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, ems: true, leaf: testLeaf(t, testpki.ECDSAP256, testpki.Good)}
	p := startHandshake(t, o)
	ctx := context.Background()
	hs := [16]byte{5}
	r1 := a.srv.Do(ctx, testDevice, &wire.Flight{HandshakeID: hs, Requests: []wire.Request{authReq(testHost, p.transcript)}})
	checkOK(t, r1)
	r2 := b.srv.Do(ctx, testDevice, &wire.Flight{HandshakeID: hs, Token: r1.Token, Requests: []wire.Request{keyGenReq()}})
	checkOK(t, r2)
	r3 := a.srv.Do(ctx, testDevice, &wire.Flight{HandshakeID: hs, Token: r2.Token, Requests: []wire.Request{keyReq()}})
	checkOK(t, r3)
	p.finish(t, r2.Results[0].Body.(*wire.KeyGenResponse).ClientKeyExchange, r3.Results[0].Body.(*wire.KeyResponse))
}

func TestInvalidCertificates(t *testing.T) {
	fx := newFixture(t, nil)
	cases := []struct {
		defect testpki.Defect
		reason wire.Reason
	}{
		{testpki.Expired, wire.ReasonExpired},
		{testpki.NotYetValid, wire.ReasonNotYetValid},
		{testpki.WrongName, wire.ReasonNameMismatch},
		{testpki.UnknownRoot, wire.ReasonUnknownAuthority},
		{testpki.SelfSigned, wire.ReasonUnknownAuthority},
		{testpki.NoServerAuth, wire.ReasonKeyUsage},
		{testpki.MissingIntermediate, wire.ReasonUnknownAuthority},
	}
	for _, c := range cases {
		t.Run(c.defect.String(), func(t *testing.T) {
			p := startHandshake(t, hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, leaf: testLeaf(t, testpki.RSA2048, c.defect)})
			e := checkStatus(t, fx.srv.Do(context.Background(), testDevice, pipelined(p.transcript)), 0, wire.StatusInvalidCertificate)
			if e.Reason != c.reason {
				t.Fatalf("reason %v (%q), want %v", e.Reason, e.Detail, c.reason)
			}
			if e.Detail == "" {
				t.Error("no detail")
			}
		})
	}
	if got := requests(t, fx, "auth", "invalid_certificate"); got != uint64(len(cases)) {
		t.Errorf("requests_total{auth,invalid_certificate} = %v", got)
	}
}

func TestPolicyDenied(t *testing.T) {
	fx := newFixture(t, nil)
	leaf := testLeaf(t, testpki.RSA2048, testpki.Good)
	ctx := context.Background()

	// The device may talk to *.example.com only.
	if err := fx.reg.Add(Device{ID: testDevice, PSK: testPSK, Roots: testPKI(t).Roots, AllowedNames: []string{"other.example.org"}}); err != nil {
		t.Fatal(err)
	}
	p := startHandshake(t, hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, leaf: leaf})
	checkStatus(t, fx.srv.Do(ctx, testDevice, pipelined(p.transcript)), 0, wire.StatusPolicyDenied)
	start := &wire.Flight{Requests: []wire.Request{&wire.StartRequest{
		ServerName: testHost, Versions: []uint16{handshake.VersionTLS12}, CipherSuites: []uint16{handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}}}
	checkStatus(t, fx.srv.Do(ctx, testDevice, start), 0, wire.StatusPolicyDenied)

	// A ClientHello for one name cannot be verified for another.
	if err := fx.reg.Add(Device{ID: testDevice, PSK: testPSK, Roots: testPKI(t).Roots, AllowedNames: []string{"*"}}); err != nil {
		t.Fatal(err)
	}
	p = startHandshake(t, hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, sni: "elsewhere.example.com", leaf: leaf})
	checkStatus(t, fx.srv.Do(ctx, testDevice, pipelined(p.transcript)), 0, wire.StatusPolicyDenied)
	checkOK(t, fx.srv.Do(ctx, testDevice, start))
}

// The server's choice is re-checked against what Start allows, so a device
// offering more than Start answered cannot use it.
func TestAuthRechecksStartPolicy(t *testing.T) {
	fx := newFixture(t, nil)
	leaf := testLeaf(t, testpki.RSA2048, testpki.Good)
	// P-521 is offered by the device but not done by the offloader.
	p := startHandshake(t, hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, groups: []uint16{handshake.GroupP521}, leaf: leaf})
	checkStatus(t, fx.srv.Do(context.Background(), testDevice, pipelined(p.transcript)), 0, wire.StatusUnsupported)
}

func TestBadSignature(t *testing.T) {
	fx := newFixture(t, nil)
	for _, kt := range []testpki.KeyType{testpki.RSA2048, testpki.ECDSAP256} {
		suite := handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
		if kt == testpki.ECDSAP256 {
			suite = handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
		}
		p := startHandshake(t, hsOpts{suite: suite, leaf: testLeaf(t, kt, testpki.Good)})
		msgs, err := handshake.SplitMessages(p.transcript)
		if err != nil {
			t.Fatal(err)
		}
		var tampered []byte
		for _, m := range msgs {
			m = slices.Clone(m)
			if m[0] == handshake.TypeServerKeyExchange {
				m[len(m)-1] ^= 0x01 // inside the signature
			}
			tampered = append(tampered, m...)
		}
		checkStatus(t, fx.srv.Do(context.Background(), testDevice, pipelined(tampered)), 0, wire.StatusBadSignature)

		// A different server point under the old signature fails too.
		tampered = tampered[:0]
		for _, m := range msgs {
			m = slices.Clone(m)
			if m[0] == handshake.TypeServerKeyExchange {
				m[4+4+5] ^= 0x01 // a byte of the point
			}
			tampered = append(tampered, m...)
		}
		checkStatus(t, fx.srv.Do(context.Background(), testDevice, pipelined(tampered)), 0, wire.StatusBadSignature)
	}
	if got := requests(t, fx, "auth", "bad_signature"); got != 4 {
		t.Errorf("requests_total{auth,bad_signature} = %v", got)
	}
}

func TestOrderOfOperations(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	f := func(reqs ...wire.Request) *wire.Flight { return &wire.Flight{Requests: reqs} }
	checkStatus(t, fx.srv.Do(ctx, testDevice, f(keyGenReq(), keyReq())), 0, wire.StatusMalformed)
	checkStatus(t, fx.srv.Do(ctx, testDevice, f(keyReq())), 0, wire.StatusMalformed)

	p := startHandshake(t, hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, leaf: testLeaf(t, testpki.RSA2048, testpki.Good)})
	checkStatus(t, fx.srv.Do(ctx, testDevice, f(authReq(testHost, p.transcript), keyReq())), 1, wire.StatusMalformed)
	checkStatus(t, fx.srv.Do(ctx, testDevice, f(authReq(testHost, p.transcript), authReq(testHost, p.transcript))), 1, wire.StatusMalformed)
	checkStatus(t, fx.srv.Do(ctx, testDevice, f(authReq(testHost, p.transcript), keyGenReq(), keyGenReq())), 2, wire.StatusMalformed)
	// A request without its body, and none at all (Do takes flights from
	// Go callers too).
	checkStatus(t, fx.srv.Do(ctx, testDevice, f((*wire.AuthRequest)(nil))), 0, wire.StatusMalformed)
	checkStatus(t, fx.srv.Do(ctx, testDevice, f(nil)), 0, wire.StatusMalformed)
	// A removed device runs nothing.
	fx.reg.Remove(testDevice)
	checkStatus(t, fx.srv.Do(ctx, testDevice, f(authReq(testHost, p.transcript), keyGenReq())), 0, wire.StatusAuthFailed)
}

func TestMalformedTranscripts(t *testing.T) {
	fx := newFixture(t, nil)
	p := startHandshake(t, hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, leaf: testLeaf(t, testpki.RSA2048, testpki.Good)})
	msgs, err := handshake.SplitMessages(p.transcript)
	if err != nil {
		t.Fatal(err)
	}
	join := func(ms ...[]byte) []byte { return bytes.Join(ms, nil) }
	ch, sh, cert, ske, done := msgs[0], msgs[1], msgs[2], msgs[3], msgs[4]
	cases := map[string][]byte{
		"empty":                 nil,
		"garbage":               []byte("GET / HTTP/1.1\r\n\r\n"),
		"truncated":             p.transcript[:len(p.transcript)-1],
		"no ClientHello":        join(sh, cert, ske, done),
		"no ServerKeyExchange":  join(ch, sh, cert, done),
		"no ServerHelloDone":    join(ch, sh, cert, ske),
		"twice the certificate": join(ch, sh, cert, cert, ske, done),
		"after the done":        join(ch, sh, cert, ske, done, done),
		"bad ServerHello":       join(ch, []byte{handshake.TypeServerHello, 0, 0, 1, 3}, cert, ske, done),
	}
	for name, tr := range cases {
		t.Run(name, func(t *testing.T) {
			checkStatus(t, fx.srv.Do(context.Background(), testDevice, pipelined(tr)), 0, wire.StatusMalformed)
		})
	}
}

func TestKeyGenRejectsInvalidPoint(t *testing.T) {
	fx := newFixture(t, nil)
	st := &hsState{stage: stageAuthed, suite: handshake.SuiteByID(handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256), group: handshake.GroupP256, serverPoint: append([]byte{4}, make([]byte, 64)...)}
	_, e := fx.srv.keyGen(&Device{ID: testDevice}, st)
	if e == nil || e.Status != wire.StatusIllegalParameter || e.Detail != "invalid server ECDHE point" {
		t.Fatalf("keyGen with a point off the curve: %+v", e)
	}
	st.group, st.serverPoint = handshake.GroupX25519, make([]byte, 32) // low order
	if _, e := fx.srv.keyGen(&Device{ID: testDevice}, st); e == nil || e.Status != wire.StatusIllegalParameter {
		t.Fatalf("keyGen with a low-order X25519 point: %+v", e)
	}
	for _, c := range []struct {
		group uint16
		point []byte
	}{
		{handshake.GroupP256, []byte{0}},                              // infinity
		{handshake.GroupP384, append([]byte{4}, make([]byte, 64)...)}, // P-256's length
		{handshake.GroupX25519, make([]byte, 31)},
	} {
		st.group, st.serverPoint = c.group, c.point
		if _, e := fx.srv.keyGen(&Device{ID: testDevice}, st); e == nil || e.Status != wire.StatusIllegalParameter || st.premaster != nil {
			t.Errorf("keyGen with group %#04x point %x: %+v", c.group, c.point, e)
		}
	}
}

func TestStart(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.StartTTL = 90 * time.Second })
	ctx := context.Background()
	req := &wire.StartRequest{
		ServerName:          "API.example.com.",
		Versions:            []uint16{handshake.VersionTLS13, handshake.VersionTLS12, handshake.VersionTLS11},
		CipherSuites:        []uint16{0x1301, handshake.TLS_RSA_WITH_AES_128_GCM_SHA256, handshake.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, 0x000a, handshake.TLS_EMPTY_RENEGOTIATION_INFO_SCSV},
		Groups:              []uint16{handshake.GroupP521, handshake.GroupP384, handshake.GroupX25519, handshake.GroupP256},
		SignatureAlgorithms: []uint16{handshake.SigEd25519, handshake.SigRSAPKCS1SHA1, handshake.SigRSAPSSRSAESHA256, handshake.SigECDSAP256SHA256},
	}
	resp := fx.srv.Do(ctx, testDevice, &wire.Flight{Requests: []wire.Request{req}})
	checkOK(t, resp)
	got := resp.Results[0].Body.(*wire.StartResponse)
	eq := func(name string, got, want []uint16) {
		if !slices.Equal(got, want) {
			t.Errorf("%s: %x, want %x", name, got, want)
		}
	}
	eq("versions", got.Versions, []uint16{handshake.VersionTLS12})
	eq("suites", got.CipherSuites, []uint16{handshake.TLS_RSA_WITH_AES_128_GCM_SHA256, handshake.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256})
	eq("groups", got.Groups, []uint16{handshake.GroupP384, handshake.GroupX25519, handshake.GroupP256})
	eq("signatures", got.SignatureAlgorithms, []uint16{handshake.SigRSAPSSRSAESHA256, handshake.SigECDSAP256SHA256})
	if got.TTL != 90*time.Second {
		t.Errorf("TTL %v", got.TTL)
	}
	if len(resp.Token) != 0 {
		t.Error("Start answered with a token")
	}

	noVersion := *req
	noVersion.Versions = []uint16{handshake.VersionTLS13}
	checkStatus(t, fx.srv.Do(ctx, testDevice, &wire.Flight{Requests: []wire.Request{&noVersion}}), 0, wire.StatusUnsupported)
	noSuite := *req
	noSuite.CipherSuites = []uint16{0x1301}
	checkStatus(t, fx.srv.Do(ctx, testDevice, &wire.Flight{Requests: []wire.Request{&noSuite}}), 0, wire.StatusUnsupported)
}

func TestPanicBecomesInternal(t *testing.T) {
	fx := newFixture(t, nil)
	// A state that cannot happen: authed with no suite.
	st := &hsState{stage: stageAuthed}
	dev, _ := fx.reg.lookup(testDevice)
	_, e := fx.srv.runOp(dev, st, &wire.KeyGenRequest{})
	if e == nil || e.Status != wire.StatusInternal {
		t.Fatalf("panic in an operation: %+v", e)
	}
}
