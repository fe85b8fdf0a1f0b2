package tlsclient

import (
	"crypto/tls"
)

// goTLSHasSuite reports whether crypto/tls implements suite id (it has no
// AES-256-CBC-SHA384 suites nor TLS_RSA_WITH_AES_256_CBC_SHA256).
func goTLSHasSuite(id uint16) bool {
	for _, l := range [][]*tls.CipherSuite{tls.CipherSuites(), tls.InsecureCipherSuites()} {
		for _, s := range l {
			if s.ID == id {
				return true
			}
		}
	}
	return false
}
