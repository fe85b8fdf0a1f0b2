package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tlsoffload/tlsoffload/handshake"
)

// The cipher suites by their OpenSSL names, as curl's --ciphers takes them
// and as -v and %{tls_cipher} print them, in ocurl's default preference.
var cipherTable = []struct {
	id      uint16
	openssl string
}{
	{handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256"},
	{handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256"},
	{handshake.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305"},
	{handshake.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-RSA-CHACHA20-POLY1305"},
	{handshake.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384"},
	{handshake.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384"},
	{handshake.TLS_RSA_WITH_AES_128_GCM_SHA256, "AES128-GCM-SHA256"},
	{handshake.TLS_RSA_WITH_AES_256_GCM_SHA384, "AES256-GCM-SHA384"},
	{handshake.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "ECDHE-ECDSA-AES128-SHA256"},
	{handshake.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, "ECDHE-RSA-AES128-SHA256"},
	{handshake.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384, "ECDHE-ECDSA-AES256-SHA384"},
	{handshake.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384, "ECDHE-RSA-AES256-SHA384"},
	{handshake.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "ECDHE-ECDSA-AES128-SHA"},
	{handshake.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "ECDHE-RSA-AES128-SHA"},
	{handshake.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "ECDHE-ECDSA-AES256-SHA"},
	{handshake.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "ECDHE-RSA-AES256-SHA"},
	{handshake.TLS_RSA_WITH_AES_128_CBC_SHA256, "AES128-SHA256"},
	{handshake.TLS_RSA_WITH_AES_256_CBC_SHA256, "AES256-SHA256"},
	{handshake.TLS_RSA_WITH_AES_128_CBC_SHA, "AES128-SHA"},
	{handshake.TLS_RSA_WITH_AES_256_CBC_SHA, "AES256-SHA"},
}

// cipherIDs reads --ciphers: OpenSSL (or IANA) suite names separated by
// ':', ',' or spaces, in the order wanted. As OpenSSL does, names ocurl
// does not implement (TLS 1.3 suites, DHE, 3DES, keywords such as HIGH)
// are skipped, and a list that leaves no suite is refused (exit 59). ""
// means ocurl's default list.
func cipherIDs(list string) ([]uint16, error) {
	if list == "" {
		return nil, nil
	}
	var ids []uint16
	for _, name := range strings.FieldsFunc(list, func(r rune) bool { return r == ':' || r == ',' || r == ' ' }) {
		for _, c := range cipherTable {
			iana := ""
			if s := handshake.SuiteByID(c.id); s != nil {
				iana = s.Name
			}
			if strings.EqualFold(name, c.openssl) || strings.EqualFold(name, iana) {
				if !slices.Contains(ids, c.id) {
					ids = append(ids, c.id)
				}
				break
			}
		}
	}
	if len(ids) == 0 {
		return nil, fail(exitCipher, "failed setting cipher list: %s", list).
			withHint("ocurl speaks these TLS 1.2 and below suites: %s", strings.Join(cipherNames(), ":"))
	}
	return ids, nil
}

func cipherNames() []string {
	names := make([]string, len(cipherTable))
	for i, c := range cipherTable {
		names[i] = c.openssl
	}
	return names
}

// cipherName is a suite's OpenSSL name.
func cipherName(id uint16) string {
	for _, c := range cipherTable {
		if c.id == id {
			return c.openssl
		}
	}
	return fmt.Sprintf("0x%04x", id)
}

// versionName is a version as OpenSSL and curl print it.
func versionName(v uint16) string {
	switch v {
	case tls10:
		return "TLSv1.0"
	case tls11:
		return "TLSv1.1"
	case tls12:
		return "TLSv1.2"
	}
	return fmt.Sprintf("0x%04x", v)
}
