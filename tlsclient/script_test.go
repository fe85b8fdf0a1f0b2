package tlsclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/record"
)

// Scripted servers: a test plays the server message by message over the
// record layer, with a fake offloader whose master secret it knows, to
// send what no well-behaved server sends.

// testMaster is the master secret the scripted offloader hands out.
var testMaster = bytes.Repeat([]byte{0x4d}, 48)

// scriptOffloader is an in-process Offloader for scripted servers: Start
// allows what is offered (or what allow keeps of it), KeyExchange trusts
// any server and hands out testMaster and its key block, or fails with err.
type scriptOffloader struct {
	allow func(Offer) Offer
	err   error

	mu     sync.Mutex
	starts int
	calls  int           // KeyExchange calls
	last   *ServerFlight // the last KeyExchange's flight
}

func (o *scriptOffloader) Start(_ context.Context, _ string, offer Offer) (Offer, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.starts++
	if o.allow != nil {
		return o.allow(offer), nil
	}
	return offer, nil
}

func (o *scriptOffloader) KeyExchange(_ context.Context, f *ServerFlight) (*ClientFlight, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls++
	o.last = f
	if o.err != nil {
		return nil, o.err
	}
	return &ClientFlight{
		ClientKeyExchange: handshake.ECDHEClientKeyExchangeBody([]byte{4, 1, 2, 3}),
		MasterSecret:      bytes.Clone(testMaster),
		KeyBlock:          handshake.SuiteByID(f.CipherSuite).KeyBlock(f.Version, testMaster, f.ClientRandom, f.ServerRandom),
	}, nil
}

// keyExchanges reports how many KeyExchange calls were made.
func (o *scriptOffloader) keyExchanges() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.calls
}

// scriptPeer is the server side of a scripted handshake.
type scriptPeer struct {
	conn  net.Conn
	rc    *record.Conn
	hello *handshake.ClientHello
	suite *handshake.Suite
	msgs  [][]byte // the transcript, message by message
	sr    []byte
}

const scriptSuite = handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256

func (p *scriptPeer) readClientHello() error {
	typ, msg, err := p.rc.ReadMessage()
	if err != nil {
		return err
	}
	if typ != record.TypeHandshake {
		return fmt.Errorf("got record type %d", typ)
	}
	p.hello = new(handshake.ClientHello)
	if err := p.hello.Unmarshal(msg); err != nil {
		return err
	}
	p.msgs = append(p.msgs, append([]byte(nil), msg...))
	return nil
}

// defaultServerHello answers the ClientHello the way a good server would.
func (p *scriptPeer) defaultServerHello() *handshake.ServerHello {
	return &handshake.ServerHello{
		Version:              handshake.VersionTLS12,
		Random:               bytes.Repeat([]byte{0x53}, 32),
		CipherSuite:          scriptSuite,
		SecureRenegotiation:  true,
		RenegotiationInfo:    []byte{},
		ExtendedMasterSecret: true,
	}
}

// serverFlight is the Certificate, ServerKeyExchange and ServerHelloDone
// of an ECDHE_RSA server (the fake offloader checks no signature).
func serverFlight() [][]byte {
	cert := (&handshake.Certificate{Certificates: [][]byte{{0x30, 0x03, 0x02, 0x01, 0x01}}}).Marshal()
	params := &handshake.ECDHEParams{Group: handshake.GroupX25519, PublicKey: bytes.Repeat([]byte{9}, 32),
		SignatureAlgorithm: handshake.SigRSAPKCS1SHA256, Signature: bytes.Repeat([]byte{1}, 256)}
	ske := (&handshake.ServerKeyExchange{Body: params.Marshal(handshake.VersionTLS12)}).Marshal()
	return [][]byte{cert, ske, (&handshake.ServerHelloDone{}).Marshal()}
}

// send writes handshake messages in one flight and adds them to the
// transcript.
func (p *scriptPeer) send(msgs ...[]byte) error {
	for _, m := range msgs {
		if m == nil {
			return errors.New("script: message did not marshal")
		}
		if err := p.rc.WriteRecords(record.TypeHandshake, m); err != nil {
			return err
		}
		p.msgs = append(p.msgs, m)
	}
	return p.rc.Flush()
}

