package integration

// The hostile-server kit: a scripted TLS 1.2 server on loopback that can do
// everything a real server does (it holds a testpki leaf key, signs its
// ECDHE parameters, derives the session keys from the client's
// ClientKeyExchange) and so can misbehave at any step; a record-aware relay
// that tampers with a real crypto/tls server's bytes; and a goroutine leak
// checker. The device side is always the real tlsclient with a real
// offloader (newOffloader), so every refusal is the product's own.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/record"
	"github.com/tlsoffload/tlsoffload/tlsclient"
)

// hostileSuite is what the scripted server negotiates by default: ECDHE
// with the ECDSA P-256 leaf, so signing and ECDH are cheap.
const hostileSuite = handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256

// maxRecordLen is the largest record length field a TLS 1.2 peer may send
// (RFC 5246 §6.2.3: 2^14 + 2048).
const maxRecordLen = 1<<14 + 2048

// tapConn is a net.Conn whose writes can be held back in a buffer, so a
// script can seal records with the record layer and put them on the wire
// in an order (or after an alert) the record layer would never allow.
type tapConn struct {
	net.Conn
	hold bool
	held bytes.Buffer
}

func (c *tapConn) Write(b []byte) (int, error) {
	if c.hold {
		return c.held.Write(b)
	}
	return c.Conn.Write(b)
}

// take returns the held bytes and stops holding.
func (c *tapConn) take() []byte {
	c.hold = false
	b := bytes.Clone(c.held.Bytes())
	c.held.Reset()
	return b
}

// hostilePeer is the server end of one scripted connection.
type hostilePeer struct {
	conn   *tapConn
	rc     *record.Conn
	leaf   *testpki.Leaf
	signer crypto.Signer // signs the ServerKeyExchange; nil: the leaf's key

	hello  *handshake.ClientHello
	sh     *handshake.ServerHello
	suite  *handshake.Suite
	msgs   [][]byte // the transcript so far, message by message
	ecdhe  *ecdh.PrivateKey
	master []byte
}

// rawRecord is one TLS record with any type, version and body; its length
// field is len(body) unless length >= 0 overrides it.
func rawRecord(typ record.ContentType, vers uint16, body []byte, length int) []byte {
	if length < 0 {
		length = len(body)
	}
	return append([]byte{byte(typ), byte(vers >> 8), byte(vers), byte(length >> 8), byte(length)}, body...)
}

func (p *hostilePeer) readClientHello() error {
	typ, msg, err := p.rc.ReadMessage()
	if err != nil {
		return err
	}
	if typ != record.TypeHandshake {
		return fmt.Errorf("script: got record type %d, want ClientHello", typ)
	}
	p.hello = new(handshake.ClientHello)
	if err := p.hello.Unmarshal(msg); err != nil {
		return err
	}
	p.msgs = append(p.msgs, bytes.Clone(msg))
	return nil
}

// serverHello is what a good server answers to the ClientHello.
func (p *hostilePeer) serverHello() *handshake.ServerHello {
	random := make([]byte, 32)
	rand.Read(random)
	return &handshake.ServerHello{
		Version:              handshake.VersionTLS12,
		Random:               random,
		CipherSuite:          hostileSuite,
		SecureRenegotiation:  true,
		RenegotiationInfo:    []byte{},
		ExtendedMasterSecret: p.hello.ExtendedMasterSecret,
	}
}

// sendServerHello sends sh and switches the record layer to its version.
func (p *hostilePeer) sendServerHello(sh *handshake.ServerHello) error {
	p.sh = sh
	p.suite = handshake.SuiteByID(sh.CipherSuite)
	if err := p.send(sh.Marshal()); err != nil {
		return err
	}
	p.rc.SetVersion(handshake.VersionTLS12)
	return nil
}

func (p *hostilePeer) certificate() []byte {
	return (&handshake.Certificate{Certificates: p.leaf.Chain}).Marshal()
}

// newPoint makes the server's ephemeral key on curve and returns its point.
func (p *hostilePeer) newPoint(curve ecdh.Curve) []byte {
	k, err := curve.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	p.ecdhe = k
	return k.PublicKey().Bytes()
}

