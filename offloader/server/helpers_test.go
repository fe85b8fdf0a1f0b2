package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
	"github.com/tlsoffload/tlsoffload/record"
)

// The tests drive real TLS 1.2 handshakes against crypto/tls servers: the
// test plays the device (ClientHello, record layer, Finished), the server
// under test does every public-key operation through Do, and the
// crypto/tls server accepting the client's Finished, and its own Finished
// verifying, prove the keys right.

const (
	testDevice = "device-1"
	testHost   = "server.example.com"
)

var testPSK = bytes.Repeat([]byte{0x42}, 32)

// One PKI for the package's tests; leaves are issued once each.
var (
	pkiOnce sync.Once
	pkiVal  *testpki.PKI
	pkiErr  error
	leafMu  sync.Mutex
	leaves  = map[string]*testpki.Leaf{}
)

func testPKI(t testing.TB) *testpki.PKI {
	t.Helper()
	pkiOnce.Do(func() { pkiVal, pkiErr = testpki.New(time.Now()) })
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pkiVal
}

func testLeaf(t testing.TB, kt testpki.KeyType, d testpki.Defect) *testpki.Leaf {
	t.Helper()
	p := testPKI(t)
	leafMu.Lock()
	defer leafMu.Unlock()
	k := fmt.Sprint(kt, "/", d)
	if l, ok := leaves[k]; ok {
		return l
	}
	l, err := p.Issue([]string{testHost}, kt, d)
	if err != nil {
		t.Fatal(err)
	}
	leaves[k] = l
	return l
}

// clock is a settable Config.Time.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

type fixture struct {
	srv   *Server
	reg   *Registry
	clock *clock
}

func newFixture(t testing.TB, tweak func(*Config)) *fixture {
	t.Helper()
	p := testPKI(t)
	fx := &fixture{reg: NewRegistry(), clock: &clock{}}
	fx.clock.set(p.Now)
	if err := fx.reg.Add(Device{ID: testDevice, PSK: testPSK, Roots: p.Roots, AllowedNames: []string{"*.example.com"}}); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Registry: fx.reg,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Time:     fx.clock.now,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	fx.srv = s
	return fx
}

// hsOpts shapes the test device's ClientHello.
type hsOpts struct {
	suite      uint16
	groups     []uint16
	sigs       []uint16
	ems        bool
	sni        string // ClientHello server_name; "" sends none
	serverName string // the name given to Auth (defaults to testHost)
	leaf       *testpki.Leaf
	clientAuth bool // the server asks for a client certificate
	tweak      func(*tls.Config)
}

// peer is the device end of a handshake with a crypto/tls server.
type peer struct {
	rc         *record.Conn
	ch         *handshake.ClientHello
	transcript []byte // ClientHello … ServerHelloDone
	clientMsgs []byte // what the client sends before its ClientKeyExchange
	afterCKE   []byte // what it sends after it (a CertificateVerify)
	done       chan error
	suite      *handshake.Suite
}

