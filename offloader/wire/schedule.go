package wire

import (
	"crypto/sha256"

	"github.com/tlsoffload/tlsoffload/internal/hmac"
)

// The channel's key schedule (docs/PROTOCOL.md, "Key schedule"):
//
//	th  = SHA-256(ClientHello frame || ServerHello frame up to, not including, the server confirm)
//	PRK = HKDF-Extract(SHA-256, salt = client nonce || server nonce, IKM = PSK)
//	x   = HKDF-Expand(PRK, info = label || th, L) for each label below
//	server confirm = HMAC-SHA256(server confirm key, th)
//	client confirm = HMAC-SHA256(client confirm key, th)

const (
	keyLen     = 32 // ChaCha20-Poly1305 key
	ivLen      = 12 // ChaCha20-Poly1305 nonce
	confirmLen = sha256.Size
)

// Labels, each used once per channel.
const (
	labelC2SKey        = "tlsoffload v1 c2s key"
	labelS2CKey        = "tlsoffload v1 s2c key"
	labelC2SIV         = "tlsoffload v1 c2s iv"
	labelS2CIV         = "tlsoffload v1 s2c iv"
	labelClientConfirm = "tlsoffload v1 client confirm"
	labelServerConfirm = "tlsoffload v1 server confirm"
)

// schedule holds every secret derived for one channel.
type schedule struct {
	th               [sha256.Size]byte
	prk              []byte
	c2sKey, s2cKey   [keyLen]byte
	c2sIV, s2cIV     [ivLen]byte
	clientConfirmKey [confirmLen]byte
	serverConfirmKey [confirmLen]byte
	clientConfirm    [confirmLen]byte
	serverConfirm    [confirmLen]byte
}

// transcriptHash is th over the ClientHello frame and the ServerHello frame
// without its trailing confirm.
func transcriptHash(clientHello, serverHelloNoConfirm []byte) (th [sha256.Size]byte) {
	h := sha256.New()
	h.Write(clientHello)
	h.Write(serverHelloNoConfirm)
	h.Sum(th[:0])
	return th
}

func deriveSchedule(psk, clientNonce, serverNonce []byte, th [sha256.Size]byte) *schedule {
	s := &schedule{th: th}
	salt := make([]byte, 0, len(clientNonce)+len(serverNonce))
	salt = append(append(salt, clientNonce...), serverNonce...)
	s.prk = hmac.Extract(sha256.New, psk, salt)
	expand := func(label string, out []byte) {
		// At most 32 bytes from SHA-256: cannot fail.
		hmac.Expand(sha256.New, s.prk, append([]byte(label), th[:]...), out)
	}
	expand(labelC2SKey, s.c2sKey[:])
	expand(labelS2CKey, s.s2cKey[:])
	expand(labelC2SIV, s.c2sIV[:])
	expand(labelS2CIV, s.s2cIV[:])
	expand(labelClientConfirm, s.clientConfirmKey[:])
	expand(labelServerConfirm, s.serverConfirmKey[:])
	mac := func(key []byte, out []byte) {
		m := hmac.New(sha256.New, key)
		m.Write(th[:])
		m.Sum(out[:0])
	}
	mac(s.clientConfirmKey[:], s.clientConfirm[:])
	mac(s.serverConfirmKey[:], s.serverConfirm[:])
	return s
}

// wipe zeroes every secret of the schedule (the record keys are copied out
// first).
func (s *schedule) wipe() {
	clear(s.prk)
	clear(s.c2sKey[:])
	clear(s.s2cKey[:])
	clear(s.c2sIV[:])
	clear(s.s2cIV[:])
	clear(s.clientConfirmKey[:])
	clear(s.serverConfirmKey[:])
	clear(s.clientConfirm[:])
	clear(s.serverConfirm[:])
}