// ske is a ServerKeyExchange for group and point, signed with the leaf key
// over the randoms of this handshake (RFC 8422 §5.4) unless tamper changes
// what is signed or the signature.
func (p *hostilePeer) ske(group uint16, point []byte, tamper func(signed, sig []byte) []byte) []byte {
	params := handshake.ECDHEParamsToSign(group, point)
	h := sha256.New()
	h.Write(p.hello.Random)
	h.Write(p.sh.Random)
	h.Write(params)
	signer := p.signer
	if signer == nil {
		signer = p.leaf.Key
	}
	sig, err := signer.Sign(rand.Reader, h.Sum(nil), crypto.SHA256)
	if err != nil {
		panic(err)
	}
	if tamper != nil {
		sig = tamper(params, sig)
	}
	body := (&handshake.ECDHEParams{Group: group, PublicKey: point,
		SignatureAlgorithm: handshake.SigECDSAP256SHA256, Signature: sig}).Marshal(handshake.VersionTLS12)
	return (&handshake.ServerKeyExchange{Body: body}).Marshal()
}

func serverHelloDone() []byte { return (&handshake.ServerHelloDone{}).Marshal() }

// goodFlight is Certificate, ServerKeyExchange (X25519) and ServerHelloDone.
func (p *hostilePeer) goodFlight() [][]byte {
	return [][]byte{p.certificate(), p.ske(handshake.GroupX25519, p.newPoint(ecdh.X25519()), nil), serverHelloDone()}
}

// send writes handshake messages as one flight (a record each) and adds
// them to the transcript.
func (p *hostilePeer) send(msgs ...[]byte) error {
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

// writeRaw puts bytes on the wire as they are.
func (p *hostilePeer) writeRaw(b []byte) error {
	_, err := p.conn.Write(b)
	return err
}

func (p *hostilePeer) transcriptHash() []byte {
	h := p.suite.Hash.New()
	for _, m := range p.msgs {
		h.Write(m)
	}
	return h.Sum(nil)
}

// readClientFlight reads ClientKeyExchange, ChangeCipherSpec and Finished,
// derives the keys as a real server does, checks the client's Finished and
// arms both directions' ciphers.
func (p *hostilePeer) readClientFlight() error {
	typ, msg, err := p.rc.ReadMessage()
	if err != nil {
		return err
	}
	if typ != record.TypeHandshake || msg[0] != handshake.TypeClientKeyExchange {
		return fmt.Errorf("script: want ClientKeyExchange, got %d/%x", typ, msg[:1])
	}
	p.msgs = append(p.msgs, bytes.Clone(msg))
	var cke handshake.ClientKeyExchange
	if err := cke.Unmarshal(msg); err != nil {
		return err
	}
	point, err := handshake.ParseECDHEClientKeyExchange(cke.Body)
	if err != nil {
		return err
	}
	peer, err := p.ecdhe.Curve().NewPublicKey(point)
	if err != nil {
		return err
	}
	premaster, err := p.ecdhe.ECDH(peer)
	if err != nil {
		return err
	}
	if p.sh.ExtendedMasterSecret {
		p.master = p.suite.ExtendedMasterSecret(handshake.VersionTLS12, premaster, p.transcriptHash())
	} else {
		p.master = p.suite.MasterSecret(handshake.VersionTLS12, premaster, p.hello.Random, p.sh.Random)
	}
	cmac, smac, ckey, skey, civ, siv := p.suite.Keys(p.suite.KeyBlock(handshake.VersionTLS12, p.master, p.hello.Random, p.sh.Random))
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
		return fmt.Errorf("script: want ChangeCipherSpec: %d %v", typ, err)
	}
	typ, msg, err = p.rc.ReadMessage()
	if err != nil {
		return err
	}
	var fin handshake.Finished
	if typ != record.TypeHandshake || fin.Unmarshal(msg) != nil {
		return errors.New("script: want Finished")
	}
	if want := p.suite.FinishedVerifyData(handshake.VersionTLS12, p.master, true, p.transcriptHash()); !bytes.Equal(want, fin.VerifyData) {
		return errors.New("script: the client's Finished does not verify")
	}
	p.msgs = append(p.msgs, bytes.Clone(msg))
	return nil
}

// sendFinished sends ChangeCipherSpec and Finished; tamper may change
// verify_data.
func (p *hostilePeer) sendFinished(tamper func(vd []byte)) error {
	vd := p.suite.FinishedVerifyData(handshake.VersionTLS12, p.master, false, p.transcriptHash())
	if tamper != nil {
		tamper(vd)
	}
	if err := p.rc.WriteChangeCipherSpec(); err != nil {
		return err
	}
	return p.send((&handshake.Finished{VerifyData: vd}).Marshal())
}

