package server

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"testing"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
	"github.com/tlsoffload/tlsoffload/record"
)

const (
	legacyDevice = "legacy-device"
	legacyPing   = "ping through the offloaded keys"
)

// addLegacyDevice registers a device whose policy allows TLS 1.0 and up.
func addLegacyDevice(t testing.TB, fx *fixture) {
	t.Helper()
	if err := fx.reg.Add(Device{ID: legacyDevice, PSK: testPSK, Roots: testPKI(t).Roots,
		AllowedNames: []string{"*.example.com"}, MinVersion: handshake.VersionTLS10}); err != nil {
		t.Fatal(err)
	}
}

var allVersions = []uint16{handshake.VersionTLS12, handshake.VersionTLS11, handshake.VersionTLS10}

func TestStartVersionPolicy(t *testing.T) {
	fx := newFixture(t, nil)
	addLegacyDevice(t, fx)
	if err := fx.reg.Add(Device{ID: "tls11-device", PSK: testPSK, AllowedNames: []string{"*"}, MinVersion: handshake.VersionTLS11}); err != nil {
		t.Fatal(err)
	}
	start := func(dev string, versions []uint16) *wire.FlightResponse {
		return fx.srv.Do(context.Background(), dev, &wire.Flight{ID: 1, Requests: []wire.Request{&wire.StartRequest{
			ServerName: testHost, Versions: versions, CipherSuites: handshake.SuiteIDs(handshake.Suites),
			Groups: handshake.DefaultGroups, SignatureAlgorithms: handshake.DefaultSignatureAlgorithms,
		}}})
	}
	for _, c := range []struct {
		dev  string
		want []uint16
	}{
		{testDevice, []uint16{handshake.VersionTLS12}}, // off by default (RFC 8996)
		{"tls11-device", []uint16{handshake.VersionTLS12, handshake.VersionTLS11}},
		{legacyDevice, allVersions},
	} {
		resp := start(c.dev, allVersions)
		checkOK(t, resp)
		if got := resp.Results[0].Body.(*wire.StartResponse).Versions; !slices.Equal(got, c.want) {
			t.Errorf("%s: Start versions %x, want %x", c.dev, got, c.want)
		}
	}
	e := checkStatus(t, start(testDevice, []uint16{handshake.VersionTLS10, handshake.VersionTLS11}), 0, wire.StatusPolicyDenied)
	if want := "no offered protocol version is allowed for this device (it allows TLS 1.2 only)"; e.Detail != want {
		t.Errorf("detail %q, want %q", e.Detail, want)
	}
	checkStatus(t, start(testDevice, []uint16{handshake.VersionTLS13}), 0, wire.StatusUnsupported)
}

func TestRegistryMinVersion(t *testing.T) {
	r := NewRegistry()
	for _, v := range []uint16{0x0300, handshake.VersionTLS13, 1} {
		err := r.Add(Device{ID: "d", PSK: testPSK, MinVersion: v})
		if !errors.Is(err, ErrInvalidDevice) {
			t.Errorf("MinVersion %#04x: err = %v", v, err)
		}
	}
	if err := r.Add(Device{ID: "d", PSK: testPSK, MinVersion: handshake.VersionTLS11}); err != nil {
		t.Fatal(err)
	}
	if d, _ := r.lookup("d"); d.MinVersion != handshake.VersionTLS11 {
		t.Errorf("lookup lost MinVersion: %#04x", d.MinVersion)
	}
}

// legacyPeer is the device end of a handshake with a crypto/tls server at
// one version.
type legacyPeer struct {
	version    uint16
	rc         *record.Conn
	transcript []byte
	suite      *handshake.Suite
	done       chan error
}

