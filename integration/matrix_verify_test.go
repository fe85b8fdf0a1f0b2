package integration

// The matrix's verification cells (issue 9): servers whose certificate's
// keyUsage does not allow what its key does in the key exchange, and a
// pinned self-signed CA:TRUE certificate made by `openssl req -x509`,
// against every peer.
//
// Each key-usage group is one server with one certificate (RSA-2048, under
// a chain of its own) and two suites, ECDHE_RSA and RSA key exchange; each
// cell narrows the device to one of them. The device refuses, with
// *tlsclient.CertificateError, reason key_usage, a detail naming the usage
// the key lacked, and the unsupported_certificate alert, every suite the
// usage does not allow, and completes the one it allows on the same
// server: so a refusal cannot come from the certificate being unusable.
// Against nginx, ocurl does the same per cell: exit 60 with a message
// naming the usage, or the file byte for byte. Against GnuTLS, an ECDSA
// leaf allowing keyAgreement only is refused for ECDHE_ECDSA.
//
// What the peers do with such certificates (each handled here):
//   - OpenSSL s_server and nginx serve them for any suite without looking
//     at their own keyUsage.
//   - gnutls-serv checks its own certificate's keyUsage and negotiates
//     around it (RSA key exchange for a keyEncipherment-only key) or
//     refuses the suite; %DEBUG_ALLOW_KEY_USAGE_VIOLATIONS makes it serve
//     them, logging "Key usage violation detected (ignored)".

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/internal/peers"
	"github.com/tlsoffload/tlsoffload/offloader/server"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
	"github.com/tlsoffload/tlsoffload/record"
	"github.com/tlsoffload/tlsoffload/tlsclient"
)

func init() { moreMatrixGroups = append(moreMatrixGroups, verifyGroups) }

// kuSuites are the key-usage groups' suites: one signed key exchange, one
// RSA key exchange.
var kuSuites = []*matrixSuite{matrixSuiteByName("ECDHE-RSA-AES128-GCM-SHA256"), matrixSuiteByName("AES128-GCM-SHA256")}

func matrixSuiteByName(name string) *matrixSuite {
	for _, s := range matrixSuites {
		if s.openssl == name {
			return s
		}
	}
	panic("no matrix suite " + name)
}

// kuCase is a leaf keyUsage and what each of kuSuites does with it: ""
// accepted, else the usage the refusal names.
type kuCase struct {
	name  string
	usage x509.KeyUsage
	want  [2]string // for kuSuites[0] (ECDHE), kuSuites[1] (RSA)
}

var kuCases = []kuCase{
	{"nonrepudiation-only", x509.KeyUsageContentCommitment, [2]string{"digitalSignature", "keyEncipherment"}},
	{"keyencipherment-only", x509.KeyUsageKeyEncipherment, [2]string{"digitalSignature", ""}},
	{"digitalsignature-only", x509.KeyUsageDigitalSignature, [2]string{"", "keyEncipherment"}},
}