// startHandshake runs a crypto/tls server on one end of a pipe, sends it
// o's ClientHello and reads its flight through ServerHelloDone.
func startHandshake(t testing.TB, o hsOpts) *peer {
	t.Helper()
	if o.groups == nil {
		o.groups = handshake.DefaultGroups
	}
	if o.sigs == nil {
		o.sigs = []uint16{handshake.SigECDSAP256SHA256, handshake.SigECDSAP384SHA384, handshake.SigRSAPSSRSAESHA256, handshake.SigRSAPKCS1SHA256}
	}
	cconn, sconn := net.Pipe()
	t.Cleanup(func() { cconn.Close(); sconn.Close() })
	tcfg := &tls.Config{
		Certificates: []tls.Certificate{o.leaf.TLSCertificate()},
		MinVersion:   tls.VersionTLS12,
		MaxVersion:   tls.VersionTLS12,
		CipherSuites: []uint16{o.suite},
	}
	if o.clientAuth {
		tcfg.ClientAuth = tls.RequestClientCert
	}
	if o.tweak != nil {
		o.tweak(tcfg)
	}
	done := make(chan error, 1)
	go func() {
		srv := tls.Server(sconn, tcfg)
		err := srv.Handshake()
		if err == nil {
			// Echo one application record to show the keys work both ways.
			buf := make([]byte, 64)
			var n int
			if n, err = srv.Read(buf); err == nil {
				_, err = srv.Write(buf[:n])
			}
		}
		done <- err
		sconn.Close()
	}()

	ch := &handshake.ClientHello{
		Version:              handshake.VersionTLS12,
		Random:               randBytes(32),
		CipherSuites:         []uint16{o.suite},
		ServerName:           o.sni,
		SupportedGroups:      o.groups,
		PointFormats:         []uint8{0},
		SignatureAlgorithms:  o.sigs,
		ExtendedMasterSecret: o.ems,
		SecureRenegotiation:  true,
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
	p := &peer{rc: rc, ch: ch, done: done, suite: handshake.SuiteByID(o.suite)}
	p.transcript = append(p.transcript, chMsg...)
	for {
		typ, msg, err := rc.ReadMessage()
		if err != nil {
			t.Fatalf("reading the server flight: %v", err)
		}
		if typ != record.TypeHandshake {
			t.Fatalf("server sent record type %d", typ)
		}
		p.transcript = append(p.transcript, msg...)
		if msg[0] == handshake.TypeCertificateRequest {
			p.clientMsgs = (&handshake.Certificate{}).Marshal() // no client certificate
		}
		if msg[0] == handshake.TypeServerHelloDone {
			break
		}
		if msg[0] == handshake.TypeServerHello {
			rc.SetVersion(handshake.VersionTLS12)
		}
	}
	return p
}

// finish completes the handshake with what the offloader returned: it
// sends ClientKeyExchange, ChangeCipherSpec and Finished, checks the
// server's Finished and an echoed record, and waits for the server.
func (p *peer) finish(t testing.TB, cke []byte, key *wire.KeyResponse) {
	t.Helper()
	s := p.suite
	if len(key.MasterSecret) != 48 || len(key.KeyBlock) != s.KeyBlockLen() {
		t.Fatalf("master %d bytes, key block %d bytes", len(key.MasterSecret), len(key.KeyBlock))
	}
	ckeMsg := (&handshake.ClientKeyExchange{Body: cke}).Marshal()
	transcript := append(append(append([]byte(nil), p.transcript...), p.clientMsgs...), ckeMsg...)
	transcript = append(transcript, p.afterCKE...)

	cmac, smac, ckey, skey, civ, siv := s.Keys(key.KeyBlock)
	wc, err := s.NewCipher(handshake.VersionTLS12, cmac, ckey, civ)
	if err != nil {
		t.Fatal(err)
	}
	rcph, err := s.NewCipher(handshake.VersionTLS12, smac, skey, siv)
	if err != nil {
		t.Fatal(err)
	}
	fin := &handshake.Finished{VerifyData: s.FinishedVerifyData(handshake.VersionTLS12, key.MasterSecret, true, hashOf(s, transcript))}
	finMsg := fin.Marshal()
	transcript = append(transcript, finMsg...)

	if err := p.rc.WriteRecords(record.TypeHandshake, append(append(append([]byte(nil), p.clientMsgs...), ckeMsg...), p.afterCKE...)); err != nil {
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
	go func() { flushed <- p.rc.Flush() }() // net.Pipe: the server reads as we write

	typ, msg, err := p.rc.ReadMessage()
	if err != nil {
		t.Fatalf("reading the server's ChangeCipherSpec: %v (server: %v)", err, <-p.done)
	}
	if typ != record.TypeChangeCipherSpec {
		t.Fatalf("got record type %d, want ChangeCipherSpec", typ)
	}
	typ, msg, err = p.rc.ReadMessage()
	if err != nil || typ != record.TypeHandshake {
		t.Fatalf("reading the server's Finished: %v", err)
	}
	var sfin handshake.Finished
	if err := sfin.Unmarshal(msg); err != nil {
		t.Fatal(err)
	}
	want := s.FinishedVerifyData(handshake.VersionTLS12, key.MasterSecret, false, hashOf(s, transcript))
	if !bytes.Equal(sfin.VerifyData, want) {
		t.Fatal("the server's Finished does not verify under the offloader's master secret")
	}
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	ping := []byte("ping through the offloaded keys")
	if _, err := p.rc.Write(ping); err != nil {
		t.Fatal(err)
	}
	typ, msg, err = p.rc.ReadMessage()
	if err != nil || typ != record.TypeApplicationData || !bytes.Equal(msg, ping) {
		t.Fatalf("echo: type %d %q %v", typ, msg, err)
	}
	if err := <-p.done; err != nil {
		t.Fatalf("crypto/tls server: %v", err)
	}
}

func hashOf(s *handshake.Suite, b []byte) []byte {
	h := s.Hash.New()
	h.Write(b)
	return h.Sum(nil)
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

func authReq(name string, transcript []byte) *wire.AuthRequest {
	return &wire.AuthRequest{ServerName: name, Transcript: transcript}
}

func keyGenReq() *wire.KeyGenRequest { return &wire.KeyGenRequest{} }

func keyReq() *wire.KeyRequest { return &wire.KeyRequest{} }

func pipelined(transcript []byte) *wire.Flight {
	return &wire.Flight{ID: 7, HandshakeID: [16]byte{1, 2, 3}, Requests: []wire.Request{
		authReq(testHost, transcript), keyGenReq(), keyReq(),
	}}
}

// checkOK fails the test unless every result of resp succeeded.
func checkOK(t testing.TB, resp *wire.FlightResponse) {
	t.Helper()
	for i, r := range resp.Results {
		if r.Err != nil {
			t.Fatalf("result %d (%v): %v (status %d, reason %d, %q)", i, r.Op(), r.Err, r.Err.Status, r.Err.Reason, r.Err.Detail)
		}
	}
}

// checkStatus checks result i failed with status and every later one was aborted.
func checkStatus(t testing.TB, resp *wire.FlightResponse, i int, status wire.Status) *wire.Error {
	t.Helper()
	if i >= len(resp.Results) {
		t.Fatalf("%d results, want a failure at %d", len(resp.Results), i)
	}
	for j := 0; j < i; j++ {
		if resp.Results[j].Err != nil {
			t.Fatalf("result %d failed: %v", j, resp.Results[j].Err)
		}
	}
	e := resp.Results[i].Err
	if e == nil {
		t.Fatalf("result %d succeeded, want status %d", i, status)
	}
	if e.Status != status {
		t.Fatalf("result %d: status %d (%q), want %d", i, e.Status, e.Detail, status)
	}
	if !errors.Is(e, status) {
		t.Fatalf("errors.Is(%v, %d) is false", e, status)
	}
	for j := i + 1; j < len(resp.Results); j++ {
		if r := resp.Results[j]; r.Err == nil || r.Err.Status != wire.StatusAborted {
			t.Fatalf("result %d after the failure: %+v, want aborted", j, r.Err)
		}
	}
	return e
}

// handshakeThrough runs a full handshake through one pipelined flight.
func handshakeThrough(t testing.TB, fx *fixture, o hsOpts) {
	t.Helper()
	p := startHandshake(t, o)
	f := pipelined(p.transcript)
	f.Requests[2].(*wire.KeyRequest).ClientMessages = p.clientMsgs
	resp := fx.srv.Do(context.Background(), testDevice, f)
	checkOK(t, resp)
	if resp.ID != 7 || len(resp.Token) != 0 {
		t.Fatalf("pipelined response: id %d, token %d bytes", resp.ID, len(resp.Token))
	}
	if n := len(resp.Results[0].Body.(*wire.AuthResponse).VerifiedChain); n != 3 {
		t.Fatalf("verified chain has %d certificates, want leaf, intermediate, root", n)
	}
	if !bytes.Equal(resp.Results[0].Body.(*wire.AuthResponse).VerifiedChain[0], o.leaf.Chain[0]) {
		t.Fatal("the verified chain does not start with the leaf")
	}
	// The certificates the server presented go back as references, the root as DER.
	if refs := resp.Results[0].Body.(*wire.AuthResponse).Presented; len(refs) != 3 || refs[0] != 0 || refs[1] != 1 || refs[2] != -1 || len(o.leaf.Chain) != 2 {
		t.Fatalf("chain references %v for %d presented certificates, want [0 1 -1]", refs, len(o.leaf.Chain))
	}
	p.finish(t, resp.Results[1].Body.(*wire.KeyGenResponse).ClientKeyExchange, resp.Results[2].Body.(*wire.KeyResponse))
}

// requests returns how many op requests ended with result ("ok", or a
// status label such as "bad_token"), from the server's Stats.
func requests(t testing.TB, fx *fixture, op, result string) uint64 {
	t.Helper()
	for _, o := range fx.srv.Stats().Ops {
		if o.Op == op {
			return o.Results[result]
		}
	}
	t.Fatalf("Stats has no op %q", op)
	return 0
}