func (p *scriptPeer) sendServerHello(sh *handshake.ServerHello) error {
	p.sr = sh.Random
	p.suite = handshake.SuiteByID(sh.CipherSuite)
	if err := p.send(sh.Marshal()); err != nil {
		return err
	}
	p.rc.SetVersion(handshake.VersionTLS12)
	return nil
}

func (p *scriptPeer) sum() []byte {
	var t handshake.Transcript
	t.SetSuite(p.suite, handshake.VersionTLS12)
	for _, m := range p.msgs {
		t.Write(m)
	}
	return t.Sum()
}

// readClientFlight reads ClientKeyExchange, ChangeCipherSpec and Finished
// and checks the Finished; it arms the server's write cipher.
func (p *scriptPeer) readClientFlight() error {
	typ, msg, err := p.rc.ReadMessage()
	if err != nil {
		return err
	}
	if typ != record.TypeHandshake || msg[0] != handshake.TypeClientKeyExchange {
		return fmt.Errorf("want ClientKeyExchange, got %d/%x", typ, msg[:1])
	}
	p.msgs = append(p.msgs, append([]byte(nil), msg...))
	kb := p.suite.KeyBlock(handshake.VersionTLS12, testMaster, p.hello.Random, p.sr)
	cmac, smac, ckey, skey, civ, siv := p.suite.Keys(kb)
	rd, err := p.suite.NewCipher(handshake.VersionTLS12, cmac, ckey, civ)
	if err != nil {
		return err
	}
	wr, err := p.suite.NewCipher(handshake.VersionTLS12, smac, skey, siv)
	if err != nil {
		return err
	}
	p.rc.PrepareRead(rd)
	p.rc.PrepareWrite(wr)
	if typ, _, err = p.rc.ReadMessage(); err != nil || typ != record.TypeChangeCipherSpec {
		return fmt.Errorf("want ChangeCipherSpec: %d %v", typ, err)
	}
	typ, msg, err = p.rc.ReadMessage()
	if err != nil {
		return err
	}
	var fin handshake.Finished
	if typ != record.TypeHandshake || fin.Unmarshal(msg) != nil {
		return errors.New("want Finished")
	}
	if want := p.suite.FinishedVerifyData(handshake.VersionTLS12, testMaster, true, p.sum()); !bytes.Equal(want, fin.VerifyData) {
		return errors.New("client Finished does not verify")
	}
	p.msgs = append(p.msgs, append([]byte(nil), msg...))
	return nil
}

// sendFinished sends ChangeCipherSpec and Finished, correct unless corrupt.
func (p *scriptPeer) sendFinished(corrupt bool) error {
	vd := p.suite.FinishedVerifyData(handshake.VersionTLS12, testMaster, false, p.sum())
	if corrupt {
		vd[0] ^= 1
	}
	if err := p.rc.WriteChangeCipherSpec(); err != nil {
		return err
	}
	return p.send((&handshake.Finished{VerifyData: vd}).Marshal())
}

// fullHandshake plays a good server through its Finished.
func (p *scriptPeer) fullHandshake() error {
	if err := p.readClientHello(); err != nil {
		return err
	}
	if err := p.sendServerHello(p.defaultServerHello()); err != nil {
		return err
	}
	if err := p.send(serverFlight()...); err != nil {
		return err
	}
	if err := p.readClientFlight(); err != nil {
		return err
	}
	return p.sendFinished(false)
}

// expectAlert reads until an alert (or the end) and returns what the
// client sent.
func (p *scriptPeer) expectAlert() error {
	for {
		_, _, err := p.rc.ReadMessage()
		if err != nil {
			return err
		}
	}
}

// runScript runs script as the server of one connection on loopback and
// returns a client Conn to it and a channel with the script's result.
func runScript(t *testing.T, cfg *Config, script func(p *scriptPeer) error) (*Conn, <-chan error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	done := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		done <- script(&scriptPeer{conn: c, rc: record.NewConn(c)})
	}()
	if cfg == nil {
		cfg = &Config{Offloader: &scriptOffloader{}, ServerName: testServerName}
	}
	return dialClient(t, l.Addr().String(), cfg), done
}

// wantAlerts checks the client returned an error carrying alert and the
// server received that alert.
func wantAlerts(t *testing.T, clientErr, serverErr error, alert record.Alert) {
	t.Helper()
	if !errors.Is(clientErr, alert) {
		t.Errorf("client error %v, want alert %v", clientErr, alert)
	}
	var ae *record.AlertError
	if !errors.As(serverErr, &ae) || !ae.Remote || ae.Alert != alert {
		t.Errorf("server got %v, want remote alert %v", serverErr, alert)
	}
}