func startLegacyHandshake(t testing.TB, version, suite uint16, leaf *testpki.Leaf) *legacyPeer {
	t.Helper()
	cconn, sconn := net.Pipe()
	t.Cleanup(func() { cconn.Close(); sconn.Close() })
	tcfg := &tls.Config{
		Certificates: []tls.Certificate{leaf.TLSCertificate()},
		MinVersion:   version, MaxVersion: version,
		CipherSuites: []uint16{suite},
	}
	done := make(chan error, 1)
	go func() {
		srv := tls.Server(sconn, tcfg)
		err := srv.Handshake()
		if err == nil {
			// TLS 1.0 splits the client's record 1/n-1: read it whole.
			buf := make([]byte, len(legacyPing))
			if _, err = io.ReadFull(srv, buf); err == nil {
				_, err = srv.Write(buf)
			}
		}
		done <- err
		sconn.Close()
	}()
	ch := &handshake.ClientHello{
		Version: version, Random: randBytes(32), CipherSuites: []uint16{suite},
		ServerName: testHost, SupportedGroups: handshake.DefaultGroups, PointFormats: []uint8{0},
		ExtendedMasterSecret: true, SecureRenegotiation: true,
	}
	if version >= handshake.VersionTLS12 {
		ch.SignatureAlgorithms = handshake.DefaultSignatureAlgorithms
	}
	chMsg, err := ch.MarshalChecked()
	if err != nil {
		t.Fatal(err)
	}
	rc := record.NewConn(cconn)
	if err := rc.WriteRecords(record.TypeHandshake, chMsg); err != nil {
		t.Fatal(err)
	}
	if err := rc.Flush(); err != nil {
		t.Fatal(err)
	}
	p := &legacyPeer{version: version, rc: rc, done: done, suite: handshake.SuiteByID(suite), transcript: chMsg}
	for {
		typ, msg, err := rc.ReadMessage()
		if err != nil {
			t.Fatalf("reading the server flight: %v", err)
		}
		if typ != record.TypeHandshake {
			t.Fatalf("server sent record type %d", typ)
		}
		p.transcript = append(p.transcript, msg...)
		if msg[0] == handshake.TypeServerHello {
			rc.SetVersion(version)
		}
		if msg[0] == handshake.TypeServerHelloDone {
			return p
		}
	}
}

// finish completes the handshake with the offloader's answers, with the
// version's PRF and transcript hash and the CBC record protection, and
// checks the server's Finished and an echo.
func (p *legacyPeer) finish(t *testing.T, cke []byte, key *wire.KeyResponse) {
	t.Helper()
	s, v := p.suite, p.version
	if len(key.MasterSecret) != 48 || len(key.KeyBlock) != s.KeyBlockLen() {
		t.Fatalf("master %d bytes, key block %d bytes", len(key.MasterSecret), len(key.KeyBlock))
	}
	ckeMsg := (&handshake.ClientKeyExchange{Body: cke}).Marshal()
	transcript := append(slices.Clone(p.transcript), ckeMsg...)
	sum := func(b []byte) []byte {
		h := s.TranscriptHash(v)
		h.Write(b)
		return h.Sum(nil)
	}
	cm, sm, ck, sk, ci, si := s.Keys(key.KeyBlock)
	wc, err := s.NewCipher(v, cm, ck, ci)
	if err != nil {
		t.Fatal(err)
	}
	rcph, err := s.NewCipher(v, sm, sk, si)
	if err != nil {
		t.Fatal(err)
	}
	finMsg := (&handshake.Finished{VerifyData: s.FinishedVerifyData(v, key.MasterSecret, true, sum(transcript))}).Marshal()
	transcript = append(transcript, finMsg...)
	if err := p.rc.WriteRecords(record.TypeHandshake, ckeMsg); err != nil {
		t.Fatal(err)
	}
	p.rc.PrepareWrite(wc)
	if err := p.rc.WriteChangeCipherSpec(); err != nil {
		t.Fatal(err)
	}
	if err := p.rc.WriteRecords(record.TypeHandshake, finMsg); err != nil {
		t.Fatal(err)
	}
	p.rc.PrepareRead(rcph)
	flushed := make(chan error, 1)
	go func() { flushed <- p.rc.Flush() }()
	typ, _, err := p.rc.ReadMessage()
	if err != nil || typ != record.TypeChangeCipherSpec {
		t.Fatalf("reading the server's ChangeCipherSpec: %d %v (server: %v)", typ, err, <-p.done)
	}
	for {
		typ, msg, err := p.rc.ReadMessage()
		if err != nil || typ != record.TypeHandshake {
			t.Fatalf("reading the server's Finished: %v", err)
		}
		if msg[0] == handshake.TypeNewSessionTicket {
			continue // cannot happen after CCS; kept for clarity
		}
		var sfin handshake.Finished
		if err := sfin.Unmarshal(msg); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(sfin.VerifyData, s.FinishedVerifyData(v, key.MasterSecret, false, sum(transcript))) {
			t.Fatal("the server's Finished does not verify under the offloader's master secret")
		}
		break
	}
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	ping := []byte(legacyPing)
	if _, err := p.rc.Write(ping); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for len(got) < len(ping) { // TLS 1.0 splits application data 1/n-1
		typ, msg, err := p.rc.ReadMessage()
		if err != nil || typ != record.TypeApplicationData {
			t.Fatalf("echo: type %d %v", typ, err)
		}
		got = append(got, msg...)
	}
	if !bytes.Equal(got, ping) {
		t.Fatalf("echo %q", got)
	}
	if err := <-p.done; err != nil {
		t.Fatalf("crypto/tls server: %v", err)
	}
}

