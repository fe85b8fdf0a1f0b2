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
