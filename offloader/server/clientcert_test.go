package server

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
	"github.com/tlsoffload/tlsoffload/record"
)

// Client certificates for the device, issued once per key type by the test
// PKI with clientAuth as their only extended key usage.
var (
	clientMu    sync.Mutex
	clientCerts = map[testpki.KeyType]*testpki.Leaf{}
)

func clientLeaf(t testing.TB, kt testpki.KeyType) *testpki.Leaf {
	t.Helper()
	p := testPKI(t)
	clientMu.Lock()
	defer clientMu.Unlock()
	if l, ok := clientCerts[kt]; ok {
		return l
	}
	l, err := p.Issue([]string{testDevice + ".devices.example"}, kt, testpki.NoServerAuth)
	if err != nil {
		t.Fatal(err)
	}
	clientCerts[kt] = l
	return l
}

// withClientCert adds the client certificate to the fixture's device.
func withClientCert(t testing.TB, fx *fixture, l *testpki.Leaf) {
	t.Helper()
	if err := fx.reg.Add(Device{ID: testDevice, PSK: testPSK, Roots: testPKI(t).Roots, AllowedNames: []string{"*.example.com"},
		ClientCertificate: l.Chain, ClientKey: l.Key}); err != nil {
		t.Fatal(err)
	}
}

// requireClientCert makes the crypto/tls server require and verify a client
// certificate from the test root, reporting what it saw on seen.
func requireClientCert(mode tls.ClientAuthType, seen chan<- []*x509.Certificate) func(*tls.Config) {
	return func(c *tls.Config) {
		c.ClientAuth = mode
		c.ClientCAs = pkiVal.Roots
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			seen <- cs.PeerCertificates
			return nil
		}
	}
}

// checkCertificateVerify checks that cv is a CertificateVerify made with
// the leaf's key over transcript (ClientHello … ServerHelloDone), the
// client Certificate and the ClientKeyExchange, with an algorithm from
// allowed, and returns the algorithm.
func checkCertificateVerify(t testing.TB, leaf *x509.Certificate, transcript, certMsg, cke, cv []byte, allowed []uint16) uint16 {
	t.Helper()
	var m handshake.CertificateVerify
	if err := m.Unmarshal(cv); err != nil {
		t.Fatalf("CertificateVerify does not parse: %v", err)
	}
	if !bytes.Contains(flatten(allowed), []byte{byte(m.SignatureAlgorithm >> 8), byte(m.SignatureAlgorithm)}) {
		t.Fatalf("CertificateVerify algorithm %#04x not in the request's %x", m.SignatureAlgorithm, allowed)
	}
	var h crypto.Hash
	switch m.SignatureAlgorithm {
	case handshake.SigRSAPKCS1SHA256, handshake.SigRSAPSSRSAESHA256, handshake.SigECDSAP256SHA256:
		h = crypto.SHA256
	case handshake.SigRSAPKCS1SHA384, handshake.SigRSAPSSRSAESHA384, handshake.SigECDSAP384SHA384:
		h = crypto.SHA384
	case handshake.SigRSAPKCS1SHA512, handshake.SigRSAPSSRSAESHA512:
		h = crypto.SHA512
	default:
		t.Fatalf("unexpected algorithm %#04x", m.SignatureAlgorithm)
	}
	hh := h.New()
	hh.Write(transcript)
	hh.Write(certMsg)
	hh.Write((&handshake.ClientKeyExchange{Body: cke}).Marshal())
	digest := hh.Sum(nil)
	var err error
	switch pub := leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		if m.SignatureAlgorithm>>8 == 0x08 {
			err = rsa.VerifyPSS(pub, h, digest, m.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			err = rsa.VerifyPKCS1v15(pub, h, digest, m.Signature)
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest, m.Signature) {
			err = errors.New("ECDSA signature does not verify")
		}
	}
	if err != nil {
		t.Fatalf("CertificateVerify (%#04x) does not verify under the leaf key over the transcript: %v", m.SignatureAlgorithm, err)
	}
	return m.SignatureAlgorithm
}