// TestLegacyHandshakes runs real TLS 1.0 and 1.1 handshakes (and the CBC
// suites in 1.2) with crypto/tls through the offloader, pipelined and in
// the sequential mode (the token carries the version and the MD5 || SHA-1
// transcript state), and refuses the same transcripts for a device whose
// policy stops at TLS 1.2.
func TestLegacyHandshakes(t *testing.T) {
	t.Setenv("GODEBUG", "tlsrsakex=1")
	fx := newFixture(t, nil)
	addLegacyDevice(t, fx)
	rsaLeaf := testLeaf(t, testpki.RSA2048, testpki.Good)
	ecLeaf := testLeaf(t, testpki.ECDSAP256, testpki.Good)
	suites := []uint16{handshake.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, handshake.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, handshake.TLS_RSA_WITH_AES_128_CBC_SHA}
	for _, v := range allVersions {
		for _, id := range suites {
			s := handshake.SuiteByID(id)
			leaf := rsaLeaf
			if s.KeyExchange == handshake.KeyExchangeECDHEECDSA {
				leaf = ecLeaf
			}
			t.Run(fmt.Sprintf("%#04x/%s/pipelined", v, s.Name), func(t *testing.T) {
				p := startLegacyHandshake(t, v, id, leaf)
				if v < handshake.VersionTLS12 {
					checkStatus(t, fx.srv.Do(context.Background(), testDevice, pipelined(p.transcript)), 0, wire.StatusPolicyDenied)
				}
				resp := fx.srv.Do(context.Background(), legacyDevice, pipelined(p.transcript))
				checkOK(t, resp)
				p.finish(t, resp.Results[1].Body.(*wire.KeyGenResponse).ClientKeyExchange, resp.Results[2].Body.(*wire.KeyResponse))
			})
			t.Run(fmt.Sprintf("%#04x/%s/sequential", v, s.Name), func(t *testing.T) {
				p := startLegacyHandshake(t, v, id, leaf)
				hs := [16]byte{7, 7}
				ctx := context.Background()
				r1 := fx.srv.Do(ctx, legacyDevice, &wire.Flight{ID: 1, HandshakeID: hs, Requests: []wire.Request{authReq(testHost, p.transcript)}})
				checkOK(t, r1)
				r2 := fx.srv.Do(ctx, legacyDevice, &wire.Flight{ID: 2, HandshakeID: hs, Token: r1.Token, Requests: []wire.Request{keyGenReq()}})
				checkOK(t, r2)
				r3 := fx.srv.Do(ctx, legacyDevice, &wire.Flight{ID: 3, HandshakeID: hs, Token: r2.Token, Requests: []wire.Request{keyReq()}})
				checkOK(t, r3)
				p.finish(t, r2.Results[0].Body.(*wire.KeyGenResponse).ClientKeyExchange, r3.Results[0].Body.(*wire.KeyResponse))
			})
		}
	}
}

// legacySynth builds a TLS 1.0/1.1 ECDHE server flight signed by hand.
type legacySynth struct {
	version uint16
	suite   uint16
	leaf    *testpki.Leaf
	// sign signs client_random || server_random || params; nil signs as
	// the version says.
	sign    func(t *testing.T, signed []byte) []byte
	tamper  func(sig []byte) // changes the signature after signing
	shSuite uint16
}

