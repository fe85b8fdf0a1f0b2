package integration

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
	"github.com/tlsoffload/tlsoffload/record"
	"github.com/tlsoffload/tlsoffload/tlsclient"
)

// TestHostileServer plays servers that break TLS 1.2 in every way a device
// meets on a hostile network, against the real client and a real
// offloader. Each case checks the typed error the device gets, the alert
// the server receives (where the client can still send one), that the
// refusal comes before the handshake deadline, and that no goroutine of
// ours outlives the case.
func TestHostileServer(t *testing.T) {
	k := newKit(t)

	// The control: the scripted server completes a real handshake (so
	// every refusal below is the client's doing, not the script's) and
	// sends data, close_notify, and then a record that must never reach
	// the application.
	t.Run("control and record after close_notify", func(t *testing.T) {
		var got []byte
		var reads []error
		clientErr, serverErr := k.run(t, func(p *hostilePeer) error {
			if err := p.fullHandshake(); err != nil {
				return err
			}
			// Sealed in order (sequence numbers 0, 1, 2), sent at once:
			// data, close_notify, data after it.
			p.conn.hold = true
			if _, err := p.rc.Write([]byte("hello")); err != nil {
				return err
			}
			if err := p.rc.WriteRecords(record.TypeAlert, []byte{1, byte(record.AlertCloseNotify)}); err != nil {
				return err
			}
			if _, err := p.rc.Write([]byte("after close_notify")); err != nil {
				return err
			}
			if err := p.rc.Flush(); err != nil {
				return err
			}
			if err := p.writeRaw(p.conn.take()); err != nil {
				return err
			}
			return p.expectAlert() // the client closes: close_notify, no fatal alert
		}, func(ctx context.Context, c *tlsclient.Conn) error {
			if err := c.HandshakeContext(ctx); err != nil {
				return err
			}
			c.SetReadDeadline(time.Now().Add(caseDeadline))
			buf := make([]byte, 64)
			for i := 0; i < 3; i++ {
				n, err := c.Read(buf)
				got = append(got, buf[:n]...)
				reads = append(reads, err)
			}
			return nil
		})
		if clientErr != nil {
			t.Fatalf("handshake with the scripted server: %v", clientErr)
		}
		if string(got) != "hello" {
			t.Errorf("read %q, want only the data before close_notify", got)
		}
		if reads[0] != nil || !errors.Is(reads[1], io.EOF) || !errors.Is(reads[2], io.EOF) {
			t.Errorf("reads returned %v, want data, then io.EOF for good", reads)
		}
		if serverErr != errNoAlert {
			t.Errorf("server: %v, want the client to close with close_notify only", serverErr)
		}
	})
	// The offloader's channel now exists: leaks are counted from here.

	type hostileCase struct {
		name   string
		script func(p *hostilePeer) error
		check  func(t *testing.T, clientErr, serverErr error)
	}
	// afterHello runs the ClientHello/ServerHello exchange, then then.
	afterHello := func(then func(p *hostilePeer) error) func(p *hostilePeer) error {
		return func(p *hostilePeer) error {
			if err := p.readClientHello(); err != nil {
				return err
			}
			if err := p.sendServerHello(p.serverHello()); err != nil {
				return err
			}
			return then(p)
		}
	}
	// withFlight sends the messages flight(p) returns after the hellos and
	// waits for the client's alert.
	withFlight := func(flight func(p *hostilePeer) [][]byte) func(p *hostilePeer) error {
		return afterHello(func(p *hostilePeer) error {
			if err := p.send(flight(p)...); err != nil {
				return err
			}
			return p.expectAlert()
		})
	}
	// withRaw writes raw bytes after the hellos and waits for the alert.
	withRaw := func(raw func(p *hostilePeer) []byte) func(p *hostilePeer) error {
		return afterHello(func(p *hostilePeer) error {
			if err := p.writeRaw(raw(p)); err != nil {
				return err
			}
			return p.expectAlert()
		})
	}
	protocol := func(alert record.Alert) func(t *testing.T, clientErr, serverErr error) {
		return func(t *testing.T, clientErr, serverErr error) {
			wantProtocolError(t, clientErr, alert)
			wantAlert(t, clientErr, serverErr, alert)
		}
	}
	recordLayer := func(alert record.Alert) func(t *testing.T, clientErr, serverErr error) {
		return func(t *testing.T, clientErr, serverErr error) { wantAlert(t, clientErr, serverErr, alert) }
	}
	// certificate wants a *tlsclient.CertificateError with status, and alert.
	certificate := func(status wire.Status, alert record.Alert) func(t *testing.T, clientErr, serverErr error) {
		return func(t *testing.T, clientErr, serverErr error) {
			var ce *tlsclient.CertificateError
			if !errors.As(clientErr, &ce) || wireErr(ce).Status != status {
				t.Errorf("client error %v (%T), want *tlsclient.CertificateError with status %v", clientErr, clientErr, status)
			}
			var got *record.AlertError
			if !errors.As(serverErr, &got) || !got.Remote || got.Alert != alert {
				t.Errorf("server received %v, want the alert %v", serverErr, alert)
			}
		}
	}
	// refusedPoint: the offloader's KeyGen refuses the server's point as an
	// illegal parameter; the client blames the server (*ProtocolError,
	// illegal_parameter), not the offloader, and the verdict stays reachable.
	refusedPoint := func(t *testing.T, clientErr, serverErr error) {
		protocol(record.AlertIllegalParameter)(t, clientErr, serverErr)
		var oe *tlsclient.OffloaderError
		var we *wire.Error
		if errors.As(clientErr, &oe) || !errors.Is(clientErr, record.AlertIllegalParameter) || !errors.As(clientErr, &we) || we.Op != wire.OpKeyGen || we.Status != wire.StatusIllegalParameter {
			t.Errorf("client error %v (%T), want the offloader's KeyGen verdict (illegal parameter), not an *tlsclient.OffloaderError", clientErr, clientErr)
		}
	}
	unexpectedEOF := func(t *testing.T, clientErr, serverErr error) {
		if !errors.Is(clientErr, io.ErrUnexpectedEOF) {
			t.Errorf("client error %v, want io.ErrUnexpectedEOF", clientErr)
		}
	}
	// signedPoint is a flight whose ServerKeyExchange carries point on
	// group, correctly signed: only the point itself is wrong.
	signedPoint := func(group uint16, point func(p *hostilePeer) []byte) func(p *hostilePeer) [][]byte {
		return func(p *hostilePeer) [][]byte {
			return [][]byte{p.certificate(), p.ske(group, point(p), nil), serverHelloDone()}
		}
	}
	p256 := func(p *hostilePeer) []byte { return p.newPoint(ecdh.P256()) }
	notOnCurve := func(p *hostilePeer) []byte {
		pt := p256(p)
		pt[len(pt)-1] ^= 1 // y no longer matches x
		return pt
	}
	// RFC 7748 §6.1: these X25519 inputs give an all-zero shared secret.
	zero25519 := func(*hostilePeer) []byte { return make([]byte, 32) }
	one25519 := func(*hostilePeer) []byte { return append([]byte{1}, make([]byte, 31)...) }
	certRecord := func(p *hostilePeer) []byte {
		return rawRecord(record.TypeHandshake, handshake.VersionTLS12, p.certificate(), -1)
	}

	cases := []hostileCase{
		// Truncation: the peer goes away in the middle; nothing to alert.
		{"truncated record body", afterHello(func(p *hostilePeer) error {
			rec := certRecord(p)
			p.writeRaw(rec[:len(rec)/2])
			p.conn.Conn.(*net.TCPConn).CloseWrite()
			return p.expectAlert()
		}), unexpectedEOF},
		{"truncated record header", afterHello(func(p *hostilePeer) error {
			p.writeRaw(certRecord(p)[:3])
			p.conn.Conn.(*net.TCPConn).CloseWrite()
			return p.expectAlert()
		}), unexpectedEOF},
		{"truncated handshake message", afterHello(func(p *hostilePeer) error {
			msg := p.certificate()
			p.writeRaw(rawRecord(record.TypeHandshake, handshake.VersionTLS12, msg[:len(msg)-10], -1))
			p.conn.Conn.(*net.TCPConn).CloseWrite()
			return p.expectAlert()
		}), unexpectedEOF},

		// Oversized lengths: refused from the header, before reading (or
		// allocating for) the body.
		{"record length 2^14+2048+1", withRaw(func(p *hostilePeer) []byte {
			return rawRecord(record.TypeHandshake, handshake.VersionTLS12, nil, maxRecordLen+1)
		}), recordLayer(record.AlertRecordOverflow)},
		{"record length 0xffff", withRaw(func(p *hostilePeer) []byte {
			return rawRecord(record.TypeHandshake, handshake.VersionTLS12, nil, 0xffff)
		}), recordLayer(record.AlertRecordOverflow)},
		{"plaintext record of 2^14+1", withRaw(func(p *hostilePeer) []byte {
			return rawRecord(record.TypeHandshake, handshake.VersionTLS12, make([]byte, 1<<14+1), -1)
		}), recordLayer(record.AlertRecordOverflow)},
		{"handshake message length 2^24-1", withRaw(func(p *hostilePeer) []byte {
			return rawRecord(record.TypeHandshake, handshake.VersionTLS12, []byte{handshake.TypeCertificate, 0xff, 0xff, 0xff}, -1)
		}), func(t *testing.T, clientErr, serverErr error) {
			// The record layer bounds a handshake message before buffering it.
			var ae *record.AlertError
			if !errors.As(clientErr, &ae) || ae.Remote {
				t.Errorf("client error %v, want a local alert", clientErr)
			}
			var got *record.AlertError
			if !errors.As(serverErr, &got) || ae == nil || got.Alert != ae.Alert {
				t.Errorf("server received %v, want the client's alert", serverErr)
			}
		}},

		// Wrong record versions once the ServerHello fixed TLS 1.2.
		{"record version TLS 1.0 after ServerHello", withRaw(func(p *hostilePeer) []byte {
			return rawRecord(record.TypeHandshake, handshake.VersionTLS10, p.certificate(), -1)
		}), recordLayer(record.AlertProtocolVersion)},
		{"record version 0x0304 after ServerHello", withRaw(func(p *hostilePeer) []byte {
			return rawRecord(record.TypeHandshake, 0x0304, p.certificate(), -1)
		}), recordLayer(record.AlertProtocolVersion)},
		{"record version 0x7f00 before ServerHello", func(p *hostilePeer) error {
			if err := p.readClientHello(); err != nil {
				return err
			}
			p.sh = p.serverHello()
			p.writeRaw(rawRecord(record.TypeHandshake, 0x7f00, p.sh.Marshal(), -1))
			return p.expectAlert()
		}, recordLayer(record.AlertProtocolVersion)},

		// Handshake messages out of order.
		{"ServerHelloDone before Certificate", withFlight(func(p *hostilePeer) [][]byte {
			return [][]byte{serverHelloDone()}
		}), protocol(record.AlertUnexpectedMessage)},
		{"ServerKeyExchange before Certificate", withFlight(func(p *hostilePeer) [][]byte {
			f := p.goodFlight()
			return [][]byte{f[1], f[0], f[2]}
		}), protocol(record.AlertUnexpectedMessage)},
		{"no ServerKeyExchange", withFlight(func(p *hostilePeer) [][]byte {
			f := p.goodFlight()
			return [][]byte{f[0], f[2]}
		}), protocol(record.AlertUnexpectedMessage)},
		{"Finished early", withFlight(func(p *hostilePeer) [][]byte {
			f := p.goodFlight()
			return [][]byte{f[0], f[1], (&handshake.Finished{VerifyData: make([]byte, 12)}).Marshal()}
		}), protocol(record.AlertUnexpectedMessage)},
		{"second ServerHello", withFlight(func(p *hostilePeer) [][]byte {
			return [][]byte{p.sh.Marshal()}
		}), protocol(record.AlertUnexpectedMessage)},
		{"ChangeCipherSpec before the key exchange", withRaw(func(p *hostilePeer) []byte {
			return rawRecord(record.TypeChangeCipherSpec, handshake.VersionTLS12, []byte{1}, -1)
		}), recordLayer(record.AlertUnexpectedMessage)},
		{"application data during the handshake", withRaw(func(p *hostilePeer) []byte {
			return rawRecord(record.TypeApplicationData, handshake.VersionTLS12, []byte("GET /"), -1)
		}), recordLayer(record.AlertUnexpectedMessage)},

		// Floods: records that carry nothing are bounded; HelloRequests
		// during the handshake are ignored (RFC 5246 §7.4.1.1) and kept
		// out of the transcript, so a few let the handshake complete and
		// a flood is refused instead of holding it until its deadline.
		{"warning alert flood", withRaw(func(p *hostilePeer) []byte {
			return bytes.Repeat(rawRecord(record.TypeAlert, handshake.VersionTLS12, []byte{1, byte(record.AlertUserCanceled)}, -1), 100)
		}), recordLayer(record.AlertUnexpectedMessage)},
		{"a few HelloRequests before the flight", afterHello(func(p *hostilePeer) error {
			hr := (&handshake.HelloRequest{}).Marshal()
			if err := p.writeRaw(rawRecord(record.TypeHandshake, handshake.VersionTLS12, bytes.Repeat(hr, 3), -1)); err != nil {
				return err
			}
			if err := p.send(p.goodFlight()...); err != nil {
				return err
			}
			if err := p.readClientFlight(); err != nil {
				return err
			}
			return p.sendFinished(nil)
		}), func(t *testing.T, clientErr, serverErr error) {
			if clientErr != nil || serverErr != nil {
				t.Errorf("client %v, server %v: want the handshake to complete", clientErr, serverErr)
			}
		}},
		{"HelloRequest flood before the flight", withRaw(func(p *hostilePeer) []byte {
			// 16 records of 4096 HelloRequests each.
			hr := (&handshake.HelloRequest{}).Marshal()
			return bytes.Repeat(rawRecord(record.TypeHandshake, handshake.VersionTLS12, bytes.Repeat(hr, 1<<14/len(hr)), -1), 16)
		}), protocol(record.AlertUnexpectedMessage)},
		{"fatal alert from the server", afterHello(func(p *hostilePeer) error {
			p.rc.SendAlert(record.AlertHandshakeFailure)
			p.conn.Conn.(*net.TCPConn).CloseWrite()
			return p.expectAlert()
		}), func(t *testing.T, clientErr, serverErr error) {
			var ae *record.AlertError
			if !errors.As(clientErr, &ae) || !ae.Remote || ae.Alert != record.AlertHandshakeFailure {
				t.Errorf("client error %v, want the server's handshake_failure", clientErr)
			}
			if serverErr != errNoAlert {
				t.Errorf("server received %v, want no alert back", serverErr)
			}
		}},

		// Parameters the client never offered.
		{"ServerHello suite not offered (RC4)", func(p *hostilePeer) error {
			if err := p.readClientHello(); err != nil {
				return err
			}
			sh := p.serverHello()
			sh.CipherSuite = 0x0005 // TLS_RSA_WITH_RC4_128_SHA
			p.send(sh.Marshal())
			return p.expectAlert()
		}, protocol(record.AlertIllegalParameter)},
		{"ServerHello suite not offered (TLS 1.3 suite)", func(p *hostilePeer) error {
			if err := p.readClientHello(); err != nil {
				return err
			}
			sh := p.serverHello()
			sh.CipherSuite = 0x1301
			p.send(sh.Marshal())
			return p.expectAlert()
		}, protocol(record.AlertIllegalParameter)},
		{"ServerKeyExchange curve not offered (P-521)", withFlight(signedPoint(handshake.GroupP521, func(p *hostilePeer) []byte {
			return p.newPoint(ecdh.P521())
		})), protocol(record.AlertIllegalParameter)},
		{"ServerKeyExchange unknown curve", withFlight(signedPoint(0x1234, p256)), protocol(record.AlertIllegalParameter)},

		// Invalid ECDHE points, signed by the real key: Auth passes, the
		// offloader's KeyGen refuses the point.
		{"P-256 point not on the curve", withFlight(signedPoint(handshake.GroupP256, notOnCurve)), refusedPoint},
		{"P-256 compressed point", withFlight(signedPoint(handshake.GroupP256, func(p *hostilePeer) []byte {
			pt := p256(p)
			return append([]byte{2 | pt[64]&1}, pt[1:33]...)
		})), refusedPoint},
		{"P-256 point at infinity", withFlight(signedPoint(handshake.GroupP256, func(*hostilePeer) []byte { return []byte{0} })), refusedPoint},
		{"X25519 all-zero point", withFlight(signedPoint(handshake.GroupX25519, zero25519)), refusedPoint},
		{"X25519 low-order point", withFlight(signedPoint(handshake.GroupX25519, one25519)), refusedPoint},
		{"X25519 point of 31 bytes", withFlight(signedPoint(handshake.GroupX25519, func(p *hostilePeer) []byte {
			return p.newPoint(ecdh.X25519())[:31]
		})), refusedPoint},

		// Bad ServerKeyExchange signatures: the offloader's Auth refuses.
		{"ServerKeyExchange signature corrupted", withFlight(func(p *hostilePeer) [][]byte {
			ske := p.ske(handshake.GroupX25519, p.newPoint(ecdh.X25519()), func(_, sig []byte) []byte {
				sig[len(sig)-1] ^= 0x40
				return sig
			})
			return [][]byte{p.certificate(), ske, serverHelloDone()}
		}), certificate(wire.StatusBadSignature, record.AlertDecryptError)},
		{"ServerKeyExchange signed for other randoms", withFlight(func(p *hostilePeer) [][]byte {
			// A replayed ServerKeyExchange: good signature, other handshake.
			real := p.hello.Random
			p.hello.Random = make([]byte, 32)
			ske := p.ske(handshake.GroupX25519, p.newPoint(ecdh.X25519()), nil)
			p.hello.Random = real
			return [][]byte{p.certificate(), ske, serverHelloDone()}
		}), certificate(wire.StatusBadSignature, record.AlertDecryptError)},
		{"ServerKeyExchange signed by another key", withFlight(func(p *hostilePeer) [][]byte {
			other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				panic(err)
			}
			p.signer = other
			ske := p.ske(handshake.GroupX25519, p.newPoint(ecdh.X25519()), nil)
			p.signer = nil
			return [][]byte{p.certificate(), ske, serverHelloDone()}
		}), func(t *testing.T, clientErr, serverErr error) {
			var ce *tlsclient.CertificateError
			if !errors.As(clientErr, &ce) || wireErr(ce).Status != wire.StatusBadSignature {
				t.Errorf("client error %v, want *tlsclient.CertificateError with a bad signature", clientErr)
			}
			var got *record.AlertError
			if !errors.As(serverErr, &got) || got.Alert != record.AlertDecryptError {
				t.Errorf("server received %v, want decrypt_error", serverErr)
			}
		}},

		// A bad Finished: decrypt_error, sent under the new keys.
		{"bad Finished", func(p *hostilePeer) error {
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
			if err := p.sendFinished(func(vd []byte) { vd[11] ^= 1 }); err != nil {
				return err
			}
			return p.expectAlert()
		}, protocol(record.AlertDecryptError)},
		{"Finished under the wrong keys", func(p *hostilePeer) error {
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
			p.master[0] ^= 1 // keys and verify_data from another master secret
			_, smac, _, skey, _, siv := p.suite.Keys(p.suite.KeyBlock(handshake.VersionTLS12, p.master, p.hello.Random, p.sh.Random))
			wr, err := p.suite.NewCipher(handshake.VersionTLS12, smac, skey, siv)
			if err != nil {
				return err
			}
			p.rc.PrepareWrite(wr)
			if err := p.sendFinished(nil); err != nil {
				return err
			}
			return p.expectAlert()
		}, func(t *testing.T, clientErr, serverErr error) {
			var ae *record.AlertError
			if !errors.As(clientErr, &ae) || ae.Alert != record.AlertBadRecordMAC {
				t.Errorf("client error %v, want bad_record_mac", clientErr)
			}
			// The client's alert is sealed under the real keys, which the
			// script's read side still has.
			var got *record.AlertError
			if !errors.As(serverErr, &got) || got.Alert != record.AlertBadRecordMAC {
				t.Errorf("server received %v, want bad_record_mac", serverErr)
			}
		}},
	}
	// Every case in both offload modes: one pipelined flight, and the
	// patent's one request per flight with the state token in between
	// (the refusals after ServerHelloDone take another path there).
	seq := &kit{env: k.env, leaf: k.leaf, cfg: k.env.config("localhost")}
	seqClient := k.env.sequentialClient(t)
	seq.cfg.Offloader = seqClient
	// Open its channel now, so the leak checks below count its goroutines
	// in their "before", as they do the pipelined client's.
	if _, err := seqClient.Start(context.Background(), "localhost", tlsclient.Offer{
		Versions: []uint16{0x0303}, CipherSuites: []uint16{0xc02b}, SignatureAlgorithms: []uint16{0x0403},
	}); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []struct {
		name string
		k    *kit
	}{{"pipelined", k}, {"sequential", seq}} {
		t.Run(mode.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					defer checkNoLeak(t)()
					clientErr, serverErr := mode.k.run(t, tc.script, nil)
					if errors.Is(clientErr, context.DeadlineExceeded) {
						t.Fatalf("the handshake ran into its deadline: %v", clientErr)
					}
					tc.check(t, clientErr, serverErr)
				})
			}
		})
	}
}