func flatten(l []uint16) []byte {
	var b []byte
	for _, v := range l {
		b = append(b, byte(v>>8), byte(v))
	}
	return b
}

// crypto/tls servers requiring a verified client certificate accept the
// one the offloader answers with, signed over the real transcript, for
// every key type and key exchange, with and without EMS.
func TestClientCertificateAgainstCryptoTLS(t *testing.T) {
	for _, kt := range []testpki.KeyType{testpki.RSA2048, testpki.ECDSAP256, testpki.ECDSAP384} {
		for _, o := range []hsOpts{
			{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ems: true, leaf: testLeaf(t, testpki.RSA2048, testpki.Good)},
			{suite: handshake.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, leaf: testLeaf(t, testpki.ECDSAP256, testpki.Good)},
			{suite: handshake.TLS_RSA_WITH_AES_128_GCM_SHA256, ems: true, leaf: testLeaf(t, testpki.RSA2048, testpki.Good)},
		} {
			t.Run(fmt.Sprintf("key %d/%s/ems=%v", kt, handshake.SuiteByID(o.suite).Name, o.ems), func(t *testing.T) {
				cl := clientLeaf(t, kt)
				fx := newFixture(t, nil)
				// RSA key exchange is off by default for a device with a
				// client certificate (policy.go): this one allows it.
				if err := fx.reg.Add(Device{ID: testDevice, PSK: testPSK, Roots: testPKI(t).Roots, AllowedNames: []string{"*.example.com"},
					ClientCertificate: cl.Chain, ClientKey: cl.Key, KeyExchanges: allKeyExchanges}); err != nil {
					t.Fatal(err)
				}
				seen := make(chan []*x509.Certificate, 1)
				o.tweak = requireClientCert(tls.RequireAndVerifyClientCert, seen)
				p := startHandshake(t, o)
				cr := certRequestOf(t, p.transcript)

				resp := fx.srv.Do(context.Background(), testDevice, pipelined(p.transcript))
				checkOK(t, resp)
				kg := resp.Results[1].Body.(*wire.KeyGenResponse)
				want := (&handshake.Certificate{Certificates: cl.Chain}).Marshal()
				if !bytes.Equal(kg.ClientCertificate, want) {
					t.Fatal("KeyGen did not return the device's Certificate message")
				}
				checkCertificateVerify(t, cl.Cert, p.transcript, kg.ClientCertificate, kg.ClientKeyExchange, kg.CertificateVerify, cr.SignatureAlgorithms)
				p.clientMsgs, p.afterCKE = kg.ClientCertificate, kg.CertificateVerify
				p.finish(t, kg.ClientKeyExchange, resp.Results[2].Body.(*wire.KeyResponse))
				got := <-seen
				if len(got) == 0 || !got[0].Equal(cl.Cert) {
					t.Fatalf("the server saw %d certificates, not the device's leaf", len(got))
				}
			})
		}
	}
}

func certRequestOf(t testing.TB, transcript []byte) *handshake.CertificateRequest {
	t.Helper()
	msgs, err := handshake.SplitMessages(transcript)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m[0] == handshake.TypeCertificateRequest {
			cr := new(handshake.CertificateRequest)
			if err := cr.Unmarshal(m); err != nil {
				t.Fatal(err)
			}
			return cr
		}
	}
	t.Fatal("no CertificateRequest in the transcript")
	return nil
}

