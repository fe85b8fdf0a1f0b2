package fingerprint_test

import (
	"slices"
	"testing"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/tlsclient/fingerprint"
)

// FuzzShape shapes any ClientHello our parser accepts after each preset:
// Shape never panics, and what it returns marshals, parses back and
// offers only suites the input offered (GREASE aside).
func FuzzShape(f *testing.F) {
	f.Add(deviceHello(1).Marshal())
	h := deviceHello(2)
	h.Extra = []handshake.Extension{{Type: 0x7777, Data: []byte{1}}, {Type: handshake.ExtStatusRequest}}
	h.MaxFragmentLength = 1
	h.ServerName = ""
	f.Add(h.Marshal())
	var shapers []*fingerprint.Shaper
	for _, id := range presets {
		s, err := fingerprint.FromID(id)
		if err != nil {
			f.Fatal(err)
		}
		shapers = append(shapers, s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var in handshake.ClientHello
		if in.Unmarshal(b) != nil {
			return
		}
		for _, s := range shapers {
			h := in
			h.Extra = slices.Clone(in.Extra)
			if s.Shape(&h) != nil {
				continue
			}
			msg, err := h.MarshalChecked()
			if err != nil {
				t.Fatalf("shaped hello does not marshal: %v", err)
			}
			var back handshake.ClientHello
			if err := back.Unmarshal(msg); err != nil {
				t.Fatalf("shaped hello does not parse: %v", err)
			}
			for _, v := range back.CipherSuites {
				if !isGREASE(v) && !slices.Contains(in.CipherSuites, v) {
					t.Fatalf("suite %#04x offered, not in the input", v)
				}
			}
		}
	})
}
