package server

import (
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha256"
	"encoding"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/cryptobyte"
)

// A token carries one handshake's state between the sequential mode's
// flights, so that any replica sharing Config.TokenKey can continue it:
//
//	token = version(1) || nonce(24) || XChaCha20-Poly1305(TokenKey, nonce, state, ad)
//	ad    = version(1) || u8 len || device id || handshake id(16) || channel binding
//
// The channel binding (tokenreplay.go) is a secret the server draws for
// each channel it serves: a token opens only on the channel it was sealed
// for, so no other channel, on this replica or another, can use it; Do
// called without a channel (tests, embedders) binds to nothing. Each token
// opens once (the replica's seen-set, tokenreplay.go).
//
// XChaCha20-Poly1305's 24-byte nonces are drawn at random: collisions stay
// negligible however many tokens a key seals. The state (below) holds an
// expiry, so a token is good for TokenTTL only; the additional data binds
// it to the device and the handshake. Every failure to open is
// StatusBadToken with no detail of which check failed beyond expiry.
//
//	state = expiry unix nanoseconds (u64) || stage (u8) || suite (u16) ||
//	        client_version (u16) || version (u16) ||
//	        client_random<u8> || server_random<u8> ||
//	        ems (u8) || group (u16) || server_point<u8> ||
//	        rsa_modulus<u16> || rsa_exponent (u32) ||
//	        transcript_hash_state<u16> || premaster<u8> || cke<u16> ||
//	        client_auth (u8: 0 none, 1 empty, 2 certificate) || sig_scheme (u16) ||
//	        cert_type (u8) || certificate_digest<u8> || signature_hash_state<u16>
//
// The client_auth fields are clientcert.go's: the digest binds the token to
// the Certificate message Auth chose, the signature hash state carries the
// CertificateVerify transcript until KeyGen signs it, and the certificate
// type picks that hash before TLS 1.2. Only this layout is read: a token of
// any other version does not open. (The number is 3 because two earlier
// layouts existed during development; none was ever deployed.)
const tokenVersion = 3

func newTokenAEAD(key []byte) (cipher.AEAD, error) {
	a, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("offloader: token key: %w", err)
	}
	return a, nil
}

func tokenAD(deviceID string, hsID [16]byte, binding []byte) []byte {
	ad := make([]byte, 0, 2+len(deviceID)+len(hsID)+len(binding))
	ad = append(ad, tokenVersion, byte(len(deviceID)))
	ad = append(ad, deviceID...)
	ad = append(ad, hsID[:]...)
	return append(ad, binding...)
}

var errTokenTooLarge = errors.New("offloader: state too large for a token")

// sealToken seals st for the device's next flight of this handshake.
func (s *Server) sealToken(deviceID string, hsID [16]byte, st *hsState, binding []byte) ([]byte, error) {
	plain, err := marshalState(st, s.now().Add(s.cfg.TokenTTL).UnixNano())
	if err != nil {
		return nil, err
	}
	defer clear(plain)

	a := s.tokenAEAD
	if 1+a.NonceSize()+len(plain)+a.Overhead() > wire.MaxToken {
		return nil, errTokenTooLarge
	}
	tok := make([]byte, 1+a.NonceSize(), 1+a.NonceSize()+len(plain)+a.Overhead())
	tok[0] = tokenVersion
	if _, err := io.ReadFull(s.rand(), tok[1:]); err != nil {
		return nil, fmt.Errorf("offloader: token nonce: %w", err)
	}
	return a.Seal(tok, tok[1:], plain, tokenAD(deviceID, hsID, binding)), nil
}