// The sequential mode carries the choice and the CertificateVerify hash in
// its tokens; Key may be sent the Certificate message back, or nothing.
func TestClientCertificateSequential(t *testing.T) {
	for _, echoCert := range []bool{true, false} {
		t.Run(fmt.Sprint("echo=", echoCert), func(t *testing.T) {
			cl := clientLeaf(t, testpki.ECDSAP384)
			fx := newFixture(t, nil)
			withClientCert(t, fx, cl)
			seen := make(chan []*x509.Certificate, 1)
			p := startHandshake(t, hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, ems: true,
				leaf: testLeaf(t, testpki.RSA2048, testpki.Good), tweak: requireClientCert(tls.RequireAndVerifyClientCert, seen)})
			hs := [16]byte{4, 4}
			ctx := context.Background()
			r1 := fx.srv.Do(ctx, testDevice, &wire.Flight{HandshakeID: hs, Requests: []wire.Request{authReq(testHost, p.transcript)}})
			checkOK(t, r1)
			r2 := fx.srv.Do(ctx, testDevice, &wire.Flight{HandshakeID: hs, Token: r1.Token, Requests: []wire.Request{keyGenReq()}})
			checkOK(t, r2)
			kg := r2.Results[0].Body.(*wire.KeyGenResponse)
			checkCertificateVerify(t, cl.Cert, p.transcript, kg.ClientCertificate, kg.ClientKeyExchange, kg.CertificateVerify,
				certRequestOf(t, p.transcript).SignatureAlgorithms)
			key := keyReq()
			if echoCert {
				key.ClientMessages = kg.ClientCertificate
			}
			r3 := fx.srv.Do(ctx, testDevice, &wire.Flight{HandshakeID: hs, Token: r2.Token, Requests: []wire.Request{key}})
			checkOK(t, r3)
			p.clientMsgs, p.afterCKE = kg.ClientCertificate, kg.CertificateVerify
			p.finish(t, kg.ClientKeyExchange, r3.Results[0].Body.(*wire.KeyResponse))
			if got := <-seen; len(got) == 0 || !got[0].Equal(cl.Cert) {
				t.Fatal("the server did not see the device's leaf")
			}
		})
	}
}

// A device without a client certificate answers with an empty Certificate:
// a server that only requests one goes on, one that requires one refuses.
func TestNoClientCertificate(t *testing.T) {
	for _, mode := range []tls.ClientAuthType{tls.RequestClientCert, tls.RequireAnyClientCert} {
		t.Run(mode.String(), func(t *testing.T) {
			fx := newFixture(t, nil)
			seen := make(chan []*x509.Certificate, 1)
			p := startHandshake(t, hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ems: true,
				leaf: testLeaf(t, testpki.RSA2048, testpki.Good), tweak: requireClientCert(mode, seen)})
			resp := fx.srv.Do(context.Background(), testDevice, pipelined(p.transcript))
			checkOK(t, resp)
			kg := resp.Results[1].Body.(*wire.KeyGenResponse)
			if !bytes.Equal(kg.ClientCertificate, emptyCertificate) || kg.CertificateVerify != nil {
				t.Fatalf("answer %x / %x, want an empty Certificate and no CertificateVerify", kg.ClientCertificate, kg.CertificateVerify)
			}
			p.clientMsgs = kg.ClientCertificate
			if mode == tls.RequestClientCert {
				p.finish(t, kg.ClientKeyExchange, resp.Results[2].Body.(*wire.KeyResponse))
				if got := <-seen; len(got) != 0 {
					t.Fatalf("server saw %d certificates", len(got))
				}
				return
			}
			// The server refuses at the Certificate: its alert arrives
			// while the client writes its flight.
			go func() {
				if p.rc.WriteRecords(record.TypeHandshake, append(kg.ClientCertificate, (&handshake.ClientKeyExchange{Body: kg.ClientKeyExchange}).Marshal()...)) == nil {
					p.rc.Flush()
				}
			}()
			if _, _, err := p.rc.ReadMessage(); err == nil {
				t.Fatal("the server answered an empty Certificate without an alert")
			}
			if err := <-p.done; err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("server with RequireAnyClientCert: %v, want a refusal of the empty certificate", err)
			}
		})
	}
}

// splice puts cr before the ServerHelloDone closing transcript.
func splice(transcript []byte, cr *handshake.CertificateRequest) []byte {
	done := transcript[len(transcript)-4:]
	out := append([]byte(nil), transcript[:len(transcript)-4]...)
	return append(append(out, cr.Marshal()...), done...)
}

