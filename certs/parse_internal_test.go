package certs

import (
	"encoding/asn1"
	"math/big"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// responseData encodes a ResponseData (RFC 6960 4.2.1) with one
// SingleResponse for serial with the given issuer hashes.
func responseData(serial int64, nameHash, keyHash []byte) []byte {
	when := []byte("20260314000000Z")
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddASN1Int64(0) })
		b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1OctetString(keyHash)
		})
		b.AddASN1(cbasn1.GeneralizedTime, func(b *cryptobyte.Builder) { b.AddBytes(when) })
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26})
						b.AddASN1NULL()
					})
					b.AddASN1OctetString(nameHash)
					b.AddASN1OctetString(keyHash)
					b.AddASN1Int64(serial)
				})
				b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(*cryptobyte.Builder) {})
				b.AddASN1(cbasn1.GeneralizedTime, func(b *cryptobyte.Builder) { b.AddBytes(when) })
			})
		})
	})
	return b.BytesOrPanic()
}

// FuzzCertIDHashes feeds the ResponseData reader arbitrary bytes: never a
// panic, and hashes only with ok.
func FuzzCertIDHashes(f *testing.F) {
	f.Add(responseData(5, []byte{1, 2, 3, 4}, []byte{5, 6, 7, 8}))
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		nh, kh, ok := certIDHashes(data, big.NewInt(5))
		if !ok && (nh != nil || kh != nil) {
			t.Fatal("hashes without ok")
		}
	})
}

func TestCertIDHashes(t *testing.T) {
	data := responseData(5, []byte{1, 2, 3, 4}, []byte{5, 6, 7, 8})
	nh, kh, ok := certIDHashes(data, big.NewInt(5))
	if !ok || string(nh) != "\x01\x02\x03\x04" || string(kh) != "\x05\x06\x07\x08" {
		t.Fatalf("%x %x %v", nh, kh, ok)
	}
	if _, _, ok := certIDHashes(data, big.NewInt(6)); ok {
		t.Error("found a serial that is not there")
	}
	for i := range data {
		if _, _, ok := certIDHashes(data[:i], big.NewInt(5)); ok {
			t.Fatalf("a %d-byte prefix reads", i)
		}
	}
}

// FuzzTLSFeature: never a panic.
func FuzzTLSFeature(f *testing.F) {
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x05})
	f.Add([]byte{0x30, 0x06, 0x02, 0x01, 0x11, 0x02, 0x01, 0x05})
	f.Fuzz(func(t *testing.T, data []byte) {
		must, err := parseTLSFeature(data)
		if err != nil && must {
			t.Fatal("must-staple with an error")
		}
	})
}

// FuzzDNSName: the DNS-name check never panics, and what it accepts
// contains only letters, digits, hyphens, dots and a leading "*.".
func FuzzDNSName(f *testing.F) {
	for _, s := range []string{"a.example", "*.example.co.uk", "*.co.uk", "a..b", "x_y.example", "-a.example", "*", ".", "a."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		rule, _ := dnsNameDefect(name, true)
		if rule != RuleNone {
			return
		}
		for i := 0; i < len(name); i++ {
			b := name[i]
			ok := b == '.' || b == '-' || '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || b == '*' && i == 0
			if !ok {
				t.Fatalf("accepted %q", name)
			}
		}
	})
}
