package tlsclient

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/record"
)

// policyOffloader is a scriptOffloader whose Start allows only versions.
func policyOffloader(versions []uint16) *scriptOffloader {
	return &scriptOffloader{allow: func(o Offer) Offer {
		o.Versions = slices.DeleteFunc(slices.Clone(o.Versions), func(v uint16) bool { return !slices.Contains(versions, v) })
		return o
	}}
}

func TestVersionsConfig(t *testing.T) {
	for _, tc := range []struct {
		min, max uint16
		want     []uint16
	}{
		{0, 0, []uint16{handshake.VersionTLS12}},
		{handshake.VersionTLS10, 0, []uint16{handshake.VersionTLS12, handshake.VersionTLS11, handshake.VersionTLS10}},
		{handshake.VersionTLS11, handshake.VersionTLS11, []uint16{handshake.VersionTLS11}},
		{handshake.VersionTLS10, handshake.VersionTLS11, []uint16{handshake.VersionTLS11, handshake.VersionTLS10}},
	} {
		got, err := (&Config{MinVersion: tc.min, MaxVersion: tc.max}).versions()
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("min %#x max %#x: %v %v, want %v", tc.min, tc.max, got, err, tc.want)
		}
	}
}

// TestScriptedHelloVersions checks what a ClientHello offers for each
// version range: the highest version allowed, only suites usable in one of
// them, signature_algorithms only when TLS 1.2 is offered, and never
// TLS_FALLBACK_SCSV.
func TestScriptedHelloVersions(t *testing.T) {
	for _, tc := range []struct {
		name       string
		min, max   uint16
		policy     []uint16 // nil: the offloader allows every version
		wantVer    uint16
		wantAEAD   bool
		wantSigAlg bool
	}{
		{"default", 0, 0, nil, handshake.VersionTLS12, true, true},
		{"1.0 to 1.2", handshake.VersionTLS10, 0, nil, handshake.VersionTLS12, true, true},
		{"1.0 to 1.1", handshake.VersionTLS10, handshake.VersionTLS11, nil, handshake.VersionTLS11, false, false},
		{"1.0 only", handshake.VersionTLS10, handshake.VersionTLS10, nil, handshake.VersionTLS10, false, false},
		{"policy 1.2 only", handshake.VersionTLS10, 0, []uint16{handshake.VersionTLS12}, handshake.VersionTLS12, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			off := &scriptOffloader{}
			if tc.policy != nil {
				off = policyOffloader(tc.policy)
			}
			cfg := &Config{Offloader: off, ServerName: testServerName, MinVersion: tc.min, MaxVersion: tc.max}
			var h *handshake.ClientHello
			c, done := runScript(t, cfg, func(p *scriptPeer) error {
				if err := p.readClientHello(); err != nil {
					return err
				}
				h = p.hello
				return nil
			})
			errc := make(chan error, 1)
			go func() { errc <- c.Handshake() }()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			c.Close()
			<-errc
			if h.Version != tc.wantVer {
				t.Errorf("client_version %#04x, want %#04x", h.Version, tc.wantVer)
			}
			if slices.Contains(h.CipherSuites, handshake.TLS_FALLBACK_SCSV) {
				t.Error("TLS_FALLBACK_SCSV sent")
			}
			aead := false
			for _, id := range h.CipherSuites {
				s := handshake.SuiteByID(id)
				if s == nil {
					continue
				}
				if !s.AllowedIn(h.Version) {
					t.Errorf("%s offered with client_version %#04x", s.Name, h.Version)
				}
				aead = aead || s.MACLen == 0
			}
			if aead != tc.wantAEAD {
				t.Errorf("AEAD suites offered: %v, want %v", aead, tc.wantAEAD)
			}
			if (len(h.SignatureAlgorithms) > 0) != tc.wantSigAlg {
				t.Errorf("signature_algorithms %v", h.SignatureAlgorithms)
			}
		})
	}
}

