package integration

// OCSP stapling from the device's side (issue 9): tlsclient, with a real
// offloader over the PSK channel, against openssl s_server -status_file and
// nginx ssl_stapling_file. The device offers status_request itself, so the
// server staples to it; the staple reaches the offloader in the device's
// transcript, and a refusal reaches the server as the alert recorded on
// the wire.

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/record"
	"github.com/tlsoffload/tlsoffload/tlsclient"
)

// sentAlert returns the alert in the plaintext records the client sent
// (before any ChangeCipherSpec), if it sent one.
func sentAlert(stream []byte) (record.Alert, bool) {
	s := cryptobyte.String(stream)
	for !s.Empty() {
		var typ uint8
		var version uint16
		var frag cryptobyte.String
		if !s.ReadUint8(&typ) || !s.ReadUint16(&version) || !s.ReadUint16LengthPrefixed(&frag) {
			return 0, false
		}
		switch record.ContentType(typ) {
		case record.TypeChangeCipherSpec:
			return 0, false
		case record.TypeAlert:
			if len(frag) == 2 {
				return record.Alert(frag[1]), true
			}
			return 0, false
		}
	}
	return 0, false
}

func TestDeviceOCSPStapling(t *testing.T) {
	bin := requirePeer(t, "openssl")
	fx := newOCSPFixture(t, bin)
	for _, tc := range []struct {
		name    string
		c       *testpki.Case
		staple  string // the server's staple file; "" none
		disable bool   // Config.DisableStatusRequest
		ok      bool
		reason  tlsclient.CertificateReason
		alert   record.Alert
	}{
		{name: "good", c: fx.plain, staple: fx.good, ok: true},
		{name: "revoked", c: fx.plain, staple: fx.revoked,
			reason: tlsclient.ReasonRevoked, alert: record.AlertCertificateRevoked},
		{name: "wrong issuer", c: fx.plain, staple: fx.wrongIssuer,
			reason: tlsclient.ReasonRevocationUnknown, alert: record.AlertBadCertificateStatusResponse},
		{name: "must-staple stapled", c: fx.must, staple: fx.mustGood, ok: true},
		{name: "must-staple, server without a staple", c: fx.must,
			reason: tlsclient.ReasonRevocationUnknown, alert: record.AlertBadCertificateStatusResponse},
		{name: "must-staple, status_request disabled", c: fx.must, staple: fx.mustGood, disable: true,
			reason: tlsclient.ReasonRevocationUnknown, alert: record.AlertBadCertificateStatusResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var wantStaple []byte
			if tc.staple != "" && !tc.disable {
				der, err := os.ReadFile(tc.staple)
				if err != nil {
					t.Fatal(err)
				}
				wantStaple = (&handshake.CertificateStatus{OCSPResponse: der}).Marshal()
			}
			env := newOffloader(t, tc.c.Roots)
			for _, peer := range []string{"openssl", "nginx"} {
				t.Run(peer, func(t *testing.T) {
					addr, path, status := startStapling(t, peer, tc.c, tc.staple)
					nc, err := net.DialTimeout("tcp", addr, 30*time.Second)
					if err != nil {
						t.Fatal(err)
					}
					rc := &recordingConn{Conn: nc}
					cfg := env.config("localhost")
					cfg.DisableStatusRequest = tc.disable
					conn := tlsclient.Client(rc, cfg)
					defer conn.Close()
					conn.SetDeadline(time.Now().Add(30 * time.Second))
					herr := conn.Handshake()

					// What the server sent: a CertificateStatus exactly
					// when the device asked and the server has a staple.
					rc.mu.Lock()
					msgs, _ := handshakeMessages(rc.recvd.Bytes())
					sent := bytes.Clone(rc.sent.Bytes())
					rc.mu.Unlock()
					var gotStaple []byte
					for _, m := range msgs {
						if m[0] == handshake.TypeCertificateStatus {
							gotStaple = m
						}
					}
					if !bytes.Equal(gotStaple, wantStaple) {
						t.Errorf("%s sent a CertificateStatus of %d bytes, want %d", peer, len(gotStaple), len(wantStaple))
					}

					if tc.ok {
						if herr != nil {
							t.Fatalf("handshake: %v", herr)
						}
						if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.0\r\nHost: localhost\r\n\r\n"); err != nil {
							t.Fatal(err)
						}
						body, err := io.ReadAll(conn)
						if !strings.HasPrefix(string(body), status) {
							t.Fatalf("GET %s: %q (%v), want %q", path, body, err, status)
						}
						return
					}
					var ce *tlsclient.CertificateError
					if !errors.As(herr, &ce) || ce.Reason != tc.reason || ce.Alert != tc.alert {
						t.Fatalf("handshake: %v, want a certificate refusal %v with %v", herr, tc.reason, tc.alert)
					}
					if a, ok := sentAlert(sent); !ok || a != tc.alert {
						t.Errorf("the device sent the server alert %v (%v), want %v", a, ok, tc.alert)
					}
				})
			}
		})
	}
}