func TestScriptedFullHandshake(t *testing.T) {
	c, done := runScript(t, nil, func(p *scriptPeer) error {
		if err := p.fullHandshake(); err != nil {
			return err
		}
		if _, err := p.rc.Write([]byte("ping")); err != nil {
			return err
		}
		typ, msg, err := p.rc.ReadMessage()
		if err != nil || typ != record.TypeApplicationData || string(msg) != "pong" {
			return fmt.Errorf("read %d %q %v", typ, msg, err)
		}
		return nil
	})
	buf := make([]byte, 10)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if _, err := c.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The ClientHello carried what the brief asks for.
}

func TestScriptedClientHello(t *testing.T) {
	var hello *handshake.ClientHello
	cfg := &Config{Offloader: &scriptOffloader{}, ServerName: "Server.Test.", NextProtos: []string{"h2"},
		Rand: bytes.NewReader(bytes.Repeat([]byte{0xaa}, 64))}
	c, done := runScript(t, cfg, func(p *scriptPeer) error {
		err := p.readClientHello()
		hello = p.hello
		return err
	})
	go c.Handshake()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.Close()
	h := hello
	if h.Version != handshake.VersionTLS12 || !bytes.Equal(h.Random, bytes.Repeat([]byte{0xaa}, 32)) ||
		len(h.SessionID) != 0 || !bytes.Equal(h.CompressionMethods, []byte{0}) {
		t.Errorf("hello header: %#x %x %x %x", h.Version, h.Random, h.SessionID, h.CompressionMethods)
	}
	if h.ServerName != "Server.Test" {
		t.Errorf("SNI %q, want the name without its trailing dot", h.ServerName)
	}
	if def := defaultCipherSuites(!aesGCMHardware); !slices.Equal(h.CipherSuites, def) {
		t.Errorf("suites %x", h.CipherSuites)
	}
	if fmt.Sprint(h.SupportedGroups) != fmt.Sprint(handshake.DefaultGroups) || !bytes.Equal(h.PointFormats, []byte{0}) ||
		fmt.Sprint(h.SignatureAlgorithms) != fmt.Sprint(handshake.DefaultSignatureAlgorithms) {
		t.Errorf("groups %v points %v sigalgs %x", h.SupportedGroups, h.PointFormats, h.SignatureAlgorithms)
	}
	if !h.ExtendedMasterSecret || !h.SecureRenegotiation || len(h.RenegotiationInfo) != 0 || !h.TicketSupported ||
		len(h.SessionTicket) != 0 || fmt.Sprint(h.ALPNProtocols) != "[h2]" {
		t.Errorf("extensions: %+v", h)
	}
}

func TestScriptedShapeClientHello(t *testing.T) {
	cfg := &Config{Offloader: &scriptOffloader{}, ServerName: testServerName,
		ShapeClientHello: func(h *handshake.ClientHello) error {
			h.Extra = append(h.Extra, handshake.Extension{Type: 0x7777, Data: []byte{1}})
			h.CipherSuites = h.CipherSuites[:1]
			return nil
		}}
	c, done := runScript(t, cfg, func(p *scriptPeer) error {
		if err := p.readClientHello(); err != nil {
			return err
		}
		if len(p.hello.CipherSuites) != 1 || len(p.hello.Extra) != 1 || p.hello.Extra[0].Type != 0x7777 {
			return fmt.Errorf("hello not shaped: %x %v", p.hello.CipherSuites, p.hello.Extra)
		}
		// The shaped extension was sent, so the server may echo it.
		sh := p.defaultServerHello()
		sh.CipherSuite = p.hello.CipherSuites[0]
		sh.Extra = []handshake.Extension{{Type: 0x7777}}
		if err := p.sendServerHello(sh); err != nil {
			return err
		}
		// ServerHelloDone where Certificate belongs: the client got past
		// its ServerHello checks if it complains about this.
		p.send((&handshake.ServerHelloDone{}).Marshal())
		return p.expectAlert()
	})
	wantAlerts(t, c.Handshake(), <-done, record.AlertUnexpectedMessage)
}