// TestHostileSlowloris trickles a real server flight one byte per 100 ms:
// the handshake's context, or the connection's deadline, ends it, and
// nothing is left running.
func TestHostileSlowloris(t *testing.T) {
	k := newKit(t)
	// A real flight for this handshake, written a byte at a time.
	trickle := func(p *hostilePeer) error {
		if err := p.readClientHello(); err != nil {
			return err
		}
		p.conn.hold = true
		if err := p.sendServerHello(p.serverHello()); err != nil {
			return err
		}
		if err := p.send(p.goodFlight()...); err != nil {
			return err
		}
		flight := p.conn.take()
		for i := range flight {
			if err := p.writeRaw(flight[i : i+1]); err != nil {
				return nil // the client hung up: done
			}
			time.Sleep(100 * time.Millisecond)
		}
		return errors.New("script: the whole flight trickled through")
	}
	// Warm the offloader channel so leaks are counted from a steady state.
	if cerr, serr := k.run(t, func(p *hostilePeer) error { return p.fullHandshake() }, nil); cerr != nil || serr != nil {
		t.Fatalf("warm-up handshake: client %v, server %v", cerr, serr)
	}

	t.Run("context", func(t *testing.T) {
		defer checkNoLeak(t)()
		clientErr, serverErr := k.run(t, trickle, func(ctx context.Context, c *tlsclient.Conn) error {
			ctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			return c.HandshakeContext(ctx)
		})
		if !errors.Is(clientErr, context.DeadlineExceeded) {
			t.Errorf("client error %v, want the handshake context's deadline", clientErr)
		}
		if serverErr != nil {
			t.Errorf("server: %v", serverErr)
		}
	})
	t.Run("connection deadline", func(t *testing.T) {
		defer checkNoLeak(t)()
		clientErr, serverErr := k.run(t, trickle, func(ctx context.Context, c *tlsclient.Conn) error {
			c.SetDeadline(time.Now().Add(time.Second))
			return c.HandshakeContext(ctx)
		})
		var ne net.Error
		if !errors.As(clientErr, &ne) || !ne.Timeout() || errors.Is(clientErr, context.DeadlineExceeded) {
			t.Errorf("client error %v, want the connection's timeout", clientErr)
		}
		if serverErr != nil {
			t.Errorf("server: %v", serverErr)
		}
	})
}

