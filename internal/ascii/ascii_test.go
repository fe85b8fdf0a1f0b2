package ascii

import (
	"strings"
	"testing"
)

func TestToLower(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"example.com", "example.com"},
		{"Example.COM", "example.com"},
		{"WWW.EXAMPLE-1.ORG.", "www.example-1.org."},
		{"@[`{AZaz", "@[`{azaz"},
		// Only ASCII folds: a non-ASCII letter (and the Kelvin sign,
		// which strings.ToLower maps to 'k') stays.
		{"BÜCHER.de", "bÜcher.de"},
		{"\u212Aelvin", "\u212Aelvin"},
		{"\xffA", "\xffa"},
	} {
		if got := ToLower(c.in); got != c.want {
			t.Errorf("ToLower(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// Agrees with strings.ToLower on every ASCII string of one byte.
	for b := range 128 {
		s := string(rune(b))
		if ToLower(s) != strings.ToLower(s) {
			t.Errorf("ToLower(%q) = %q, strings.ToLower %q", s, ToLower(s), strings.ToLower(s))
		}
	}
}