// serverHelloCase plays ServerHello (modified by edit) and expects alert.
func serverHelloCase(t *testing.T, alert record.Alert, edit func(sh *handshake.ServerHello)) error {
	t.Helper()
	c, done := runScript(t, nil, func(p *scriptPeer) error {
		if err := p.readClientHello(); err != nil {
			return err
		}
		sh := p.defaultServerHello()
		edit(sh)
		p.send(sh.Marshal())
		return p.expectAlert()
	})
	err := c.Handshake()
	wantAlerts(t, err, <-done, alert)
	return err
}

func TestScriptedServerHelloChecks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		alert record.Alert
		edit  func(sh *handshake.ServerHello)
	}{
		{"suite not offered", record.AlertIllegalParameter, func(sh *handshake.ServerHello) { sh.CipherSuite = 0x0005 }},
		{"SCSV as suite", record.AlertIllegalParameter, func(sh *handshake.ServerHello) {
			sh.CipherSuite = handshake.TLS_EMPTY_RENEGOTIATION_INFO_SCSV
		}},
		{"TLS 1.1", record.AlertProtocolVersion, func(sh *handshake.ServerHello) { sh.Version = handshake.VersionTLS11 }},
		{"TLS 1.3 in legacy_version", record.AlertProtocolVersion, func(sh *handshake.ServerHello) { sh.Version = handshake.VersionTLS13 }},
		{"compression", record.AlertIllegalParameter, func(sh *handshake.ServerHello) { sh.CompressionMethod = 1 }},
		{"unoffered extension", record.AlertUnsupportedExtension, func(sh *handshake.ServerHello) { sh.MaxFragmentLength = 1 }},
		{"unknown extension", record.AlertUnsupportedExtension, func(sh *handshake.ServerHello) {
			sh.Extra = []handshake.Extension{{Type: 0x1234}}
		}},
		{"unoffered ALPN", record.AlertUnsupportedExtension, func(sh *handshake.ServerHello) { sh.ALPNProtocol = "h2" }},
		{"non-empty renegotiation_info", record.AlertHandshakeFailure, func(sh *handshake.ServerHello) {
			sh.RenegotiationInfo = []byte{1, 2, 3}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := serverHelloCase(t, tc.alert, tc.edit)
			if !strings.HasPrefix(err.Error(), "tlsclient: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Errorf("error %T, want *ProtocolError", err)
			}
		})
	}
}

func TestScriptedALPNNotOffered(t *testing.T) {
	cfg := &Config{Offloader: &scriptOffloader{}, ServerName: testServerName, NextProtos: []string{"http/1.1"}}
	c, done := runScript(t, cfg, func(p *scriptPeer) error {
		if err := p.readClientHello(); err != nil {
			return err
		}
		sh := p.defaultServerHello()
		sh.ALPNProtocol = "h2"
		p.send(sh.Marshal())
		return p.expectAlert()
	})
	wantAlerts(t, c.Handshake(), <-done, record.AlertIllegalParameter)
}

func TestDowngradeSentinel(t *testing.T) {
	random := func(tail []byte) []byte { return append(bytes.Repeat([]byte{1}, 24), tail...) }
	for _, tc := range []struct {
		max, v uint16
		tail   []byte
		want   bool
	}{
		{handshake.VersionTLS12, handshake.VersionTLS12, handshake.DowngradeTLS12, false}, // a 1.3 server talking to us
		{handshake.VersionTLS12, handshake.VersionTLS12, handshake.DowngradeTLS11, false},
		{handshake.VersionTLS12, handshake.VersionTLS11, handshake.DowngradeTLS11, true},
		{handshake.VersionTLS12, handshake.VersionTLS10, handshake.DowngradeTLS11, true},
		{handshake.VersionTLS12, handshake.VersionTLS11, handshake.DowngradeTLS12, false},
		{handshake.VersionTLS12, handshake.VersionTLS11, []byte("ANYTHING"), false},
		{handshake.VersionTLS13, handshake.VersionTLS12, handshake.DowngradeTLS12, true},
		{handshake.VersionTLS13, handshake.VersionTLS11, handshake.DowngradeTLS12, true},
	} {
		if got := downgraded(tc.max, tc.v, random(tc.tail)); got != tc.want {
			t.Errorf("downgraded(max %#x, %#x, %q) = %v", tc.max, tc.v, tc.tail, got)
		}
	}
	// At 1.2 the TLS 1.1 sentinel is just random bytes to us; the
	// handshake goes on (and fails later, on the missing flight).
	c, done := runScript(t, nil, func(p *scriptPeer) error {
		if err := p.readClientHello(); err != nil {
			return err
		}
		sh := p.defaultServerHello()
		copy(sh.Random[24:], handshake.DowngradeTLS12)
		if err := p.sendServerHello(sh); err != nil {
			return err
		}
		return p.send((&handshake.ServerHelloDone{}).Marshal())
	})
	err := c.Handshake()
	<-done
	if !errors.Is(err, record.AlertUnexpectedMessage) {
		t.Errorf("err = %v, want unexpected_message on the missing Certificate", err)
	}
}

