package record

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	cryptorand "crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"hash"
	"io"

	"github.com/tlsoffload/tlsoffload/internal/hmac"
)

// AES-CBC with HMAC: the GenericBlockCipher of RFC 5246 §6.2.3.2 (TLS 1.2),
// RFC 4346 §6.2.3.2 (TLS 1.1) and RFC 2246 §6.2.3.2 (TLS 1.0).
//
//	MAC   = HMAC(mac_key, seq_num(8) || type(1) || version(2) || length(2) || plaintext)
//	body  = [IV(16), TLS 1.1+ only] || CBC(key, IV, plaintext || MAC || padding)
//	padding = padding_length+1 bytes, each equal to padding_length
//
// TLS 1.0 sends no IV: a record's IV is the last ciphertext block of the
// previous record (the first record uses the IV from the key block), so the
// CBC state simply runs on across records. That IV is known to an attacker
// before it chooses the next record's plaintext (BEAST); Write counters it by
// sending application data 1/n−1: a 1-byte record first, whose unpredictable
// MAC makes the next record's IV unpredictable (see splitFirstRecord).
//
// Opening is constant time with the Lucky13 countermeasures (AlFardan and
// Paterson, 2013): after decryption nothing branches on, or indexes memory
// by, the padding length. The padding is checked over the largest padding
// the record could hold, the MAC is copied out of its secret position by a
// scan over every position it could start at, and the HMAC runs the same
// number of hash compressions whatever the padding length (see
// hashEqualizer). Every failure, length checks included, is the one
// errBadRecordMAC: no padding oracle.

const (
	cbcBlock      = aes.BlockSize
	cbcMaxPadding = 256 // padding_length (≤ 255) + the padding_length byte
	cbcMaxMAC     = sha512.Size384
)

// cbc is the protection of one direction with AES-CBC and HMAC. Its scratch
// space makes sealing and opening allocation-free; it therefore belongs to
// exactly one direction of one connection.
type cbc struct {
	version  uint16
	explicit bool // TLS 1.1+: a random IV leads each record
	block    cipher.Block
	enc      cbcMode // for TLS 1.0, its state is the IV of the next record
	dec      cbcMode
	mac      hash.Hash
	macLen   int
	rand     io.Reader

	// The HMAC's hash, for hashEqualizer: block size as a shift (64 or 128
	// bytes) and the length field its padding appends (8 or 16 bytes).
	hashShift uint
	hashLenFd int

	hdr     [aeadADLen]byte           // seq_num || type || version || length
	sum     [cbcMaxMAC]byte           // the HMAC computed
	recvMAC [cbcMaxMAC]byte           // the MAC received, copied out in constant time
	rotated [cbcMaxMAC]byte           // scratch of that copy
	zeros   [cbcMaxPadding + 256]byte // filler hashed to equalise compressions
}

// cbcMode is a CBC BlockMode whose IV can be reset (crypto/cipher's CBC
// modes implement SetIV), so one mode serves every record without allocation.
type cbcMode interface {
	cipher.BlockMode
	SetIV([]byte)
}

// NewCBC returns AES-CBC with HMAC (RFC 5246 §6.2.3.2; RFC 4346 for TLS 1.1; RFC 2246 for TLS 1.0).
// h is crypto.SHA1, crypto.SHA256 or crypto.SHA384 (the MAC hash); key is 16 or 32 bytes;
// iv is the 16-byte client/server IV from the key block, used only in TLS 1.0 (implicit IV:
// each record's IV is the last ciphertext block of the previous record); TLS 1.1+ sends a fresh
// random explicit IV per record drawn from rand (nil: crypto/rand).
func NewCBC(version uint16, h crypto.Hash, macKey, key, iv []byte, rand io.Reader) (Cipher, error) {
	if version < versionTLS10 || version > versionTLS12 {
		return nil, errors.New("record: AES-CBC is for TLS 1.0, 1.1 and 1.2 only")
	}
	c := &cbc{version: version, explicit: version >= versionTLS11, rand: rand}
	var newHash func() hash.Hash
	switch h {
	case crypto.SHA1:
		newHash, c.macLen, c.hashShift, c.hashLenFd = sha1.New, sha1.Size, 6, 8
	case crypto.SHA256:
		newHash, c.macLen, c.hashShift, c.hashLenFd = sha256.New, sha256.Size, 6, 8
	case crypto.SHA384:
		newHash, c.macLen, c.hashShift, c.hashLenFd = sha512.New384, sha512.Size384, 7, 16
	default:
		return nil, errors.New("record: AES-CBC MAC hash must be SHA-1, SHA-256 or SHA-384")
	}
	if len(macKey) != c.macLen {
		return nil, errors.New("record: AES-CBC MAC key must be as long as the MAC")
	}
	if len(key) != 16 && len(key) != 32 {
		return nil, errors.New("record: AES-CBC key must be 16 or 32 bytes")
	}
	if !c.explicit && len(iv) != cbcBlock {
		return nil, errors.New("record: AES-CBC IV must be 16 bytes in TLS 1.0")
	}
	if c.explicit && len(iv) != 0 && len(iv) != cbcBlock {
		return nil, errors.New("record: AES-CBC IV must be 16 bytes or absent")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, errors.New("record: AES-CBC key rejected")
	}
	c.block = block
	if c.rand == nil {
		c.rand = cryptorand.Reader
	}
	var iv0 [cbcBlock]byte // TLS 1.1+ sets each record's IV
	if !c.explicit {
		copy(iv0[:], iv)
	}
	enc, ok1 := cipher.NewCBCEncrypter(block, iv0[:]).(cbcMode)
	dec, ok2 := cipher.NewCBCDecrypter(block, iv0[:]).(cbcMode)
	if !ok1 || !ok2 {
		return nil, errors.New("record: AES-CBC unavailable")
	}
	c.enc, c.dec = enc, dec
	// hmac.New keeps only its own key-derived pads; nothing here keeps a
	// copy of macKey or key (the callers' key block slices are theirs to zero).
	c.mac = hmac.New(newHash, macKey)
	return c, nil
}

