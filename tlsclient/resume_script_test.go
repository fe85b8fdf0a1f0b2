package tlsclient

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/record"
)

// Scripted resumptions: the session is put in the cache by the test, with
// testMaster as its master secret, so the scripted server can play the
// abbreviated handshake and send what no good server sends.

// scriptSession returns a Config on a fake offloader whose cache holds a
// session for the scripted server, and the cache key.
func scriptSession(t *testing.T, mutate func(*ClientSession)) (*Config, *scriptOffloader, string) {
	t.Helper()
	off := &scriptOffloader{}
	cfg := &Config{Offloader: off, ServerName: testServerName, SessionCache: NewLRUSessionCache(4)}
	key := newKeyFor(t, cfg)
	now := time.Now()
	s := &ClientSession{
		version: handshake.VersionTLS12, suite: scriptSuite, master: append([]byte(nil), testMaster...), ems: true,
		sessionID: bytes.Repeat([]byte{0x1d}, 32), chain: [][]byte{{1, 2, 3}}, verifiedChain: [][]byte{{1, 2, 3}},
		created: now, expires: now.Add(time.Hour),
	}
	if mutate != nil {
		mutate(s)
	}
	cfg.SessionCache.Put(key, s)
	return cfg, off, key
}

// resumedServerHello echoes the ClientHello's session id.
func (p *scriptPeer) resumedServerHello() *handshake.ServerHello {
	sh := p.defaultServerHello()
	sh.SessionID = p.hello.SessionID
	return sh
}

// resume plays the server of an abbreviated handshake after sh: an
// optional NewSessionTicket, ChangeCipherSpec and Finished (corrupt if
// asked), then the client's ChangeCipherSpec and Finished, checked.
func (p *scriptPeer) resume(sh *handshake.ServerHello, ticket *handshake.NewSessionTicket, corrupt bool) error {
	if err := p.sendServerHello(sh); err != nil {
		return err
	}
	if ticket != nil {
		if err := p.send(ticket.Marshal()); err != nil {
			return err
		}
	}
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
	if err := p.sendFinished(corrupt); err != nil {
		return err
	}
	if corrupt {
		return p.expectAlert()
	}
	if typ, _, err := p.rc.ReadMessage(); err != nil || typ != record.TypeChangeCipherSpec {
		return fmt.Errorf("want ChangeCipherSpec: %d %v", typ, err)
	}
	typ, msg, err := p.rc.ReadMessage()
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
	if _, err := p.rc.Write([]byte("resumed")); err != nil {
		return err
	}
	return nil
}

func TestScriptedResumeByID(t *testing.T) {
	cfg, off, key := scriptSession(t, nil)
	var mu sync.Mutex
	var hello *handshake.ClientHello
	c, done := runScript(t, cfg, func(p *scriptPeer) error {
		if err := p.readClientHello(); err != nil {
			return err
		}
		mu.Lock()
		hello = p.hello
		mu.Unlock()
		sh := p.resumedServerHello()
		sh.TicketSupported = true
		return p.resume(sh, &handshake.NewSessionTicket{LifetimeHint: 60, Ticket: []byte("new ticket")}, false)
	})
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "resumed" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if !bytes.Equal(hello.SessionID, bytes.Repeat([]byte{0x1d}, 32)) || len(hello.SessionTicket) != 0 || !hello.TicketSupported {
		t.Errorf("ClientHello offered id %x ticket %q", hello.SessionID, hello.SessionTicket)
	}
	mu.Unlock()
	cs := c.ConnectionState()
	if n := off.keyExchanges(); !cs.DidResume || n != 0 {
		t.Errorf("DidResume %v, %d key exchanges", cs.DidResume, n)
	}
	// The renewed ticket replaced the session id; its hint caps the TTL.
	s, ok := cfg.SessionCache.Get(key)
	if !ok || string(s.ticket) != "new ticket" || len(s.sessionID) != 0 {
		t.Fatalf("renewed session %v: ticket %q id %x", ok, s.ticket, s.sessionID)
	}
	if d := time.Until(s.Expires()); d > time.Minute || d < 50*time.Second {
		t.Errorf("renewed session expires in %v, want the 60s lifetime hint", d)
	}
	if !bytes.Equal(s.master, testMaster) {
		t.Error("renewed session lost its master secret")
	}
}