// fullHandshake plays a good server through its Finished.
func (p *hostilePeer) fullHandshake() error {
	if err := p.readClientHello(); err != nil {
		return err
	}
	if err := p.sendServerHello(p.serverHello()); err != nil {
		return err
	}
	if err := p.send(p.goodFlight()...); err != nil {
		return err
	}
	if err := p.readClientFlight(); err != nil {
		return err
	}
	return p.sendFinished(nil)
}

// errNoAlert is what expectAlert returns when the client closed without one.
var errNoAlert = errors.New("script: client closed without an alert")

// expectAlert reads until the client's fatal alert and returns it as the
// *record.AlertError the server's record layer reports (Remote set), or
// the error that ended reading instead.
func (p *hostilePeer) expectAlert() error {
	for {
		_, _, err := p.rc.ReadMessage()
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			return errNoAlert
		}
		return err
	}
}

// kit is one offloader and one client Config shared by a test's cases
// (the client's Start cache keeps Start off most cases' path).
type kit struct {
	env  *offloaderEnv
	leaf *testpki.Leaf
	cfg  *tlsclient.Config
}

func newKit(t *testing.T) *kit {
	t.Helper()
	p := testPKI(t)
	env := newOffloader(t, p.Roots)
	cfg := env.config("localhost")
	return &kit{env: env, leaf: issue(t, testpki.ECDSAP256, testpki.Good), cfg: cfg}
}

// caseDeadline bounds each case's handshake; every refusal must come
// before it (an error wrapping context.DeadlineExceeded where a typed error
// is wanted fails the case).
const caseDeadline = 5 * time.Second

// run plays script as the server of one loopback connection while the
// device dials it and runs client (nil: the handshake, bounded by
// caseDeadline). It returns both sides' errors once both have finished.
func (k *kit) run(t *testing.T, script func(p *hostilePeer) error, client func(ctx context.Context, c *tlsclient.Conn) error) (clientErr, serverErr error) {
	t.Helper()
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
		c.SetDeadline(time.Now().Add(2 * caseDeadline))
		tc := &tapConn{Conn: c}
		done <- script(&hostilePeer{conn: tc, rc: record.NewConn(tc), leaf: k.leaf})
	}()
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := tlsclient.Client(conn, k.cfg)
	ctx, cancel := context.WithTimeout(context.Background(), caseDeadline)
	if client == nil {
		clientErr = c.HandshakeContext(ctx)
	} else {
		clientErr = client(ctx, c)
	}
	cancel()
	c.Close()
	select {
	case serverErr = <-done:
	case <-time.After(3 * caseDeadline):
		t.Fatal("the scripted server did not finish")
	}
	return clientErr, serverErr
}

// wantAlert checks the client's error carries alert (as *record.AlertError
// with that value, reached by errors.As) and, when the client could send
// it, that the server received exactly that alert.
func wantAlert(t *testing.T, clientErr, serverErr error, alert record.Alert) {
	t.Helper()
	var ae *record.AlertError
	if !errors.As(clientErr, &ae) || ae.Alert != alert || ae.Remote {
		t.Errorf("client error %v (%T), want a local %v alert", clientErr, clientErr, alert)
	}
	var got *record.AlertError
	if !errors.As(serverErr, &got) || !got.Remote || got.Alert != alert {
		t.Errorf("server received %v, want the alert %v", serverErr, alert)
	}
	if clientErr != nil && !strings.HasPrefix(clientErr.Error(), "tlsclient: ") && !strings.HasPrefix(clientErr.Error(), "record: ") {
		t.Errorf("client error %q lacks a package prefix", clientErr)
	}
}

// wantProtocolError checks the client's error is a *tlsclient.ProtocolError
// for alert.
func wantProtocolError(t *testing.T, clientErr error, alert record.Alert) {
	t.Helper()
	var pe *tlsclient.ProtocolError
	if !errors.As(clientErr, &pe) || pe.Alert == nil || pe.Alert.Alert != alert {
		t.Errorf("client error %v (%T), want *tlsclient.ProtocolError with alert %v", clientErr, clientErr, alert)
	}
}

// ---- goroutine leaks ----