// marshalState encodes st with its expiry (the token's plaintext).
func marshalState(st *hsState, expiry int64) ([]byte, error) {
	if st.suite == nil || st.transcript == nil {
		return nil, errors.New("offloader: incomplete state")
	}
	hs, ok := st.transcript.(encoding.BinaryMarshaler)
	if !ok {
		return nil, errors.New("offloader: transcript hash state cannot be saved")
	}
	hstate, err := hs.MarshalBinary()
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddUint64(uint64(expiry))
	b.AddUint8(uint8(st.stage))
	b.AddUint16(st.suite.ID)
	b.AddUint16(st.clientVersion)
	b.AddUint16(st.version)
	addU8(&b, st.clientRandom)
	addU8(&b, st.serverRandom)
	if st.ems {
		b.AddUint8(1)
	} else {
		b.AddUint8(0)
	}
	b.AddUint16(st.group)
	addU8(&b, st.serverPoint)
	var mod []byte
	var exp uint32
	if st.rsaKey != nil {
		mod = st.rsaKey.N.Bytes()
		exp = uint32(st.rsaKey.E)
	}
	addU16(&b, mod)
	b.AddUint32(exp)
	addU16(&b, hstate)
	addU8(&b, st.premaster)
	addU16(&b, st.cke)
	if err := addClientAuth(&b, &st.clientAuth); err != nil {
		return nil, err
	}
	plain, err := b.Bytes()
	if err != nil {
		return nil, errTokenTooLarge
	}
	return plain, nil
}

func addU8(b *cryptobyte.Builder, v []byte) {
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(v) })
}

func addU16(b *cryptobyte.Builder, v []byte) {
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(v) })
}

func badToken(detail string) *wire.Error { return opErr(wire.StatusBadToken, detail) }

// openToken opens a token for this device, handshake and channel, checks
// its expiry and that it was not opened before.
func (s *Server) openToken(deviceID string, hsID [16]byte, tok []byte, binding []byte) (*hsState, *wire.Error) {
	a := s.tokenAEAD
	if len(tok) > wire.MaxToken || len(tok) < 1+a.NonceSize()+a.Overhead() || tok[0] != tokenVersion {
		return nil, badToken("token does not authenticate")
	}
	nonce := tok[1 : 1+a.NonceSize()]
	plain, err := a.Open(nil, nonce, tok[1+a.NonceSize():], tokenAD(deviceID, hsID, binding))
	if err != nil {
		return nil, badToken("token does not authenticate")
	}
	defer clear(plain)

	st, expiry, err := unmarshalState(plain)
	if err != nil {
		// Only a server holding the key sealed it: a bug, or a key shared
		// with a different version.
		return nil, badToken("token state does not parse")
	}
	if s.now().UnixNano() > expiry {
		st.wipe()
		return nil, badToken("token expired")
	}
	if !s.tokensSeen.firstUse(nonce, expiry, s.now().UnixNano()) {
		st.wipe()
		return nil, badToken("token used before")
	}
	return st, nil
}

var errBadState = errors.New("offloader: bad token state")

