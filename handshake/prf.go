package handshake

import (
	"crypto"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"hash"
	"slices"

	"github.com/tlsoffload/tlsoffload/internal/cryptobyte"
	"github.com/tlsoffload/tlsoffload/internal/hmac"
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

// The key schedule of TLS 1.0 (RFC 2246), 1.1 (RFC 4346) and 1.2 (RFC
// 5246). The master secret, key block and Finished formulas are the same
// in every version (RFC 2246 §8.1, §6.3, §7.4.9); only the PRF and the
// handshake hash differ, so each function below takes the version and
// prfForVersion picks the PRF, as crypto/tls's prfForVersion does.

// prfFunc fills out with PRF(secret, label, seed).
type prfFunc func(out, secret []byte, label string, seed []byte)

// prfForVersion returns the PRF of version for suite s: TLS 1.2's over the
// suite's hash, or TLS 1.0/1.1's MD5 ⊕ SHA-1.
func prfForVersion(version uint16, s *Suite) prfFunc {
	if version >= VersionTLS12 {
		return prf12(s.Hash)
	}
	return prf10
}

// prf12 returns the PRF of TLS 1.2 over hash h (RFC 5246 §5):
//
//	PRF(secret, label, seed) = P_<hash>(secret, label + seed)
//
// For SHA-256 and SHA-384 (every TLS 1.2 suite) it runs without a heap
// allocation (pHashStack); other hashes, or a secret longer than the hash's
// block, take pHash (internal/hmac).
func prf12(h crypto.Hash) prfFunc {
	return func(out, secret []byte, label string, seed []byte) {
		if pHashStack(h, out, secret, label, seed) {
			return
		}
		pHash(h.New, out, secret, slices.Concat([]byte(label), seed))
	}
}

// maxStackPRFInput bounds pHashStack's HMAC input after the key's block:
// A(i) (at most 48 bytes) + label + seed. The longest of the key schedule
// is the master secret's: 48 + len("extended master secret") + a 48-byte
// session hash, or 48 + len("master secret") + 64 bytes of randoms.
const maxStackPRFInput = 48 + 22 + 64

// pHashStack is pHash for SHA-256 and SHA-384 with the HMACs computed on
// stack buffers (RFC 2104: H(K ^ opad || H(K ^ ipad || text)), the key
// zero-padded to the block), so that the Finished, key block and master
// secret derivations of a handshake allocate nothing. It reports false,
// having written nothing, when it does not apply: another hash, a secret
// longer than the block (HMAC would hash it first) or an input beyond
// maxStackPRFInput.
func pHashStack(h crypto.Hash, out, secret []byte, label string, seed []byte) bool {
	var block int
	switch h {
	case crypto.SHA256:
		block = sha256.BlockSize
	case crypto.SHA384:
		block = sha512.BlockSize
	default:
		return false
	}
	size := h.Size()
	if len(secret) > block || size+len(label)+len(seed) > maxStackPRFInput {
		return false
	}
	var a, p [sha512.Size384]byte
	hmacStack(h, block, a[:size], secret, nil, label, seed) // A(1)
	for n := 0; n < len(out); {
		hmacStack(h, block, p[:size], secret, a[:size], label, seed)
		if n += copy(out[n:], p[:size]); n == len(out) {
			break // A(i+1) would go unused: Finished needs one block
		}
		hmacStack(h, block, a[:size], secret, a[:size], "", nil) // A(i+1)
	}
	clear(a[:])
	clear(p[:])
	return true
}

// hmacStack writes HMAC-h(key, x || label || seed) to dst (h's size); the
// caller has checked that key fits the block and the input
// maxStackPRFInput. dst may alias x.
func hmacStack(h crypto.Hash, block int, dst, key, x []byte, label string, seed []byte) {
	var buf [sha512.BlockSize + maxStackPRFInput]byte
	pad := buf[:block]
	copy(pad, key)
	for i := range pad {
		pad[i] ^= 0x36
	}
	n := block + copy(buf[block:], x)
	n += copy(buf[n:], label)
	n += copy(buf[n:], seed)
	var inner [sha512.Size384]byte
	stackSum(h, inner[:], buf[:n])
	for i := range pad {
		pad[i] ^= 0x36 ^ 0x5c
	}
	n = block + copy(buf[block:], inner[:h.Size()])
	stackSum(h, dst, buf[:n])
	clear(buf[:])
	clear(inner[:])
}

// stackSum writes h(msg) to dst for SHA-256 or SHA-384.
func stackSum(h crypto.Hash, dst, msg []byte) {
	if h == crypto.SHA256 {
		s := sha256.Sum256(msg)
		copy(dst, s[:])
		clear(s[:])
		return
	}
	s := sha512.Sum384(msg)
	copy(dst, s[:])
	clear(s[:])
}

// prf10 is the PRF of TLS 1.0 and 1.1 (RFC 2246 §5, RFC 4346 §5):
//
//	L_S = length in bytes of secret; L_S1 = L_S2 = ceil(L_S / 2);
//	S1 = the first L_S1 bytes of secret, S2 the last L_S2 (they share
//	     the middle byte when L_S is odd);
//	PRF(secret, label, seed) = P_MD5(S1, label + seed) XOR
//	                           P_SHA-1(S2, label + seed);
func prf10(out, secret []byte, label string, seed []byte) {
	labelSeed := slices.Concat([]byte(label), seed)
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

// pHash is P_hash of RFC 5246 §5 (RFC 2246 §5):
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

// MasterSecret derives the 48-byte master secret with version's PRF (RFC
// 5246 §8.1, RFC 2246 §8.1): PRF(pre_master_secret, "master secret",
// ClientHello.random + ServerHello.random)[0..47].
func (s *Suite) MasterSecret(version uint16, premaster, clientRandom, serverRandom []byte) []byte {
	out := make([]byte, MasterSecretLen)
	prfForVersion(version, s)(out, premaster, labelMasterSecret, slices.Concat(clientRandom, serverRandom))
	return out
}

// ExtendedMasterSecret derives the master secret of RFC 7627 §4 from the
// session hash (the transcript hash through ClientKeyExchange, which is
// MD5 || SHA-1 in TLS 1.0/1.1, RFC 7627 §3, as TranscriptHash gives):
// PRF(pre_master_secret, "extended master secret", session_hash)[0..47].
func (s *Suite) ExtendedMasterSecret(version uint16, premaster, sessionHash []byte) []byte {
	out := make([]byte, MasterSecretLen)
	prfForVersion(version, s)(out, premaster, labelExtendedMasterSecret, sessionHash)
	return out
}

// KeyBlock expands the master secret into the key block of RFC 5246 §6.3
// (RFC 2246 §6.3, RFC 4346 §6.3; note the seed order: server_random ||
// client_random): PRF(SecurityParameters.master_secret, "key expansion",
// SecurityParameters.server_random + SecurityParameters.client_random).
// The IVs are derived in every version: TLS 1.1 and 1.2 CBC records carry
// their own IV and ignore them, and as they end the block the bytes before
// them do not change.
func (s *Suite) KeyBlock(version uint16, master, clientRandom, serverRandom []byte) []byte {
	out := make([]byte, s.KeyBlockLen())
	prfForVersion(version, s)(out, master, labelKeyExpansion, slices.Concat(serverRandom, clientRandom))
	return out
}

// FinishedVerifyData is the 12-byte verify_data of RFC 5246 §7.4.9 (RFC
// 2246 §7.4.9) for the client ("client finished") or the server ("server
// finished") over the transcript hash (MD5 || SHA-1 in TLS 1.0/1.1, as
// TranscriptHash gives): PRF(master_secret, finished_label,
// Hash(handshake_messages))[0..11].
func (s *Suite) FinishedVerifyData(version uint16, master []byte, client bool, transcriptHash []byte) []byte {
	label := labelServerFinished
	if client {
		label = labelClientFinished
	}
	out := make([]byte, VerifyDataLen)
	prfForVersion(version, s)(out, master, label, transcriptHash)
	return out
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

// SetSuite fixes the hash to suite s's in version (TranscriptHash);
// buffered messages are hashed and dropped. Only the first call has an
// effect: the hash of a handshake never changes.
func (t *Transcript) SetSuite(s *Suite, version uint16) {
	if t.h != nil {
		return
	}
	t.h = s.TranscriptHash(version)
	t.h.Write(t.buf)
	t.buf = nil
}

// Sum returns the hash of everything written so far; nil before SetSuite
// (there is no hash yet).
func (t *Transcript) Sum() []byte {
	if t.h == nil {
		return nil
	}
	// hash.Hash promises that Sum leaves the running state alone, and every
	// hash TranscriptHash returns keeps it (the standard library's SHA-256
	// and SHA-384, md5sha1 over MD5 and SHA-1): no clone to allocate.
	return t.h.Sum(nil)
}

// TranscriptHash returns a new running handshake hash for the suite in
// version: the suite's PRF hash in TLS 1.2 (RFC 5246 §7.4.9), MD5 || SHA-1
// (36 bytes) in TLS 1.0 and 1.1 (RFC 2246 §7.4.9). Every value it returns implements hash.Cloner and
// encoding.BinaryMarshaler / BinaryUnmarshaler (the offloader carries the
// state in a token).
func (s *Suite) TranscriptHash(version uint16) hash.Hash {
	if version >= VersionTLS12 {
		return s.Hash.New()
	}
	return newMD5SHA1()
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