func TestScriptedServerFlightOrder(t *testing.T) {
	flight := serverFlight() // Certificate, ServerKeyExchange, ServerHelloDone
	cr := (&handshake.CertificateRequest{CertificateTypes: []uint8{1},
		SignatureAlgorithms: []uint16{handshake.SigRSAPKCS1SHA256}}).Marshal()
	for _, tc := range []struct {
		name  string
		msgs  [][]byte
		alert record.Alert
	}{
		{"no Certificate", [][]byte{flight[1], flight[2]}, record.AlertUnexpectedMessage},
		{"no ServerKeyExchange", [][]byte{flight[0], flight[2]}, record.AlertUnexpectedMessage},
		{"ServerHelloDone first", [][]byte{flight[2]}, record.AlertUnexpectedMessage},
		{"CertificateRequest before ServerKeyExchange", [][]byte{flight[0], cr, flight[1], flight[2]}, record.AlertUnexpectedMessage},
		{"two Certificates", [][]byte{flight[0], flight[0]}, record.AlertUnexpectedMessage},
		{"Finished early", [][]byte{flight[0], flight[1], (&handshake.Finished{VerifyData: make([]byte, 12)}).Marshal()}, record.AlertUnexpectedMessage},
		{"truncated ServerHelloDone body", [][]byte{flight[0], flight[1], {handshake.TypeServerHelloDone, 0, 0, 1, 0}}, record.AlertDecodeError},
		{"group not offered", [][]byte{flight[0], (&handshake.ServerKeyExchange{Body: (&handshake.ECDHEParams{
			Group: handshake.GroupP521, PublicKey: []byte{4, 1}, SignatureAlgorithm: handshake.SigRSAPKCS1SHA256,
			Signature: []byte{1}}).Marshal(handshake.VersionTLS12)}).Marshal(), flight[2]}, record.AlertIllegalParameter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, done := runScript(t, nil, func(p *scriptPeer) error {
				if err := p.readClientHello(); err != nil {
					return err
				}
				if err := p.sendServerHello(p.defaultServerHello()); err != nil {
					return err
				}
				p.send(tc.msgs...)
				return p.expectAlert()
			})
			wantAlerts(t, c.Handshake(), <-done, tc.alert)
		})
	}
}

func TestScriptedRSAKeyExchangeRefusesServerKeyExchange(t *testing.T) {
	c, done := runScript(t, nil, func(p *scriptPeer) error {
		if err := p.readClientHello(); err != nil {
			return err
		}
		sh := p.defaultServerHello()
		sh.CipherSuite = handshake.TLS_RSA_WITH_AES_128_GCM_SHA256
		if err := p.sendServerHello(sh); err != nil {
			return err
		}
		p.send(serverFlight()...)
		return p.expectAlert()
	})
	wantAlerts(t, c.Handshake(), <-done, record.AlertUnexpectedMessage)
}

func TestScriptedBadFinished(t *testing.T) {
	c, done := runScript(t, nil, func(p *scriptPeer) error {
		if err := p.readClientHello(); err != nil {
			return err
		}
		if err := p.sendServerHello(p.defaultServerHello()); err != nil {
			return err
		}
		if err := p.send(serverFlight()...); err != nil {
			return err
		}
		if err := p.readClientFlight(); err != nil {
			return err
		}
		if err := p.sendFinished(true); err != nil {
			return err
		}
		return p.expectAlert()
	})
	err := c.Handshake()
	wantAlerts(t, err, <-done, record.AlertDecryptError)
	if err == nil || err.Error() != "tlsclient: server Finished did not verify" {
		t.Errorf("err = %v", err)
	}
	if _, werr := c.Write([]byte("x")); werr != err {
		t.Errorf("Write after a failed handshake: %v, want the handshake error", werr)
	}
}

