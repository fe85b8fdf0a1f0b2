package server

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"slices"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// Client certificates held by the offloader for a device (RFC 5246 §7.4.4,
// §7.4.6, §7.4.8; docs/PROTOCOL.md §8.1).
//
// When the transcript Auth parses holds a CertificateRequest, Auth decides
// the client's answer: the device's certificate if it has one whose key
// type the request lists, whose key can make one of the signature
// algorithms the request lists, and (when the request names authorities)
// whose chain names one of them as an issuer; otherwise an empty
// Certificate. The chosen Certificate message goes into the transcript at
// once, so the extended master secret's session hash (Key) covers it, and
// into a second running hash in the chosen algorithm's hash for the
// CertificateVerify. KeyGen, after computing the ClientKeyExchange, adds it
// to that hash and signs: the signature covers ClientHello … ServerHelloDone
// as the device sent and received them, the client Certificate and the
// ClientKeyExchange, all of which the offloader parsed or built itself. It
// signs nothing else, and only after Auth verified the server.
//
// TLS 1.0 and 1.1 (RFC 2246 and RFC 4346 §7.4.8) have no algorithm field
// and no supported_signature_algorithms in the request: the certificate
// type (and the authorities) alone decide; RSA signs the MD5 || SHA-1
// digest of the messages with PKCS #1 v1.5 without DigestInfo
// (crypto.MD5SHA1), ECDSA their SHA-1 digest (RFC 4492 §5.8), whatever the
// curve; the CertificateVerify carries the signature alone.

// Certificate types of a CertificateRequest (RFC 5246 §7.4.4, RFC 8422 §5.5).
const (
	certTypeRSASign   uint8 = 1
	certTypeECDSASign uint8 = 64
)

// clientCert is a device's client certificate, checked and prepared once
// when the device is added. It is never modified afterwards.
type clientCert struct {
	msg      []byte   // the whole Certificate handshake message
	digest   [32]byte // SHA-256 of msg: binds a token to this message
	key      crypto.Signer
	certType uint8
	curve    elliptic.Curve // ECDSA only
	issuers  [][]byte       // RawIssuer of every certificate of the chain
}

// newClientCert checks a device's client certificate (Device.Check) and
// prepares it: chain is DER, leaf first, 1..handshake.MaxCertificates
// certificates that parse, fitting wire.MaxClientCertificate as a
// Certificate message; key is the leaf's private key, RSA of at least 2048
// bits or ECDSA on P-256 or P-384; the leaf, if it lists extended key
// usages, allows client authentication. field names the Device field at
// fault: "ClientCertificate" or "ClientKey". Errors never include key
// material.
func newClientCert(chain [][]byte, key crypto.Signer) (cc *clientCert, field string, err error) {
	certFault := func(format string, args ...any) (*clientCert, string, error) {
		return nil, "ClientCertificate", fmt.Errorf(format, args...)
	}
	keyFault := func(format string, args ...any) (*clientCert, string, error) {
		return nil, "ClientKey", fmt.Errorf(format, args...)
	}
	if len(chain) == 0 {
		return certFault("empty chain")
	}
	if key == nil {
		return keyFault("no private key")
	}
	cc = &clientCert{key: key}
	var leaf *x509.Certificate
	for i, der := range chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return certFault("certificate %d does not parse: %v", i, err)
		}
		if i == 0 {
			leaf = c
		}
		cc.issuers = append(cc.issuers, c.RawIssuer)
	}
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < 2048 {
			return keyFault("RSA key of %d bits, want at least 2048", pub.N.BitLen())
		}
		cc.certType = certTypeRSASign
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() && pub.Curve != elliptic.P384() {
			return keyFault("ECDSA key on a curve other than P-256 or P-384")
		}
		cc.certType = certTypeECDSASign
		cc.curve = pub.Curve
	default:
		return keyFault("unsupported key type %T (want RSA or ECDSA)", key.Public())
	}
	eq, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !eq.Equal(key.Public()) {
		return keyFault("the private key does not match the leaf certificate")
	}
	if len(leaf.ExtKeyUsage) > 0 && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) &&
		!slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return certFault("the leaf's extended key usage does not allow client authentication")
	}
	if len(chain) > handshake.MaxCertificates {
		return certFault("%d certificates, at most %d", len(chain), handshake.MaxCertificates)
	}
	cc.msg = (&handshake.Certificate{Certificates: chain}).Marshal()
	if cc.msg == nil || len(cc.msg) > wire.MaxClientCertificate {
		return certFault("chain larger than %d bytes", wire.MaxClientCertificate)
	}
	cc.digest = sha256.Sum256(cc.msg)
	return cc, "", nil
}

