package certs_test

import (
	"testing"

	"github.com/tlsoffload/tlsoffload/certs"
)

func TestMatchName(t *testing.T) {
	tests := []struct {
		patterns []string
		name     string
		want     bool
	}{
		{[]string{"api.example.com"}, "api.example.com", true},
		{[]string{"api.example.com"}, "www.example.com", false},
		{[]string{"api.example.com"}, "example.com", false},
		{[]string{"api.example.com"}, "xapi.example.com", false},
		{[]string{"www.example.com", "api.example.com"}, "api.example.com", true},
		{nil, "api.example.com", false},
		{[]string{}, "api.example.com", false},

		// one-label wildcards
		{[]string{"*.example.com"}, "a.example.com", true},
		{[]string{"*.example.com"}, "example.com", false},
		{[]string{"*.example.com"}, "a.b.example.com", false},
		{[]string{"*.example.com"}, ".example.com", false},
		{[]string{"*.example.com"}, "a.example.com.evil", false},
		{[]string{"*.example.com"}, "aexample.com", false},
		{[]string{"*.b.example.com"}, "a.b.example.com", true},
		{[]string{"a.*.example.com"}, "a.b.example.com", false},
		{[]string{"a*.example.com"}, "ab.example.com", false},
		{[]string{"a*.example.com"}, "a*.example.com", true}, // only as a literal
		{[]string{"*."}, "a", false},
		{[]string{"*"}, "anything.example", true},
		{[]string{"*"}, "192.0.2.1", true},
		{[]string{"*"}, "", false},
		{[]string{"**.example.com"}, "a.example.com", false},

		// case and trailing dots
		{[]string{"API.Example.COM"}, "api.example.com", true},
		{[]string{"api.example.com"}, "API.EXAMPLE.COM", true},
		{[]string{"*.EXAMPLE.com"}, "A.example.COM", true},
		{[]string{"api.example.com."}, "api.example.com", true},
		{[]string{"api.example.com"}, "api.example.com.", true},
		{[]string{"*.example.com"}, "a.example.com.", true},
		{[]string{"api.example.com"}, "api.example.com..", false},
		{[]string{"."}, ".", false},
		{[]string{""}, "", false},
		{[]string{""}, "a", false},

		// only ASCII folds: the Kelvin sign is not a k
		{[]string{"k.example"}, "\u212a.example", false},
		{[]string{"bücher.example"}, "bücher.example", true},
		{[]string{"BÜCHER.example"}, "bücher.example", false},
		{[]string{"xn--bcher-kva.example"}, "bücher.example", false},
		{[]string{"*.example"}, "ü.example", true},
		{[]string{"*.example"}, "\xff\xfe.example", true},
		{[]string{"a.example"}, "a.example\x00", false},

		// IP literals match addresses, never wildcards
		{[]string{"192.0.2.1"}, "192.0.2.1", true},
		{[]string{"192.0.2.1"}, "192.0.2.2", false},
		{[]string{"*.0.2.1"}, "192.0.2.1", false},
		{[]string{"2001:db8::1"}, "2001:DB8:0:0::1", true},
		{[]string{"2001:db8::1"}, "[2001:db8::1]", true},
		{[]string{"[2001:db8::1]"}, "2001:db8::1", true},
		{[]string{"::ffff:192.0.2.1"}, "192.0.2.1", true},
		{[]string{"2001:db8::1"}, "2001:db8::2", false},
	}
	for _, tt := range tests {
		if got := certs.MatchName(tt.patterns, tt.name); got != tt.want {
			t.Errorf("MatchName(%q, %q) = %v, want %v", tt.patterns, tt.name, got, tt.want)
		}
	}
}

func FuzzMatchName(f *testing.F) {
	for _, s := range [][2]string{
		{"*.example.com", "a.example.com"},
		{"api.example.com.", "API.example.com"},
		{"*", "x"},
		{"2001:db8::1", "[2001:db8::1]"},
		{"bücher.example", "\u212a.example"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		got := certs.MatchName([]string{pattern}, name)
		if (name == "" || name == ".") && got {
			t.Error("empty name matched")
		}
		// Every name matches itself, unless nothing is left of it.
		if name != "" && name != "." && !certs.MatchName([]string{name}, name) {
			t.Errorf("%q does not match itself", name)
		}
		if name != "" && name != "." && !certs.MatchName([]string{"*"}, name) {
			t.Errorf("* does not match %q", name)
		}
	})
}
