package tlsclient

import (
	"bytes"
	"testing"

	"github.com/tlsoffload/tlsoffload/handshake"
)

// TestSessionKey: the key follows the server name (without case or a
// trailing dot) and changes with anything that shaped the session,
// including the offloader's Start answer.
func TestSessionKey(t *testing.T) {
	base := func() *Config { return &Config{Offloader: &scriptOffloader{}, ServerName: testServerName} }
	key := newKeyFor(t, base())
	same := []func(*Config){
		func(c *Config) { c.ServerName = "SERVER.test." },
		func(c *Config) { c.Trace = t.Logf },
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
			c.Offloader = &scriptOffloader{allow: func(o Offer) Offer {
				o.CipherSuites = []uint16{scriptSuite, handshake.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}
				return o
			}}
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

// newKeyFor is the session cache key a handshake with cfg uses.
func newKeyFor(t testing.TB, cfg *Config) string {
	t.Helper()
	key, err := sessionKeyFor(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestLRUSessionCacheBounded(t *testing.T) {
	c := NewLRUSessionCache(2)
	mk := func(b byte) *ClientSession {
		return &ClientSession{master: bytes.Repeat([]byte{b}, 48), sessionID: []byte{b}}
	}
	a, b, d := mk(1), mk(2), mk(3)
	c.Put("a", a)
	c.Put("b", b)
	if _, ok := c.Get("a"); !ok { // a is now the most recently used
		t.Fatal("a missing")
	}
	c.Put("d", d)
	if c.Len() != 2 {
		t.Fatalf("Len = %d, want 2", c.Len())
	}
	if _, ok := c.Get("b"); ok {
		t.Error("the least recently used session was not evicted")
	}
	if !bytes.Equal(b.master, make([]byte, 48)) {
		t.Error("evicted session's master secret not zeroed")
	}
	got, ok := c.Get("a")
	if !ok || !bytes.Equal(got.master, bytes.Repeat([]byte{1}, 48)) {
		t.Fatal("a lost or damaged")
	}
	// Get hands out copies: zeroing the cache's does not reach them.
	c.Put("a", nil)
	if !bytes.Equal(a.master, make([]byte, 48)) || !bytes.Equal(got.master, bytes.Repeat([]byte{1}, 48)) {
		t.Error("removal: the stored secret is not zeroed, or the copy was")
	}
	if _, ok := c.Get("a"); ok || c.Len() != 1 {
		t.Error("Put(nil) did not remove")
	}
	// Replacing a key zeroes the replaced session, but not when it is the same.
	e := mk(4)
	c.Put("d", e)
	if !bytes.Equal(d.master, make([]byte, 48)) {
		t.Error("replaced session not zeroed")
	}
	c.Put("d", e)
	if !bytes.Equal(e.master, bytes.Repeat([]byte{4}, 48)) {
		t.Error("putting the same session again zeroed it")
	}
}
