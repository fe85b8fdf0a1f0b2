package integration

// Client-certificate cells of the matrix: each peer, at each version,
// requires a client certificate issued under the test root; the device's
// certificate and key are held by its offloader, which signs the
// CertificateVerify. Each client key type is a cell; one more cell proves
// the server really requires one (a device without a certificate is
// refused).

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/internal/peers"
)

func init() { moreMatrixGroups = append(moreMatrixGroups, clientCertGroups) }

// clientCertKeys are the client certificate keys: RSA (PKCS#1 v1.5 or PSS
// signatures, as the server asks) and ECDSA.
var clientCertKeys = matrixKeys

// clientCertVersions are the versions the device answers a
// CertificateRequest in: all of them (below TLS 1.2 the CertificateVerify
// is RSA over MD5+SHA-1 or ECDSA over SHA-1, with no algorithm field).
var clientCertVersions = matrixVersions

func clientCertGroups(t *testing.T, e *matrixEnv) []*matrixGroup {
	var groups []*matrixGroup
	serverKey := matrixKeys[0] // rsa2048
	for _, p := range e.peers {
		for _, v := range clientCertVersions {
			suites := suitesFor(p, v, certRSA)
			if len(suites) == 0 {
				continue
			}
			s := suites[0]
			g := &matrixGroup{name: p.name + "/" + v.name + "/client-cert", peer: p,
				opts: func(t *testing.T) peerOpts {
					return peerOpts{version: v, leaf: issue(t, serverKey.key, testpki.Good), suites: suites,
						clientCA: e.pki.RootPEM()}
				}}
			for _, ck := range clientCertKeys {
				g.cells = append(g.cells, e.clientCertCell(p, v, s, ck, false))
			}
			g.cells = append(g.cells, e.clientCertCell(p, v, s, clientCertKeys[0], true),
				e.clientCertResumeCell(p, v, s, clientCertKeys[0]))
			g.cells = append(g.cells, e.noClientCertCell(p, v, s, serverKey))
			groups = append(groups, g)
		}
	}
	return groups
}

// clientCertCell handshakes with a device whose offloader holds a client
// certificate with key ck; the server verifies it and names its subject.
// In sequential mode the offloader's choice travels in the token between
// its round trips.
func (e *matrixEnv) clientCertCell(p *matrixPeer, v *matrixVersion, s *matrixSuite, ck matrixKey, sequential bool) *matrixCell {
	mode := "client-cert"
	if sequential {
		mode = "client-cert-sequential"
	}
	return &matrixCell{peer: p.name, version: v.name, suite: s.openssl, key: ck.name, mode: mode,
		run: func(t *testing.T, srv *peers.Server) error {
			cn := "matrix-client-" + ck.name + ".test"
			// NoServerAuth is a leaf whose only extended key usage is
			// clientAuth: a client certificate.
			leaf := issue(t, ck.key, testpki.NoServerAuth, cn)
			dev := matrixDevice(e.pki)
			dev.ClientCertificate, dev.ClientKey = leaf.Chain, leaf.Key
			off := newMatrixOffloader(t, dev)
			cfg := e.config(v, s)
			cfg.Offloader = off.client
			if sequential {
				cfg.Offloader = off.sequentialClient(t)
			}
			ex, err := fetchPaths(cfg, srv.Addr, p.paths)
			if err != nil {
				return err
			}
			if err := checkFull(p, v, s, ex, false); err != nil {
				return err
			}
			return checkClientCertPage(p, ex, cn)
		}}
}

// clientCertResumeCell: a full handshake with a client certificate, then
// one that resumes it with no offloader call; the server still names the
// certificate on the resumed connection.
func (e *matrixEnv) clientCertResumeCell(p *matrixPeer, v *matrixVersion, s *matrixSuite, ck matrixKey) *matrixCell {
	return &matrixCell{peer: p.name, version: v.name, suite: s.openssl, key: ck.name, mode: "client-cert-resume",
		run: func(t *testing.T, srv *peers.Server) error {
			cn := "matrix-client-resume-" + ck.name + ".test"
			leaf := issue(t, ck.key, testpki.NoServerAuth, cn)
			dev := matrixDevice(e.pki)
			dev.ClientCertificate, dev.ClientKey = leaf.Chain, leaf.Key
			// The group's servers keep sessions both ways; a ticket wins.
			return e.resumeRun(t, srv, p, v, s, resumeTickets, dev, func(ex *exchange) error {
				return checkClientCertPage(p, ex, cn)
			})
		}}
}

// checkClientCertPage checks that the server names the client certificate
// cn: nginx verified it, openssl and gnutls print it on their page.
func checkClientCertPage(p *matrixPeer, ex *exchange, cn string) error {
	page := string(ex.bodies[len(ex.bodies)-1])
	if p == nginxPeer {
		f := strings.Split(strings.TrimSpace(page), "|")
		if f[3] != "SUCCESS" || !strings.Contains(f[4], cn) {
			return fmt.Errorf("nginx: client verify %q, subject %q", f[3], f[4])
		}
		return nil
	}
	if !strings.Contains(page, cn) {
		return fmt.Errorf("%s does not name the client certificate %s on its page", p.name, cn)
	}
	return nil
}

// noClientCertCell: the same server refuses a device with no client
// certificate, so the cells above cannot pass by the server not asking.
func (e *matrixEnv) noClientCertCell(p *matrixPeer, v *matrixVersion, s *matrixSuite, k matrixKey) *matrixCell {
	return &matrixCell{peer: p.name, version: v.name, suite: s.openssl, key: "-", mode: "client-cert-none-refused",
		run: func(t *testing.T, srv *peers.Server) error {
			ex, err := fetchPaths(e.config(v, s), srv.Addr, p.paths)
			if err == nil {
				return errors.New("the server accepted a device without a client certificate")
			}
			if ex.calls == 0 {
				return fmt.Errorf("failed before the offloader was asked: %v", err)
			}
			// nginx completes the handshake and answers 400; the others
			// end the handshake with an alert.
			if p == nginxPeer {
				if !ex.state.HandshakeComplete || !strings.Contains(err.Error(), "No required SSL certificate was sent") {
					return fmt.Errorf("nginx: want a 400 for the missing certificate, got %v", err)
				}
			} else if ex.state.HandshakeComplete || !strings.Contains(err.Error(), "remote error") {
				return fmt.Errorf("%s: want the handshake ended by the server's alert, got %v", p.name, err)
			}
			return nil
		}}
}
