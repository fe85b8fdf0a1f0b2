package tlsclient

import (
	"net"
	"strings"
	"testing"
)

func TestMaxFragmentLengthConfig(t *testing.T) {
	for _, tc := range []struct {
		n       int
		require bool
		ok      bool
	}{
		{512, false, true}, {1024, false, true}, {2048, true, true}, {4096, false, true},
		{256, false, false}, {1000, false, false}, {8192, false, false}, {-1, false, false}, {0, true, false},
	} {
		off := &scriptOffloader{}
		cfg := &Config{Offloader: off, ServerName: testServerName}
		cfg.MaxFragmentLength, cfg.RequireMaxFragmentLength = tc.n, tc.require
		code, err := cfg.maxFragmentCode()
		if (err == nil) != tc.ok {
			t.Errorf("%d require %v: err %v", tc.n, tc.require, err)
		}
		if tc.ok && 256<<code != tc.n {
			t.Errorf("%d: code %d", tc.n, code)
		}
		if tc.ok {
			continue
		}
		// A bad Config fails before any offloader call or byte sent.
		a, b := net.Pipe()
		c := Client(a, cfg)
		if err := c.Handshake(); err == nil || !strings.Contains(err.Error(), "Config.") {
			t.Errorf("%d: Handshake err %v, want a Config error", tc.n, err)
		}
		if off.starts != 0 || off.keyExchanges() != 0 {
			t.Errorf("%d: offloader called for a bad Config", tc.n)
		}
		a.Close()
		b.Close()
	}
}