func TestScriptedSessionTicket(t *testing.T) {
	ticket := (&handshake.NewSessionTicket{LifetimeHint: 300, Ticket: []byte("opaque ticket")}).Marshal()
	for _, tc := range []struct {
		name         string
		echo, send   bool
		corruptAfter bool
		alert        record.Alert
	}{
		{"echoed and sent", true, true, false, 0},
		{"sent without echo", false, true, false, record.AlertUnexpectedMessage},
		{"echoed, not sent", true, false, false, record.AlertUnexpectedMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, done := runScript(t, nil, func(p *scriptPeer) error {
				if err := p.readClientHello(); err != nil {
					return err
				}
				sh := p.defaultServerHello()
				sh.TicketSupported = tc.echo
				if err := p.sendServerHello(sh); err != nil {
					return err
				}
				if err := p.send(serverFlight()...); err != nil {
					return err
				}
				if err := p.readClientFlight(); err != nil {
					return err
				}
				if tc.send {
					if err := p.send(ticket); err != nil { // in the transcript of the Finished
						return err
					}
				}
				if err := p.sendFinished(false); err != nil {
					return err
				}
				if tc.alert != 0 {
					return p.expectAlert()
				}
				_, err := p.rc.Write([]byte("ok"))
				return err
			})
			err := c.Handshake()
			serr := <-done
			if tc.alert == 0 {
				if err != nil || serr != nil {
					t.Fatalf("client %v server %v", err, serr)
				}
				return
			}
			wantAlerts(t, err, serr, tc.alert)
		})
	}
}

func TestScriptedHelloRequestAfterHandshake(t *testing.T) {
	c, done := runScript(t, nil, func(p *scriptPeer) error {
		if err := p.fullHandshake(); err != nil {
			return err
		}
		if err := p.send((&handshake.HelloRequest{}).Marshal()); err != nil {
			return err
		}
		_, _, err := p.rc.ReadMessage()
		var ae *record.AlertError
		if !errors.As(err, &ae) || !ae.Warning || ae.Alert != record.AlertNoRenegotiation {
			return fmt.Errorf("want a no_renegotiation warning, got %v", err)
		}
		if _, err := p.rc.Write([]byte("still here")); err != nil {
			return err
		}
		// Anything else after the handshake is fatal.
		if err := p.send((&handshake.ServerHelloDone{}).Marshal()); err != nil {
			return err
		}
		return p.expectAlert()
	})
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "still here" {
		t.Fatalf("Read after HelloRequest = %q, %v", buf[:n], err)
	}
	_, err = c.Read(buf)
	wantAlerts(t, err, <-done, record.AlertUnexpectedMessage)
	if _, err2 := c.Read(buf); err2 != err {
		t.Errorf("second Read: %v, want the same error", err2)
	}
}

