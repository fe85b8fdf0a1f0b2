package pgregistry

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KEKLen is the length of the key-encryption key: an AES-256 key.
const KEKLen = 32

// Sealed secrets are sealVersion || nonce (12 bytes) || AES-256-GCM
// ciphertext and tag. The associated data binds a secret to its device and
// its use, so a sealed PSK copied to another row, or into the client-key
// column, does not open.
const (
	sealVersion = 1
	nonceLen    = 12
)

// Purposes of sealed secrets, part of the associated data.
const (
	purposePSK       = "psk"
	purposeClientKey = "client-key"
)

// ErrSealed is every failure to open a sealed secret: a wrong KEK, another
// device's row, or a damaged value. It says nothing more (no oracle).
var ErrSealed = errors.New("pgregistry: sealed secret does not open (wrong key-encryption key, or tampered)")

// KEK seals and opens the secrets stored in the database.
type KEK struct{ aead cipher.AEAD }

// NewKEK makes a KEK from KEKLen bytes.
func NewKEK(key []byte) (*KEK, error) {
	if len(key) != KEKLen {
		return nil, fmt.Errorf("pgregistry: key-encryption key must be %d bytes, got %d", KEKLen, len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	return &KEK{aead: aead}, nil
}

// ReadKEKFile reads a KEK written as 64 hex characters (whitespace around
// them ignored). Errors never quote the file's content.
func ReadKEKFile(path string) (*KEK, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pgregistry: kek: %w", err)
	}
	s := strings.TrimSpace(string(data))
	key, err := hex.DecodeString(s)
	if err != nil || len(key) != KEKLen {
		return nil, fmt.Errorf("pgregistry: kek %s: must be %d hex characters", path, 2*KEKLen)
	}
	defer clear(key)
	return NewKEK(key)
}

func aad(purpose, id string) []byte {
	return []byte("tlsoffload registry " + purpose + "\x00" + id)
}

func (k *KEK) seal(purpose, id string, plaintext []byte) ([]byte, error) {
	out := make([]byte, 1+nonceLen, 1+nonceLen+len(plaintext)+k.aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1 : 1+nonceLen]); err != nil {
		return nil, err
	}
	return k.aead.Seal(out, out[1:1+nonceLen], plaintext, aad(purpose, id)), nil
}

func (k *KEK) open(purpose, id string, sealed []byte) ([]byte, error) {
	if len(sealed) < 1+nonceLen+k.aead.Overhead() || sealed[0] != sealVersion {
		return nil, ErrSealed
	}
	pt, err := k.aead.Open(nil, sealed[1:1+nonceLen], sealed[1+nonceLen:], aad(purpose, id))
	if err != nil {
		return nil, ErrSealed
	}
	return pt, nil
}
