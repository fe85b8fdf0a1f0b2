package wire

import (
	"bytes"
	"errors"
	"testing"
)

// An Auth answer refers to the certificates the server presented instead of
// echoing them, and the device gets them back from its own copy.
func TestAuthChainReferences(t *testing.T) {
	leaf, inter, root := seq(900), seq(700), seq(400)
	presented := [][]byte{bytes.Clone(leaf), bytes.Clone(inter)}
	a := &AuthResponse{VerifiedChain: [][]byte{leaf, inter, root}}
	a.ReferPresented(presented)
	if want := []int{0, 1, -1}; !equalInts(a.Presented, want) {
		t.Fatalf("Presented = %v, want %v", a.Presented, want)
	}
	withRefs := mustMarshalResponse(t, &FlightResponse{ID: 1, Results: []Result{{Body: a}}})
	echoed := mustMarshalResponse(t, &FlightResponse{ID: 1, Results: []Result{{Body: &AuthResponse{VerifiedChain: a.VerifiedChain}}}})
	if saved := len(echoed) - len(withRefs); saved != len(leaf)+len(inter)+2*(4-2) {
		t.Errorf("references save %d bytes, want the presented certificates' %d", saved, len(leaf)+len(inter)+4)
	}

	var g FlightResponse
	if err := g.Unmarshal(withRefs); err != nil {
		t.Fatal(err)
	}
	got := g.Results[0].Body.(*AuthResponse)
	if got.VerifiedChain[0] != nil || got.VerifiedChain[1] != nil || !bytes.Equal(got.VerifiedChain[2], root) {
		t.Fatalf("parsed chain before resolving: %x", got.VerifiedChain)
	}
	if err := got.ResolvePresented(presented); err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]byte{leaf, inter, root} {
		if !bytes.Equal(got.VerifiedChain[i], want) {
			t.Errorf("element %d = %x, want %x", i, got.VerifiedChain[i], want)
		}
	}
	if &got.VerifiedChain[0][0] != &presented[0][0] {
		t.Error("a resolved element does not share the presented certificate")
	}

	// A reference to a certificate the device did not send is refused.
	var h FlightResponse
	if err := h.Unmarshal(withRefs); err != nil {
		t.Fatal(err)
	}
	if err := h.Results[0].Body.(*AuthResponse).ResolvePresented(presented[:1]); !errors.Is(err, StatusMalformed) {
		t.Errorf("ResolvePresented with one presented certificate: %v, want malformed", err)
	}

	// Nothing presented in common: every element is DER, as before.
	b := &AuthResponse{VerifiedChain: [][]byte{root}}
	b.ReferPresented(presented)
	if b.Presented != nil {
		t.Errorf("Presented = %v, want nil", b.Presented)
	}
	if err := b.ResolvePresented(nil); err != nil || !bytes.Equal(b.VerifiedChain[0], root) {
		t.Errorf("ResolvePresented without references: %v", err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func mustMarshalResponse(t *testing.T, r *FlightResponse) []byte {
	t.Helper()
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