func verifyGroups(t *testing.T, e *matrixEnv) []*matrixGroup {
	var groups []*matrixGroup
	for _, kc := range kuCases {
		c, err := testpki.Build(e.pki.Now, testpki.Spec{
			Names:   []string{"localhost", "127.0.0.1"},
			LeafKey: testpki.RSA2048, IntermediateKey: testpki.ECDSAP256, RootKey: testpki.ECDSAP256,
			Leaf: func(l *x509.Certificate) { l.KeyUsage = kc.usage },
		})
		if err != nil {
			t.Fatal(err)
		}
		leaf := &testpki.Leaf{Chain: c.Chain, Key: c.LeafKey, Cert: c.Leaf}
		dev := server.Device{ID: deviceID, Roots: c.Roots, AllowedNames: []string{"*"}}
		rootFile := filepath.Join(t.TempDir(), "root.pem")
		if err := os.WriteFile(rootFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.RootCerts[0].Raw}), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, p := range e.peers {
			g := &matrixGroup{name: p.name + "/key-usage/" + kc.name, peer: p,
				opts: func(t *testing.T) peerOpts {
					return peerOpts{version: tls12, leaf: leaf, suites: kuSuites, keyUsageViolations: true}
				}}
			for i, s := range kuSuites {
				g.cells = append(g.cells, e.keyUsageCell(p, kc, s, kc.want[i], dev))
				if p == nginxPeer {
					g.cells = append(g.cells, ocurlKeyUsageCell(p, kc, s, kc.want[i], rootFile))
				}
			}
			groups = append(groups, g)
		}
	}

	// An ECDSA leaf allowing keyAgreement only must not sign the
	// ServerKeyExchange. OpenSSL (s_server, nginx) will not negotiate
	// ECDHE_ECDSA with such a certificate: only gnutls-serv, told to
	// ignore its own certificate's usage, serves it.
	ka, err := testpki.Build(e.pki.Now, testpki.Spec{
		Names:   []string{"localhost", "127.0.0.1"},
		LeafKey: testpki.ECDSAP256, IntermediateKey: testpki.ECDSAP256, RootKey: testpki.ECDSAP256,
		Leaf: func(l *x509.Certificate) { l.KeyUsage = x509.KeyUsageKeyAgreement },
	})
	if err != nil {
		t.Fatal(err)
	}
	kaLeaf := &testpki.Leaf{Chain: ka.Chain, Key: ka.LeafKey, Cert: ka.Leaf}
	kaDev := server.Device{ID: deviceID, Roots: ka.Roots, AllowedNames: []string{"*"}}
	kaSuite := matrixSuiteByName("ECDHE-ECDSA-AES128-GCM-SHA256")
	for _, p := range e.peers {
		if p != gnutlsPeer {
			continue
		}
		kc := kuCase{name: "keyagreement-only", usage: x509.KeyUsageKeyAgreement}
		cell := e.keyUsageCell(p, kc, kaSuite, "digitalSignature", kaDev)
		cell.key = "p256"
		groups = append(groups, &matrixGroup{name: p.name + "/key-usage/" + kc.name, peer: p,
			opts: func(t *testing.T) peerOpts {
				return peerOpts{version: tls12, leaf: kaLeaf, suites: []*matrixSuite{kaSuite}, keyUsageViolations: true}
			},
			cells: []*matrixCell{cell}})
	}

	pinned, pinnedFile := opensslSelfSigned(t)
	roots := x509.NewCertPool()
	roots.AddCert(pinned.Cert)
	dev := server.Device{ID: deviceID, Roots: roots, AllowedNames: []string{"*"}}
	s := matrixSuiteByName("ECDHE-ECDSA-AES128-GCM-SHA256")
	for _, p := range e.peers {
		g := &matrixGroup{name: p.name + "/pinned-self-signed", peer: p,
			opts: func(t *testing.T) peerOpts { return peerOpts{version: tls12, leaf: pinned, suites: []*matrixSuite{s}} },
			cells: []*matrixCell{{peer: p.name, version: tls12.name, suite: s.openssl, key: "p256-ca-true", mode: "pinned-self-signed",
				run: func(t *testing.T, srv *peers.Server) error {
					off := newMatrixOffloader(t, dev)
					cfg := e.config(tls12, s)
					cfg.Offloader = off.client
					ex, err := fetchPaths(cfg, srv.Addr, p.paths)
					if err != nil {
						return err
					}
					if n := len(ex.state.VerifiedChains); n != 1 || len(ex.state.VerifiedChains[0]) != 1 ||
						!ex.state.VerifiedChains[0][0].Equal(pinned.Cert) {
						return fmt.Errorf("verified chains %v, want the pinned certificate alone", ex.state.VerifiedChains)
					}
					return checkFull(p, tls12, s, ex, false)
				}}}}
		if p == nginxPeer {
			g.cells = append(g.cells, &matrixCell{peer: p.name, version: tls12.name, suite: "-", key: "p256-ca-true", mode: "ocurl-pinned-self-signed",
				run: func(t *testing.T, srv *peers.Server) error {
					out := filepath.Join(t.TempDir(), "got.bin")
					_, port, _ := net.SplitHostPort(srv.Addr)
					code, _, stderr := runOcurl(t, "-sS", "--cacert", pinnedFile, "-o", out,
						"--resolve", "localhost:"+port+":127.0.0.1", "https://localhost:"+port+"/blob.bin")
					if code != 0 {
						return fmt.Errorf("ocurl --cacert %s: exit %d: %s", filepath.Base(pinnedFile), code, stderr)
					}
					if got, err := os.ReadFile(out); err != nil || string(got) != string(nginxBlob) {
						return fmt.Errorf("ocurl wrote %d bytes that differ from the %d served (%v)", len(got), len(nginxBlob), err)
					}
					return nil
				}})
		}
		groups = append(groups, g)
	}
	return groups
}