// legacyServerHelloCase plays a ServerHello (edited) to a client allowing
// TLS 1.0 to 1.2 (or what cfg says) and expects alert.
func legacyServerHelloCase(t *testing.T, cfg *Config, alert record.Alert, edit func(sh *handshake.ServerHello)) error {
	t.Helper()
	c, done := runScript(t, cfg, func(p *scriptPeer) error {
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
	var pe *ProtocolError
	if !errors.As(err, &pe) {
		t.Errorf("error %T, want *ProtocolError", err)
	}
	return err
}

// legacyCBCSuite is a suite every version allows.
func legacyCBCSuite() uint16 { return handshake.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA }

func TestScriptedLegacyVersionChecks(t *testing.T) {
	all := func() *Config {
		return &Config{Offloader: &scriptOffloader{}, ServerName: testServerName, MinVersion: handshake.VersionTLS10}
	}
	downgrade := func(v uint16) func(sh *handshake.ServerHello) {
		return func(sh *handshake.ServerHello) {
			sh.Version = v
			sh.CipherSuite = legacyCBCSuite()
			sh.Random = append(bytes.Repeat([]byte{0x53}, 24), handshake.DowngradeTLS11...)
		}
	}
	t.Run("downgrade sentinel at TLS 1.1", func(t *testing.T) {
		legacyServerHelloCase(t, all(), record.AlertIllegalParameter, downgrade(handshake.VersionTLS11))
	})
	t.Run("downgrade sentinel at TLS 1.0", func(t *testing.T) {
		legacyServerHelloCase(t, all(), record.AlertIllegalParameter, downgrade(handshake.VersionTLS10))
	})
	t.Run("AEAD suite at TLS 1.1", func(t *testing.T) {
		legacyServerHelloCase(t, all(), record.AlertIllegalParameter, func(sh *handshake.ServerHello) {
			sh.Version = handshake.VersionTLS11
			sh.CipherSuite = handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
		})
	})
	t.Run("TLS 1.0 off by default", func(t *testing.T) {
		legacyServerHelloCase(t, nil, record.AlertProtocolVersion, func(sh *handshake.ServerHello) {
			sh.Version = handshake.VersionTLS10
			sh.CipherSuite = legacyCBCSuite()
		})
	})
	t.Run("TLS 1.0 refused by the device policy", func(t *testing.T) {
		cfg := all()
		cfg.Offloader = policyOffloader([]uint16{handshake.VersionTLS11, handshake.VersionTLS12})
		legacyServerHelloCase(t, cfg, record.AlertProtocolVersion, func(sh *handshake.ServerHello) {
			sh.Version = handshake.VersionTLS10
			sh.CipherSuite = legacyCBCSuite()
		})
	})
	t.Run("TLS 1.2 above a 1.1 maximum", func(t *testing.T) {
		cfg := all()
		cfg.MaxVersion = handshake.VersionTLS11
		legacyServerHelloCase(t, cfg, record.AlertProtocolVersion, func(sh *handshake.ServerHello) {
			sh.CipherSuite = legacyCBCSuite()
		})
	})
}

func TestStartNoVersionAllowed(t *testing.T) {
	cfg := &Config{Offloader: policyOffloader([]uint16{handshake.VersionTLS12}), ServerName: testServerName,
		MinVersion: handshake.VersionTLS10, MaxVersion: handshake.VersionTLS11}
	_, err := cfg.start(context.Background(), testServerName)
	var oe *OffloaderError
	if !errors.As(err, &oe) {
		t.Fatalf("err = %v, want an *OffloaderError", err)
	}
}

// TestDowngradeSentinelNeedsTLS12: DOWNGRD\x00 means a downgrade only to a
// client that offered TLS 1.2; one whose maximum is 1.1 takes it as random.
func TestDowngradeSentinelNeedsTLS12(t *testing.T) {
	random := append(bytes.Repeat([]byte{1}, 24), handshake.DowngradeTLS11...)
	if downgraded(handshake.VersionTLS11, handshake.VersionTLS10, random) {
		t.Error("a TLS 1.1 client took the sentinel as a downgrade")
	}
	if !downgraded(handshake.VersionTLS12, handshake.VersionTLS10, random) {
		t.Error("a TLS 1.2 client missed the sentinel at TLS 1.0")
	}
}
