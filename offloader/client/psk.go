package client

import (
	"errors"
	"strconv"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// errPSKText is every malformed PSK file: it names no byte of the file,
// which is the secret.
var errPSKText = errors.New("client: psk file: want " + strconv.Itoa(2*wire.MinPSKLen) + " to " + strconv.Itoa(2*wire.MaxPSKLen) + " hex digits")

// ParsePSK reads a device's pre-shared key from the text of its PSK file
// as the offloader writes it: hex digits, surrounding whitespace ignored.
// Unlike encoding/hex, whose error quotes the offending byte, its one
// error names nothing of the key; and it keeps encoding/hex's fmt out of
// a device program.
func ParsePSK(text []byte) ([]byte, error) {
	for len(text) > 0 && isSpace(text[0]) {
		text = text[1:]
	}
	for len(text) > 0 && isSpace(text[len(text)-1]) {
		text = text[:len(text)-1]
	}
	if len(text)%2 != 0 || len(text)/2 < wire.MinPSKLen || len(text)/2 > wire.MaxPSKLen {
		return nil, errPSKText
	}
	psk := make([]byte, len(text)/2)
	for i := range psk {
		hi, ok1 := unhex(text[2*i])
		lo, ok2 := unhex(text[2*i+1])
		if !ok1 || !ok2 {
			clear(psk)
			return nil, errPSKText
		}
		psk[i] = hi<<4 | lo
	}
	return psk, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
