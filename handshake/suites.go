package handshake

import (
	"crypto"
	_ "crypto/sha1"   // registers crypto.SHA1 for the CBC suites' HMAC
	_ "crypto/sha256" // registers crypto.SHA256 for the PRF
	_ "crypto/sha512" // registers crypto.SHA384

	"github.com/tlsoffload/tlsoffload/internal/cryptobyte"

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
	// Hash is the PRF hash of TLS 1.2 and its transcript hash: SHA-384
	// for a _SHA384 suite, SHA-256 otherwise (RFC 5246 §5, RFC 5289 §3.2).
	Hash crypto.Hash
	// MACHash is the record MAC's hash of a CBC suite (HMAC, RFC 5246
	// §6.2.3.1); zero for AEAD suites.
	MACHash crypto.Hash
	// MinVersion is the lowest protocol version the suite may be
	// negotiated in (see AllowedIn).
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

	TLS_RSA_WITH_AES_128_CBC_SHA            uint16 = 0x002f
	TLS_RSA_WITH_AES_256_CBC_SHA            uint16 = 0x0035
	TLS_RSA_WITH_AES_128_CBC_SHA256         uint16 = 0x003c
	TLS_RSA_WITH_AES_256_CBC_SHA256         uint16 = 0x003d
	TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA    uint16 = 0xc009
	TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA    uint16 = 0xc00a
	TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA      uint16 = 0xc013
	TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA      uint16 = 0xc014
	TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 uint16 = 0xc023
	TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384 uint16 = 0xc024
	TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256   uint16 = 0xc027
	TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384   uint16 = 0xc028

	// TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 §3.3).
	TLS_EMPTY_RENEGOTIATION_INFO_SCSV uint16 = 0x00ff
	// TLS_FALLBACK_SCSV (RFC 7507) signals a client retrying with a lower
	// version; tlsclient never retries that way and never sends it.
	TLS_FALLBACK_SCSV uint16 = 0x5600
)

