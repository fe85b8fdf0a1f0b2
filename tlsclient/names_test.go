package tlsclient

import "testing"

func TestSNIName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"example.com", "example.com"},
		{"example.com.", "example.com"},
		{"127.0.0.1", ""},
		{"127.0.0.1.", ""},
		{"::1", ""},
		{"[::1]", ""},
		{"[2001:db8::1]", ""},
		{"[127.0.0.1]", ""},
		// Not an IP literal, so sent as given.
		{"[::1", "[::1"},
		{"::1]", "::1]"},
		{"[example.com]", "[example.com]"},
		{"[]", "[]"},
		{"1.2.3", "1.2.3"},
	} {
		if got := sniName(c.in); got != c.want {
			t.Errorf("sniName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestVersionNames(t *testing.T) {
	for _, c := range []struct {
		vs   []uint16
		want string
	}{
		{nil, ""},
		{[]uint16{0x0303}, "TLS 1.2"},
		{[]uint16{0x0303, 0x0302, 0x0301}, "TLS 1.2, TLS 1.1, TLS 1.0"},
		{[]uint16{0x0304, 0x7f1c}, "TLS 1.3, 0x7f1c"},
	} {
		if got := versionNames(c.vs); got != c.want {
			t.Errorf("versionNames(%#04x) = %q, want %q", c.vs, got, c.want)
		}
	}
}
