package handshake

import (
	"bytes"
	"testing"
)

// FuzzParseClientKeyExchangeBody: the two ClientKeyExchange body parsers
// (ECDHE point, RSA encrypted premaster), seeded with the bodies of the
// captured handshakes in testdata. No input panics; what parses marshals
// back to the same body.
func FuzzParseClientKeyExchangeBody(f *testing.F) {
	for _, msgs := range readTestdata(f) {
		for _, b := range msgs {
			if b[0] == TypeClientKeyExchange {
				f.Add(b[4:])
			}
		}
	}
	f.Add(ECDHEClientKeyExchangeBody(bytes.Repeat([]byte{9}, 32)))
	f.Add(RSAClientKeyExchangeBody(bytes.Repeat([]byte{7}, 256)))
	f.Fuzz(func(t *testing.T, body []byte) {
		if point, err := ParseECDHEClientKeyExchange(body); err == nil {
			if len(point) == 0 || !bytes.Equal(ECDHEClientKeyExchangeBody(point), body) {
				t.Fatalf("ECDHE body %x does not marshal back", body)
			}
		}
		if enc, err := ParseRSAClientKeyExchange(body); err == nil {
			if len(enc) == 0 || !bytes.Equal(RSAClientKeyExchangeBody(enc), body) {
				t.Fatalf("RSA body %x does not marshal back", body)
			}
		}
	})
}