// explicitLen is the length of the IV sent in each record.
func (c *cbc) explicitLen() int {
	if c.explicit {
		return cbcBlock
	}
	return 0
}

// Overhead is the most a record body can add to its plaintext: the explicit
// IV, the MAC and the largest padding a peer may send (RFC 5246 §6.2.3.2
// allows up to 255 bytes plus the length byte), so read limits accept any
// conforming peer. Seal sends minimal padding, at most one block.
func (c *cbc) Overhead() int { return c.explicitLen() + c.macLen + cbcMaxPadding }

// macHeader fills c.hdr with seq_num || type || version || length for the
// MAC (RFC 5246 §6.2.3.1): type and version from the record header.
func (c *cbc) macHeader(seq uint64, hdr []byte, n int) []byte {
	return buildAD(&c.hdr, seq, hdr, n)
}

func (c *cbc) seal(dst []byte, seq uint64, hdr, plaintext []byte) []byte {
	if c.explicit {
		// RFC 5246 §6.2.3.2: the IV "SHOULD be chosen at random, and MUST be
		// unpredictable".
		start := len(dst)
		dst = append(dst, c.zeros[:cbcBlock]...)
		iv := dst[start:]
		if _, err := io.ReadFull(c.rand, iv); err != nil {
			// A failing Rand must not stop the record or repeat an IV:
			// fall back to encrypting the sequence number under the record
			// key, NIST SP 800-38A Appendix C's unpredictable IV from a
			// nonce (a sequence number never repeats under one key).
			clear(iv)
			binary.BigEndian.PutUint64(iv[8:], seq)
			c.block.Encrypt(iv, iv)
		}
		c.enc.SetIV(iv)
	}
	start := len(dst)
	dst = append(dst, plaintext...)
	c.mac.Reset()
	c.mac.Write(c.macHeader(seq, hdr, len(plaintext)))
	c.mac.Write(plaintext)
	dst = c.mac.Sum(dst)
	// Minimal padding: plaintext || MAC || padding || padding_length fills
	// whole blocks.
	pad := cbcBlock - 1 - (len(dst)-start)%cbcBlock
	for i := 0; i <= pad; i++ {
		dst = append(dst, byte(pad))
	}
	body := dst[start:]
	c.enc.CryptBlocks(body, body)
	return dst
}

func (c *cbc) open(seq uint64, hdr, body []byte) ([]byte, error) {
	// The body's length is public: checking it may branch. Too short or not
	// whole blocks is still bad_record_mac, never decode_error (RFC 5246
	// §6.2.3.2, §7.2.2).
	ivLen := c.explicitLen()
	minLen := ivLen + (c.macLen+1+cbcBlock-1)/cbcBlock*cbcBlock
	if len(body)%cbcBlock != 0 || len(body) < minLen {
		return nil, errBadRecordMAC
	}
	if c.explicit {
		c.dec.SetIV(body[:ivLen])
	}
	p := body[ivLen:]
	c.dec.CryptBlocks(p, p)

	// From here on, padLen, n and the MAC's position are secret.
	remove, padGood := cbcPadding(p, c.macLen)
	n := len(p) - c.macLen - remove // ≥ 0: remove is 1 when the padding is bad
	c.copyMAC(p, n)

	c.mac.Reset()
	c.mac.Write(c.macHeader(seq, hdr, n))
	c.mac.Write(p[:n])
	sum := c.mac.Sum(c.sum[:0])
	// Keep hashing filler so that the hash runs as many compressions as it
	// would for the longest plaintext this record could hold.
	c.mac.Write(c.zeros[:c.hashFiller(n, len(p)-c.macLen-1)])

	good := subtle.ConstantTimeCompare(sum, c.recvMAC[:c.macLen]) & int(padGood)
	if good != 1 {
		return nil, errBadRecordMAC
	}
	return p[:n], nil
}

