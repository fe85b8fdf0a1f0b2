// Package hmac is HMAC (RFC 2104) and HKDF (RFC 5869) over a bare
// hash.Hash, for the device packages (record's CBC MACs, handshake's PRF,
// offloader/wire's key schedule).
//
// crypto/hmac and crypto/hkdf compute the same, but both pass the hash
// through crypto/internal/fips140hash, which imports crypto/sha3 to unwrap
// a SHA-3 hash: a program that uses either links Keccak and crypto/sha3's
// hash registrations (about 19 KB on linux/arm) whatever hash it gives
// them. The device never uses SHA-3. The tests pin this package to the
// RFC 2202, RFC 4231 and RFC 5869 test vectors and to crypto/hmac and
// crypto/hkdf on random inputs.
//
// Unlike crypto/hmac's, these are not covered by GODEBUG=fips140=only's
// checks: the device's hashes (MD5 and SHA-1 for TLS 1.0–1.2's PRF and
// CBC suites among them) are fixed by the protocol, not chosen here.
package hmac

import (
	"crypto/subtle"
	"hash"
)

// marshalable is a hash whose state can be saved and restored (every
// standard hash is one); saving the state after the padded key saves a
// compression per Reset and per Sum.
type marshalable interface {
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
}

// HMAC is a running HMAC: a hash.Hash whose Sum is
// H((K ⊕ opad) || H((K ⊕ ipad) || message)).
type HMAC struct {
	inner, outer hash.Hash
	// ipad and opad are the padded key blocks, or, once saved is set, the
	// inner and outer hashes' states after absorbing them. Both are as
	// secret as the key.
	ipad, opad []byte
	saved      bool
}

// New returns an HMAC keyed with key over the hash h makes (h must return
// a new hash on every call), ready for Write.
func New(h func() hash.Hash, key []byte) *HMAC {
	m := &HMAC{inner: h(), outer: h()}
	bs := m.inner.BlockSize()
	if len(key) > bs {
		m.outer.Write(key)
		key = m.outer.Sum(nil)
		m.outer.Reset()
	}
	m.ipad = make([]byte, bs)
	m.opad = make([]byte, bs)
	copy(m.ipad, key)
	copy(m.opad, key)
	for i := range bs {
		m.ipad[i] ^= 0x36
		m.opad[i] ^= 0x5c
	}
	m.inner.Write(m.ipad)
	return m
}

// Write adds p to the message; it never fails.
func (m *HMAC) Write(p []byte) (int, error) { return m.inner.Write(p) }

// Sum appends the MAC of the message written so far to b. Writing after
// Sum goes on with the same message.
func (m *HMAC) Sum(b []byte) []byte {
	n := len(b)
	b = m.inner.Sum(b)
	if m.saved {
		m.outer.(marshalable).UnmarshalBinary(m.opad)
	} else {
		m.outer.Reset()
		m.outer.Write(m.opad)
	}
	m.outer.Write(b[n:])
	return m.outer.Sum(b[:n])
}

// Reset starts a new message under the same key. The first Reset saves the
// hashes' states after the padded keys (when they can be saved), so later
// ones restore them instead of hashing a block each.
func (m *HMAC) Reset() {
	if m.saved {
		m.inner.(marshalable).UnmarshalBinary(m.ipad)
		return
	}
	m.inner.Reset()
	m.inner.Write(m.ipad)
	in, ok1 := m.inner.(marshalable)
	out, ok2 := m.outer.(marshalable)
	if !ok1 || !ok2 {
		return
	}
	m.outer.Reset()
	m.outer.Write(m.opad)
	is, err1 := in.MarshalBinary()
	os, err2 := out.MarshalBinary()
	if err1 != nil || err2 != nil {
		return
	}
	clear(m.ipad)
	clear(m.opad)
	m.ipad, m.opad, m.saved = is, os, true
}

// Size is the MAC's length in bytes.
func (m *HMAC) Size() int { return m.outer.Size() }

// BlockSize is the hash's block size.
func (m *HMAC) BlockSize() int { return m.inner.BlockSize() }

// Equal reports whether two MACs are equal, in time that depends only on
// their lengths.
func Equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
