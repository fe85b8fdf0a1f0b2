package tlsstate_test

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/tlsclient"
	"github.com/tlsoffload/tlsoffload/tlsclient/tlsstate"
)

// Convert keeps every field and parses both chains; a chain that stops
// parsing is cut there.
func TestConvert(t *testing.T) {
	pki, err := testpki.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := pki.Issue([]string{"server.test"}, testpki.ECDSAP256, testpki.Good)
	if err != nil {
		t.Fatal(err)
	}
	cs := tlsclient.ConnectionState{
		Version: tls.VersionTLS12, HandshakeComplete: true, CipherSuite: tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		CurveID: uint16(tls.X25519), NegotiatedProtocol: "h2", ServerName: "server.test", DidResume: true,
		TLSUnique: []byte{1, 2, 3}, PeerCertificates: leaf.Chain,
		Verified: tlsclient.PeerVerification{Chain: append(append([][]byte{}, leaf.Chain...), pki.Root.Raw)},
	}
	got := tlsstate.Convert(cs)
	if got.Version != cs.Version || !got.HandshakeComplete || got.CipherSuite != cs.CipherSuite ||
		got.CurveID != tls.X25519 || got.NegotiatedProtocol != "h2" || got.ServerName != "server.test" ||
		!got.DidResume || string(got.TLSUnique) != string(cs.TLSUnique) {
		t.Errorf("Convert = %+v", got)
	}
	if len(got.PeerCertificates) != len(leaf.Chain) || !got.PeerCertificates[0].Equal(leaf.Cert) {
		t.Errorf("PeerCertificates: %d", len(got.PeerCertificates))
	}
	if v := got.VerifiedChains; len(v) != 1 || len(v[0]) != len(leaf.Chain)+1 || !v[0][len(v[0])-1].Equal(pki.Root) {
		t.Errorf("VerifiedChains: %v", v)
	}
	cs.PeerCertificates = [][]byte{leaf.Chain[0], {0x30, 0x00}, leaf.Chain[0]}
	cs.Verified = tlsclient.PeerVerification{}
	got = tlsstate.Convert(cs)
	if len(got.PeerCertificates) != 1 || got.VerifiedChains != nil {
		t.Errorf("bad DER: %d peer certificates, verified %v", len(got.PeerCertificates), got.VerifiedChains)
	}
}
