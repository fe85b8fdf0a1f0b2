package pgregistry

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzParseCSV: a bulk add's file never panics the parser, and what it
// accepts is a valid, duplicate-free batch.
func FuzzParseCSV(f *testing.F) {
	f.Add("id,policy\na,p\nb,p\n")
	f.Add("id,policy,psk\na,p," + strings.Repeat("ab", 32) + "\nb,p,\n")
	f.Add("id,policy\na b,p\n")
	f.Add("id,policy\n\"a\nb\",p\n")
	f.Add("name,x\n")
	f.Fuzz(func(t *testing.T, in string) {
		rows, err := parseCSV(strings.NewReader(in))
		if err != nil {
			var ce *CSVError
			if !errors.As(err, &ce) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, r := range rows {
			if seen[r.id] {
				t.Fatalf("duplicate %q accepted", r.id)
			}
			seen[r.id] = true
			if err := (&DeviceSpec{ID: r.id, Policy: r.policy, PSK: r.psk}).check(); err != nil || r.policy == "" {
				t.Fatalf("invalid row accepted: %q %v", r.id, err)
			}
		}
	})
}

// FuzzOpenSealed: any bytes in a sealed column fail to open with ErrSealed
// (never a panic), and seal then open is the identity.
func FuzzOpenSealed(f *testing.F) {
	k, _ := NewKEK(bytes.Repeat([]byte{7}, KEKLen))
	good, _ := k.seal(purposePSK, "dev", []byte("0123456789abcdef"))
	f.Add(good, "dev")
	f.Add([]byte{1}, "dev")
	f.Add([]byte{}, "")
	f.Fuzz(func(t *testing.T, sealed []byte, id string) {
		if pt, err := k.open(purposePSK, id, sealed); err != nil && !errors.Is(err, ErrSealed) {
			t.Fatalf("error %v", err)
		} else if err == nil && (id != "dev" || string(pt) != "0123456789abcdef") {
			t.Fatalf("forged value opened: %x", pt)
		}
		s, err := k.seal(purposeClientKey, id, sealed)
		if err != nil {
			t.Fatal(err)
		}
		if pt, err := k.open(purposeClientKey, id, s); err != nil || !bytes.Equal(pt, sealed) {
			t.Fatalf("round trip: %v", err)
		}
		if _, err := k.open(purposePSK, id, s); err == nil {
			t.Fatal("a client key opened as a PSK")
		}
	})
}
