package integration

// OCSP stapling and CRLs against real servers (issue 9): openssl s_server
// -status_file and nginx's ssl_stapling_file staple responses made by
// `openssl ocsp` from a CA index, and `openssl ca -gencrl` makes the CRL a
// device is given (version 1, as its default configuration makes them). The handshake up to
// ServerHelloDone is driven by a crypto/tls client, which offers
// status_request, and recorded as it crossed the wire; the offloader's
// Auth (Server.Do, the core every channel's flights go through) judges
// that transcript, the staple in it and the device's CRL against the
// verified path, as it does a device's flight. ocsp_device_test.go runs the
// same servers and responses through a whole device handshake (tlsclient
// offering status_request, with a real offloader).

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/offloader/server"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// ocspCA is an issuing CA on disk, for `openssl ocsp`: its certificate,
// key and index of issued certificates.
type ocspCA struct {
	dir, cert, key, index string
}

func writePEM(t *testing.T, path, typ string, der []byte) string {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// newOCSPCA writes the issuer of c (its certificate and key) into a fresh
// directory with an empty index.
func newOCSPCA(t *testing.T, name string, issuer *x509.Certificate, key any) *ocspCA {
	t.Helper()
	dir := t.TempDir()
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	ca := &ocspCA{dir: dir, cert: writePEM(t, filepath.Join(dir, name+".pem"), "CERTIFICATE", issuer.Raw),
		key: writePEM(t, filepath.Join(dir, name+".key"), "PRIVATE KEY", keyDER), index: filepath.Join(dir, "index.txt")}
	return ca
}

// respond makes, with `openssl ocsp`, the response the CA's responder
// (signer, signerKey: the CA itself when empty) gives for leaf: status
// "V" (good) or "R" (revoked), valid for minutes.
func (ca *ocspCA) respond(t *testing.T, bin string, leaf *x509.Certificate, status string, minutes int, signer, signerKey string) string {
	t.Helper()
	if signer == "" {
		signer, signerKey = ca.cert, ca.key
	}
	ca.setStatus(t, leaf, status)
	leafFile := writePEM(t, filepath.Join(ca.dir, "leaf.pem"), "CERTIFICATE", leaf.Raw)
	req := filepath.Join(ca.dir, "req.der")
	resp := filepath.Join(t.TempDir(), "resp.der")
	for _, args := range [][]string{
		{"ocsp", "-issuer", ca.cert, "-cert", leafFile, "-no_nonce", "-reqout", req},
		{"ocsp", "-index", ca.index, "-CA", ca.cert, "-rsigner", signer, "-rkey", signerKey,
			"-reqin", req, "-respout", resp, "-nmin", fmt.Sprint(minutes)},
	} {
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return resp
}

// setStatus makes the CA's index hold leaf alone, with status "V" (valid)
// or "R" (revoked an hour ago).
func (ca *ocspCA) setStatus(t *testing.T, leaf *x509.Certificate, status string) {
	t.Helper()
	// index.txt: status, expiry, revocation time, serial (hex), file, subject.
	revoked := ""
	if status == "R" {
		revoked = time.Now().Add(-time.Hour).UTC().Format("060102150405Z")
	}
	serial := fmt.Sprintf("%X", leaf.SerialNumber)
	if len(serial)%2 == 1 {
		serial = "0" + serial // openssl ca reads whole octets
	}
	line := strings.Join([]string{status, leaf.NotAfter.UTC().Format("060102150405Z"), revoked,
		serial, "unknown", "/CN=" + leaf.Subject.CommonName}, "\t") + "\n"
	if err := os.WriteFile(ca.index, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
}

// crl makes, with `openssl ca -gencrl`, a CRL of the CA's index as the
// last setStatus or respond left it (a leaf with status "R" is listed),
// valid a day.
func (ca *ocspCA) crl(t *testing.T, bin string) string {
	t.Helper()
	cnf := filepath.Join(ca.dir, "ca.cnf")
	conf := "[ca]\ndefault_ca = ca\n[ca]\ndatabase = " + ca.index + "\ndefault_md = sha256\ndefault_crl_days = 1\n"
	if err := os.WriteFile(cnf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "crl.pem")
	args := []string{"ca", "-gencrl", "-config", cnf, "-cert", ca.cert, "-keyfile", ca.key, "-out", out}
	if msg, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	return out
}

// recordingConn keeps the bytes that crossed a connection, each way.
type recordingConn struct {
	net.Conn
	mu          sync.Mutex
	sent, recvd bytes.Buffer
}

func (c *recordingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	c.recvd.Write(b[:n])
	c.mu.Unlock()
	return n, err
}

func (c *recordingConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.sent.Write(b)
	c.mu.Unlock()
	return c.Conn.Write(b)
}

// handshakeMessages splits the plaintext handshake records at the start
// of a TLS 1.2 stream (up to its ChangeCipherSpec) into messages, each
// with its 4-byte header.
func handshakeMessages(stream []byte) ([][]byte, error) {
	const (
		recordHandshake        = 22
		recordChangeCipherSpec = 20
	)
	var body []byte
	s := cryptobyte.String(stream)
	for !s.Empty() {
		var typ uint8
		var version uint16
		var frag cryptobyte.String
		if !s.ReadUint8(&typ) || !s.ReadUint16(&version) || !s.ReadUint16LengthPrefixed(&frag) {
			return nil, errors.New("truncated record")
		}
		if typ == recordChangeCipherSpec {
			break
		}
		if typ != recordHandshake {
			return nil, fmt.Errorf("record type %d before ChangeCipherSpec", typ)
		}
		body = append(body, frag...)
	}
	var msgs [][]byte
	for m := cryptobyte.String(body); !m.Empty(); {
		var typ uint8
		var msg cryptobyte.String
		if !m.ReadUint8(&typ) || !m.ReadUint24LengthPrefixed(&msg) {
			return nil, errors.New("truncated handshake message")
		}
		msgs = append(msgs, append([]byte{typ, byte(len(msg) >> 16), byte(len(msg) >> 8), byte(len(msg))}, msg...))
	}
	return msgs, nil
}

// stapledTranscript handshakes TLS 1.2 with the server at addr as a
// crypto/tls client and returns what the offloader is sent: the
// ClientHello and the server's messages through ServerHelloDone. It also
// returns the staple crypto/tls received (nil if none).
func stapledTranscript(t *testing.T, addr, serverName string) (transcript, staple []byte) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rc := &recordingConn{Conn: nc}
	// The verdict is the offloader's: crypto/tls only carries the flight.
	conn := tls.Client(rc, &tls.Config{ServerName: serverName, MaxVersion: tls.VersionTLS12,
		InsecureSkipVerify: true, CurvePreferences: []tls.CurveID{tls.CurveP256, tls.X25519}})
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := conn.HandshakeContext(ctx); err != nil {
		t.Fatalf("crypto/tls handshake with s_server: %v", err)
	}
	staple = conn.ConnectionState().OCSPResponse
	rc.mu.Lock()
	defer rc.mu.Unlock()
	client, err := handshakeMessages(rc.sent.Bytes())
	if err != nil || len(client) == 0 || client[0][0] != 1 {
		t.Fatalf("no ClientHello in what crypto/tls sent (%v)", err)
	}
	transcript = append(transcript, client[0]...)
	msgs, err := handshakeMessages(rc.recvd.Bytes())
	if err != nil {
		t.Fatalf("server flight: %v", err)
	}
	for _, m := range msgs {
		transcript = append(transcript, m...)
		if m[0] == 14 { // ServerHelloDone
			return transcript, staple
		}
	}
	t.Fatal("no ServerHelloDone in the server's flight")
	return nil, nil
}

// authAt runs Auth on transcript for device d on an offloader whose clock
// is now plus skew, through the offloader's transport-agnostic core.
func authAt(t *testing.T, d server.Device, skew time.Duration, serverName string, transcript []byte) *wire.Error {
	t.Helper()
	d.ID, d.AllowedNames = deviceID, []string{"*"}
	d.PSK = bytes.Repeat([]byte{7}, 32)
	reg := server.NewRegistry()
	if err := reg.Add(d); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Registry: reg, Logger: slog.New(slog.DiscardHandler),
		Time: func() time.Time { return time.Now().Add(skew) }})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	resp := srv.Do(context.Background(), d.ID, &wire.Flight{ID: 1, Requests: []wire.Request{
		&wire.AuthRequest{ServerName: serverName, Transcript: transcript}}})
	if len(resp.Results) != 1 {
		t.Fatalf("%d results for one request", len(resp.Results))
	}
	if e := resp.Results[0].Err; e != nil {
		return e
	}
	if _, ok := resp.Results[0].Body.(*wire.AuthResponse); !ok {
		t.Fatal("Auth accepted without a response body")
	}
	return nil
}