// TestHostileCutAtEveryOffset cuts the connection at every byte offset of
// a real crypto/tls handshake, server to client: every cut must end the
// handshake with an error (io.ErrUnexpectedEOF, or a typed refusal), never
// a hang (each has a 2 s deadline) nor a panic, and leave nothing running.
//
// The server's first flight is captured once from crypto/tls and its
// prefixes replayed by a script; the rest (NewSessionTicket,
// ChangeCipherSpec, Finished) depends on the live key exchange, so those
// cuts run live, through a relay that holds the server's last flight and
// forwards only its first j bytes.
func TestHostileCutAtEveryOffset(t *testing.T) {
	k := newKit(t)
	server := startGoTLSServer(t, &tls.Config{
		Certificates: []tls.Certificate{k.leaf.TLSCertificate()},
		CipherSuites: []uint16{hostileSuite},
	})

	// One live handshake through a recording relay: the server's bytes
	// up to and including ServerHelloDone are the first flight; the rest
	// of the handshake, through the Finished after its ChangeCipherSpec,
	// is the tail (what follows, e.g. its close_notify, is not kept).
	var mu sync.Mutex
	var captured, tail []byte
	rec := startRelay(t, server, func() relayHook {
		inTail, sawCCS, done := false, false, false
		return func(_ int, r []byte) ([]byte, bool) {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case done:
			case !inTail:
				captured = append(captured, r...)
				inTail = isHandshake(r, handshake.TypeServerHelloDone)
			default:
				tail = append(tail, r...)
				done = sawCCS
				sawCCS = r[0] == byte(record.TypeChangeCipherSpec)
			}
			return r, false
		}
	})
	dial := func(addr string) (*tlsclient.Conn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c := tlsclient.Client(conn, k.cfg)
		err = c.HandshakeContext(ctx)
		c.Close()
		return c, err
	}
	if _, err := dial(server); err != nil {
		t.Fatalf("handshake with crypto/tls: %v", err)
	}
	if _, err := dial(rec); err != nil {
		t.Fatalf("handshake with crypto/tls through the relay: %v", err)
	}
	mu.Lock()
	first, tail := bytes.Clone(captured), bytes.Clone(tail)
	mu.Unlock()
	if len(first) < 500 || len(tail) < 6+5 {
		t.Fatalf("captured %d bytes of first flight and %d of tail", len(first), len(tail))
	}

	t.Logf("cutting %d bytes of first flight (replayed) and %d of last flight (live)", len(first), len(tail))

	check := func(t *testing.T, what string, err error) {
		t.Helper()
		var ae *record.AlertError
		var pe *tlsclient.ProtocolError
		var ce *tlsclient.CertificateError
		switch {
		case err == nil:
			t.Errorf("%s: the handshake succeeded", what)
		case errors.Is(err, context.DeadlineExceeded):
			t.Errorf("%s: hung until the deadline: %v", what, err)
		case errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &ae), errors.As(err, &pe), errors.As(err, &ce):
		default:
			t.Errorf("%s: error %v (%T), want io.ErrUnexpectedEOF or a typed error", what, err, err)
		}
	}

	t.Run("first flight replayed", func(t *testing.T) {
		defer checkNoLeak(t)()
		cut := make(chan int, 1)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		serverDone := make(chan struct{})
		go func() {
			defer close(serverDone)
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				n := <-cut
				c.SetDeadline(time.Now().Add(2 * time.Second))
				rc := record.NewConn(c)
				rc.ReadMessage() // the ClientHello
				c.Write(first[:n])
				c.(*net.TCPConn).CloseWrite()
				io.Copy(io.Discard, c) // the client's alert, until it closes
				c.Close()
			}
		}()
		for n := 0; n <= len(first); n++ {
			cut <- n
			_, err := dial(l.Addr().String())
			check(t, fmt.Sprintf("cut after %d of %d bytes", n, len(first)), err)
			if t.Failed() {
				t.Fatalf("stopping at the first failing cut")
			}
		}
		l.Close()
		<-serverDone
	})

	t.Run("last flight live", func(t *testing.T) {
		var cut atomic.Int64
		addr := startRelay(t, server, func() relayHook {
			inTail, sawCCS := false, false
			var held []byte
			n := int(cut.Load())
			return func(_ int, r []byte) ([]byte, bool) {
				if !inTail {
					inTail = isHandshake(r, handshake.TypeServerHelloDone)
					return r, false
				}
				held = append(held, r...)
				if !sawCCS {
					sawCCS = r[0] == byte(record.TypeChangeCipherSpec)
					return nil, false
				}
				// r is the Finished, the last record of the handshake.
				return held[:min(n, len(held)-1)], true
			}
		})
		defer checkNoLeak(t)()
		for j := 0; j < len(tail); j++ {
			cut.Store(int64(j))
			_, err := dial(addr)
			check(t, fmt.Sprintf("cut after %d of the last %d bytes", j, len(tail)), err)
			if !errors.Is(err, io.ErrUnexpectedEOF) && !t.Failed() {
				t.Errorf("cut after %d of the last %d bytes: %v, want io.ErrUnexpectedEOF", j, len(tail), err)
			}
			if t.Failed() {
				t.Fatalf("stopping at the first failing cut")
			}
		}
	})
}

