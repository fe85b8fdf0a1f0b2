package wire

import (
	"bytes"
	"strconv"
)

// Chain elements of an Auth result (docs/PROTOCOL.md §8): a certificate the
// device already holds is sent as its index in the server's Certificate
// message, anything else as DER.
const (
	chainTagPresented uint8 = 0 // u8 index into the server's Certificate message
	chainTagDER       uint8 = 1 // certificate <u24>
)

// presentedAt is the index element i refers to, or -1 for DER.
func (a *AuthResponse) presentedAt(i int) int {
	if i < len(a.Presented) {
		return a.Presented[i]
	}
	return -1
}

// ReferPresented marks each certificate of VerifiedChain that is one of
// presented (the server's Certificate message, leaf first), so that it
// travels as a reference; the others stay DER. Only the first MaxChainCerts
// presented certificates can be referred to. VerifiedChain is unchanged.
func (a *AuthResponse) ReferPresented(presented [][]byte) {
	presented = presented[:min(len(presented), MaxChainCerts)]
	refs := make([]int, len(a.VerifiedChain))
	found := false
	for i, der := range a.VerifiedChain {
		refs[i] = -1
		for j, p := range presented {
			if bytes.Equal(der, p) {
				refs[i], found = j, true
				break
			}
		}
	}
	if found {
		a.Presented = refs
	} else {
		a.Presented = nil
	}
}

// ResolvePresented sets every referred element of VerifiedChain to the
// certificate of presented it refers to (sharing its bytes). It refuses, as
// StatusMalformed, a reference at or beyond len(presented): the offloader
// referred to a certificate the device did not send.
func (a *AuthResponse) ResolvePresented(presented [][]byte) error {
	if len(a.Presented) != 0 && len(a.Presented) != len(a.VerifiedChain) {
		return malformed(OpAuth, "chain references do not match the chain")
	}
	for i, j := range a.Presented {
		if j < 0 {
			continue
		}
		if j >= len(presented) {
			return malformed(OpAuth, "chain refers to certificate "+strconv.Itoa(j)+" of "+strconv.Itoa(len(presented))+" presented")
		}
		a.VerifiedChain[i] = presented[j]
	}
	return nil
}
