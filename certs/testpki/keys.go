package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"sync"
)

// Key generation.
//
// RSA keys are slow to make (RSA-4096 takes around a second, more on a busy
// machine), so RSA keys come from a process-wide ring per key type: each draw
// takes the next slot, generating its key the first time the slot is used.
// Consecutive draws therefore give different keys until the ring wraps
// (ringSize draws of one type). ECDSA keys are cheap and always fresh.
// RSA2052 has a ring of one: the tests that need it need only its size.
//
// Locking: ring.mu guards only the slot table and the draw counter; each slot
// generates its key inside its own sync.OnceValues, so two goroutines waiting
// for different slots generate in parallel and one waiting for a slot being
// generated waits for that slot alone.

// ringSize is the number of distinct keys per RSA key type before reuse.
var ringSize = map[KeyType]int{
	RSA1024: 4,
	RSA2052: 1,
	RSA2048: 16,
	RSA4096: 4,
}

type keyRing struct {
	mu    sync.Mutex
	next  int
	slots []func() (crypto.Signer, error)
}

var rings = func() map[KeyType]*keyRing {
	m := make(map[KeyType]*keyRing, len(ringSize))
	for kt, n := range ringSize {
		r := &keyRing{slots: make([]func() (crypto.Signer, error), n)}
		for i := range r.slots {
			r.slots[i] = sync.OnceValues(func() (crypto.Signer, error) { return generateKey(kt) })
		}
		m[kt] = r
	}
	return m
}()

// newKey returns a key of type kt: a fresh one for ECDSA, the next key of
// the type's ring for RSA.
func newKey(kt KeyType) (crypto.Signer, error) {
	r, ok := rings[kt]
	if !ok {
		return generateKey(kt)
	}
	r.mu.Lock()
	slot := r.slots[r.next%len(r.slots)]
	r.next++
	r.mu.Unlock()
	return slot()
}

func generateKey(kt KeyType) (crypto.Signer, error) {
	switch kt {
	case RSA1024:
		return rsa.GenerateKey(rand.Reader, 1024)
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case RSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	case RSA2052:
		return rsa.GenerateKey(rand.Reader, 2052)
	case ECDSAP224:
		return ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	}
	return nil, fmt.Errorf("testpki: unknown key type %d", int(kt))
}

// String names the key type ("RSA2048", "ECDSAP256", ...).
func (kt KeyType) String() string {
	switch kt {
	case RSA2048:
		return "RSA2048"
	case RSA4096:
		return "RSA4096"
	case ECDSAP256:
		return "ECDSAP256"
	case ECDSAP384:
		return "ECDSAP384"
	case RSA1024:
		return "RSA1024"
	case RSA2052:
		return "RSA2052"
	case ECDSAP224:
		return "ECDSAP224"
	}
	return fmt.Sprintf("KeyType(%d)", int(kt))
}

// String names the defect ("Good", "Expired", ...).
func (d Defect) String() string {
	switch d {
	case Good:
		return "Good"
	case Expired:
		return "Expired"
	case NotYetValid:
		return "NotYetValid"
	case WrongName:
		return "WrongName"
	case UnknownRoot:
		return "UnknownRoot"
	case SelfSigned:
		return "SelfSigned"
	case NoServerAuth:
		return "NoServerAuth"
	case CAAsLeaf:
		return "CAAsLeaf"
	case SHA1Signed:
		return "SHA1Signed"
	case MissingIntermediate:
		return "MissingIntermediate"
	}
	return fmt.Sprintf("Defect(%d)", int(d))
}
