package server

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// synth builds a server flight by hand, signed with a test leaf's key, for
// the cases no well-behaved server produces.
type synth struct {
	suite        uint16
	chGroups     []uint16
	chSigs       []uint16
	chEMS, shEMS bool
	chVersion    uint16 // 0: TLS 1.2
	shVersion    uint16 // 0: TLS 1.2
	shSuite      uint16 // 0: suite
	chain        [][]byte
	ske          bool
	group        uint16
	sigAlg       uint16
	signer       crypto.Signer
	signOpts     crypto.SignerOpts
	certRequest  bool
	name         string  // ClientHello server_name; "": testHost
	chStatus     bool    // the ClientHello offers status_request (RFC 6066 §8)
	shStatus     bool    // the ServerHello echoes it
	status       []byte  // a whole CertificateStatus message after the Certificate; nil: none
	shPoints     []uint8 // the ServerHello's ec_point_formats; nil: none
}

// statusRequestBody is a ClientHello's status_request: ocsp, no responder
// ids, no request extensions.
var statusRequestBody = []byte{1, 0, 0, 0, 0}

// stapling has the hellos negotiate status_request and the server staple
// resp (a DER OCSPResponse).
func (o *synth) stapling(resp []byte) {
	o.chStatus, o.shStatus = true, true
	o.status = (&handshake.CertificateStatus{OCSPResponse: resp}).Marshal()
}

func (o synth) transcript(t testing.TB) []byte {
	t.Helper()
	ch := &handshake.ClientHello{
		Version: cmp.Or(o.chVersion, handshake.VersionTLS12), Random: randBytes(32), CipherSuites: []uint16{o.suite},
		ServerName: cmp.Or(o.name, testHost), SupportedGroups: o.chGroups, SignatureAlgorithms: o.chSigs, ExtendedMasterSecret: o.chEMS,
	}
	if o.chStatus {
		ch.Extra = []handshake.Extension{{Type: handshake.ExtStatusRequest, Data: statusRequestBody}}
	}
	sh := &handshake.ServerHello{Version: o.shVersion, Random: randBytes(32), CipherSuite: o.shSuite, ExtendedMasterSecret: o.shEMS,
		OCSPStapling: o.shStatus, PointFormats: o.shPoints}
	if sh.Version == 0 {
		sh.Version = handshake.VersionTLS12
	}
	if sh.CipherSuite == 0 {
		sh.CipherSuite = o.suite
	}
	out := append(ch.Marshal(), sh.Marshal()...)
	out = append(out, (&handshake.Certificate{Certificates: o.chain}).Marshal()...)
	out = append(out, o.status...)
	if o.ske {
		curve := map[uint16]ecdh.Curve{handshake.GroupX25519: ecdh.X25519(), handshake.GroupP256: ecdh.P256(), handshake.GroupP384: ecdh.P384(), handshake.GroupP521: ecdh.P521()}[o.group]
		k, err := curve.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		point := k.PublicKey().Bytes()
		h := o.signOpts.HashFunc().New()
		h.Write(ch.Random)
		h.Write(sh.Random)
		h.Write(handshake.ECDHEParamsToSign(o.group, point))
		sig, err := o.signer.Sign(rand.Reader, h.Sum(nil), o.signOpts)
		if err != nil {
			t.Fatal(err)
		}
		body := (&handshake.ECDHEParams{Group: o.group, PublicKey: point, SignatureAlgorithm: o.sigAlg, Signature: sig}).Marshal(handshake.VersionTLS12)
		out = append(out, (&handshake.ServerKeyExchange{Body: body}).Marshal()...)
	}
	if o.certRequest {
		cr := &handshake.CertificateRequest{CertificateTypes: []uint8{1}, SignatureAlgorithms: []uint16{handshake.SigRSAPKCS1SHA256}}
		out = append(out, cr.Marshal()...)
	}
	return append(out, (&handshake.ServerHelloDone{}).Marshal()...)
}