func (o legacySynth) transcript(t *testing.T) []byte {
	t.Helper()
	ch := &handshake.ClientHello{Version: o.version, Random: randBytes(32), CipherSuites: []uint16{o.suite},
		// P-256 offered for the ECDSA leaf's curve (RFC 4492 §5.3), X25519 used.
		ServerName: testHost, SupportedGroups: []uint16{handshake.GroupX25519, handshake.GroupP256}}
	if o.shSuite != 0 {
		ch.CipherSuites = append(ch.CipherSuites, o.shSuite)
	}
	sh := &handshake.ServerHello{Version: o.version, Random: randBytes(32), CipherSuite: o.suite}
	if o.shSuite != 0 {
		sh.CipherSuite = o.shSuite
	}
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	point := k.PublicKey().Bytes()
	signed := slices.Concat(ch.Random, sh.Random, handshake.ECDHEParamsToSign(handshake.GroupX25519, point))
	var sig []byte
	if o.sign != nil {
		sig = o.sign(t, signed)
	} else {
		sig = legacySign(t, o.leaf.Key, signed)
	}
	if o.tamper != nil {
		o.tamper(sig)
	}
	body := (&handshake.ECDHEParams{Group: handshake.GroupX25519, PublicKey: point, Signature: sig}).Marshal(o.version)
	out := slices.Concat(ch.Marshal(), sh.Marshal(), (&handshake.Certificate{Certificates: o.leaf.Chain}).Marshal(),
		(&handshake.ServerKeyExchange{Body: body}).Marshal())
	cr := &handshake.CertificateRequest{Version: o.version, CertificateTypes: []uint8{1, 64}}
	out = append(out, cr.Marshal()...)
	return append(out, (&handshake.ServerHelloDone{}).Marshal()...)
}