// Hand-built CertificateRequests: which certificate and algorithm the
// offloader picks, and when it answers with no certificate.
func TestClientCertificateChoice(t *testing.T) {
	rsaCl, p256Cl, p384Cl := clientLeaf(t, testpki.RSA2048), clientLeaf(t, testpki.ECDSAP256), clientLeaf(t, testpki.ECDSAP384)
	srvLeaf := testLeaf(t, testpki.RSA2048, testpki.Good)
	base := synth{
		suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, chGroups: []uint16{handshake.GroupX25519}, chSigs: []uint16{handshake.SigRSAPKCS1SHA256},
		chain: srvLeaf.Chain, ske: true, group: handshake.GroupX25519, sigAlg: handshake.SigRSAPKCS1SHA256, signer: srvLeaf.Key, signOpts: crypto.SHA256,
		chEMS: true, shEMS: true,
	}
	all := []uint16{handshake.SigECDSAP256SHA256, handshake.SigECDSAP384SHA384, handshake.SigRSAPSSRSAESHA256, handshake.SigRSAPKCS1SHA256}
	rootDN := testPKI(t).Root.RawSubject
	interDN := testPKI(t).Intermediate.RawSubject
	cases := []struct {
		name  string
		leaf  *testpki.Leaf // nil: the device has none
		types []uint8
		sigs  []uint16
		cas   [][]byte
		want  uint16 // 0: an empty Certificate
	}{
		{"RSA, PKCS1 SHA-256", rsaCl, []uint8{1, 64}, []uint16{handshake.SigRSAPKCS1SHA256}, nil, handshake.SigRSAPKCS1SHA256},
		{"RSA, PKCS1 SHA-384", rsaCl, []uint8{1}, []uint16{handshake.SigECDSAP256SHA256, handshake.SigRSAPKCS1SHA384}, nil, handshake.SigRSAPKCS1SHA384},
		{"RSA, PKCS1 SHA-512", rsaCl, []uint8{1}, []uint16{handshake.SigRSAPKCS1SHA512}, nil, handshake.SigRSAPKCS1SHA512},
		{"RSA, PSS SHA-256", rsaCl, []uint8{1}, []uint16{handshake.SigRSAPSSRSAESHA256, handshake.SigRSAPKCS1SHA256}, nil, handshake.SigRSAPSSRSAESHA256},
		{"RSA, PSS SHA-384", rsaCl, []uint8{1}, []uint16{handshake.SigRSAPSSRSAESHA384}, nil, handshake.SigRSAPSSRSAESHA384},
		{"RSA, PSS SHA-512", rsaCl, []uint8{1}, []uint16{handshake.SigRSAPSSRSAESHA512}, nil, handshake.SigRSAPSSRSAESHA512},
		{"RSA, the server's first choice", rsaCl, []uint8{1, 64}, all, nil, handshake.SigRSAPSSRSAESHA256},
		{"RSA, only SHA-1 offered", rsaCl, []uint8{1}, []uint16{handshake.SigRSAPKCS1SHA1}, nil, 0},
		{"RSA, only PSS pss", rsaCl, []uint8{1}, []uint16{0x0809}, nil, 0},
		{"RSA, only ecdsa_sign", rsaCl, []uint8{64}, all, nil, 0},
		{"RSA, only dss_sign", rsaCl, []uint8{2}, all, nil, 0},
		{"P-256", p256Cl, []uint8{1, 64}, all, nil, handshake.SigECDSAP256SHA256},
		{"P-256, only rsa_sign", p256Cl, []uint8{1}, all, nil, 0},
		{"P-256, only SHA-384", p256Cl, []uint8{64}, []uint16{handshake.SigECDSAP384SHA384}, nil, 0},
		{"P-384", p384Cl, []uint8{64}, all, nil, handshake.SigECDSAP384SHA384},
		{"P-384, only SHA-256", p384Cl, []uint8{64}, []uint16{handshake.SigECDSAP256SHA256}, nil, 0},
		{"authority: the root", p256Cl, []uint8{64}, all, [][]byte{[]byte("0\x00"), rootDN}, handshake.SigECDSAP256SHA256},
		{"authority: the intermediate", p256Cl, []uint8{64}, all, [][]byte{interDN}, handshake.SigECDSAP256SHA256},
		{"authority: another", p256Cl, []uint8{64}, all, [][]byte{srvLeaf.Cert.RawSubject}, 0},
		{"no client certificate", nil, []uint8{1, 64}, all, nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t, nil)
			if c.leaf != nil {
				withClientCert(t, fx, c.leaf)
			}
			tr := splice(base.transcript(t), &handshake.CertificateRequest{CertificateTypes: c.types, SignatureAlgorithms: c.sigs, CertificateAuthorities: c.cas})
			resp := fx.srv.Do(context.Background(), testDevice, pipelined(tr))
			checkOK(t, resp)
			kg := resp.Results[1].Body.(*wire.KeyGenResponse)
			if c.want == 0 {
				if !bytes.Equal(kg.ClientCertificate, emptyCertificate) || kg.CertificateVerify != nil {
					t.Fatalf("answer %x / %x, want an empty Certificate only", kg.ClientCertificate, kg.CertificateVerify)
				}
				checkKeyTranscript(t, fx, tr, kg, resp.Results[2].Body.(*wire.KeyResponse))
				return
			}
			if !bytes.Equal(kg.ClientCertificate, (&handshake.Certificate{Certificates: c.leaf.Chain}).Marshal()) {
				t.Fatal("not the device's Certificate message")
			}
			if got := checkCertificateVerify(t, c.leaf.Cert, tr, kg.ClientCertificate, kg.ClientKeyExchange, kg.CertificateVerify, c.sigs); got != c.want {
				t.Fatalf("algorithm %#04x, want %#04x", got, c.want)
			}
			checkKeyTranscript(t, fx, tr, kg, resp.Results[2].Body.(*wire.KeyResponse))
		})
	}
}

