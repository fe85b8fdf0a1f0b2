package handshake

import (
	"crypto"
	_ "crypto/sha256" // registers crypto.SHA256 for the PRF
	_ "crypto/sha512" // registers crypto.SHA384

	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsoffload/tlsoffload/record"
)

// KeyExchange is how a suite agrees on the premaster secret.
type KeyExchange uint8

const (
	KeyExchangeRSA        KeyExchange = iota + 1 // RSA-encrypted premaster (RFC 5246 §7.4.7.1)
	KeyExchangeECDHERSA                          // ECDHE, RSA-signed params (RFC 8422)
	KeyExchangeECDHEECDSA                        // ECDHE, ECDSA-signed params (RFC 8422)
)

// Suite is one row of the cipher-suite table.
type Suite struct {
	ID          uint16
	Name        string // IANA name, e.g. "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
	KeyExchange KeyExchange
	// Key block sizes (RFC 5246 §6.3): MACLen is 0 for AEAD suites; IVLen is
	// the fixed IV (4 for AES-GCM, 12 for ChaCha20-Poly1305).
	MACLen, KeyLen, IVLen int
	// Hash is the PRF hash (SHA-256 unless the suite names SHA-384).
	Hash crypto.Hash
	// MACHash is the record MAC's hash of a CBC suite (HMAC, RFC 5246
	// §6.2.3.1); zero for AEAD suites. See suites_cbc.go.
	MACHash crypto.Hash
	// MinVersion is the lowest protocol version the suite may be
	// negotiated in; zero means TLS 1.2 (every AEAD and SHA-256/384 suite).
	// See AllowedIn.
	MinVersion uint16
	// NewCipher builds the record protection from this suite's key block
	// slices (mac is nil for AEAD suites).
	NewCipher func(version uint16, mac, key, iv []byte) (record.Cipher, error)
}

// Cipher suite ids.
const (
	TLS_RSA_WITH_AES_128_GCM_SHA256               uint16 = 0x009c
	TLS_RSA_WITH_AES_256_GCM_SHA384               uint16 = 0x009d
	TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256       uint16 = 0xc02b
	TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384       uint16 = 0xc02c
	TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256         uint16 = 0xc02f
	TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384         uint16 = 0xc030
	TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256   uint16 = 0xcca8
	TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 uint16 = 0xcca9

	// TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 §3.3).
	TLS_EMPTY_RENEGOTIATION_INFO_SCSV uint16 = 0x00ff
)

// Suites is the table, in the client's default preference order (ECDHE
// before RSA key exchange, AES-128-GCM first, then ChaCha20-Poly1305).
var Suites = []*Suite{
	{ID: TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, Name: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
		KeyExchange: KeyExchangeECDHEECDSA, KeyLen: 16, IVLen: 4, Hash: crypto.SHA256, NewCipher: aesGCM},
	{ID: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, Name: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
		KeyExchange: KeyExchangeECDHERSA, KeyLen: 16, IVLen: 4, Hash: crypto.SHA256, NewCipher: aesGCM},
	{ID: TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, Name: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
		KeyExchange: KeyExchangeECDHEECDSA, KeyLen: 32, IVLen: 12, Hash: crypto.SHA256, NewCipher: chacha20Poly1305},
	{ID: TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, Name: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
		KeyExchange: KeyExchangeECDHERSA, KeyLen: 32, IVLen: 12, Hash: crypto.SHA256, NewCipher: chacha20Poly1305},
	{ID: TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, Name: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
		KeyExchange: KeyExchangeECDHEECDSA, KeyLen: 32, IVLen: 4, Hash: crypto.SHA384, NewCipher: aesGCM},
	{ID: TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, Name: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
		KeyExchange: KeyExchangeECDHERSA, KeyLen: 32, IVLen: 4, Hash: crypto.SHA384, NewCipher: aesGCM},
	{ID: TLS_RSA_WITH_AES_128_GCM_SHA256, Name: "TLS_RSA_WITH_AES_128_GCM_SHA256",
		KeyExchange: KeyExchangeRSA, KeyLen: 16, IVLen: 4, Hash: crypto.SHA256, NewCipher: aesGCM},
	{ID: TLS_RSA_WITH_AES_256_GCM_SHA384, Name: "TLS_RSA_WITH_AES_256_GCM_SHA384",
		KeyExchange: KeyExchangeRSA, KeyLen: 32, IVLen: 4, Hash: crypto.SHA384, NewCipher: aesGCM},
}

// aesGCM builds AES-GCM record protection (RFC 5288): 4-byte implicit IV.
func aesGCM(_ uint16, _, key, iv []byte) (record.Cipher, error) {
	return record.NewAESGCM(key, iv)
}

// chacha20Poly1305 builds ChaCha20-Poly1305 record protection (RFC 7905):
// 12-byte IV XORed with the sequence number.
func chacha20Poly1305(_ uint16, _, key, iv []byte) (record.Cipher, error) {
	return record.NewChaCha20Poly1305(key, iv)
}

// SuiteByID returns the table row for id, or nil.
func SuiteByID(id uint16) *Suite {
	for _, s := range Suites {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// SuiteIDs returns the ids of suites, in order (for a ClientHello).
func SuiteIDs(suites []*Suite) []uint16 {
	ids := make([]uint16, len(suites))
	for i, s := range suites {
		ids[i] = s.ID
	}
	return ids
}

// KeyBlockLen is the length of the key block the suite needs:
// 2*MACLen + 2*KeyLen + 2*IVLen.
func (s *Suite) KeyBlockLen() int { return 2*s.MACLen + 2*s.KeyLen + 2*s.IVLen }

// Keys splits a key block (RFC 5246 §6.3) into the client and server write
// keys; the returned slices alias kb. If kb is shorter than KeyBlockLen,
// all six are nil. MAC keys are nil for AEAD suites.
func (s *Suite) Keys(kb []byte) (clientMAC, serverMAC, clientKey, serverKey, clientIV, serverIV []byte) {
	// RFC 5246 §6.3: client_write_MAC_key, server_write_MAC_key,
	// client_write_key, server_write_key, client_write_IV, server_write_IV.
	r := cryptobyte.String(kb)
	take := func(n int, out *[]byte) bool {
		var v []byte
		if !r.ReadBytes(&v, n) {
			return false
		}
		*out = nonEmpty(v)
		return true
	}
	if !take(s.MACLen, &clientMAC) || !take(s.MACLen, &serverMAC) ||
		!take(s.KeyLen, &clientKey) || !take(s.KeyLen, &serverKey) ||
		!take(s.IVLen, &clientIV) || !take(s.IVLen, &serverIV) {
		return nil, nil, nil, nil, nil, nil
	}
	return
}