// clientAuthMode is the answer Auth chose to a CertificateRequest.
type clientAuthMode uint8

const (
	clientAuthNone  clientAuthMode = iota // no CertificateRequest
	clientAuthEmpty                       // an empty Certificate, no CertificateVerify
	clientAuthCert                        // the device's certificate and a CertificateVerify
)

// emptyCertificate is the Certificate message with no certificates.
var emptyCertificate = []byte{handshake.TypeCertificate, 0, 0, 3, 0, 0, 0}

// clientAuthState is what a handshake's state keeps of the answer.
type clientAuthState struct {
	mode       clientAuthMode
	certDigest [32]byte  // SHA-256 of the chosen Certificate message (mode ≠ none)
	sigScheme  uint16    // mode cert, TLS 1.2; 0 before (no algorithm field)
	certType   uint8     // mode cert: certTypeRSASign or certTypeECDSASign
	sigHash    hash.Hash // mode cert, until KeyGen signs: transcript through the client Certificate
}

// newSigHash returns a fresh CertificateVerify hash for st's version: the
// scheme's hash in TLS 1.2; before, MD5 || SHA-1 for RSA and SHA-1 for
// ECDSA. Nil for a combination that cannot be (a token that lies).
func newSigHash(st *hsState, certType uint8, scheme uint16) hash.Hash {
	if certType != certTypeRSASign && certType != certTypeECDSASign {
		return nil
	}
	if st.version >= handshake.VersionTLS12 {
		i := sigSchemeIndex(scheme)
		if i < 0 || (certType == certTypeRSASign) == (sigSchemes[i].kind == sigECDSA) {
			return nil
		}
		return sigSchemes[i].hash.New()
	}
	switch {
	case scheme != 0 || st.suite == nil:
		return nil
	case certType == certTypeRSASign:
		return st.suite.TranscriptHash(st.version) // MD5 || SHA-1 below TLS 1.2
	case certType == certTypeECDSASign:
		return sha1.New()
	}
	return nil
}

// chooseClientAuth answers a CertificateRequest for the device: it picks
// the answer, writes the chosen Certificate message into st.transcript and
// starts the CertificateVerify hash over transcript || Certificate.
// transcript is ClientHello … ServerHelloDone as Auth parsed it.
func chooseClientAuth(dev *Device, cr *handshake.CertificateRequest, transcript []byte, st *hsState) {
	cc := dev.cc
	scheme, ok := pickScheme(cc, cr, st.version)
	var h hash.Hash
	if ok {
		h = newSigHash(st, cc.certType, scheme) // never nil after pickScheme; checked all the same
	}
	if h == nil {
		st.clientAuth = clientAuthState{mode: clientAuthEmpty, certDigest: sha256.Sum256(emptyCertificate)}
		st.transcript.Write(emptyCertificate)
		return
	}
	h.Write(transcript)
	h.Write(cc.msg)
	st.clientAuth = clientAuthState{mode: clientAuthCert, certDigest: cc.digest, sigScheme: scheme, certType: cc.certType, sigHash: h}
	st.transcript.Write(cc.msg)
}

// pickScheme returns the first signature algorithm of the request (the
// server lists them in its order of preference, RFC 5246 §7.4.4) that the
// device's key can make, if the request takes the key's certificate type
// and, when it names authorities, the chain has an issuer among them.
// Before TLS 1.2 there is no algorithm to pick: it returns 0 and true.
func pickScheme(cc *clientCert, cr *handshake.CertificateRequest, version uint16) (uint16, bool) {
	if cc == nil || !slices.Contains(cr.CertificateTypes, cc.certType) {
		return 0, false
	}
	if len(cr.CertificateAuthorities) > 0 && !slices.ContainsFunc(cc.issuers, func(iss []byte) bool {
		return slices.ContainsFunc(cr.CertificateAuthorities, func(dn []byte) bool { return bytes.Equal(dn, iss) })
	}) {
		return 0, false
	}
	if version < handshake.VersionTLS12 {
		return 0, true
	}
	for _, id := range cr.SignatureAlgorithms {
		if keyCanSign(cc, id) {
			return id, true
		}
	}
	return 0, false
}