// checkKeyTranscript checks Key's rule for client messages on transcript:
// the chosen Certificate echoed is accepted, another one refused. (The
// crypto/tls tests prove the session hash covers the chosen Certificate.)
func checkKeyTranscript(t testing.TB, fx *fixture, tr []byte, kg *wire.KeyGenResponse, key *wire.KeyResponse) {
	t.Helper()
	if len(key.MasterSecret) != 48 {
		t.Fatalf("master secret of %d bytes", len(key.MasterSecret))
	}
	// Run the flight again echoing the Certificate; a different one is refused.
	f := pipelined(tr)
	f.Requests[2].(*wire.KeyRequest).ClientMessages = kg.ClientCertificate
	checkOK(t, fx.srv.Do(context.Background(), testDevice, f))
	f = pipelined(tr)
	f.Requests[2].(*wire.KeyRequest).ClientMessages = (&handshake.Certificate{Certificates: [][]byte{{0x30}}}).Marshal()
	if bytes.Equal(f.Requests[2].(*wire.KeyRequest).ClientMessages, kg.ClientCertificate) {
		t.Fatal("test certificate equals the chosen one")
	}
	e := checkStatus(t, fx.srv.Do(context.Background(), testDevice, f), 2, wire.StatusMalformed)
	if !strings.Contains(e.Detail, "differ") {
		t.Fatalf("detail %q", e.Detail)
	}
}

// Client messages where no certificate was requested are refused.
func TestClientMessagesWithoutCertificateRequest(t *testing.T) {
	fx := newFixture(t, nil)
	p := startHandshake(t, hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ems: true, leaf: testLeaf(t, testpki.RSA2048, testpki.Good)})
	f := pipelined(p.transcript)
	f.Requests[2].(*wire.KeyRequest).ClientMessages = emptyCertificate
	e := checkStatus(t, fx.srv.Do(context.Background(), testDevice, f), 2, wire.StatusMalformed)
	if !strings.Contains(e.Detail, "no certificate") {
		t.Fatalf("detail %q", e.Detail)
	}
}

