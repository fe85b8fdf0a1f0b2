package handshake

import (
	"crypto"
	"crypto/hmac"
	"hash"
)

// Lengths fixed by the RFCs.
const (
	MasterSecretLen = 48 // RFC 5246 §8.1
	VerifyDataLen   = 12 // RFC 5246 §7.4.9
)

// PRF labels (RFC 5246 §8.1, §6.3, §7.4.9; RFC 7627 §4).
const (
	labelMasterSecret         = "master secret"
	labelExtendedMasterSecret = "extended master secret"
	labelKeyExpansion         = "key expansion"
	labelClientFinished       = "client finished"
	labelServerFinished       = "server finished"
)

// hash returns the suite's PRF hash; a zero Hash means SHA-256, the TLS 1.2
// default (RFC 5246 §5).
func (s *Suite) hash() crypto.Hash {
	if s.Hash == 0 {
		return crypto.SHA256
	}
	return s.Hash
}

// PRF12 fills out with the TLS 1.2 PRF of RFC 5246 §5 over the suite's hash:
// P_hash(secret, label || seed).
func (s *Suite) PRF12(out, secret []byte, label string, seed []byte) {
	labelSeed := make([]byte, 0, len(label)+len(seed))
	labelSeed = append(labelSeed, label...)
	labelSeed = append(labelSeed, seed...)
	pHash(s.hash().New, out, secret, labelSeed)
}

// pHash is P_hash of RFC 5246 §5:
//
//	P_hash(secret, seed) = HMAC_hash(secret, A(1) + seed) +
//	                       HMAC_hash(secret, A(2) + seed) + ...
//	A(0) = seed, A(i) = HMAC_hash(secret, A(i-1))
//
// truncated to len(out).
func pHash(h func() hash.Hash, out, secret, seed []byte) {
	mac := hmac.New(h, secret)
	mac.Write(seed)
	a := mac.Sum(nil) // A(1)
	for n := 0; n < len(out); {
		mac.Reset()
		mac.Write(a)
		mac.Write(seed)
		n += copy(out[n:], mac.Sum(nil))
		mac.Reset()
		mac.Write(a)
		a = mac.Sum(a[:0]) // A(i+1)
	}
}

// MasterSecret derives the 48-byte master secret of RFC 5246 §8.1:
// PRF(pre_master_secret, "master secret", ClientHello.random +
// ServerHello.random)[0..47].
func (s *Suite) MasterSecret(premaster, clientRandom, serverRandom []byte) []byte {
	out := make([]byte, MasterSecretLen)
	s.PRF12(out, premaster, labelMasterSecret, concat(clientRandom, serverRandom))
	return out
}

// ExtendedMasterSecret derives the master secret of RFC 7627 §4 from the
// session hash (the transcript hash through ClientKeyExchange):
// PRF(pre_master_secret, "extended master secret", session_hash)[0..47].
func (s *Suite) ExtendedMasterSecret(premaster, sessionHash []byte) []byte {
	out := make([]byte, MasterSecretLen)
	s.PRF12(out, premaster, labelExtendedMasterSecret, sessionHash)
	return out
}

// KeyBlock expands the master secret into the key block of RFC 5246 §6.3
// (note the seed order: server_random || client_random):
// PRF(SecurityParameters.master_secret, "key expansion",
// SecurityParameters.server_random + SecurityParameters.client_random).
func (s *Suite) KeyBlock(master, clientRandom, serverRandom []byte) []byte {
	out := make([]byte, s.KeyBlockLen())
	s.PRF12(out, master, labelKeyExpansion, concat(serverRandom, clientRandom))
	return out
}

// FinishedVerifyData is the 12-byte verify_data of RFC 5246 §7.4.9 for the
// client ("client finished") or the server ("server finished") over the
// transcript hash: PRF(master_secret, finished_label,
// Hash(handshake_messages))[0..11].
func (s *Suite) FinishedVerifyData(master []byte, client bool, transcriptHash []byte) []byte {
	label := labelServerFinished
	if client {
		label = labelClientFinished
	}
	out := make([]byte, VerifyDataLen)
	s.PRF12(out, master, label, transcriptHash)
	return out
}

func concat(a, b []byte) []byte {
	out := make([]byte, 0, len(a)+len(b))
	return append(append(out, a...), b...)
}

// Transcript is the running handshake hash. It buffers messages until the
// suite (and so the hash) is known, then hashes as it goes; Sum never
// disturbs the running state.
//
// A Transcript is not safe for concurrent use; the zero value is ready.
type Transcript struct {
	// Before SetSuite: the messages written so far, concatenated.
	buf []byte
	// After SetSuite: the running hash; buf is dropped.
	h hash.Hash
}

// Write adds one whole handshake message (header included) to the transcript.
func (t *Transcript) Write(msg []byte) {
	if t.h != nil {
		t.h.Write(msg)
		return
	}
	t.buf = append(t.buf, msg...)
}

// SetSuite fixes the hash; buffered messages are hashed and dropped. Only
// the first call has an effect: the hash of a handshake never changes.
func (t *Transcript) SetSuite(s *Suite) {
	if t.h != nil {
		return
	}
	t.h = s.hash().New()
	t.h.Write(t.buf)
	t.buf = nil
}

// Sum returns the hash of everything written so far; nil before SetSuite
// (there is no hash yet).
func (t *Transcript) Sum() []byte {
	if t.h == nil {
		return nil
	}
	// hash.Hash promises that Sum leaves the running state alone; a clone
	// (every standard hash is a hash.Cloner) makes that independent of the
	// implementation.
	if c, ok := t.h.(hash.Cloner); ok {
		if d, err := c.Clone(); err == nil {
			return d.Sum(nil)
		}
	}
	return t.h.Sum(nil)
}
