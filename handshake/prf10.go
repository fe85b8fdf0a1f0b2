package handshake

import (
	"crypto/md5"
	"crypto/sha1"
	"errors"
	"hash"

	"golang.org/x/crypto/cryptobyte"
)

// The key schedule of TLS 1.0 (RFC 2246) and TLS 1.1 (RFC 4346), and the
// version-aware entry points both ends call: for TLS 1.2 they are the
// suite's PRF12 methods, for the older versions the MD5 ⊕ SHA-1 PRF below.
// The master secret, key block and Finished formulas are the same in every
// version (RFC 2246 §8.1, §6.3, §7.4.9); only the PRF and the handshake hash
// differ.

// PRF10 fills out with the PRF of TLS 1.0 and 1.1 (RFC 2246 §5, RFC 4346
// §5):
//
//	L_S = length in bytes of secret; L_S1 = L_S2 = ceil(L_S / 2);
//	S1 = the first L_S1 bytes of secret, S2 the last L_S2 (they share
//	     the middle byte when L_S is odd);
//	PRF(secret, label, seed) = P_MD5(S1, label + seed) XOR
//	                           P_SHA-1(S2, label + seed);
func PRF10(out, secret []byte, label string, seed []byte) {
	labelSeed := make([]byte, 0, len(label)+len(seed))
	labelSeed = append(labelSeed, label...)
	labelSeed = append(labelSeed, seed...)
	half := (len(secret) + 1) / 2
	s1, s2 := secret[:half], secret[len(secret)-half:]
	pHash(md5.New, out, s1, labelSeed)
	x := make([]byte, len(out))
	pHash(sha1.New, x, s2, labelSeed)
	for i := range out {
		out[i] ^= x[i]
	}
	clear(x)
}

// VersionUsesPRF12 reports whether version derives its keys with the TLS 1.2
// PRF (the suite's hash) rather than the MD5 ⊕ SHA-1 PRF of TLS 1.0/1.1.
func VersionUsesPRF12(version uint16) bool { return version >= VersionTLS12 }

// PRFFor returns the PRF of version for this suite: PRF12 for TLS 1.2,
// PRF10 for TLS 1.0 and 1.1.
func (s *Suite) PRFFor(version uint16) func(out, secret []byte, label string, seed []byte) {
	if VersionUsesPRF12(version) {
		return s.PRF12
	}
	return PRF10
}

// MasterSecretFor is MasterSecret with version's PRF (RFC 2246 §8.1, RFC
// 5246 §8.1).
func (s *Suite) MasterSecretFor(version uint16, premaster, clientRandom, serverRandom []byte) []byte {
	out := make([]byte, MasterSecretLen)
	s.PRFFor(version)(out, premaster, labelMasterSecret, concat(clientRandom, serverRandom))
	return out
}

// ExtendedMasterSecretFor is ExtendedMasterSecret with version's PRF; for
// TLS 1.0/1.1 the session hash is MD5(handshake) || SHA-1(handshake) (RFC
// 7627 §3), which is what TranscriptHash gives for those versions.
func (s *Suite) ExtendedMasterSecretFor(version uint16, premaster, sessionHash []byte) []byte {
	out := make([]byte, MasterSecretLen)
	s.PRFFor(version)(out, premaster, labelExtendedMasterSecret, sessionHash)
	return out
}

// KeyBlockFor is KeyBlock with version's PRF (RFC 2246 §6.3, RFC 4346 §6.3,
// RFC 5246 §6.3; seed server_random || client_random in every version).
// The IVs are derived in every version: TLS 1.1 and 1.2 CBC records carry
// their own IV and ignore them, and as they end the block the bytes before
// them do not change.
func (s *Suite) KeyBlockFor(version uint16, master, clientRandom, serverRandom []byte) []byte {
	out := make([]byte, s.KeyBlockLen())
	s.PRFFor(version)(out, master, labelKeyExpansion, concat(serverRandom, clientRandom))
	return out
}