// A device whose certificate changes between the sequential mode's Auth
// and KeyGen gets no signature over a Certificate it would not send.
func TestClientCertificateChangedBetweenFlights(t *testing.T) {
	fx := newFixture(t, nil)
	withClientCert(t, fx, clientLeaf(t, testpki.ECDSAP256))
	seen := make(chan []*x509.Certificate, 1)
	p := startHandshake(t, hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, leaf: testLeaf(t, testpki.RSA2048, testpki.Good),
		tweak: requireClientCert(tls.RequestClientCert, seen)})
	hs := [16]byte{5}
	ctx := context.Background()
	r1 := fx.srv.Do(ctx, testDevice, &wire.Flight{HandshakeID: hs, Requests: []wire.Request{authReq(testHost, p.transcript)}})
	checkOK(t, r1)
	withClientCert(t, fx, clientLeaf(t, testpki.ECDSAP384))
	checkStatus(t, fx.srv.Do(ctx, testDevice, &wire.Flight{HandshakeID: hs, Token: r1.Token, Requests: []wire.Request{keyGenReq()}}), 0, wire.StatusBadToken)
}

// Registry.Add (and Device.Check, which the daemon's config loader calls)
// refuse what the offloader could not use, blaming the certificate or the
// key, without ever quoting the key.
func TestClientCertificateValidation(t *testing.T) {
	rsaCl, p256Cl := clientLeaf(t, testpki.RSA2048), clientLeaf(t, testpki.ECDSAP256)
	serverOnly := testLeaf(t, testpki.ECDSAP256, testpki.Good)
	weak, err := testPKI(t).Issue([]string{"weak.example"}, testpki.RSA1024, testpki.NoServerAuth)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	cases := []struct {
		name  string
		chain [][]byte
		key   crypto.Signer
		want  string
	}{
		{"key without chain", nil, rsaCl.Key, "empty chain"},
		{"chain without key", rsaCl.Chain, nil, "no private key"},
		{"garbage certificate", [][]byte{{0x30, 0x03, 1, 2, 3}}, rsaCl.Key, "does not parse"},
		{"key of another certificate", rsaCl.Chain, p256Cl.Key, "does not match"},
		{"RSA-1024", weak.Chain, weak.Key, "at least 2048"},
		{"Ed25519 key", p256Cl.Chain, edKey, "unsupported key type"},
		{"server-only certificate", serverOnly.Chain, serverOnly.Key, "client authentication"},
		{"too many certificates", append([][]byte{p256Cl.Chain[0]}, slices10(p256Cl.Chain[1])...), p256Cl.Key, "at most"},
	}
	reg := NewRegistry()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := reg.Add(Device{ID: "d", PSK: testPSK, ClientCertificate: c.chain, ClientKey: c.key})
			if !errors.Is(err, ErrInvalidDevice) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Add: %v, want ErrInvalidDevice saying %q", err, c.want)
			}
			err2 := (&Device{ID: "d", PSK: testPSK, ClientCertificate: c.chain, ClientKey: c.key}).Check()
			if err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("Check: %v, Add: %v", err2, err)
			}
			want := "ClientCertificate"
			if map[string]bool{"chain without key": true, "key of another certificate": true, "RSA-1024": true, "Ed25519 key": true}[c.name] {
				want = "ClientKey"
			}
			var de *DeviceError
			if !errors.As(err, &de) || de.Field != want || de.ID != "d" {
				t.Fatalf("%v: blames %+v, want %s", err, de, want)
			}
			if k, ok := c.key.(*rsa.PrivateKey); ok && strings.Contains(err.Error(), k.D.String()[:12]) {
				t.Fatal("the error quotes the key")
			}
		})
	}
	if err := reg.Add(Device{ID: "d", PSK: testPSK, ClientCertificate: p256Cl.Chain, ClientKey: p256Cl.Key}); err != nil {
		t.Fatal(err)
	}
	d, _ := reg.lookup("d")
	if d.cc == nil || d.ClientKey != p256Cl.Key || len(d.ClientCertificate) != len(p256Cl.Chain) {
		t.Fatal("the client certificate did not survive Add and lookup")
	}
	d.ClientCertificate[0][0] ^= 0xff // a caller's copy cannot change the registry
	if d2, _ := reg.lookup("d"); !bytes.Equal(d2.ClientCertificate[0], p256Cl.Chain[0]) {
		t.Fatal("lookup handed out the registry's certificate bytes")
	}
}

func slices10(der []byte) [][]byte {
	out := make([][]byte, handshake.MaxCertificates)
	for i := range out {
		out[i] = der
	}
	return out
}