// unmarshalState decodes marshalState's output and checks it is a state
// Auth or KeyGen could have left. The result shares no memory with plain.
func unmarshalState(plain []byte) (*hsState, int64, error) {
	st := &hsState{}
	var (
		expiry               uint64
		stg                  uint8
		suiteID              uint16
		ems                  uint8
		mod, hstate, pm, cke cryptobyte.String
		cr, sr, point        cryptobyte.String
		exp                  uint32
	)
	in := cryptobyte.String(plain)
	if !in.ReadUint64(&expiry) || !in.ReadUint8(&stg) || !in.ReadUint16(&suiteID) ||
		!in.ReadUint16(&st.clientVersion) || !in.ReadUint16(&st.version) || !in.ReadUint8LengthPrefixed(&cr) ||
		!in.ReadUint8LengthPrefixed(&sr) || !in.ReadUint8(&ems) || !in.ReadUint16(&st.group) ||
		!in.ReadUint8LengthPrefixed(&point) || !in.ReadUint16LengthPrefixed(&mod) ||
		!in.ReadUint32(&exp) || !in.ReadUint16LengthPrefixed(&hstate) ||
		!in.ReadUint8LengthPrefixed(&pm) || !in.ReadUint16LengthPrefixed(&cke) {
		return nil, 0, errBadState
	}
	st.stage = stage(stg)
	if st.stage != stageAuthed && st.stage != stageKeyGen {
		return nil, 0, errBadState
	}
	if st.suite = handshake.SuiteByID(suiteID); st.suite == nil {
		return nil, 0, errBadState
	}
	if !versionAllowed(st.version) || !st.suite.AllowedIn(st.version) || st.clientVersion < st.version {
		return nil, 0, errBadState
	}
	if len(cr) != handshake.RandomLen || len(sr) != handshake.RandomLen || ems > 1 {
		return nil, 0, errBadState
	}
	switch st.suite.KeyExchange {
	case handshake.KeyExchangeRSA:
		if len(mod) == 0 || exp < 3 || exp&1 == 0 || exp > 1<<31-1 || len(point) != 0 {
			return nil, 0, errBadState
		}
	default:
		if !groupAllowed(st.group) || len(point) == 0 || len(mod) != 0 || exp != 0 {
			return nil, 0, errBadState
		}
	}
	if (st.stage == stageKeyGen) != (len(pm) > 0 && len(cke) > 0) {
		return nil, 0, errBadState
	}
	// The strings alias plain, which the caller zeroes: copy them out.
	st.clientRandom = append([]byte(nil), cr...)
	st.serverRandom = append([]byte(nil), sr...)
	st.ems = ems == 1
	st.serverPoint = append([]byte(nil), point...)
	if len(mod) > 0 {
		st.rsaKey = &rsa.PublicKey{N: new(big.Int).SetBytes(mod), E: int(exp)}
	}
	var err error
	if st.transcript, err = restoreTranscript(st.suite, st.version, hstate); err != nil {
		return nil, 0, errBadState
	}
	if st.stage == stageKeyGen {
		st.premaster = append([]byte(nil), pm...)
		st.cke = append([]byte(nil), cke...)
	}
	if err := readClientAuth(&in, st); err != nil || !in.Empty() {
		return nil, 0, errBadState
	}
	return st, int64(expiry), nil
}

// addClientAuth encodes the answer to a CertificateRequest.
func addClientAuth(b *cryptobyte.Builder, ca *clientAuthState) error {
	b.AddUint8(uint8(ca.mode))
	b.AddUint16(ca.sigScheme)
	b.AddUint8(ca.certType)
	if ca.mode == clientAuthNone {
		addU8(b, nil)
	} else {
		addU8(b, ca.certDigest[:])
	}
	var hstate []byte
	if ca.sigHash != nil {
		m, ok := ca.sigHash.(encoding.BinaryMarshaler)
		if !ok {
			return errors.New("offloader: signature hash state cannot be saved")
		}
		var err error
		if hstate, err = m.MarshalBinary(); err != nil {
			return err
		}
	}
	addU16(b, hstate)
	return nil
}

// readClientAuth decodes addClientAuth's fields into st and checks them
// against st's stage: the signature hash is there until KeyGen signs.
func readClientAuth(in *cryptobyte.String, st *hsState) error {
	var (
		mode, certType uint8
		scheme         uint16
		digest, hstate cryptobyte.String
	)
	if !in.ReadUint8(&mode) || !in.ReadUint16(&scheme) || !in.ReadUint8(&certType) ||
		!in.ReadUint8LengthPrefixed(&digest) || !in.ReadUint16LengthPrefixed(&hstate) {
		return errBadState
	}
	ca := clientAuthState{mode: clientAuthMode(mode), sigScheme: scheme, certType: certType}
	switch ca.mode {
	case clientAuthNone, clientAuthEmpty:
		wantDigest := sha256.Size
		if ca.mode == clientAuthNone {
			wantDigest = 0
		}
		if len(digest) != wantDigest || scheme != 0 || certType != 0 || len(hstate) != 0 {
			return errBadState
		}
	case clientAuthCert:
		h := newSigHash(st, certType, scheme)
		if h == nil || len(digest) != sha256.Size || (st.stage == stageAuthed) != (len(hstate) > 0) {
			return errBadState
		}
		if len(hstate) > 0 {
			u, ok := h.(encoding.BinaryUnmarshaler)
			if !ok || u.UnmarshalBinary(hstate) != nil {
				return errBadState
			}
			ca.sigHash = h
		}
	default:
		return errBadState
	}
	copy(ca.certDigest[:], digest)
	st.clientAuth = ca
	return nil
}