// keyUsageCell handshakes with suite s with a server whose leaf has kc's
// keyUsage: refused naming the usage want, or (want "") completed.
func (e *matrixEnv) keyUsageCell(p *matrixPeer, kc kuCase, s *matrixSuite, want string, dev server.Device) *matrixCell {
	mode := "key-usage-" + kc.name
	if want != "" {
		mode = "refuse-key-usage-" + kc.name
	}
	return &matrixCell{peer: p.name, version: tls12.name, suite: s.openssl, key: "rsa2048", mode: mode,
		run: func(t *testing.T, srv *peers.Server) error {
			off := newMatrixOffloader(t, dev)
			cfg := e.config(tls12, s)
			cfg.Offloader = off.client
			ex, err := fetchPaths(cfg, srv.Addr, p.paths)
			if want == "" {
				if err != nil {
					return err
				}
				return checkFull(p, tls12, s, ex, false)
			}
			if err == nil {
				return errors.New("handshake succeeded")
			}
			var ce *tlsclient.CertificateError
			if !errors.As(err, &ce) {
				return fmt.Errorf("want *tlsclient.CertificateError, got %T: %v", err, err)
			}
			var we *wire.Error
			if !errors.As(err, &we) || we.Status != wire.StatusInvalidCertificate || we.Reason != wire.ReasonKeyUsage || !strings.Contains(we.Detail, want) {
				return fmt.Errorf("got %v, want reason key_usage naming %s", ce.Err, want)
			}
			if ce.Alert != record.AlertUnsupportedCertificate {
				return fmt.Errorf("alert %v sent, want unsupported_certificate", ce.Alert)
			}
			return nil
		}}
}

// ocurlKeyUsageCell fetches nginx's file with ocurl --cacert root
// --ciphers s from a server whose leaf has kc's keyUsage: exit 60 with a
// message naming the usage want, or (want "") the file byte for byte.
func ocurlKeyUsageCell(p *matrixPeer, kc kuCase, s *matrixSuite, want, rootFile string) *matrixCell {
	mode := "ocurl-key-usage-" + kc.name
	if want != "" {
		mode = "ocurl-refuse-key-usage-" + kc.name
	}
	return &matrixCell{peer: p.name, version: tls12.name, suite: s.openssl, key: "rsa2048", mode: mode,
		run: func(t *testing.T, srv *peers.Server) error {
			out := filepath.Join(t.TempDir(), "got.bin")
			_, port, _ := net.SplitHostPort(srv.Addr)
			code, _, stderr := runOcurl(t, "-sS", "--cacert", rootFile, "--ciphers", s.openssl, "-o", out,
				"--resolve", "localhost:"+port+":127.0.0.1", "https://localhost:"+port+"/blob.bin")
			if want == "" {
				if code != 0 {
					return fmt.Errorf("ocurl: exit %d: %s", code, stderr)
				}
				if got, err := os.ReadFile(out); err != nil || string(got) != string(nginxBlob) {
					return fmt.Errorf("ocurl wrote %d bytes that differ from the %d served (%v)", len(got), len(nginxBlob), err)
				}
				return nil
			}
			if code != 60 || !strings.Contains(stderr, "ocurl: (60) ") || !strings.Contains(stderr, want) {
				return fmt.Errorf("ocurl: exit %d: %q, want exit 60 naming %s", code, stderr, want)
			}
			if _, err := os.Stat(out); err == nil {
				return errors.New("ocurl left an output file after refusing the certificate")
			}
			return nil
		}}
}

// opensslSelfSigned makes what a user makes for a pinned server with
// `openssl req -x509`: a self-signed P-256 certificate with CA:TRUE (the
// default of OpenSSL's v3_ca section) for localhost and 127.0.0.1. It
// returns it as a leaf and the path of its PEM file.
func opensslSelfSigned(t *testing.T) (*testpki.Leaf, string) {
	t.Helper()
	bin := requirePeer(t, "openssl")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "pinned.pem"), filepath.Join(dir, "pinned.key")
	out, err := exec.Command(bin, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", keyFile, "-out", certFile, "-days", "2", "-subj", "/CN=localhost",
		"-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl req -x509: %v\n%s", err, out)
	}
	cert := readPEM(t, certFile, "CERTIFICATE")
	c, err := x509.ParseCertificate(cert)
	if err != nil {
		t.Fatal(err)
	}
	if !c.IsCA {
		t.Fatal("openssl req -x509 made a certificate without CA:TRUE: the cell would test nothing")
	}
	key, err := x509.ParsePKCS8PrivateKey(readPEM(t, keyFile, "PRIVATE KEY"))
	if err != nil {
		t.Fatal(err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		t.Fatalf("key %T", key)
	}
	return &testpki.Leaf{Chain: [][]byte{cert}, Key: signer, Cert: c}, certFile
}

func readPEM(t *testing.T, path, typ string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != typ {
		t.Fatalf("%s: no %s PEM block", path, typ)
	}
	return blk.Bytes
}