func TestScriptedReadBuffersLargeRecord(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789"), 1000)
	c, done := runScript(t, nil, func(p *scriptPeer) error {
		if err := p.fullHandshake(); err != nil {
			return err
		}
		_, err := p.rc.Write(payload)
		return err
	})
	var got []byte
	buf := make([]byte, 7) // smaller than the record
	for len(got) < len(payload) {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, payload) {
		t.Error("payload differs")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// The offloader's verdict decides the alert sent and the error returned.
// (offloader/client turns the protocol's statuses into these refusals;
// its tests and the real ones here check that part.)
func TestScriptedOffloaderErrors(t *testing.T) {
	cause := errors.New("the offloader's own error")
	cert := func(r CertificateReason) error { return &Refusal{Fault: FaultCertificate, Reason: r, Err: cause} }
	for _, tc := range []struct {
		name    string
		err     error
		alert   record.Alert
		certErr bool
	}{
		{"expired", cert(ReasonExpired), record.AlertCertificateExpired, true},
		{"not yet valid", cert(ReasonNotYetValid), record.AlertBadCertificate, true},
		{"unknown ca", cert(ReasonUnknownAuthority), record.AlertUnknownCA, true},
		{"name", cert(ReasonNameMismatch), record.AlertBadCertificate, true},
		{"key usage", cert(ReasonKeyUsage), record.AlertUnsupportedCertificate, true},
		{"revoked", cert(ReasonRevoked), record.AlertCertificateRevoked, true},
		{"revocation unknown", cert(ReasonRevocationUnknown), record.AlertBadCertificateStatusResponse, true},
		{"nonconforming", cert(ReasonNonConforming), record.AlertBadCertificate, true},
		{"pin", cert(ReasonPinMismatch), record.AlertBadCertificate, true},
		{"bad signature", cert(ReasonBadSignature), record.AlertDecryptError, true},
		{"policy", &Refusal{Fault: FaultPolicy, Err: cause}, record.AlertHandshakeFailure, false},
		{"wrapped policy", fmt.Errorf("wrapped: %w", &Refusal{Fault: FaultPolicy, Err: cause}), record.AlertHandshakeFailure, false},
		{"unknown fault", &Refusal{Fault: 99, Err: cause}, record.AlertInternalError, false},
		{"unusable", cause, record.AlertInternalError, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &Config{Offloader: &scriptOffloader{err: tc.err}, ServerName: testServerName}
			c, done := runScript(t, cfg, func(p *scriptPeer) error {
				if err := p.readClientHello(); err != nil {
					return err
				}
				if err := p.sendServerHello(p.defaultServerHello()); err != nil {
					return err
				}
				p.send(serverFlight()...)
				return p.expectAlert()
			})
			err := c.Handshake()
			var ae *record.AlertError
			if serr := <-done; !errors.As(serr, &ae) || ae.Alert != tc.alert {
				t.Errorf("server got %v, want %v", serr, tc.alert)
			}
			var ce *CertificateError
			var oe *OffloaderError
			if tc.certErr && (!errors.As(err, &ce) || ce.Err != tc.err || ce.Alert != tc.alert ||
				ce.ServerName != testServerName || len(ce.Chain) != 1) {
				t.Errorf("err = %v, want *CertificateError", err)
			}
			if !tc.certErr && (!errors.As(err, &oe) || oe.Op != "key exchange") {
				t.Errorf("err = %v, want *OffloaderError for the key exchange", err)
			}
			if !errors.Is(err, cause) {
				t.Errorf("the offloader's error is not reachable from %v", err)
			}
			if tc.certErr && !errors.Is(err, tc.alert) {
				t.Errorf("the alert is not reachable from %v", err)
			}
		})
	}
}

func TestScriptedOffloaderDown(t *testing.T) {
	off := &scriptOffloader{err: errors.New("connection refused")}
	cfg := &Config{Offloader: off, ServerName: testServerName}
	c, done := runScript(t, cfg, func(p *scriptPeer) error {
		if err := p.readClientHello(); err != nil {
			return err
		}
		if err := p.sendServerHello(p.defaultServerHello()); err != nil {
			return err
		}
		p.send(serverFlight()...)
		return p.expectAlert()
	})
	err := c.Handshake()
	var oe *OffloaderError
	if !errors.As(err, &oe) || oe.Op != "key exchange" {
		t.Errorf("err = %v, want *OffloaderError", err)
	}
	var ae *record.AlertError
	if serr := <-done; !errors.As(serr, &ae) || ae.Alert != record.AlertInternalError {
		t.Errorf("server got %v, want internal_error", serr)
	}

	// Start failing: no ClientHello is sent at all.
	cfg2 := &Config{Offloader: failingStart{errors.New("down")}, ServerName: testServerName}
	c2, done2 := runScript(t, cfg2, func(p *scriptPeer) error { return p.readClientHello() })
	err = c2.Handshake()
	if !errors.As(err, &oe) || oe.Op != "start" {
		t.Errorf("err = %v, want *OffloaderError for start", err)
	}
	c2.Close()
	if serr := <-done2; serr == nil {
		t.Error("a ClientHello was sent without a Start answer")
	}
}

// failingStart is an offloader whose Start fails.
type failingStart struct{ err error }

func (f failingStart) Start(context.Context, string, Offer) (Offer, error) { return Offer{}, f.err }
func (f failingStart) KeyExchange(context.Context, *ServerFlight) (*ClientFlight, error) {
	return nil, errors.New("KeyExchange without a Start")
}

func TestDeadlineNoAnswer(t *testing.T) {
	c, done := runScript(t, nil, func(p *scriptPeer) error {
		_, err := io.Copy(io.Discard, p.conn) // read, never answer
		return err
	})
	c.SetDeadline(time.Now().Add(100 * time.Millisecond))
	err := c.Handshake()
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("err %v is not a net.Error timeout", err)
	}
	c.Close()
	<-done
}

