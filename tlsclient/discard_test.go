package tlsclient_test

import (
	"crypto/tls"
	"testing"
)

// DiscardPeerCertificates: the connection and the session it leaves keep
// no chain, yet the handshake verified one (the offloader was asked) and
// the session resumes. The same server without the option reports the
// chain, so the option is what removed it. The session is looked at
// through a Config without the option sharing its cache: resuming it
// reports the chain it holds.
func TestDiscardPeerCertificates(t *testing.T) {
	e := getRealEnv(t)
	addr := serveTLS(t, tlsServerConfig(e.ecdsa), func(c *tls.Conn) { echo(c) })
	for _, discard := range []bool{false, true} {
		cfg, off, _ := resumeConfig(t)
		cfg.DiscardPeerCertificates = discard
		for i, resumed := range []bool{false, true} {
			c, err := handshakeEcho(t, addr, cfg)
			if err != nil {
				t.Fatalf("discard %v, handshake %d: %v", discard, i, err)
			}
			cs := c.ConnectionState()
			c.Close()
			if cs.DidResume != resumed {
				t.Fatalf("discard %v, handshake %d: resumed %v", discard, i, cs.DidResume)
			}
			kept := len(cs.PeerCertificates) != 0 || len(cs.Verified.Chain) != 0
			if kept == discard {
				t.Errorf("discard %v, handshake %d: %d certificates, verified chain of %d",
					discard, i, len(cs.PeerCertificates), len(cs.Verified.Chain))
			}
		}
		if off.Flights() == 0 {
			t.Errorf("discard %v: the offloader was never asked", discard)
		}
		keeper := *cfg
		keeper.DiscardPeerCertificates = false
		c, err := handshakeEcho(t, addr, &keeper)
		if err != nil {
			t.Fatalf("discard %v, resuming without the option: %v", discard, err)
		}
		cs := c.ConnectionState()
		c.Close()
		if !cs.DidResume || (len(cs.PeerCertificates) == 0) != discard {
			t.Errorf("discard %v: the session resumed (%v) with %d certificates", discard, cs.DidResume, len(cs.PeerCertificates))
		}
	}
}
