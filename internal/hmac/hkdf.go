package hmac

import (
	"errors"
	"hash"
)

// Extract is HKDF-Extract (RFC 5869 §2.2): the pseudorandom key
// HMAC-Hash(salt, secret). An empty salt stands for HashLen zero bytes,
// which HMAC pads to the same key.
func Extract(h func() hash.Hash, secret, salt []byte) []byte {
	m := New(h, salt)
	m.Write(secret)
	return m.Sum(nil)
}

// Expand is HKDF-Expand (RFC 5869 §2.3): it fills out with
//
//	T(1) || T(2) || ..., T(i) = HMAC-Hash(prk, T(i-1) || info || i), T(0) empty
//
// The RFC allows at most 255 hash lengths; for a longer out it writes
// nothing and returns an error.
func Expand(h func() hash.Hash, prk, info, out []byte) error {
	m := New(h, prk)
	if len(out) > 255*m.Size() {
		return errExpandTooLong
	}
	var t []byte
	for i, n := 1, 0; n < len(out); i++ {
		if i > 1 {
			m.Reset()
			m.Write(t)
		}
		m.Write(info)
		m.Write([]byte{byte(i)})
		t = m.Sum(t[:0])
		n += copy(out[n:], t)
	}
	clear(t)
	return nil
}

var errExpandTooLong = errors.New("hmac: HKDF-Expand output longer than 255 hash lengths")
