package main

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/tlsoffload/tlsoffload/handshake"
)

// primitive is one operation of the floor, the handshakes that need it,
// and its µs per operation, run by run.
type primitive struct {
	name string
	op   func() error
	in   func(c hsCase) bool
	us   samples
}

// Which handshakes need a primitive.
var (
	always      = func(hsCase) bool { return true }
	ecdheRSA    = func(c hsCase) bool { return c.group != 0 && c.cert == "rsa" }
	ecdheECDSA  = func(c hsCase) bool { return c.cert == "ecdsa" }
	rsaKex      = func(c hsCase) bool { return c.group == 0 }
	withX25519  = func(c hsCase) bool { return c.group == handshake.GroupX25519 }
	withP256    = func(c hsCase) bool { return c.group == handshake.GroupP256 }
	withRSACert = func(c hsCase) bool { return c.cert == "rsa" }
)

// floorOf sums the primitives one handshake of c needs, run by run.
func floorOf(prims []*primitive, c hsCase) samples {
	out := make(samples, len(prims[0].us))
	for _, p := range prims {
		for i, v := range p.us {
			if p.in(c) {
				out[i] += v
			}
		}
	}
	return out
}

// The sizes the floor's PRF and channel AEAD work on: those of an
// ECDHE-RSA-2048, X25519 handshake with Go's server as recorded by
// offbench (ClientHello + server flight; the sealed Auth+KeyGen+Key request
// and its answer). Together they are about 3 % of the floor.
const (
	floorTranscript = 2400
	floorRequest    = 2400
	floorAnswer     = 1050
)

// measurePrimitives times each primitive, in this process.
func measurePrimitives(e *env, o *options) ([]*primitive, error) {
	rsaLeaf, ecLeaf := e.leaves["rsa"], e.leaves["ecdsa"]
	rsaPub, ecPub := rsaLeaf.Cert.PublicKey.(*rsa.PublicKey), ecLeaf.Cert.PublicKey.(*ecdsa.PublicKey)
	// What a ServerKeyExchange signs: both randoms and the ECDHE parameters.
	ske := make([]byte, 64+4+65)
	rand.Read(ske)
	digest := sha256.Sum256(ske)
	pssOpts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	pss, err := rsaLeaf.Key.Sign(rand.Reader, digest[:], pssOpts)
	if err != nil {
		return nil, err
	}
	ecSig, err := ecLeaf.Key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	ecdhOp := func(curve ecdh.Curve) func() error {
		peer, _ := curve.GenerateKey(rand.Reader)
		peerBytes := peer.PublicKey().Bytes()
		return func() error {
			pub, err := curve.NewPublicKey(peerBytes)
			if err != nil {
				return err
			}
			k, err := curve.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			_ = k.PublicKey().Bytes()
			_, err = k.ECDH(pub)
			return err
		}
	}
	chainOp := func(chain [][]byte) func() error {
		return func() error {
			certs := make([]*x509.Certificate, len(chain))
			for i, der := range chain {
				var err error
				if certs[i], err = x509.ParseCertificate(der); err != nil {
					return err
				}
			}
			inter := x509.NewCertPool()
			for _, c := range certs[1:] {
				inter.AddCert(c)
			}
			_, err := certs[0].Verify(x509.VerifyOptions{Roots: e.pki.Roots, Intermediates: inter, DNSName: serverName,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			return err
		}
	}
	suite := handshake.SuiteByID(handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)
	transcript := make([]byte, floorTranscript)
	premaster, cr, sr := make([]byte, 48), make([]byte, 32), make([]byte, 32)
	rand.Read(premaster)
	chKey, chNonce := make([]byte, chacha20poly1305.KeySize), make([]byte, chacha20poly1305.NonceSize)
	aead, _ := chacha20poly1305.New(chKey)
	request := aead.Seal(nil, chNonce, make([]byte, floorRequest-chacha20poly1305.Overhead), nil)
	answer, out := make([]byte, floorAnswer), make([]byte, 0, floorRequest+floorAnswer)

	prims := []*primitive{
		{name: "X25519 key generation + shared secret (peer point parsed)", in: withX25519, op: ecdhOp(ecdh.X25519())},
		{name: "P-256 ECDH key generation + shared secret (peer point parsed)", in: withP256, op: ecdhOp(ecdh.P256())},
		{name: "RSA-2048 PSS-SHA256 verify (ServerKeyExchange)", in: ecdheRSA, op: func() error {
			d := sha256.Sum256(ske)
			return rsa.VerifyPSS(rsaPub, crypto.SHA256, d[:], pss, pssOpts)
		}},
		{name: "ECDSA P-256 SHA-256 verify (ServerKeyExchange)", in: ecdheECDSA, op: func() error {
			if d := sha256.Sum256(ske); !ecdsa.VerifyASN1(ecPub, d[:], ecSig) {
				return errors.New("ecdsa verify failed")
			}
			return nil
		}},
		{name: "parse + verify 2-certificate chain, RSA-2048 leaf", in: withRSACert, op: chainOp(rsaLeaf.Chain)},
		{name: "parse + verify 2-certificate chain, ECDSA P-256 leaf", in: ecdheECDSA, op: chainOp(ecLeaf.Chain)},
		{name: "RSA-2048 PKCS#1 v1.5 encrypt premaster (RSA key exchange)", in: rsaKex, op: func() error {
			_, err := rsa.EncryptPKCS1v15(rand.Reader, rsaPub, premaster)
			return err
		}},
		{name: "transcript SHA-256 + extended master secret + key block (PRF)", in: always, op: func() error {
			th := sha256.Sum256(transcript)
			master := suite.ExtendedMasterSecret(handshake.VersionTLS12, premaster, th[:])
			_ = suite.KeyBlock(handshake.VersionTLS12, master, cr, sr)
			return nil
		}},
		{name: "channel AEAD: open request + seal answer (ChaCha20-Poly1305)", in: always, op: func() error {
			in, err := chacha20poly1305.New(chKey)
			if err != nil {
				return err
			}
			if _, err := in.Open(out[:0], chNonce, request, nil); err != nil {
				return err
			}
			outA, err := chacha20poly1305.New(chKey)
			if err != nil {
				return err
			}
			outA.Seal(out[:0], chNonce, answer, nil)
			return nil
		}},
	}
	for _, p := range prims {
		if err := p.op(); err != nil { // warm up, and check it works
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
	}
	for r := 0; r < o.runs; r++ {
		for _, p := range prims {
			us, err := cpuPerOp(o.floorOps, p.op)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.name, err)
			}
			p.us = append(p.us, us)
		}
	}
	return prims, nil
}
