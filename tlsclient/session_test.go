package tlsclient

import (
	"context"
	"testing"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// narrowStart is a fake offloader whose Start allows only the given suites:
// a device policy the operator changed.
type narrowStart struct {
	fakeOffloader
	suites []uint16
}

func (n *narrowStart) Do(ctx context.Context, f *wire.Flight) (*wire.FlightResponse, error) {
	fr, err := n.fakeOffloader.Do(ctx, f)
	if err == nil && len(fr.Results) == 1 && fr.Results[0].Start != nil {
		fr.Results[0].Start.CipherSuites = n.suites
	}
	return fr, err
}

// TestSessionKey: the key follows the server name (without case or a
// trailing dot) and changes with anything that shaped the session,
// including the offloader's Start answer.
func TestSessionKey(t *testing.T) {
	base := func() *Config { return &Config{Offloader: &fakeOffloader{}, ServerName: testServerName} }
	key := newKeyFor(t, base())
	same := []func(*Config){
		func(c *Config) { c.ServerName = "SERVER.test." },
		func(c *Config) { c.Sequential = true },
		func(c *Config) { c.SessionTTL = 1 },
	}
	for i, f := range same {
		cfg := base()
		f(cfg)
		if got := newKeyFor(t, cfg); got != key {
			t.Errorf("same %d: key changed", i)
		}
	}
	other := map[string]func(*Config){
		"server name": func(c *Config) { c.ServerName = "other.test" },
		"suites":      func(c *Config) { c.CipherSuites = []uint16{scriptSuite} },
		"suite order": func(c *Config) {
			ids := handshake.SuiteIDs(handshake.Suites)
			ids[0], ids[1] = ids[1], ids[0]
			c.CipherSuites = ids
		},
		"groups":   func(c *Config) { c.Groups = []uint16{handshake.GroupP256} },
		"sig algs": func(c *Config) { c.SignatureAlgorithms = []uint16{handshake.SigRSAPKCS1SHA256} },
		"alpn":     func(c *Config) { c.NextProtos = []string{"h2"} },
		"mfl":      func(c *Config) { c.MaxFragmentLength = 512 },
		"versions": func(c *Config) { c.MinVersion = handshake.VersionTLS11 },
		"start answer": func(c *Config) {
			c.Offloader = &narrowStart{suites: []uint16{scriptSuite, handshake.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}}
		},
	}
	seen := map[string]string{key: "base"}
	for name, f := range other {
		cfg := base()
		f(cfg)
		k := newKeyFor(t, cfg)
		if prev, dup := seen[k]; dup {
			t.Errorf("%s: same key as %s", name, prev)
		}
		seen[k] = name
	}
}
