package tlsclient

import (
	"bytes"
	"testing"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/record"
)

// OCSP stapling on the device (RFC 6066 §8): status_request offered by
// default, a CertificateStatus read only where it was echoed, and kept in
// the offloader's transcript and the Finished hash.

// testStaple is a CertificateStatus; the scripted offloader judges nothing.
var testStaple = (&handshake.CertificateStatus{OCSPResponse: []byte{0x30, 0x03, 0x0a, 0x01, 0x00}}).Marshal()

func TestStatusRequestOffered(t *testing.T) {
	for _, disable := range []bool{false, true} {
		var offered bool
		cfg := &Config{Offloader: &scriptOffloader{}, ServerName: testServerName, DisableStatusRequest: disable}
		c, done := runScript(t, cfg, func(p *scriptPeer) error {
			err := p.fullHandshake()
			offered = p.hello.OCSPStapling
			return err
		})
		if err := c.Handshake(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if offered == disable {
			t.Errorf("DisableStatusRequest %v: status_request offered %v", disable, offered)
		}
	}
}

// stapledScript plays a server that echoes status_request (when echo) and
// sends msgs as its flight after the ServerHello.
func stapledScript(echo bool, suite uint16, msgs [][]byte) func(p *scriptPeer) error {
	return func(p *scriptPeer) error {
		if err := p.readClientHello(); err != nil {
			return err
		}
		sh := p.defaultServerHello()
		sh.OCSPStapling = echo
		if suite != 0 {
			sh.CipherSuite = suite
		}
		if err := p.sendServerHello(sh); err != nil {
			return err
		}
		if err := p.send(msgs...); err != nil {
			return err
		}
		if err := p.readClientFlight(); err != nil {
			return err
		}
		return p.sendFinished(false)
	}
}

// TestStapledHandshake: the staple reaches the offloader in the transcript
// between Certificate and ServerKeyExchange, and the Finished messages
// (which the script computes over every message it sent) verify both ways.
func TestStapledHandshake(t *testing.T) {
	fl := serverFlight() // Certificate, ServerKeyExchange, ServerHelloDone
	rsaFlight := [][]byte{fl[0], testStaple, fl[2]}
	for _, tc := range []struct {
		name    string
		suite   uint16
		msgs    [][]byte
		stapled bool
	}{
		{"ECDHE stapled", 0, [][]byte{fl[0], testStaple, fl[1], fl[2]}, true},
		{"ECDHE echoed, not stapled", 0, fl, false},
		{"RSA stapled", handshake.TLS_RSA_WITH_AES_128_GCM_SHA256, rsaFlight, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			off := &scriptOffloader{}
			c, done := runScript(t, &Config{Offloader: off, ServerName: testServerName}, stapledScript(true, tc.suite, tc.msgs))
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			msgs, err := handshake.SplitMessages(off.last.Transcript)
			if err != nil {
				t.Fatal(err)
			}
			var types []uint8
			for _, m := range msgs {
				types = append(types, m[0])
			}
			i := bytes.IndexByte(types, handshake.TypeCertificateStatus)
			if tc.stapled && (i != 3 || !bytes.Equal(msgs[i], testStaple)) {
				t.Errorf("transcript message types %v: no CertificateStatus after the Certificate", types)
			}
			if !tc.stapled && i >= 0 {
				t.Errorf("transcript message types %v: a CertificateStatus that was not sent", types)
			}
		})
	}
}

func TestStapleRefused(t *testing.T) {
	fl := serverFlight()
	bad := []byte{handshake.TypeCertificateStatus, 0, 0, 2, 2, 0} // status_type 2
	for _, tc := range []struct {
		name    string
		disable bool
		echo    bool
		msgs    [][]byte
		alert   record.Alert
	}{
		{"unsolicited: not echoed", false, false, [][]byte{fl[0], testStaple, fl[1], fl[2]}, record.AlertUnexpectedMessage},
		{"unsolicited: not offered", true, false, [][]byte{fl[0], testStaple, fl[1], fl[2]}, record.AlertUnexpectedMessage},
		{"echo of status_request not offered", true, true, fl, record.AlertUnsupportedExtension},
		{"after ServerKeyExchange", false, true, [][]byte{fl[0], fl[1], testStaple, fl[2]}, record.AlertUnexpectedMessage},
		{"twice", false, true, [][]byte{fl[0], testStaple, testStaple, fl[1], fl[2]}, record.AlertUnexpectedMessage},
		{"before Certificate", false, true, [][]byte{testStaple, fl[0], fl[1], fl[2]}, record.AlertUnexpectedMessage},
		{"not OCSP", false, true, [][]byte{fl[0], bad, fl[1], fl[2]}, record.AlertDecodeError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			off := &scriptOffloader{}
			cfg := &Config{Offloader: off, ServerName: testServerName, DisableStatusRequest: tc.disable}
			c, done := runScript(t, cfg, func(p *scriptPeer) error {
				if err := p.readClientHello(); err != nil {
					return err
				}
				sh := p.defaultServerHello()
				sh.OCSPStapling = tc.echo
				if tc.alert == record.AlertUnsupportedExtension {
					// Refused at the ServerHello: the client's alert
					// carries the record version of its hello.
					p.send(sh.Marshal())
					return p.expectAlert()
				}
				if err := p.sendServerHello(sh); err != nil {
					return err
				}
				p.send(tc.msgs...)
				return p.expectAlert()
			})
			wantAlerts(t, c.Handshake(), <-done, tc.alert)
			if off.keyExchanges() != 0 {
				t.Error("the offloader was asked about a refused flight")
			}
		})
	}
}
