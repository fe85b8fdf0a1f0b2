package main

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/tlsoffload/tlsoffload/handshake"
)

// primitive is one operation of the offloader's floor.
type primitive struct {
	name string
	op   func() error
}

// primitives holds each primitive's µs per operation, run by run.
type primitives struct {
	list []primitive
	us   map[string]samples
}

// Names of the primitives, used to add up each case's floor.
const (
	pX25519     = "X25519 key generation + shared secret (peer point parsed)"
	pP256       = "P-256 ECDH key generation + shared secret (peer point parsed)"
	pRSAPSS     = "RSA-2048 PSS-SHA256 verify (ServerKeyExchange)"
	pRSAPKCS1   = "RSA-2048 PKCS#1 v1.5 SHA-256 verify (for reference)"
	pECDSA      = "ECDSA P-256 SHA-256 verify (ServerKeyExchange)"
	pChainRSA   = "parse + verify 2-certificate chain, RSA-2048 leaf"
	pChainECDSA = "parse + verify 2-certificate chain, ECDSA P-256 leaf"
	pRSAEncrypt = "RSA-2048 PKCS#1 v1.5 encrypt premaster (RSA key exchange)"
	pPRF        = "transcript SHA-256 + extended master secret + key block (PRF)"
	pChannel    = "channel AEAD: open request + seal answer (ChaCha20-Poly1305)"
)

// floor sums the primitives one handshake of c needs, run by run.
func (p *primitives) floor(c hsCase) samples {
	names := []string{pChainRSA, pPRF, pChannel}
	switch {
	case c.group == 0:
		names = append(names, pRSAEncrypt)
	case c.cert == "ecdsa":
		names = []string{pP256, pECDSA, pChainECDSA, pPRF, pChannel}
	case c.group == handshake.GroupX25519:
		names = append(names, pX25519, pRSAPSS)
	default:
		names = append(names, pP256, pRSAPSS)
	}
	out := make(samples, len(p.us[pPRF]))
	for _, n := range names {
		for i, v := range p.us[n] {
			out[i] += v
		}
	}
	return out
}

func measurePrimitives(e *env, o *options) (*primitives, error) {
	rsaLeaf, ecLeaf := e.leaves["rsa"], e.leaves["ecdsa"]
	rsaPub := rsaLeaf.Cert.PublicKey.(*rsa.PublicKey)
	ecPub := ecLeaf.Cert.PublicKey.(*ecdsa.PublicKey)

	// What a ServerKeyExchange signs: both randoms and the ECDHE parameters.
	ske := make([]byte, 64+4+65)
	rand.Read(ske)
	digest := sha256.Sum256(ske)
	pss, err := rsaLeaf.Key.Sign(rand.Reader, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
	if err != nil {
		return nil, err
	}
	pkcs1, err := rsaLeaf.Key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	ecSig, err := ecLeaf.Key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	ecdhOp := func(curve ecdh.Curve) func() error {
		peer, err := curve.GenerateKey(rand.Reader)
		if err != nil {
			return func() error { return err }
		}
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
			leaf, err := x509.ParseCertificate(chain[0])
			if err != nil {
				return err
			}
			inter := x509.NewCertPool()
			for _, der := range chain[1:] {
				c, err := x509.ParseCertificate(der)
				if err != nil {
					return err
				}
				inter.AddCert(c)
			}
			_, err = leaf.Verify(x509.VerifyOptions{Roots: e.roots, Intermediates: inter, DNSName: serverName,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			return err
		}
	}
	suite := handshake.SuiteByID(handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)
	plans, err := e.fullPlans(hsCases[0])
	if err != nil {
		return nil, err
	}
	chLen, sfLen, offReq, offResp := plans.dev.sizes()
	transcript := make([]byte, chLen+sfLen+150)
	premaster, cr, sr := make([]byte, 48), make([]byte, 32), make([]byte, 32)
	rand.Read(premaster)
	chKey := make([]byte, chacha20poly1305.KeySize)
	chNonce := make([]byte, chacha20poly1305.NonceSize)
	aead, _ := chacha20poly1305.New(chKey)
	request := aead.Seal(nil, chNonce, make([]byte, offReq-chacha20poly1305.Overhead), nil)
	answer := make([]byte, offResp)
	out := make([]byte, 0, len(request))

	p := &primitives{us: map[string]samples{}}
	p.list = []primitive{
		{pX25519, ecdhOp(ecdh.X25519())},
		{pP256, ecdhOp(ecdh.P256())},
		{pRSAPSS, func() error {
			d := sha256.Sum256(ske)
			return rsa.VerifyPSS(rsaPub, crypto.SHA256, d[:], pss, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}},
		{pRSAPKCS1, func() error {
			d := sha256.Sum256(ske)
			return rsa.VerifyPKCS1v15(rsaPub, crypto.SHA256, d[:], pkcs1)
		}},
		{pECDSA, func() error {
			d := sha256.Sum256(ske)
			if !ecdsa.VerifyASN1(ecPub, d[:], ecSig) {
				return fmt.Errorf("ecdsa verify failed")
			}
			return nil
		}},
		{pChainRSA, chainOp(rsaLeaf.Chain)},
		{pChainECDSA, chainOp(ecLeaf.Chain)},
		{pRSAEncrypt, func() error {
			_, err := rsa.EncryptPKCS1v15(rand.Reader, rsaPub, premaster)
			return err
		}},
		{pPRF, func() error {
			th := sha256.Sum256(transcript)
			master := suite.ExtendedMasterSecret(handshake.VersionTLS12, premaster, th[:])
			_ = suite.KeyBlock(handshake.VersionTLS12, master, cr, sr)
			return nil
		}},
		{pChannel, func() error {
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
	for _, prim := range p.list {
		if err := prim.op(); err != nil { // warm up, and check it works
			return nil, fmt.Errorf("%s: %w", prim.name, err)
		}
	}
	for r := 0; r < o.runs; r++ {
		for _, prim := range p.list {
			us, err := cpuPerOp(o.floorOps, prim.op)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", prim.name, err)
			}
			p.us[prim.name] = append(p.us[prim.name], us)
		}
	}
	return p, nil
}
