package certs

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
)

// Pin is the SHA-256 digest of a certificate's SubjectPublicKeyInfo (DER),
// as HTTP Public Key Pinning (RFC 7469 2.4) and curl's --pinnedpubkey
// compute it: it names a key whatever certificate carries it.
type Pin [sha256.Size]byte

// pinPrefix opens a pin's text form.
const pinPrefix = "sha256/"

// ParsePin reads "sha256/" and the digest in standard base64 with padding
// (44 characters), as `openssl x509 -pubkey | openssl pkey -pubin -outform
// der | openssl dgst -sha256 -binary | base64` prints it.
func ParsePin(s string) (Pin, error) {
	var p Pin
	b64, ok := strings.CutPrefix(s, pinPrefix)
	if !ok {
		return p, fmt.Errorf("certs: pin %s does not begin with %q", quoteName(s), pinPrefix)
	}
	if len(b64) != base64.StdEncoding.EncodedLen(len(p)) {
		return p, fmt.Errorf("certs: pin %s: want %d base64 characters after %q", quoteName(s), base64.StdEncoding.EncodedLen(len(p)), pinPrefix)
	}
	// Decode into a buffer of the size the text could decode to: 44
	// characters without padding are 33 bytes.
	var buf [sha256.Size + 3]byte
	n, err := base64.StdEncoding.Strict().Decode(buf[:], []byte(b64))
	if err != nil || n != len(p) {
		return Pin{}, fmt.Errorf("certs: pin %s is not base64 of a SHA-256 digest", quoteName(s))
	}
	copy(p[:], buf[:n])
	return p, nil
}

// PinOf returns the pin of c's key.
func PinOf(c *x509.Certificate) Pin {
	return sha256.Sum256(c.RawSubjectPublicKeyInfo)
}

// String returns the pin as ParsePin reads it.
func (p Pin) String() string {
	return pinPrefix + base64.StdEncoding.EncodeToString(p[:])
}

// pinned reports whether a key of path is among pins.
func pinned(path []*x509.Certificate, pins []Pin) bool {
	for _, c := range path {
		if slices.Contains(pins, PinOf(c)) {
			return true
		}
	}
	return false
}