// FinishedVerifyDataFor is FinishedVerifyData with version's PRF. For TLS
// 1.0/1.1 transcriptHash is MD5(handshake_messages) ||
// SHA-1(handshake_messages) (RFC 2246 §7.4.9), as TranscriptHash gives.
func (s *Suite) FinishedVerifyDataFor(version uint16, master []byte, client bool, transcriptHash []byte) []byte {
	label := labelServerFinished
	if client {
		label = labelClientFinished
	}
	out := make([]byte, VerifyDataLen)
	s.PRFFor(version)(out, master, label, transcriptHash)
	return out
}

// TranscriptHash returns a new running handshake hash for suite in
// version: the suite's PRF hash in TLS 1.2, MD5 || SHA-1 (36 bytes) in TLS
// 1.0 and 1.1. Every value it returns implements hash.Cloner and
// encoding.BinaryMarshaler / BinaryUnmarshaler (the offloader carries the
// state in a token).
func TranscriptHash(s *Suite, version uint16) hash.Hash {
	if VersionUsesPRF12(version) {
		return s.hash().New()
	}
	return newMD5SHA1()
}

// SetSuiteVersion is SetSuite for a handshake in version: TLS 1.0 and 1.1
// hash the transcript with MD5 || SHA-1 whatever the suite. Only the first
// call of SetSuite or SetSuiteVersion has an effect.
func (t *Transcript) SetSuiteVersion(s *Suite, version uint16) {
	if t.h != nil {
		return
	}
	t.h = TranscriptHash(s, version)
	t.h.Write(t.buf)
	t.buf = nil
}

// md5sha1 is the concatenated hash of TLS 1.0/1.1's handshake hash:
// Sum = MD5(data) || SHA-1(data).
type md5sha1 struct {
	md5, sha1 hash.Hash
}

func newMD5SHA1() *md5sha1 { return &md5sha1{md5: md5.New(), sha1: sha1.New()} }

func (h *md5sha1) Write(p []byte) (int, error) {
	h.md5.Write(p)
	h.sha1.Write(p)
	return len(p), nil
}

func (h *md5sha1) Sum(b []byte) []byte {
	return h.sha1.Sum(h.md5.Sum(b))
}

func (h *md5sha1) Reset()         { h.md5.Reset(); h.sha1.Reset() }
func (h *md5sha1) Size() int      { return md5.Size + sha1.Size }
func (h *md5sha1) BlockSize() int { return h.md5.BlockSize() }

// Clone returns an independent copy of the running state.
func (h *md5sha1) Clone() (hash.Cloner, error) {
	m, err := h.md5.(hash.Cloner).Clone()
	if err != nil {
		return nil, err
	}
	s, err := h.sha1.(hash.Cloner).Clone()
	if err != nil {
		return nil, err
	}
	return &md5sha1{md5: m, sha1: s}, nil
}

var errMD5SHA1State = errors.New("handshake: bad MD5+SHA-1 hash state")

// MarshalBinary saves the state: md5_state<u16> || sha1_state<u16>.
func (h *md5sha1) MarshalBinary() ([]byte, error) {
	m, err := marshalHashState(h.md5)
	if err != nil {
		return nil, err
	}
	s, err := marshalHashState(h.sha1)
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	addBytes16(&b, m)
	addBytes16(&b, s)
	return b.Bytes()
}

// UnmarshalBinary restores a state MarshalBinary saved.
func (h *md5sha1) UnmarshalBinary(state []byte) error {
	in := cryptobyte.String(state)
	var m, s cryptobyte.String
	if !in.ReadUint16LengthPrefixed(&m) || !in.ReadUint16LengthPrefixed(&s) || !in.Empty() {
		return errMD5SHA1State
	}
	nm, ns := md5.New(), sha1.New()
	if err := unmarshalHashState(nm, m); err != nil {
		return errMD5SHA1State
	}
	if err := unmarshalHashState(ns, s); err != nil {
		return errMD5SHA1State
	}
	h.md5, h.sha1 = nm, ns
	return nil
}

func marshalHashState(h hash.Hash) ([]byte, error) {
	m, ok := h.(interface{ MarshalBinary() ([]byte, error) })
	if !ok {
		return nil, errMD5SHA1State
	}
	return m.MarshalBinary()
}

func unmarshalHashState(h hash.Hash, state []byte) error {
	u, ok := h.(interface{ UnmarshalBinary([]byte) error })
	if !ok {
		return errMD5SHA1State
	}
	return u.UnmarshalBinary(state)
}