// cbcPadding checks, in constant time, the padding at the end of p (RFC
// 5246 §6.2.3.2) and returns how many bytes to remove (padding_length + 1)
// and 1 when the padding is good, 0 when not. Every byte that could be
// padding is examined, min(256, len(p)), whatever padding_length says. Bad
// padding removes only the length byte, so the MAC is then checked over
// all the rest and fails: padding and MAC failures are indistinguishable
// (the POODLE-style distinction crypto/tls also closes).
func cbcPadding(p []byte, macLen int) (remove int, good uint8) {
	padLen := int(p[len(p)-1])
	// The padding, its length byte and the MAC must fit.
	ok := subtle.ConstantTimeLessOrEq(padLen+1+macLen, len(p))
	var diff byte
	for i := 1; i < min(cbcMaxPadding, len(p)); i++ {
		in := byte(subtle.ConstantTimeLessOrEq(i, padLen)) * 0xff // 0xff for a padding byte
		diff |= in & (p[len(p)-1-i] ^ byte(padLen))
	}
	ok &= subtle.ConstantTimeByteEq(diff, 0)
	padLen = subtle.ConstantTimeSelect(ok, padLen, 0)
	return padLen + 1, uint8(ok)
}

// copyMAC copies the MAC at p[n:n+macLen] into c.recvMAC without an access
// pattern that depends on n: the scan reads every byte where the MAC could
// start, collecting the MAC rotated by (n - scanStart) mod macLen, then
// undoes the rotation with a full macLen×macLen select (the technique of
// OpenSSL's ssl3_cbc_copy_mac).
func (c *cbc) copyMAC(p []byte, n int) {
	macLen := c.macLen
	rot := c.rotated[:macLen]
	clear(rot)
	// The MAC ends before the padding_length byte and starts at most
	// cbcMaxPadding bytes before it.
	end := len(p) - 1
	scanStart := max(0, end-macLen-(cbcMaxPadding-1))
	inMAC, offset, j := 0, 0, 0
	for i := scanStart; i < end; i++ {
		started := subtle.ConstantTimeEq(int32(i), int32(n))
		inMAC |= started
		inMAC &= subtle.ConstantTimeLessOrEq(i+1, n+macLen) // i < n+macLen
		offset |= j & -started
		rot[j] |= p[i] & byte(-inMAC)
		j++
		j &= -(subtle.ConstantTimeLessOrEq(j+1, macLen)) // j = 0 at macLen
	}
	// recvMAC[k] = rot[(offset+k) mod macLen].
	out := c.recvMAC[:macLen]
	clear(out)
	for k := range out {
		for m, b := range rot {
			out[k] |= b & byte(-subtle.ConstantTimeEq(int32(m), int32(offset)))
		}
		offset++
		offset &= -(subtle.ConstantTimeLessOrEq(offset+1, macLen))
	}
}

// hashFiller returns how many filler bytes to hash after the MAC of an
// n-byte plaintext so that the total number of hash compressions equals
// that of the MAC of the longest plaintext the record could carry (nMax,
// padding length 0). Lucky13 times exactly that difference: hashing 13+n
// bytes costs n>>shift block compressions while writing, plus one or two
// in Sum depending on whether the length field still fits the last block.
// Sum finalises a copy of the state, so filler written afterwards costs
// whole compressions without changing the MAC. Branch-free arithmetic,
// shifts only (no division).
func (c *cbc) hashFiller(n, nMax int) int {
	k := c.compressions(nMax) - c.compressions(n) // ≥ 0, public bound ≤ 256>>shift + 1
	r := (aeadADLen + n) & (1<<c.hashShift - 1)   // bytes buffered after the data
	// k > 0: fill the buffered block and k-1 more, exactly k compressions.
	return (k<<c.hashShift - r) & -subtle.ConstantTimeLessOrEq(1, k)
}

// compressions is the number of hash compressions, beyond the HMAC key
// block, of the inner hash over the MAC input of an n-byte plaintext.
func (c *cbc) compressions(n int) int {
	l := aeadADLen + n
	r := l & (1<<c.hashShift - 1)
	// Sum adds 0x80 and the length field: one more block if they do not fit.
	extra := 1 - subtle.ConstantTimeLessOrEq(r+1+c.hashLenFd, 1<<c.hashShift)
	return l>>c.hashShift + 1 + extra
}

// splitFirstRecord reports whether application data written with w must be
// split 1/n−1 (TLS 1.0 CBC: the BEAST countermeasure).
func splitFirstRecord(w Cipher) bool {
	c, ok := w.(*cbc)
	return ok && !c.explicit
}

// splitAppData writes the first byte of application data as a record of its
// own when the write cipher needs the 1/n−1 split, and returns the rest. The
// byte's record has a fresh MAC the attacker cannot predict, so the last
// ciphertext block it leaves, the next record's IV, is unpredictable too.
func (c *Conn) splitAppData(data []byte) ([]byte, error) {
	if len(data) <= 1 || !splitFirstRecord(c.out.cipher) {
		return data, nil
	}
	if err := c.writeRecordsLocked(TypeApplicationData, data[:1]); err != nil {
		return data, err
	}
	return data[1:], nil
}