func TestSynthesizedFlights(t *testing.T) {
	fx := newFixture(t, nil)
	rsaLeaf := testLeaf(t, testpki.RSA2048, testpki.Good)
	ecLeaf := testLeaf(t, testpki.ECDSAP256, testpki.Good)
	allSigs := []uint16{handshake.SigRSAPKCS1SHA256, handshake.SigECDSAP256SHA256, handshake.SigRSAPKCS1SHA1, handshake.SigRSAPSSRSAESHA256}
	good := synth{
		suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, chGroups: []uint16{handshake.GroupX25519}, chSigs: allSigs,
		chain: rsaLeaf.Chain, ske: true, group: handshake.GroupX25519, sigAlg: handshake.SigRSAPKCS1SHA256,
		signer: rsaLeaf.Key, signOpts: crypto.SHA256,
	}
	with := func(f func(*synth)) synth { o := good; f(&o); return o }
	cases := []struct {
		name   string
		o      synth
		status wire.Status
		reason wire.Reason
	}{
		{"well formed", good, wire.StatusOK, 0},
		{"with CertificateRequest", with(func(o *synth) { o.certRequest = true }), wire.StatusOK, 0},
		{"EMS on both sides", with(func(o *synth) { o.chEMS, o.shEMS = true, true }), wire.StatusOK, 0},
		{"PSS", with(func(o *synth) {
			o.sigAlg, o.signOpts = handshake.SigRSAPSSRSAESHA256, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
		}), wire.StatusOK, 0},
		{"ECDSA leaf for ECDHE_RSA", with(func(o *synth) {
			o.chain, o.signer, o.sigAlg = ecLeaf.Chain, ecLeaf.Key, handshake.SigECDSAP256SHA256
		}), wire.StatusInvalidCertificate, wire.ReasonKeyUsage},
		{"RSA leaf for ECDHE_ECDSA", with(func(o *synth) { o.suite = handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 }), wire.StatusInvalidCertificate, wire.ReasonKeyUsage},
		{"ECDSA leaf for RSA key exchange", with(func(o *synth) {
			o.suite, o.ske, o.chain = handshake.TLS_RSA_WITH_AES_128_GCM_SHA256, false, ecLeaf.Chain
		}), wire.StatusInvalidCertificate, wire.ReasonKeyUsage},
		{"no certificate", with(func(o *synth) { o.chain = nil }), wire.StatusInvalidCertificate, wire.ReasonNoCertificate},
		{"RSA signature labelled ECDSA", with(func(o *synth) { o.sigAlg = handshake.SigECDSAP256SHA256 }), wire.StatusBadSignature, 0},
		{"SHA-1 signature", with(func(o *synth) { o.sigAlg, o.signOpts = handshake.SigRSAPKCS1SHA1, crypto.SHA1 }), wire.StatusUnsupported, 0},
		{"signature algorithm not offered", with(func(o *synth) { o.chSigs = []uint16{handshake.SigRSAPSSRSAESHA256} }), wire.StatusIllegalParameter, 0},
		{"group not offered", with(func(o *synth) { o.group = handshake.GroupP256 }), wire.StatusIllegalParameter, 0},
		{"P-521 offered and chosen", with(func(o *synth) {
			o.chGroups, o.group = []uint16{handshake.GroupP521}, handshake.GroupP521
		}), wire.StatusUnsupported, 0},
		{"TLS 1.1 beyond the device's policy", with(func(o *synth) { o.shVersion = handshake.VersionTLS11 }), wire.StatusPolicyDenied, 0},
		{"TLS 1.3", with(func(o *synth) { o.shVersion = handshake.VersionTLS13 }), wire.StatusUnsupported, 0},
		{"suite not offered", with(func(o *synth) { o.shSuite = handshake.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 }), wire.StatusIllegalParameter, 0},
		{"version above the ClientHello's", with(func(o *synth) { o.chVersion = handshake.VersionTLS11 }), wire.StatusIllegalParameter, 0},
		{"EMS not offered", with(func(o *synth) { o.shEMS = true }), wire.StatusMalformed, 0},
		{"ServerKeyExchange with RSA key exchange", with(func(o *synth) { o.suite = handshake.TLS_RSA_WITH_AES_128_GCM_SHA256 }), wire.StatusMalformed, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := fx.srv.Do(context.Background(), testDevice, pipelined(c.o.transcript(t)))
			if c.status == wire.StatusOK {
				checkOK(t, resp)
				return
			}
			e := checkStatus(t, resp, 0, c.status)
			if e.Reason != c.reason {
				t.Fatalf("reason %v (%q), want %v", e.Reason, e.Detail, c.reason)
			}
		})
	}
}

// The ClientKeyExchange body is the RFC's encoding for each key exchange,
// and the RSA premaster decrypts to client_version || 46 random bytes.
func TestClientKeyExchangeBodies(t *testing.T) {
	fx := newFixture(t, nil)
	rsaLeaf := testLeaf(t, testpki.RSA2048, testpki.Good)
	o := synth{suite: handshake.TLS_RSA_WITH_AES_128_GCM_SHA256, chain: rsaLeaf.Chain}
	resp := fx.srv.Do(context.Background(), testDevice, pipelined(o.transcript(t)))
	checkOK(t, resp)
	cke := resp.Results[1].Body.(*wire.KeyGenResponse).ClientKeyExchange
	ct, err := handshake.ParseRSAClientKeyExchange(cke)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := rsaLeaf.Key.(*rsa.PrivateKey).Decrypt(rand.Reader, ct, &rsa.PKCS1v15DecryptOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pm) != 48 || pm[0] != 3 || pm[1] != 3 {
		t.Fatalf("premaster %d bytes, version %x", len(pm), pm[:2])
	}

	for _, g := range []uint16{handshake.GroupX25519, handshake.GroupP256, handshake.GroupP384} {
		o := synth{
			suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, chGroups: []uint16{g}, chSigs: []uint16{handshake.SigRSAPKCS1SHA256},
			chain: rsaLeaf.Chain, ske: true, group: g, sigAlg: handshake.SigRSAPKCS1SHA256, signer: rsaLeaf.Key, signOpts: crypto.SHA256,
		}
		resp := fx.srv.Do(context.Background(), testDevice, pipelined(o.transcript(t)))
		checkOK(t, resp)
		point, err := handshake.ParseECDHEClientKeyExchange(resp.Results[1].Body.(*wire.KeyGenResponse).ClientKeyExchange)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := groupCurve(g).NewPublicKey(point); err != nil {
			t.Fatalf("group %d: the client point is not on the curve: %v", g, err)
		}
	}
}
