package server

import (
	"context"
	"sync"
)

// Sequential-mode tokens are single-use (issue 10). Two measures:
//
//   - A token is bound to the channel it was sealed for: ServeConn draws a
//     random 16-byte binding per channel (never sent) and puts it in the
//     context Do runs under; the token's additional data holds it. A token
//     captured (from a plaintext channel, or a log) cannot be used on any
//     other channel, on this replica or on another sharing TokenKey.
//   - Each replica remembers the nonces of the tokens it opened until they
//     expire (TokenTTL): a token opens once. A device's client that resends
//     a flight after its channel died resends it on a new channel, so it
//     never needs a token twice.
//
// What remains across replicas: Do called without a channel (an embedder
// calling it directly, as the replicas test does) binds to nothing, so
// such a token could be opened once on each replica sharing TokenKey
// within its TTL. Through channels, the binding makes that impossible;
// the price is that a sequential handshake cannot move to another replica
// mid-way: when its channel breaks, the device starts the handshake over.

// maxSeenTokens bounds the seen-set: past it, after dropping expired
// entries, tokens are refused (fail closed). At 30 s of TTL it allows
// about 35,000 sequential flights a second.
const maxSeenTokens = 1 << 20

type bindingKey struct{}

// withChannelBinding returns ctx carrying a channel's binding.
func withChannelBinding(ctx context.Context, b []byte) context.Context {
	return context.WithValue(ctx, bindingKey{}, b)
}

// channelBinding is the binding of the channel ctx serves (nil: none).
func channelBinding(ctx context.Context) []byte {
	b, _ := ctx.Value(bindingKey{}).([]byte)
	return b
}

// seenTokens is the replica's set of opened token nonces, each kept until
// its token's expiry.
//
// Locking: mu guards the map and the sweep mark.
type seenTokens struct {
	mu        sync.Mutex
	m         map[[24]byte]int64 // nonce → expiry, unix nanoseconds
	nextSweep int                // sweep expired entries when the map reaches this size
}

// firstUse records nonce (a token's 24 bytes) until expiry and reports
// whether it was not recorded before.
func (t *seenTokens) firstUse(nonce []byte, expiry, now int64) bool {
	var k [24]byte
	copy(k[:], nonce)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[[24]byte]int64)
		t.nextSweep = 1024
	}
	if _, seen := t.m[k]; seen {
		return false
	}
	if len(t.m) >= t.nextSweep {
		for n, exp := range t.m {
			if exp < now {
				delete(t.m, n)
			}
		}
		t.nextSweep = max(1024, 2*len(t.m))
	}
	if len(t.m) >= maxSeenTokens {
		return false
	}
	t.m[k] = expiry
	return true
}