func TestHandshakeContextCancel(t *testing.T) {
	c, done := runScript(t, nil, func(p *scriptPeer) error {
		_, err := io.Copy(io.Discard, p.conn)
		return err
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	errc := make(chan error, 1)
	go func() { errc <- c.HandshakeContext(ctx) }()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "tlsclient: ") {
			t.Errorf("err = %v, want a wrapped context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("HandshakeContext did not return after its context was cancelled")
	}
	// The deadline was restored: none.
	c.NetConn().SetReadDeadline(time.Time{})
	c.Close()
	<-done

	// An already cancelled context fails without waiting.
	c2, done2 := runScript(t, nil, func(p *scriptPeer) error {
		_, err := io.Copy(io.Discard, p.conn)
		return err
	})
	if err := c2.HandshakeContext(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
	c2.Close()
	<-done2
}

func TestConfigChecks(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no offloader", Config{ServerName: "a"}, "Offloader"},
		{"no name", Config{Offloader: &scriptOffloader{}}, "ServerName"},
		{"TLS 1.3 max", Config{Offloader: &scriptOffloader{}, ServerName: "a", MaxVersion: handshake.VersionTLS13}, "MaxVersion"},
		{"SSL 3.0 min", Config{Offloader: &scriptOffloader{}, ServerName: "a", MinVersion: 0x0300}, "MinVersion"},
		{"min above max", Config{Offloader: &scriptOffloader{}, ServerName: "a", MinVersion: handshake.VersionTLS12, MaxVersion: handshake.VersionTLS11}, "MinVersion"},
		{"AEAD only at TLS 1.1", Config{Offloader: &scriptOffloader{}, ServerName: "a", MinVersion: handshake.VersionTLS10, MaxVersion: handshake.VersionTLS11,
			CipherSuites: []uint16{handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}, "CipherSuites"},
		{"unknown suite", Config{Offloader: &scriptOffloader{}, ServerName: "a", CipherSuites: []uint16{0x0005}}, "CipherSuites"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cfg.start(context.Background(), tc.cfg.ServerName)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "tlsclient: ") {
				t.Errorf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
}

func TestScriptedReadDeadlineAfterHandshake(t *testing.T) {
	release := make(chan struct{})
	c, done := runScript(t, nil, func(p *scriptPeer) error {
		if err := p.fullHandshake(); err != nil {
			return err
		}
		<-release
		_, err := p.rc.Write([]byte("late"))
		return err
	})
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	buf := make([]byte, 16)
	if n, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read = %d, %v; want a timeout", n, err)
	}
	// A timeout is not fatal: with the deadline lifted, reading goes on.
	c.SetReadDeadline(time.Time{})
	close(release)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "late" {
		t.Fatalf("Read after the timeout = %q, %v", buf[:n], err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// cachingOffloader is a scriptOffloader that says it has every Start
// answer cached (StartCacher).
type cachingOffloader struct {
	scriptOffloader
	cached int
}

func (o *cachingOffloader) CachedStart(_ string, offer Offer) (Offer, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cached++
	return offer, true
}

// A Dialer whose Offloader has the Start answer cached uses it: it runs no
// Start (and so no goroutine for one), and the handshake asks for none.
// One without the answer runs Start once, while dialling.
func TestDialerStartCached(t *testing.T) {
	for _, cached := range []bool{true, false} {
		t.Run(fmt.Sprint("cached=", cached), func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			done := make(chan error, 1)
			go func() {
				c, err := l.Accept()
				if err != nil {
					done <- err
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				done <- (&scriptPeer{conn: c, rc: record.NewConn(c)}).fullHandshake()
			}()
			co := &cachingOffloader{}
			var off Offloader = co
			if !cached {
				off = &co.scriptOffloader
			}
			cfg := &Config{Offloader: off, ServerName: testServerName}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := (&Dialer{Config: cfg}).DialContext(ctx, "tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			wantStarts, wantCached := 0, 1
			if !cached {
				wantStarts, wantCached = 1, 0
			}
			if co.starts != wantStarts || co.cached != wantCached || co.keyExchanges() != 1 {
				t.Errorf("%d Start, %d CachedStart, %d KeyExchange calls; want %d, %d, 1",
					co.starts, co.cached, co.keyExchanges(), wantStarts, wantCached)
			}
		})
	}
}
