package certs

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	short := "leaf \"a.example\": expired"
	if clip(short) != short {
		t.Error("short detail changed")
	}
	exact := strings.Repeat("a", MaxDetailLen)
	if clip(exact) != exact {
		t.Error("detail of exactly MaxDetailLen changed")
	}
	for shift := range 4 {
		long := strings.Repeat("a", shift) + strings.Repeat("ü€𝄞", 100)
		got := clip(long)
		if len(got) > MaxDetailLen || !utf8.ValidString(got) || !strings.HasSuffix(got, "...") ||
			!strings.HasPrefix(long, strings.TrimSuffix(got, "...")) {
			t.Errorf("shift %d: clip gave %d bytes %q", shift, len(got), got)
		}
	}
}