// ocspFixture is what the stapling tests share: a plain and a must-staple
// hierarchy, and responses made by `openssl ocsp` (file names).
type ocspFixture struct {
	plain, must *testpki.Case

	good, shortLived, wrongIssuer, revoked, mustGood string // staples
	goodCRL, revokedCRL                              string // CRLs
}

func newOCSPFixture(t *testing.T, bin string) *ocspFixture {
	t.Helper()
	now := time.Now()
	build := func(edit func(*x509.Certificate)) *testpki.Case {
		c, err := testpki.Build(now, testpki.Spec{Names: []string{"localhost", "127.0.0.1"},
			LeafKey: testpki.ECDSAP256, IntermediateKey: testpki.ECDSAP256, RootKey: testpki.ECDSAP256, Leaf: edit})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	f := &ocspFixture{plain: build(nil), must: build(func(l *x509.Certificate) {
		l.ExtraExtensions = append(l.ExtraExtensions, testpki.MustStapleExtension())
	})}
	if ok, err := certs.MustStaple(f.must.Leaf); !ok || err != nil {
		t.Fatalf("the must-staple leaf is not: %v", err)
	}
	stranger := build(nil) // another hierarchy: its intermediate signs the wrong-issuer response

	plainCA := newOCSPCA(t, "plain", f.plain.Issuer, f.plain.IssuerKey)
	mustCA := newOCSPCA(t, "must", f.must.Issuer, f.must.IssuerKey)
	strangerCA := newOCSPCA(t, "stranger", stranger.Issuer, stranger.IssuerKey)

	f.good = plainCA.respond(t, bin, f.plain.Leaf, "V", 60, "", "")
	f.goodCRL = plainCA.crl(t, bin)
	f.shortLived = plainCA.respond(t, bin, f.plain.Leaf, "V", 10, "", "") // stale 10 min from now
	f.wrongIssuer = plainCA.respond(t, bin, f.plain.Leaf, "V", 60, strangerCA.cert, strangerCA.key)
	f.revoked = plainCA.respond(t, bin, f.plain.Leaf, "R", 60, "", "")
	f.revokedCRL = plainCA.crl(t, bin) // the index now has the leaf revoked
	f.mustGood = mustCA.respond(t, bin, f.must.Leaf, "V", 60, "", "")
	return f
}

// startStapling starts peer ("openssl" or "nginx") serving c's chain and
// stapling the response in file staple ("": none), and returns its
// address, a path it serves (s_server -www's status page, a file of
// nginx's) and the status line of its answer.
func startStapling(t *testing.T, peer string, c *testpki.Case, staple string) (addr, path, status string) {
	t.Helper()
	leaf := &testpki.Leaf{Chain: c.Chain, Key: c.LeafKey, Cert: c.Leaf}
	switch peer {
	case "openssl":
		args := []string{"-www", "-tls1_2"}
		if staple != "" {
			args = append(args, "-status_file", staple)
		}
		return startOpenSSL(t, leaf, args...), "/", "HTTP/1.0 200 ok"
	case "nginx":
		requirePeer(t, "nginx")
		var extra []string
		if staple != "" {
			extra = []string{"ssl_stapling on;", "ssl_stapling_file " + staple + ";"}
		}
		addr, www := startNginx(t, leaf, extra...)
		if err := os.WriteFile(filepath.Join(www, "ok.txt"), []byte("stapled ok\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return addr, "/ok.txt", "HTTP/1.1 200 OK"
	}
	t.Fatalf("unknown peer %q", peer)
	return
}

// TestOCSPStapling: good, revoked, expired and wrongly signed responses
// stapled by s_server and by nginx, a must-staple certificate with and
// without a staple, and a device's CRL made by openssl ca.
func TestOCSPStapling(t *testing.T) {
	bin := requirePeer(t, "openssl")
	fx := newOCSPFixture(t, bin)
	plain, must := fx.plain, fx.must
	good, shortLived, wrongIssuer, revoked, mustGood := fx.good, fx.shortLived, fx.wrongIssuer, fx.revoked, fx.mustGood
	goodCRL, revokedCRL := fx.goodCRL, fx.revokedCRL
	loadCRL := func(path string) *certs.CRLSet {
		set, err := certs.LoadCRLFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return set
	}

	for _, tc := range []struct {
		name   string
		c      *testpki.Case
		staple string        // s_server's -status_file; "" staples nothing
		crls   string        // the device's crls_file; "" none
		skew   time.Duration // the offloader's clock ahead of now
		reason wire.Reason   // 0: Auth accepts
		detail string
	}{
		{name: "good", c: plain, staple: good},
		{name: "no staple", c: plain},
		{name: "revoked", c: plain, staple: revoked, reason: wire.ReasonRevoked, detail: "revoked at"},
		{name: "expired", c: plain, staple: shortLived, skew: time.Hour, reason: wire.ReasonRevocationUnknown, detail: "stale since"},
		{name: "wrong issuer", c: plain, staple: wrongIssuer, reason: wire.ReasonRevocationUnknown, detail: "signed by"},
		{name: "must-staple stapled", c: must, staple: mustGood},
		{name: "must-staple without a staple", c: must, reason: wire.ReasonRevocationUnknown, detail: "must-staple"},
		{name: "crl without the leaf", c: plain, crls: goodCRL},
		{name: "crl revokes the leaf", c: plain, crls: revokedCRL, reason: wire.ReasonRevoked, detail: "CRL"},
		{name: "crl revokes, good staple", c: plain, staple: good, crls: revokedCRL, reason: wire.ReasonRevoked, detail: "CRL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []byte
			if tc.staple != "" {
				var err error
				if want, err = os.ReadFile(tc.staple); err != nil {
					t.Fatal(err)
				}
			}
			judge := func(t *testing.T, transcript []byte) {
				d := server.Device{Roots: tc.c.Roots}
				if tc.crls != "" {
					d.CRLs = loadCRL(tc.crls)
				}
				e := authAt(t, d, tc.skew, "localhost", transcript)
				if tc.reason == 0 {
					if e != nil {
						t.Fatalf("Auth refused: %v", e)
					}
					return
				}
				if e == nil {
					t.Fatal("Auth accepted")
				}
				if e.Status != wire.StatusInvalidCertificate || e.Reason != tc.reason || !strings.Contains(e.Detail, tc.detail) {
					t.Fatalf("refused with %v, want %v naming %q", e, tc.reason, tc.detail)
				}
			}
			for _, peer := range []string{"openssl", "nginx"} {
				t.Run(peer, func(t *testing.T) {
					addr, _, _ := startStapling(t, peer, tc.c, tc.staple)
					transcript, got := stapledTranscript(t, addr, "localhost")
					if !bytes.Equal(got, want) {
						t.Fatalf("%s stapled %d bytes, want the %d of %s", peer, len(got), len(want), filepath.Base(tc.staple))
					}
					judge(t, transcript)
				})
			}
		})
	}
}