func TestScriptedResumeByTicket(t *testing.T) {
	cfg, _, _ := scriptSession(t, func(s *ClientSession) { s.ticket = []byte("old ticket"); s.sessionID = nil })
	c, done := runScript(t, cfg, func(p *scriptPeer) error {
		if err := p.readClientHello(); err != nil {
			return err
		}
		// RFC 5077 §3.4: a ticket goes with a fresh session id of its own.
		if string(p.hello.SessionTicket) != "old ticket" || len(p.hello.SessionID) != 32 {
			return fmt.Errorf("ClientHello: ticket %q, session id %x", p.hello.SessionTicket, p.hello.SessionID)
		}
		return p.resume(p.resumedServerHello(), nil, false)
	})
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !c.ConnectionState().DidResume {
		t.Error("DidResume false")
	}
}

// TestScriptedResumeRefusals: each way a resumption can go wrong aborts
// with its alert and drops the session.
func TestScriptedResumeRefusals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mutate  func(*ClientSession)
		hello   func(sh *handshake.ServerHello)
		flight  func(p *scriptPeer, sh *handshake.ServerHello) error
		alert   record.Alert
		want    string
		corrupt bool
	}{
		{name: "other version", mutate: func(s *ClientSession) { s.version = handshake.VersionTLS11 }, alert: record.AlertIllegalParameter, want: "another version"},
		{name: "other suite", hello: func(sh *handshake.ServerHello) {
			sh.CipherSuite = handshake.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
		}, alert: record.AlertIllegalParameter, want: "another cipher suite"},
		{name: "EMS dropped", hello: func(sh *handshake.ServerHello) { sh.ExtendedMasterSecret = false }, alert: record.AlertHandshakeFailure, want: "without the extension"},
		{name: "EMS added", mutate: func(s *ClientSession) { s.ems = false }, alert: record.AlertHandshakeFailure, want: "with the extension"},
		{name: "max_fragment_length lost", mutate: func(s *ClientSession) { s.maxFrag = 1 }, alert: record.AlertIllegalParameter,
			want: "another max_fragment_length"},
		{name: "bad Finished", corrupt: true, alert: record.AlertDecryptError, want: "Finished did not verify"},
		{name: "Certificate after echo", flight: func(p *scriptPeer, sh *handshake.ServerHello) error {
			if err := p.sendServerHello(sh); err != nil {
				return err
			}
			return p.send(serverFlight()...)
		}, alert: record.AlertUnexpectedMessage, want: "want ChangeCipherSpec"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, key := scriptSession(t, tc.mutate)
			cfg.ResumeWithoutEMS = true
			c, done := runScript(t, cfg, func(p *scriptPeer) error {
				if err := p.readClientHello(); err != nil {
					return err
				}
				sh := p.resumedServerHello()
				if tc.hello != nil {
					tc.hello(sh)
				}
				if tc.flight != nil {
					if err := tc.flight(p, sh); err != nil {
						return err
					}
					return p.expectAlert()
				}
				if tc.hello != nil || tc.mutate != nil {
					if err := p.sendServerHello(sh); err != nil {
						return err
					}
					return p.expectAlert()
				}
				return p.resume(sh, nil, tc.corrupt)
			})
			err := c.Handshake()
			wantAlerts(t, err, <-done, tc.alert)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to say %q", err, tc.want)
			}
			if _, ok := cfg.SessionCache.Get(key); ok {
				t.Error("session kept after a failed resumption")
			}
		})
	}
}

// TestScriptedNoEMSSessionNotOffered: RFC 7627 §5.3, a session without the
// extended master secret is not offered unless the Config allows it.
func TestScriptedNoEMSSessionNotOffered(t *testing.T) {
	for _, allow := range []bool{false, true} {
		cfg, _, _ := scriptSession(t, func(s *ClientSession) { s.ems = false })
		cfg.ResumeWithoutEMS = allow
		c, done := runScript(t, cfg, func(p *scriptPeer) error {
			if err := p.readClientHello(); err != nil {
				return err
			}
			if offered := len(p.hello.SessionID) > 0; offered != allow {
				return fmt.Errorf("ResumeWithoutEMS %v: session offered %v", allow, offered)
			}
			if !p.hello.ExtendedMasterSecret {
				return errors.New("extended_master_secret not offered")
			}
			return nil
		})
		c.Handshake() // fails once the script hangs up
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
