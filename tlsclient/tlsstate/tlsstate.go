// Package tlsstate converts tlsclient's ConnectionState to crypto/tls's,
// parsing the certificates, for programs that want crypto/tls's form (an
// http.Response.TLS, code written for *tls.Conn). It is kept out of
// tlsclient so that a device that does not need it links no crypto/tls
// and no crypto/x509.
package tlsstate

import (
	"crypto/tls"
	"crypto/x509"

	"github.com/tlsoffload/tlsoffload/tlsclient"
)

// Convert returns cs in crypto/tls's form. PeerCertificates and
// VerifiedChains are parsed from the DER, stopping at the first
// certificate that does not parse (the offloader refused such a chain
// already); VerifiedChains holds the one chain the offloader verified.
func Convert(cs tlsclient.ConnectionState) tls.ConnectionState {
	out := tls.ConnectionState{
		Version:                    cs.Version,
		HandshakeComplete:          cs.HandshakeComplete,
		DidResume:                  cs.DidResume,
		CipherSuite:                cs.CipherSuite,
		CurveID:                    tls.CurveID(cs.CurveID),
		NegotiatedProtocol:         cs.NegotiatedProtocol,
		NegotiatedProtocolIsMutual: true,
		ServerName:                 cs.ServerName,
		TLSUnique:                  cs.TLSUnique,
		PeerCertificates:           parse(cs.PeerCertificates),
	}
	if v := parse(cs.Verified.Chain); len(v) > 0 {
		out.VerifiedChains = [][]*x509.Certificate{v}
	}
	return out
}

// Of is Convert(c.ConnectionState()).
func Of(c *tlsclient.Conn) tls.ConnectionState { return Convert(c.ConnectionState()) }

func parse(ders [][]byte) []*x509.Certificate {
	var out []*x509.Certificate
	for _, der := range ders {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			break
		}
		out = append(out, cert)
	}
	return out
}
