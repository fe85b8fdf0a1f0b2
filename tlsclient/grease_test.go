package tlsclient

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/record"
)

// GREASE values the test shaping offers, one per place (RFC 8701 §2).
const (
	greaseSuite  = 0x1a1a
	greaseGroup  = 0x2a2a
	greaseSigAlg = 0x3a3a
	greaseExt    = 0x4a4a
	greaseVers   = 0x5a5a
)

// greaseConfig shapes the hello as a browser preset would: GREASE first in
// suites, groups and signature algorithms, and a GREASE extension.
func greaseConfig() *Config {
	return &Config{Offloader: &scriptOffloader{}, ServerName: testServerName,
		ShapeClientHello: func(h *handshake.ClientHello) error {
			h.CipherSuites = append([]uint16{greaseSuite}, h.CipherSuites...)
			h.SupportedGroups = append([]uint16{greaseGroup}, h.SupportedGroups...)
			h.SignatureAlgorithms = append([]uint16{greaseSigAlg}, h.SignatureAlgorithms...)
			h.Extra = append([]handshake.Extension{{Type: greaseExt}}, h.Extra...)
			h.ExtensionOrder = []uint16{greaseExt}
			return nil
		}}
}

// greaseFlight is serverFlight with the ServerKeyExchange's group and
// signature algorithm chosen by the test.
func greaseFlight(group, sigAlg uint16) [][]byte {
	f := serverFlight()
	params := &handshake.ECDHEParams{Group: group, PublicKey: bytes.Repeat([]byte{9}, 32),
		SignatureAlgorithm: sigAlg, Signature: bytes.Repeat([]byte{1}, 256)}
	f[1] = (&handshake.ServerKeyExchange{Body: params.Marshal(handshake.VersionTLS12)}).Marshal()
	return f
}

// checkGREASEHello checks the client did offer every GREASE value, so a
// refusal below is for choosing it, not for choosing something unoffered.
func checkGREASEHello(h *handshake.ClientHello) error {
	if h.CipherSuites[0] != greaseSuite || h.SupportedGroups[0] != greaseGroup ||
		h.SignatureAlgorithms[0] != greaseSigAlg || len(h.Extra) == 0 || h.Extra[0].Type != greaseExt {
		return fmt.Errorf("GREASE not offered: %x %v %x %v", h.CipherSuites, h.SupportedGroups, h.SignatureAlgorithms, h.Extra)
	}
	return nil
}

func TestGREASENeverAcceptedBack(t *testing.T) {
	for _, tc := range []struct {
		name   string
		alert  record.Alert
		hello  func(sh *handshake.ServerHello)
		flight [][]byte // sent after the ServerHello; nil: none
	}{
		{"suite", record.AlertIllegalParameter, func(sh *handshake.ServerHello) { sh.CipherSuite = greaseSuite }, nil},
		{"version", record.AlertIllegalParameter, func(sh *handshake.ServerHello) { sh.Version = greaseVers }, nil},
		{"extension", record.AlertUnsupportedExtension, func(sh *handshake.ServerHello) {
			sh.Extra = []handshake.Extension{{Type: greaseExt}}
		}, nil},
		{"group", record.AlertIllegalParameter, func(*handshake.ServerHello) {},
			greaseFlight(greaseGroup, handshake.SigRSAPKCS1SHA256)},
		{"signature algorithm", record.AlertIllegalParameter, func(*handshake.ServerHello) {},
			greaseFlight(handshake.GroupX25519, greaseSigAlg)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, done := runScript(t, greaseConfig(), func(p *scriptPeer) error {
				if err := p.readClientHello(); err != nil {
					return err
				}
				if err := checkGREASEHello(p.hello); err != nil {
					return err
				}
				sh := p.defaultServerHello()
				tc.hello(sh)
				if err := p.send(sh.Marshal()); err != nil {
					return err
				}
				if tc.flight != nil {
					// The client took the ServerHello: its alert comes in a
					// TLS 1.2 record.
					p.rc.SetVersion(handshake.VersionTLS12)
					p.send(tc.flight...)
				}
				return p.expectAlert()
			})
			err := c.Handshake()
			wantAlerts(t, err, <-done, tc.alert)
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte("GREASE")) {
				t.Errorf("error %v does not name GREASE", err)
			}
		})
	}
}

// TestGREASEOfferedHandshake: offering GREASE does not stop a handshake
// with a server that ignores it, as RFC 8701 servers do.
func TestGREASEOfferedHandshake(t *testing.T) {
	c, done := runScript(t, greaseConfig(), func(p *scriptPeer) error {
		if err := p.readClientHello(); err != nil {
			return err
		}
		if err := checkGREASEHello(p.hello); err != nil {
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
	})
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestIsGREASE(t *testing.T) {
	n := 0
	for v := 0; v <= 0xffff; v++ {
		if isGREASE(uint16(v)) {
			n++
			if v&0xff != v>>8 || v&0x0f != 0x0a {
				t.Errorf("%#04x taken for GREASE", v)
			}
		}
	}
	if n != 16 {
		t.Errorf("%d GREASE values, RFC 8701 reserves 16", n)
	}
}