// ourGoroutines returns the stacks of the goroutines running code of this
// module, but the caller's own.
func ourGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 { // the calling goroutine
			continue
		}
		if strings.Contains(g, "github.com/tlsoffload/") {
			out = append(out, g)
		}
	}
	return out
}

// leakedSince waits up to wait for the number of our goroutines to fall
// back to before, and returns the stacks of those still running if not.
func leakedSince(before int, wait time.Duration) []string {
	for end := time.Now().Add(wait); ; {
		now := ourGoroutines()
		if len(now) <= before {
			return nil
		}
		if time.Now().After(end) {
			return now
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkNoLeak returns a function that fails t if more of our goroutines
// run than when checkNoLeak was called, once given up to 2 s to settle.
func checkNoLeak(t *testing.T) func() {
	t.Helper()
	before := len(ourGoroutines())
	return func() {
		t.Helper()
		if now := leakedSince(before, 2*time.Second); now != nil {
			t.Errorf("goroutines of ours leaked (%d before, %d after); all of them now:\n%s",
				before, len(now), strings.Join(now, "\n\n"))
		}
	}
}

// ---- a record-aware relay in front of a real server ----

// relayHook sees each record the server sends, whole (header included),
// in order; it returns the bytes to forward in its place, and stop to
// close the connection after them.
type relayHook func(i int, rec []byte) (out []byte, stop bool)

// relayLog is what a relay saw the client send: the alerts of its
// plaintext alert records (those before its ChangeCipherSpec).
type relayLog struct {
	mu     sync.Mutex
	alerts []record.Alert
}

func (l *relayLog) clientAlerts() []record.Alert {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]record.Alert(nil), l.alerts...)
}

// startRelay listens on loopback and relays each connection to server,
// client bytes unchanged, server records through hook.
func startRelay(t *testing.T, server string, hook func() relayHook) string {
	addr, _ := startRelayLog(t, server, hook)
	return addr
}

// startRelayLog is startRelay that also logs the client's alerts.
func startRelayLog(t *testing.T, server string, hook func() relayHook) (string, *relayLog) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := &relayLog{}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				relayConn(c, server, hook(), log)
			}()
		}
	}()
	return l.Addr().String(), log
}

// readRecord reads one whole record (header included) from r.
func readRecord(r io.Reader) ([]byte, error) {
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	rec := make([]byte, 5+(int(hdr[3])<<8|int(hdr[4])))
	copy(rec, hdr)
	if _, err := io.ReadFull(r, rec[5:]); err != nil {
		return nil, err
	}
	return rec, nil
}

func relayConn(c net.Conn, server string, hook relayHook, log *relayLog) {
	defer c.Close()
	s, err := net.Dial("tcp", server)
	if err != nil {
		return
	}
	defer s.Close()
	deadline := time.Now().Add(2 * caseDeadline)
	c.SetDeadline(deadline)
	s.SetDeadline(deadline)
	up := make(chan struct{})
	go func() {
		defer close(up)
		defer s.(*net.TCPConn).CloseWrite()
		encrypted := false
		for {
			rec, err := readRecord(c)
			if err != nil {
				return
			}
			switch {
			case rec[0] == byte(record.TypeChangeCipherSpec):
				encrypted = true
			case rec[0] == byte(record.TypeAlert) && !encrypted && len(rec) == 7:
				log.mu.Lock()
				log.alerts = append(log.alerts, record.Alert(rec[6]))
				log.mu.Unlock()
			}
			if _, err := s.Write(rec); err != nil {
				io.Copy(io.Discard, c)
				return
			}
		}
	}()
	for i := 0; ; i++ {
		rec, err := readRecord(s)
		if err != nil {
			break
		}
		out, stop := hook(i, rec)
		if _, err := c.Write(out); err != nil || stop {
			break
		}
	}
	// The client sees the end of the stream, and the relay keeps reading
	// what it still sends (its alert) so the close is not a reset.
	c.(*net.TCPConn).CloseWrite()
	<-up
}

// passRecords is a hook that forwards everything.
func passRecords() relayHook {
	return func(_ int, rec []byte) ([]byte, bool) { return rec, false }
}

// isHandshake reports whether rec is a plaintext handshake record that
// starts with a message of type typ.
func isHandshake(rec []byte, typ uint8) bool {
	return len(rec) > 5 && rec[0] == byte(record.TypeHandshake) && rec[5] == typ
}
