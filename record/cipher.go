package record

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"

	"golang.org/x/crypto/chacha20poly1305"
)

// errBadRecordMAC is the one failure every open returns, whatever went wrong
// (short body, wrong tag, bad nonce): no oracle (RFC 5246 §6.2.3.3).
var errBadRecordMAC = AlertBadRecordMAC

// Both AEAD constructions of TLS 1.2 use a 16-byte tag and the same
// additional data: seq_num(8) || type(1) || version(2) || length(2), where
// length is the plaintext length (RFC 5246 §6.2.3.3).
const (
	aeadTagLen   = 16
	aeadADLen    = 13
	gcmFixedLen  = 4 // RFC 5288 §3: salt from the key block
	gcmExplicit  = 8 // RFC 5288 §3: nonce_explicit sent in each record
	chachaIVLen  = 12
	chachaKeyLen = chacha20poly1305.KeySize
)

// aesGCM is the AES-GCM protection of RFC 5288.
type aesGCM struct {
	aead  cipher.AEAD
	nonce [gcmFixedLen + gcmExplicit]byte // salt || explicit nonce
	ad    [aeadADLen]byte
}

// NewAESGCM returns the AES-GCM cipher of RFC 5288: key is 16 or 32 bytes,
// fixedIV is the 4-byte salt from the key block, and the 8-byte explicit
// nonce sent in each record is the sequence number. It keeps no reference
// to key or fixedIV.
func NewAESGCM(key, fixedIV []byte) (Cipher, error) {
	if len(key) != 16 && len(key) != 32 {
		return nil, errors.New("record: AES-GCM key must be 16 or 32 bytes")
	}
	if len(fixedIV) != gcmFixedLen {
		return nil, errors.New("record: AES-GCM fixed IV must be 4 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, errors.New("record: AES-GCM key rejected")
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, errors.New("record: AES-GCM unavailable")
	}
	c := &aesGCM{aead: aead}
	copy(c.nonce[:gcmFixedLen], fixedIV)
	return c, nil
}

func (c *aesGCM) Overhead() int { return gcmExplicit + aeadTagLen }

func (c *aesGCM) seal(dst []byte, seq uint64, hdr, plaintext []byte) []byte {
	// RFC 5288 §3: the explicit nonce is ours to choose as long as it never
	// repeats under one key; the sequence number is the customary choice.
	binary.BigEndian.PutUint64(c.nonce[gcmFixedLen:], seq)
	dst = append(dst, c.nonce[gcmFixedLen:]...)
	ad := buildAD(&c.ad, seq, hdr, len(plaintext))
	return c.aead.Seal(dst, c.nonce[:], plaintext, ad)
}

func (c *aesGCM) open(seq uint64, hdr, body []byte) ([]byte, error) {
	if len(body) < gcmExplicit+aeadTagLen {
		return nil, errBadRecordMAC
	}
	// The peer's explicit nonce is taken as sent: RFC 5288 lets each side
	// choose its own.
	copy(c.nonce[gcmFixedLen:], body[:gcmExplicit])
	ct := body[gcmExplicit:]
	ad := buildAD(&c.ad, seq, hdr, len(ct)-aeadTagLen)
	pt, err := c.aead.Open(ct[:0], c.nonce[:], ct, ad)
	if err != nil {
		return nil, errBadRecordMAC
	}
	return pt, nil
}

// chacha is the ChaCha20-Poly1305 protection of RFC 7905.
type chacha struct {
	aead  cipher.AEAD
	iv    [chachaIVLen]byte
	nonce [chachaIVLen]byte
	ad    [aeadADLen]byte
}

// NewChaCha20Poly1305 returns the ChaCha20-Poly1305 cipher of RFC 7905: key
// is 32 bytes, iv is the 12-byte IV from the key block XORed with the
// sequence number; there is no explicit nonce. It keeps no reference to key
// or iv.
func NewChaCha20Poly1305(key, iv []byte) (Cipher, error) {
	if len(key) != chachaKeyLen {
		return nil, errors.New("record: ChaCha20-Poly1305 key must be 32 bytes")
	}
	if len(iv) != chachaIVLen {
		return nil, errors.New("record: ChaCha20-Poly1305 IV must be 12 bytes")
	}
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		return nil, errors.New("record: ChaCha20-Poly1305 key rejected")
	}
	c := &chacha{aead: aead}
	copy(c.iv[:], iv)
	return c, nil
}

func (c *chacha) Overhead() int { return aeadTagLen }

// setNonce computes the per-record nonce of RFC 7905 §2: the 64-bit sequence
// number, big-endian and left-padded with zeros to 12 bytes, XORed with the IV.
func (c *chacha) setNonce(seq uint64) {
	c.nonce = c.iv
	for i := 0; i < 8; i++ {
		c.nonce[chachaIVLen-1-i] ^= byte(seq >> (8 * i))
	}
}

func (c *chacha) seal(dst []byte, seq uint64, hdr, plaintext []byte) []byte {
	c.setNonce(seq)
	ad := buildAD(&c.ad, seq, hdr, len(plaintext))
	return c.aead.Seal(dst, c.nonce[:], plaintext, ad)
}

func (c *chacha) open(seq uint64, hdr, body []byte) ([]byte, error) {
	if len(body) < aeadTagLen {
		return nil, errBadRecordMAC
	}
	c.setNonce(seq)
	ad := buildAD(&c.ad, seq, hdr, len(body)-aeadTagLen)
	pt, err := c.aead.Open(body[:0], c.nonce[:], body, ad)
	if err != nil {
		return nil, errBadRecordMAC
	}
	return pt, nil
}

// buildAD writes the additional data of RFC 5246 §6.2.3.3 into ad:
// seq_num || TLSCompressed.type || TLSCompressed.version || TLSCompressed.length.
func buildAD(ad *[aeadADLen]byte, seq uint64, hdr []byte, plaintextLen int) []byte {
	binary.BigEndian.PutUint64(ad[:8], seq)
	ad[8], ad[9], ad[10] = hdr[0], hdr[1], hdr[2]
	binary.BigEndian.PutUint16(ad[11:], uint16(plaintextLen))
	return ad[:]
}
