package handshake

import (
	"bytes"
	"testing"
)

func addSeeds(f *testing.F) {
	for _, msgs := range readTestdata(f) {
		for _, b := range msgs {
			f.Add(b)
		}
	}
	for _, tc := range sampleMessages() {
		if b := tc.msg.Marshal(); len(b) < 4096 {
			f.Add(b)
		}
	}
}

// FuzzParseMessage: no input panics; what parses marshals back to the same
// fields; SplitMessages gives back its input.
func FuzzParseMessage(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if msgs, err := SplitMessages(b); err == nil {
			if !bytes.Equal(bytes.Join(msgs, nil), b) {
				t.Fatal("SplitMessages lost bytes")
			}
		}
		m, err := ParseMessage(b)
		if err != nil {
			return
		}
		if raw := m.(Message); raw == nil {
			t.Fatal("nil message without an error")
		}
		reparse(t, m)
	})
}

// FuzzParseECDHEParams: no input panics; what parses marshals back to the
// same body, and SignedParams is its prefix.
func FuzzParseECDHEParams(f *testing.F) {
	for _, msgs := range readTestdata(f) {
		for _, b := range msgs {
			if b[0] == TypeServerKeyExchange {
				f.Add(b[4:])
			}
		}
	}
	f.Add((&ECDHEParams{Group: GroupP256, PublicKey: seq(65, 4), SignatureAlgorithm: SigECDSAP256SHA256, Signature: seq(70, 1)}).Marshal())
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParseECDHEParams(body)
		if err != nil {
			return
		}
		if !bytes.Equal(p.Marshal(), body) || !bytes.HasPrefix(body, p.SignedParams) {
			t.Fatal("ECDHE params do not marshal back to the body")
		}
	})
}