// keyCanSign reports whether the key makes signature algorithm id: RSA
// PKCS #1 v1.5 and RSA-PSS (rsae) with SHA-256/384/512, ECDSA with its
// curve's hash (P-256 with SHA-256, P-384 with SHA-384). SHA-1 never.
func keyCanSign(cc *clientCert, id uint16) bool {
	i := sigSchemeIndex(id)
	if i < 0 {
		return false
	}
	s := sigSchemes[i]
	switch cc.certType {
	case certTypeRSASign:
		return s.kind == sigPKCS1 || s.kind == sigPSS
	case certTypeECDSASign:
		return s.kind == sigECDSA &&
			(cc.curve == elliptic.P256() && s.hash == crypto.SHA256 || cc.curve == elliptic.P384() && s.hash == crypto.SHA384)
	}
	return false
}

// answerClientAuth fills resp with the answer Auth chose, once KeyGen has
// made the ClientKeyExchange body cke: the Certificate message and, for a
// certificate, the CertificateVerify over transcript || Certificate ||
// ClientKeyExchange. In the sequential mode the device's certificate is
// read again from the registry; it must be the one Auth chose.
func (s *Server) answerClientAuth(dev *Device, st *hsState, cke []byte, resp *wire.KeyGenResponse) *wire.Error {
	ca := &st.clientAuth
	switch ca.mode {
	case clientAuthNone:
		return nil
	case clientAuthEmpty:
		resp.ClientCertificate = slices.Clone(emptyCertificate)
		return nil
	}
	cc := dev.cc
	if cc == nil || cc.digest != ca.certDigest {
		return opErr(wire.StatusBadToken, "the device's client certificate changed during the handshake")
	}
	if ca.sigHash == nil {
		return opErr(wire.StatusInternal, "no transcript to sign")
	}
	ca.sigHash.Write((&handshake.ClientKeyExchange{Body: cke}).Marshal())
	sig, err := signDigest(s, cc.key, st.version, ca.certType, ca.sigScheme, ca.sigHash.Sum(nil))
	ca.sigHash = nil
	if err != nil {
		// The key may be remote (an HSM): say which device, never the bytes.
		s.log.Error("offloader: client certificate signature", "device", dev.ID, "err", err)
		return opErr(wire.StatusInternal, "client certificate signature failed")
	}
	cv := (&handshake.CertificateVerify{Version: st.version, SignatureAlgorithm: ca.sigScheme, Signature: sig}).Marshal()
	if len(cv) > wire.MaxCertificateVerify {
		return opErr(wire.StatusInternal, "CertificateVerify too long")
	}
	resp.ClientCertificate = slices.Clone(cc.msg)
	resp.CertificateVerify = cv
	return nil
}

// signDigest signs a digest made with newSigHash's hash (RFC 5246 §4.7;
// RSA-PSS as RFC 8446 §4.2.3 defines rsa_pss_rsae_*: MGF1 with the same
// hash, salt as long as the hash). Before TLS 1.2: RSA PKCS #1 v1.5 over
// the bare MD5 || SHA-1 digest, ECDSA over SHA-1.
func signDigest(s *Server, key crypto.Signer, version uint16, certType uint8, scheme uint16, digest []byte) ([]byte, error) {
	if version < handshake.VersionTLS12 {
		var opts crypto.SignerOpts = crypto.SHA1
		if certType == certTypeRSASign {
			opts = crypto.MD5SHA1
		}
		return key.Sign(s.rand(), digest, opts)
	}
	i := sigSchemeIndex(scheme)
	if i < 0 {
		return nil, errors.New("offloader: unknown signature algorithm")
	}
	sc := sigSchemes[i]
	var opts crypto.SignerOpts = sc.hash
	if sc.kind == sigPSS {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: sc.hash}
	}
	return key.Sign(s.rand(), digest, opts)
}

// checkClientMessages checks the Key request's client messages: empty, or
// byte for byte the Certificate message Auth chose (the offloader already
// put that message in the session hash; it needs nothing from the device).
func checkClientMessages(st *hsState, msgs []byte) *wire.Error {
	if len(msgs) == 0 {
		return nil
	}
	if len(msgs) > wire.MaxTranscript {
		return malformed("client messages too long")
	}
	if st.clientAuth.mode == clientAuthNone {
		return malformed("client messages: the server requested no certificate")
	}
	if sha256.Sum256(msgs) != st.clientAuth.certDigest {
		return malformed("client messages differ from the Certificate the offloader chose")
	}
	return nil
}
