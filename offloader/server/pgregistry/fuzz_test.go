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

// FuzzKEKCheck: opening a stored KEK check value, whatever the database
// holds, fails cleanly unless it is the label sealed under that KEK for
// that purpose: not a PSK sealed under the same KEK, nor the check value
// of another KEK.
func FuzzKEKCheck(f *testing.F) {
	k, _ := NewKEK(bytes.Repeat([]byte{7}, KEKLen))
	other, _ := NewKEK(bytes.Repeat([]byte{8}, KEKLen))
	good, _ := k.sealKEKCheck()
	psk, _ := k.seal(purposePSK, "", []byte(kekCheckLabel))
	othercheck, _ := other.sealKEKCheck()
	f.Add(good)
	f.Add(psk)
	f.Add(othercheck)
	f.Add([]byte{sealVersion})
	f.Fuzz(func(t *testing.T, stored []byte) {
		mine, theirs := k.opensKEKCheck(stored), other.opensKEKCheck(stored)
		if mine && theirs {
			t.Fatalf("one value is the check value of two KEKs: %x", stored)
		}
		if mine {
			if pt, err := k.open(purposeKEKCheck, "", stored); err != nil || string(pt) != kekCheckLabel {
				t.Fatalf("passed without being the label: %q %v", pt, err)
			}
		}
		if _, err := k.open(purposePSK, "", stored); err == nil && mine {
			t.Fatal("a check value opened as a PSK")
		}
	})
}