// legacySign signs as TLS 1.0/1.1 do: RSA PKCS #1 v1.5 over MD5 || SHA-1
// without DigestInfo, ECDSA over SHA-1.
func legacySign(t *testing.T, key crypto.Signer, signed []byte) []byte {
	t.Helper()
	var digest []byte
	var opts crypto.SignerOpts
	if _, ok := key.Public().(*rsa.PublicKey); ok {
		m, s := md5.Sum(signed), sha1.Sum(signed)
		digest, opts = slices.Concat(m[:], s[:]), crypto.MD5SHA1
	} else {
		s := sha1.Sum(signed)
		digest, opts = s[:], crypto.SHA1
	}
	sig, err := key.Sign(rand.Reader, digest, opts)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// TestLegacyServerKeyExchangeSignatures checks the TLS 1.0/1.1 signature
// forms Auth verifies, good and tampered, and that the TLS 1.2 forms (a
// DigestInfo, another hash) are refused in those versions.
func TestLegacyServerKeyExchangeSignatures(t *testing.T) {
	fx := newFixture(t, nil)
	addLegacyDevice(t, fx)
	rsaLeaf := testLeaf(t, testpki.RSA2048, testpki.Good)
	ecLeaf := testLeaf(t, testpki.ECDSAP256, testpki.Good)
	flip := func(sig []byte) { sig[len(sig)/2] ^= 0x01 }
	signWith := func(key crypto.Signer, h crypto.Hash) func(t *testing.T, signed []byte) []byte {
		return func(t *testing.T, signed []byte) []byte {
			x := h.New()
			x.Write(signed)
			sig, err := key.Sign(rand.Reader, x.Sum(nil), h)
			if err != nil {
				t.Fatal(err)
			}
			return sig
		}
	}
	ecdheRSA, ecdheECDSA := handshake.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, handshake.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
	for _, v := range []uint16{handshake.VersionTLS10, handshake.VersionTLS11} {
		for _, c := range []struct {
			name   string
			o      legacySynth
			status wire.Status
		}{
			{"RSA MD5+SHA-1", legacySynth{suite: ecdheRSA, leaf: rsaLeaf}, wire.StatusOK},
			{"RSA MD5+SHA-1 tampered", legacySynth{suite: ecdheRSA, leaf: rsaLeaf, tamper: flip}, wire.StatusBadSignature},
			{"RSA with a SHA-1 DigestInfo", legacySynth{suite: ecdheRSA, leaf: rsaLeaf, sign: signWith(rsaLeaf.Key, crypto.SHA1)}, wire.StatusBadSignature},
			{"RSA with a SHA-256 DigestInfo", legacySynth{suite: ecdheRSA, leaf: rsaLeaf, sign: signWith(rsaLeaf.Key, crypto.SHA256)}, wire.StatusBadSignature},
			{"ECDSA SHA-1", legacySynth{suite: ecdheECDSA, leaf: ecLeaf}, wire.StatusOK},
			{"ECDSA SHA-1 tampered", legacySynth{suite: ecdheECDSA, leaf: ecLeaf, tamper: flip}, wire.StatusBadSignature},
			{"ECDSA over SHA-256", legacySynth{suite: ecdheECDSA, leaf: ecLeaf, sign: signWith(ecLeaf.Key, crypto.SHA256)}, wire.StatusBadSignature},
			{"ECDSA leaf for ECDHE_RSA", legacySynth{suite: ecdheRSA, leaf: ecLeaf}, wire.StatusInvalidCertificate},
			{"AEAD suite chosen", legacySynth{suite: ecdheRSA, leaf: rsaLeaf, shSuite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, wire.StatusUnsupported},
			{"SHA-256 CBC suite chosen", legacySynth{suite: ecdheRSA, leaf: rsaLeaf, shSuite: handshake.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256}, wire.StatusUnsupported},
		} {
			c.o.version = v
			t.Run(fmt.Sprintf("%#04x/%s", v, c.name), func(t *testing.T) {
				tr := c.o.transcript(t)
				resp := fx.srv.Do(context.Background(), legacyDevice, pipelined(tr))
				if c.status == wire.StatusOK {
					checkOK(t, resp)
				} else {
					checkStatus(t, resp, 0, c.status)
				}
				// The device policy refuses the version before anything else.
				checkStatus(t, fx.srv.Do(context.Background(), testDevice, pipelined(tr)), 0, wire.StatusPolicyDenied)
			})
		}
	}
}

// TestLegacyTokenState round-trips a TLS 1.0 state through a token and
// refuses a state whose version its suite does not allow.
func TestLegacyTokenState(t *testing.T) {
	s := handshake.SuiteByID(handshake.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA)
	st := &hsState{stage: stageAuthed, suite: s, clientVersion: handshake.VersionTLS11, version: handshake.VersionTLS10,
		clientRandom: randBytes(32), serverRandom: randBytes(32), group: handshake.GroupX25519, serverPoint: randBytes(32),
		transcript: s.TranscriptHash(handshake.VersionTLS10)}
	st.transcript.Write([]byte("transcript"))
	plain, err := marshalState(st, 1)
	if err != nil {
		t.Fatal(err)
	}
	back, _, err := unmarshalState(plain)
	if err != nil {
		t.Fatal(err)
	}
	m, s1 := md5.Sum([]byte("transcript")), sha1.Sum([]byte("transcript"))
	if back.version != handshake.VersionTLS10 || !bytes.Equal(back.transcript.Sum(nil), slices.Concat(m[:], s1[:])) {
		t.Errorf("version %#04x, transcript %x", back.version, back.transcript.Sum(nil))
	}
	st.suite = handshake.SuiteByID(handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)
	st.transcript = sha256.New()
	if plain, err = marshalState(st, 1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := unmarshalState(plain); err == nil {
		t.Error("a TLS 1.0 state with an AEAD suite was accepted")
	}
}

// FuzzLegacyAuth runs the operations on mutations of real TLS 1.0 and 1.1
// transcripts for a device allowed those versions: no input panics (Do
// would turn a panic into StatusInternal, which this refuses), and what
// Auth accepts leaves a state that round-trips through a token.
func FuzzLegacyAuth(f *testing.F) {
	f.Setenv("GODEBUG", "tlsrsakex=1")
	fx := newFixture(f, nil)
	addLegacyDevice(f, fx)
	rsaLeaf := testLeaf(f, testpki.RSA2048, testpki.Good)
	for _, c := range []struct {
		v, suite uint16
	}{
		{handshake.VersionTLS10, handshake.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA},
		{handshake.VersionTLS11, handshake.TLS_RSA_WITH_AES_256_CBC_SHA},
	} {
		p := startLegacyHandshake(f, c.v, c.suite, rsaLeaf)
		p.rc.NetConn().Close()
		f.Add(p.transcript)
	}
	dev, _ := fx.reg.lookup(legacyDevice)
	f.Fuzz(func(t *testing.T, transcript []byte) {
		resp := fx.srv.Do(context.Background(), legacyDevice, pipelined(transcript))
		for _, r := range resp.Results {
			if r.Err != nil && r.Err.Status == wire.StatusInternal {
				t.Fatalf("internal error: %v", r.Err)
			}
		}
		st := &hsState{}
		if _, e := fx.srv.auth(dev, st, &wire.AuthRequest{ServerName: testHost, Transcript: transcript}); e != nil {
			return
		}
		b, err := marshalState(st, 1)
		if err != nil {
			t.Fatal(err)
		}
		back, _, err := unmarshalState(b)
		if err != nil || back.version != st.version || back.suite != st.suite {
			t.Fatalf("state does not round-trip: %v", err)
		}
	})
}