// A signer that fails (an unplugged HSM) fails KeyGen with an internal
// error, logs which device, and never logs key material.
func TestClientCertificateSignerFailure(t *testing.T) {
	var logs bytes.Buffer
	fx := newFixture(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	cl := clientLeaf(t, testpki.RSA2048)
	if err := fx.reg.Add(Device{ID: testDevice, PSK: testPSK, Roots: testPKI(t).Roots, AllowedNames: []string{"*.example.com"},
		ClientCertificate: cl.Chain, ClientKey: failingSigner{cl.Key}}); err != nil {
		t.Fatal(err)
	}
	seen := make(chan []*x509.Certificate, 1)
	p := startHandshake(t, hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, leaf: testLeaf(t, testpki.RSA2048, testpki.Good),
		tweak: requireClientCert(tls.RequestClientCert, seen)})
	checkStatus(t, fx.srv.Do(context.Background(), testDevice, pipelined(p.transcript)), 1, wire.StatusInternal)
	out := logs.String()
	if !strings.Contains(out, testDevice) || strings.Contains(out, cl.Key.(*rsa.PrivateKey).D.String()[:12]) {
		t.Fatalf("log: %s", out)
	}
}

type failingSigner struct{ crypto.Signer }

func (failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("token not present")
}

// FuzzTokenStateClientAuth is FuzzTokenState seeded with states that hold
// a chosen client certificate (after Auth, with the CertificateVerify hash;
// after KeyGen, without) and an empty answer.
func FuzzTokenStateClientAuth(f *testing.F) {
	fx := newFixture(f, nil)
	withClientCert(f, fx, clientLeaf(f, testpki.ECDSAP256))
	dev, _ := fx.reg.lookup(testDevice)
	nocert := *dev
	nocert.cc = nil
	for _, d := range []*Device{dev, &nocert} {
		seen := make(chan []*x509.Certificate, 1)
		p := startHandshake(f, hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, ems: true,
			leaf: testLeaf(f, testpki.RSA2048, testpki.Good), tweak: requireClientCert(tls.RequestClientCert, seen)})
		p.rc.NetConn().Close()
		st := &hsState{}
		if _, e := fx.srv.auth(dev, st, &wire.AuthRequest{ServerName: testHost, Transcript: p.transcript}); e != nil {
			f.Fatal(e)
		}
		if d.cc == nil { // the same transcript answered as a device without a certificate
			st = &hsState{}
			if _, e := fx.srv.auth(d, st, &wire.AuthRequest{ServerName: testHost, Transcript: p.transcript}); e != nil {
				f.Fatal(e)
			}
		}
		for i := range 2 {
			b, err := marshalState(st, 1)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
			if i == 0 {
				if _, e := fx.srv.keyGen(d, st); e != nil {
					f.Fatal(e)
				}
			}
		}
	}
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

