package client

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

func TestParsePSK(t *testing.T) {
	key := bytes.Repeat([]byte{0x0f, 0xa5, 0x5a, 0xf0}, 8)
	for _, text := range []string{
		hex.EncodeToString(key),
		hex.EncodeToString(key) + "\n",
		" \t" + strings.ToUpper(hex.EncodeToString(key)) + "\r\n",
	} {
		got, err := ParsePSK([]byte(text))
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("ParsePSK(%q) = %x, %v; want %x", text, got, err, key)
		}
	}
	good := hex.EncodeToString(key)
	for name, text := range map[string]string{
		"empty":     "",
		"odd":       good[:len(good)-1],
		"short":     strings.Repeat("ab", wire.MinPSKLen-1),
		"long":      strings.Repeat("ab", wire.MaxPSKLen+1),
		"not hex":   good[:10] + "zq" + good[12:],
		"inner gap": good[:10] + " " + good[11:],
	} {
		got, err := ParsePSK([]byte(text))
		if err == nil {
			t.Errorf("%s: accepted as %x", name, got)
			continue
		}
		// The error names no byte of the key.
		if msg := err.Error(); strings.Contains(msg, "zq") || strings.Contains(msg, good[:4]) || !strings.HasPrefix(msg, "client: psk file: ") {
			t.Errorf("%s: error %q", name, msg)
		}
	}
}

// FuzzParsePSK: ParsePSK agrees with encoding/hex after trimming ASCII
// white space, within the key lengths the channel takes.
func FuzzParsePSK(f *testing.F) {
	f.Add([]byte(strings.Repeat("0a", 32) + "\n"))
	f.Add([]byte(" " + strings.Repeat("F0", 16)))
	f.Add([]byte(strings.Repeat("g0", 16)))
	f.Fuzz(func(t *testing.T, text []byte) {
		got, err := ParsePSK(text)
		want, werr := hex.DecodeString(strings.Trim(string(text), " \t\r\n"))
		if werr == nil && (len(want) < wire.MinPSKLen || len(want) > wire.MaxPSKLen) {
			werr = errPSKText
		}
		if (err == nil) != (werr == nil) || err == nil && !bytes.Equal(got, want) {
			t.Fatalf("ParsePSK(%q) = %x, %v; encoding/hex %x, %v", text, got, err, want, werr)
		}
	})
}