// TestLeakCheckerSeesALeak proves the kit's leak checker can fail: a
// goroutine of ours left blocked is reported, and not once it ends.
func TestLeakCheckerSeesALeak(t *testing.T) {
	// Let what earlier tests left winding down finish first.
	before := len(ourGoroutines())
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
		n := len(ourGoroutines())
		if n == before {
			break
		}
		before = n
	}
	release := make(chan struct{})
	go func() { <-release }()
	leaked := leakedSince(before, 100*time.Millisecond)
	if !strings.Contains(strings.Join(leaked, "\n"), "TestLeakCheckerSeesALeak.func") {
		t.Errorf("a blocked goroutine was not reported: %d stacks, %d before", len(leaked), before)
	}
	close(release)
	if leaked := leakedSince(before, 2*time.Second); leaked != nil {
		t.Errorf("reported after it ended:\n%s", leaked)
	}
}

// TestHostileRelay tampers with a real crypto/tls server's records on
// their way to the device: each rewrite must be refused with the right
// typed error, and the alert the relay sees the client send (plaintext,
// before the client's ChangeCipherSpec) must be the right one.
func TestHostileRelay(t *testing.T) {
	k := newKit(t)
	server := startGoTLSServer(t, &tls.Config{
		Certificates: []tls.Certificate{k.leaf.TLSCertificate()},
		CipherSuites: []uint16{hostileSuite},
	})
	// at applies edit to the first server record that is a handshake
	// message of type typ (0xff: the first record after the server's
	// ChangeCipherSpec, i.e. its encrypted Finished).
	at := func(typ uint8, edit func(rec []byte) []byte) func() relayHook {
		return func() relayHook {
			afterCCS, done := false, false
			return func(_ int, rec []byte) ([]byte, bool) {
				hit := !done && (typ == 0xff && afterCCS || typ != 0xff && isHandshake(rec, typ))
				afterCCS = afterCCS || rec[0] == byte(record.TypeChangeCipherSpec)
				if hit {
					done = true
					return edit(bytes.Clone(rec)), false
				}
				return rec, false
			}
		}
	}
	// The ServerHello's cipher suite sits after type, length, version,
	// random and the session id.
	suiteOffset := func(rec []byte) int { return 5 + 4 + 2 + 32 + 1 + int(rec[5+4+2+32]) }
	cases := []struct {
		name  string
		hook  func() relayHook
		alert record.Alert // the alert the client must send, seen in plaintext; 0: none seen
		check func(t *testing.T, err error)
	}{
		{"untouched", passRecords, 0, func(t *testing.T, err error) {
			if err != nil {
				t.Fatalf("handshake through the relay: %v", err)
			}
		}},
		{"ServerHello suite rewritten to RC4", at(handshake.TypeServerHello, func(rec []byte) []byte {
			o := suiteOffset(rec)
			rec[o], rec[o+1] = 0x00, 0x05
			return rec
		}), record.AlertIllegalParameter, func(t *testing.T, err error) { wantProtocolError(t, err, record.AlertIllegalParameter) }},
		{"Certificate record version TLS 1.0", at(handshake.TypeCertificate, func(rec []byte) []byte {
			rec[1], rec[2] = 3, 1
			return rec
		}), record.AlertProtocolVersion, nil},
		{"Certificate record length 0xffff", at(handshake.TypeCertificate, func(rec []byte) []byte {
			rec[3], rec[4] = 0xff, 0xff
			return rec
		}), record.AlertRecordOverflow, nil},
		{"ServerKeyExchange group rewritten to P-521", at(handshake.TypeServerKeyExchange, func(rec []byte) []byte {
			rec[5+4+1], rec[5+4+2] = 0, byte(handshake.GroupP521)
			return rec
		}), record.AlertIllegalParameter, func(t *testing.T, err error) { wantProtocolError(t, err, record.AlertIllegalParameter) }},
		{"ServerKeyExchange point bit flipped", at(handshake.TypeServerKeyExchange, func(rec []byte) []byte {
			rec[5+4+4+1] ^= 0x01 // the point's first byte; the signature no longer covers it
			return rec
		}), record.AlertDecryptError, func(t *testing.T, err error) {
			var ce *tlsclient.CertificateError
			if !errors.As(err, &ce) || wireErr(ce).Status != wire.StatusBadSignature {
				t.Errorf("client error %v, want *tlsclient.CertificateError with a bad signature", err)
			}
		}},
		{"ServerKeyExchange signature bit flipped", at(handshake.TypeServerKeyExchange, func(rec []byte) []byte {
			rec[len(rec)-1] ^= 0x01
			return rec
		}), record.AlertDecryptError, func(t *testing.T, err error) {
			var ce *tlsclient.CertificateError
			if !errors.As(err, &ce) || wireErr(ce).Status != wire.StatusBadSignature {
				t.Errorf("client error %v, want *tlsclient.CertificateError with a bad signature", err)
			}
		}},
		{"ServerHelloDone replaced by Finished", at(handshake.TypeServerHelloDone, func(rec []byte) []byte {
			return rawRecord(record.TypeHandshake, handshake.VersionTLS12, (&handshake.Finished{VerifyData: make([]byte, 12)}).Marshal(), -1)
		}), record.AlertUnexpectedMessage, func(t *testing.T, err error) { wantProtocolError(t, err, record.AlertUnexpectedMessage) }},
		{"application data injected before ServerHelloDone", at(handshake.TypeServerHelloDone, func(rec []byte) []byte {
			return append(rawRecord(record.TypeApplicationData, handshake.VersionTLS12, []byte("x"), -1), rec...)
		}), record.AlertUnexpectedMessage, nil},
		{"encrypted Finished bit flipped", at(0xff, func(rec []byte) []byte {
			rec[len(rec)-1] ^= 0x01
			return rec
		}), 0, func(t *testing.T, err error) {
			// The client's alert is sealed (it sent its ChangeCipherSpec):
			// the relay cannot read it, crypto/tls does.
			var ae *record.AlertError
			if !errors.As(err, &ae) || ae.Alert != record.AlertBadRecordMAC || ae.Remote {
				t.Errorf("client error %v, want a local bad_record_mac", err)
			}
		}},
	}
	// Open the offloader channel first: leaks are counted from there.
	if cerr, serr := k.run(t, func(p *hostilePeer) error { return p.fullHandshake() }, nil); cerr != nil || serr != nil {
		t.Fatalf("warm-up handshake: client %v, server %v", cerr, serr)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr, log := startRelayLog(t, server, tc.hook)
			defer checkNoLeak(t)()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c := tlsclient.Client(conn, k.cfg)
			ctx, cancel := context.WithTimeout(context.Background(), caseDeadline)
			err = c.HandshakeContext(ctx)
			cancel()
			c.Close()
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("the handshake ran into its deadline: %v", err)
			}
			if tc.alert != 0 {
				// A refused certificate or signature is a CertificateError,
				// which carries the offloader's verdict, not the alert.
				var ae *record.AlertError
				var ce *tlsclient.CertificateError
				if !errors.As(err, &ce) && (!errors.As(err, &ae) || ae.Alert != tc.alert || ae.Remote) {
					t.Errorf("client error %v, want a local %v alert", err, tc.alert)
				}
				var seen []record.Alert
				for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
					if seen = log.clientAlerts(); len(seen) > 0 {
						break
					}
				}
				if len(seen) != 1 || seen[0] != tc.alert {
					t.Errorf("client sent the alerts %v, want [%v]", seen, tc.alert)
				}
			}
			if tc.check != nil {
				tc.check(t, err)
			}
		})
	}
}