// TLS 1.0 and 1.1: the request names no algorithms; the CertificateVerify
// carries the signature alone, RSA PKCS #1 v1.5 over MD5 || SHA-1 without
// DigestInfo, ECDSA over SHA-1, whatever the curve. Pipelined and through
// the sequential mode's tokens.
func TestLegacyClientCertificate(t *testing.T) {
	srvLeaf := testLeaf(t, testpki.RSA2048, testpki.Good)
	for _, v := range []uint16{handshake.VersionTLS10, handshake.VersionTLS11} {
		for _, kt := range []testpki.KeyType{testpki.RSA2048, testpki.ECDSAP256, testpki.ECDSAP384} {
			for _, sequential := range []bool{false, true} {
				t.Run(fmt.Sprintf("%#04x/key %d/sequential=%v", v, kt, sequential), func(t *testing.T) {
					cl := clientLeaf(t, kt)
					fx := newFixture(t, nil)
					if err := fx.reg.Add(Device{ID: testDevice, PSK: testPSK, Roots: testPKI(t).Roots, AllowedNames: []string{"*.example.com"},
						MinVersion: handshake.VersionTLS10, ClientCertificate: cl.Chain, ClientKey: cl.Key}); err != nil {
						t.Fatal(err)
					}
					tr := legacySynth{version: v, suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, leaf: srvLeaf}.transcript(t)
					var kg *wire.KeyGenResponse
					if sequential {
						hs := [16]byte{byte(v), byte(kt)}
						ctx := context.Background()
						r1 := fx.srv.Do(ctx, testDevice, &wire.Flight{HandshakeID: hs, Requests: []wire.Request{authReq(testHost, tr)}})
						checkOK(t, r1)
						r2 := fx.srv.Do(ctx, testDevice, &wire.Flight{HandshakeID: hs, Token: r1.Token, Requests: []wire.Request{keyGenReq()}})
						checkOK(t, r2)
						kg = r2.Results[0].Body.(*wire.KeyGenResponse)
					} else {
						resp := fx.srv.Do(context.Background(), testDevice, pipelined(tr))
						checkOK(t, resp)
						kg = resp.Results[1].Body.(*wire.KeyGenResponse)
					}
					if !bytes.Equal(kg.ClientCertificate, (&handshake.Certificate{Certificates: cl.Chain}).Marshal()) {
						t.Fatal("not the device's Certificate message")
					}
					cv := handshake.CertificateVerify{Version: v}
					if err := cv.Unmarshal(kg.CertificateVerify); err != nil {
						t.Fatalf("CertificateVerify in the %#04x form: %v", v, err)
					}
					signed := slices.Concat(tr, kg.ClientCertificate, (&handshake.ClientKeyExchange{Body: kg.ClientKeyExchange}).Marshal())
					switch pub := cl.Cert.PublicKey.(type) {
					case *rsa.PublicKey:
						m, s := md5.Sum(signed), sha1.Sum(signed)
						if err := rsa.VerifyPKCS1v15(pub, crypto.MD5SHA1, slices.Concat(m[:], s[:]), cv.Signature); err != nil {
							t.Fatalf("RSA MD5+SHA-1 signature: %v", err)
						}
					case *ecdsa.PublicKey:
						s := sha1.Sum(signed)
						if !ecdsa.VerifyASN1(pub, s[:], cv.Signature) {
							t.Fatal("ECDSA SHA-1 signature does not verify")
						}
					}
				})
			}
		}
	}
}

// FuzzDoClientAuth is FuzzDo for a device holding a client certificate,
// seeded with real server flights that request one: no transcript or client messages make it panic or fail
// inside, and a flight succeeds whole or stops at its first failure.
func FuzzDoClientAuth(f *testing.F) {
	fx := newFixture(f, nil)
	cl := clientLeaf(f, testpki.RSA2048)
	if err := fx.reg.Add(Device{ID: testDevice, PSK: testPSK, Roots: testPKI(f).Roots, AllowedNames: []string{"*.example.com"},
		MinVersion: handshake.VersionTLS10, ClientCertificate: cl.Chain, ClientKey: cl.Key}); err != nil {
		f.Fatal(err)
	}
	seen := make(chan []*x509.Certificate, 4)
	for _, o := range []hsOpts{
		{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ems: true, leaf: testLeaf(f, testpki.RSA2048, testpki.Good)},
		{suite: handshake.TLS_RSA_WITH_AES_128_GCM_SHA256, leaf: testLeaf(f, testpki.RSA2048, testpki.Good)},
	} {
		o.tweak = requireClientCert(tls.RequireAndVerifyClientCert, seen)
		p := startHandshake(f, o)
		p.rc.NetConn().Close()
		f.Add(p.transcript, []byte{})
		f.Add(p.transcript, (&handshake.Certificate{Certificates: cl.Chain}).Marshal())
	}
	f.Fuzz(func(t *testing.T, transcript, clientMsgs []byte) {
		fl := pipelined(transcript)
		fl.Requests[2].(*wire.KeyRequest).ClientMessages = clientMsgs
		resp := fx.srv.Do(context.Background(), testDevice, fl)
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
		if !failed {
			if _, err := resp.Marshal(); err != nil {
				t.Fatalf("a successful response does not marshal: %v", err)
			}
		}
	})
}