// Suites is the table, in the client's default preference order: the AEAD
// suites (TLS 1.2 only; ECDHE before RSA key exchange, AES-128-GCM first,
// then ChaCha20-Poly1305), then the CBC ones.
var Suites = []*Suite{
	{ID: TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, Name: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
		KeyExchange: KeyExchangeECDHEECDSA, KeyLen: 16, IVLen: 4, Hash: crypto.SHA256, MinVersion: VersionTLS12, NewCipher: aesGCM},
	{ID: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, Name: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
		KeyExchange: KeyExchangeECDHERSA, KeyLen: 16, IVLen: 4, Hash: crypto.SHA256, MinVersion: VersionTLS12, NewCipher: aesGCM},
	{ID: TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, Name: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
		KeyExchange: KeyExchangeECDHEECDSA, KeyLen: 32, IVLen: 12, Hash: crypto.SHA256, MinVersion: VersionTLS12, NewCipher: chacha20Poly1305},
	{ID: TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, Name: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
		KeyExchange: KeyExchangeECDHERSA, KeyLen: 32, IVLen: 12, Hash: crypto.SHA256, MinVersion: VersionTLS12, NewCipher: chacha20Poly1305},
	{ID: TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, Name: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
		KeyExchange: KeyExchangeECDHEECDSA, KeyLen: 32, IVLen: 4, Hash: crypto.SHA384, MinVersion: VersionTLS12, NewCipher: aesGCM},
	{ID: TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, Name: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
		KeyExchange: KeyExchangeECDHERSA, KeyLen: 32, IVLen: 4, Hash: crypto.SHA384, MinVersion: VersionTLS12, NewCipher: aesGCM},
	{ID: TLS_RSA_WITH_AES_128_GCM_SHA256, Name: "TLS_RSA_WITH_AES_128_GCM_SHA256",
		KeyExchange: KeyExchangeRSA, KeyLen: 16, IVLen: 4, Hash: crypto.SHA256, MinVersion: VersionTLS12, NewCipher: aesGCM},
	{ID: TLS_RSA_WITH_AES_256_GCM_SHA384, Name: "TLS_RSA_WITH_AES_256_GCM_SHA384",
		KeyExchange: KeyExchangeRSA, KeyLen: 32, IVLen: 4, Hash: crypto.SHA384, MinVersion: VersionTLS12, NewCipher: aesGCM},

	// The AES-CBC + HMAC suites (RFC 5246 Appendix A.5, RFC 8422 §6, RFC
	// 5289), after the AEAD ones so that old servers still work: ECDHE
	// before RSA key exchange, AES-128 before AES-256, the _SHA suites
	// (TLS 1.0 to 1.2) before the TLS 1.2-only _SHA256/_SHA384 ones. The
	// MAC key is as long as the MAC hash's output (RFC 5246 §6.2.3.1), the
	// IV one AES block.
	{ID: TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, Name: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
		KeyExchange: KeyExchangeECDHEECDSA, MACLen: 20, KeyLen: 16, IVLen: 16, Hash: crypto.SHA256, MACHash: crypto.SHA1, MinVersion: VersionTLS10, NewCipher: cbcSHA1},
	{ID: TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, Name: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
		KeyExchange: KeyExchangeECDHERSA, MACLen: 20, KeyLen: 16, IVLen: 16, Hash: crypto.SHA256, MACHash: crypto.SHA1, MinVersion: VersionTLS10, NewCipher: cbcSHA1},
	{ID: TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, Name: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
		KeyExchange: KeyExchangeECDHEECDSA, MACLen: 20, KeyLen: 32, IVLen: 16, Hash: crypto.SHA256, MACHash: crypto.SHA1, MinVersion: VersionTLS10, NewCipher: cbcSHA1},
	{ID: TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, Name: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
		KeyExchange: KeyExchangeECDHERSA, MACLen: 20, KeyLen: 32, IVLen: 16, Hash: crypto.SHA256, MACHash: crypto.SHA1, MinVersion: VersionTLS10, NewCipher: cbcSHA1},
	{ID: TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, Name: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
		KeyExchange: KeyExchangeECDHEECDSA, MACLen: 32, KeyLen: 16, IVLen: 16, Hash: crypto.SHA256, MACHash: crypto.SHA256, MinVersion: VersionTLS12, NewCipher: cbcSHA256},
	{ID: TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, Name: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
		KeyExchange: KeyExchangeECDHERSA, MACLen: 32, KeyLen: 16, IVLen: 16, Hash: crypto.SHA256, MACHash: crypto.SHA256, MinVersion: VersionTLS12, NewCipher: cbcSHA256},
	{ID: TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384, Name: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
		KeyExchange: KeyExchangeECDHEECDSA, MACLen: 48, KeyLen: 32, IVLen: 16, Hash: crypto.SHA384, MACHash: crypto.SHA384, MinVersion: VersionTLS12, NewCipher: cbcSHA384},
	{ID: TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384, Name: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
		KeyExchange: KeyExchangeECDHERSA, MACLen: 48, KeyLen: 32, IVLen: 16, Hash: crypto.SHA384, MACHash: crypto.SHA384, MinVersion: VersionTLS12, NewCipher: cbcSHA384},
	{ID: TLS_RSA_WITH_AES_128_CBC_SHA, Name: "TLS_RSA_WITH_AES_128_CBC_SHA",
		KeyExchange: KeyExchangeRSA, MACLen: 20, KeyLen: 16, IVLen: 16, Hash: crypto.SHA256, MACHash: crypto.SHA1, MinVersion: VersionTLS10, NewCipher: cbcSHA1},
	{ID: TLS_RSA_WITH_AES_256_CBC_SHA, Name: "TLS_RSA_WITH_AES_256_CBC_SHA",
		KeyExchange: KeyExchangeRSA, MACLen: 20, KeyLen: 32, IVLen: 16, Hash: crypto.SHA256, MACHash: crypto.SHA1, MinVersion: VersionTLS10, NewCipher: cbcSHA1},
	{ID: TLS_RSA_WITH_AES_128_CBC_SHA256, Name: "TLS_RSA_WITH_AES_128_CBC_SHA256",
		KeyExchange: KeyExchangeRSA, MACLen: 32, KeyLen: 16, IVLen: 16, Hash: crypto.SHA256, MACHash: crypto.SHA256, MinVersion: VersionTLS12, NewCipher: cbcSHA256},
	{ID: TLS_RSA_WITH_AES_256_CBC_SHA256, Name: "TLS_RSA_WITH_AES_256_CBC_SHA256",
		KeyExchange: KeyExchangeRSA, MACLen: 32, KeyLen: 32, IVLen: 16, Hash: crypto.SHA256, MACHash: crypto.SHA256, MinVersion: VersionTLS12, NewCipher: cbcSHA256},
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

// cbcSHA1, cbcSHA256 and cbcSHA384 build AES-CBC + HMAC record protection
// (record.NewCBC): the implicit IV chain in TLS 1.0, an explicit
// per-record IV from TLS 1.1 on.
func cbcSHA1(version uint16, mac, key, iv []byte) (record.Cipher, error) {
	return record.NewCBC(version, crypto.SHA1, mac, key, iv, nil)
}

func cbcSHA256(version uint16, mac, key, iv []byte) (record.Cipher, error) {
	return record.NewCBC(version, crypto.SHA256, mac, key, iv, nil)
}

func cbcSHA384(version uint16, mac, key, iv []byte) (record.Cipher, error) {
	return record.NewCBC(version, crypto.SHA384, mac, key, iv, nil)
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

// AllowedIn reports whether the suite may be negotiated in version: AEAD
// and _SHA256/_SHA384 suites in TLS 1.2 only, the CBC _SHA suites in TLS
// 1.0, 1.1 and 1.2.
func (s *Suite) AllowedIn(version uint16) bool {
	return version >= s.MinVersion && version <= VersionTLS12
}
