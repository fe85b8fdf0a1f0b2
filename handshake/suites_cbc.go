package handshake

import (
	"crypto"
	_ "crypto/sha1" // registers crypto.SHA1 for the CBC suites' HMAC

	"github.com/tlsoffload/tlsoffload/record"
)

// The AES-CBC + HMAC suites (RFC 5246 Appendix A.5, RFC 8422 §6, RFC 5289),
// offered after the AEAD suites so that old servers still work. The _SHA
// suites run in TLS 1.0, 1.1 and 1.2; the _SHA256 and _SHA384 ones only in
// TLS 1.2 (they need its PRF). The record protection (record.NewCBC) uses
// the implicit IV chain in TLS 1.0 and an explicit per-record IV from TLS
// 1.1 on.

// CBC cipher suite ids, and the fallback signal a client never sends here.
const (
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

	// TLS_FALLBACK_SCSV (RFC 7507) signals a client retrying with a lower
	// version; tlsclient never retries that way and never sends it.
	TLS_FALLBACK_SCSV uint16 = 0x5600
)

// cbcSuites are appended to Suites in this order: ECDHE before RSA key
// exchange, AES-128 before AES-256, the _SHA suites (every version) before
// the TLS 1.2-only _SHA256/_SHA384 ones.
var cbcSuites = []*Suite{
	cbcSuite(TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", KeyExchangeECDHEECDSA, 16, crypto.SHA1),
	cbcSuite(TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", KeyExchangeECDHERSA, 16, crypto.SHA1),
	cbcSuite(TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", KeyExchangeECDHEECDSA, 32, crypto.SHA1),
	cbcSuite(TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", KeyExchangeECDHERSA, 32, crypto.SHA1),
	cbcSuite(TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", KeyExchangeECDHEECDSA, 16, crypto.SHA256),
	cbcSuite(TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", KeyExchangeECDHERSA, 16, crypto.SHA256),
	cbcSuite(TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", KeyExchangeECDHEECDSA, 32, crypto.SHA384),
	cbcSuite(TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", KeyExchangeECDHERSA, 32, crypto.SHA384),
	cbcSuite(TLS_RSA_WITH_AES_128_CBC_SHA, "TLS_RSA_WITH_AES_128_CBC_SHA", KeyExchangeRSA, 16, crypto.SHA1),
	cbcSuite(TLS_RSA_WITH_AES_256_CBC_SHA, "TLS_RSA_WITH_AES_256_CBC_SHA", KeyExchangeRSA, 32, crypto.SHA1),
	cbcSuite(TLS_RSA_WITH_AES_128_CBC_SHA256, "TLS_RSA_WITH_AES_128_CBC_SHA256", KeyExchangeRSA, 16, crypto.SHA256),
	cbcSuite(TLS_RSA_WITH_AES_256_CBC_SHA256, "TLS_RSA_WITH_AES_256_CBC_SHA256", KeyExchangeRSA, 32, crypto.SHA256),
}

func init() { Suites = append(Suites, cbcSuites...) }

// cbcSuite builds one row: the MAC key is as long as the MAC hash's output
// (RFC 5246 §6.2.3.1), the IV one AES block. The PRF hash of TLS 1.2 is
// SHA-384 for a _SHA384 suite and SHA-256 otherwise (RFC 5246 §5, RFC 5289
// §3.2); only _SHA suites (HMAC-SHA1) are allowed below TLS 1.2.
func cbcSuite(id uint16, name string, kx KeyExchange, keyLen int, mac crypto.Hash) *Suite {
	s := &Suite{
		ID: id, Name: name, KeyExchange: kx,
		MACLen: mac.Size(), KeyLen: keyLen, IVLen: 16,
		Hash: crypto.SHA256, MACHash: mac,
		MinVersion: VersionTLS12,
	}
	if mac == crypto.SHA384 {
		s.Hash = crypto.SHA384
	}
	if mac == crypto.SHA1 {
		s.MinVersion = VersionTLS10
	}
	s.NewCipher = func(version uint16, macKey, key, iv []byte) (record.Cipher, error) {
		return record.NewCBC(version, mac, macKey, key, iv, nil)
	}
	return s
}

// AllowedIn reports whether the suite may be negotiated in version: AEAD
// and _SHA256/_SHA384 suites in TLS 1.2 only, the CBC _SHA suites in TLS
// 1.0, 1.1 and 1.2.
func (s *Suite) AllowedIn(version uint16) bool {
	min := s.MinVersion
	if min == 0 {
		min = VersionTLS12
	}
	return version >= min && version <= VersionTLS12
}

// IsCBC reports whether the suite protects records with CBC + HMAC.
func (s *Suite) IsCBC() bool { return s.MACLen > 0 }
