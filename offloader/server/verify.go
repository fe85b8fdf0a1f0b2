package server

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"slices"

	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// What Auth checks of the server beyond the hellos, in this order (a
// server with several defects always gets the same answer):
//
//  1. the ServerHello's extensions that bear on verification
//     (checkServerExtensions): status_request only if offered, a
//     CertificateStatus only after it, "uncompressed" among the point
//     formats;
//  2. the chain (verifyChain, ops.go): certs.Verifier under the device's
//     profile and pins, then its LeafPins;
//  3. revocation (checkRevocation): the stapled OCSP response and the
//     device's CRLs against the verified path, must-staple included;
//  4. what the leaf's key may do in this key exchange (checkKeyUse):
//     keyUsage and, for ECDSA, the curve among the offered groups.
//
// Then the ServerKeyExchange signature (checkECDHE), which 4 lets run only
// under a key allowed to sign. Every certificate refusal travels to the
// device as StatusInvalidCertificate with certs' reason and its detail
// (the certificate at fault and why), and is logged with the rule.

// uncompressedPoint is the ec_point_formats value every party must
// support (RFC 8422 §5.1.2).
const uncompressedPoint = 0

// checkServerExtensions checks the ServerHello's status_request and
// ec_point_formats, and that a CertificateStatus came only where the
// hellos allow one (RFC 6066 §8).
func checkServerExtensions(fl *serverFlight) *wire.Error {
	offered := slices.Contains(fl.ch.ExtensionTypes(), handshake.ExtStatusRequest)
	if fl.sh.OCSPStapling && !offered {
		return illegal("ServerHello status_request was not offered")
	}
	if fl.status != nil && !fl.sh.OCSPStapling {
		return illegal("CertificateStatus without status_request in the ServerHello")
	}
	// RFC 8422 §5.1.2: a server that sends the extension lists
	// "uncompressed"; BoringSSL refuses a list without it, with
	// illegal_parameter. The parser refuses an empty list.
	if len(fl.sh.PointFormats) > 0 && !slices.Contains(fl.sh.PointFormats, uncompressedPoint) {
		return illegal("ServerHello ec_point_formats lacks uncompressed")
	}
	return nil
}

// checkRevocation checks the verified path against the OCSP response the
// server stapled (nil: none) and the device's CRLs. A device that skips
// verification has no verified path: nothing is checked.
func (s *Server) checkRevocation(dev *Device, path []*x509.Certificate, status *handshake.CertificateStatus) *wire.Error {
	if dev.InsecureSkipVerify {
		return nil
	}
	var staple []byte
	if status != nil {
		staple = status.OCSPResponse
	}
	if err := s.staples.CheckRevocation(path, staple, dev.CRLs, s.now()); err != nil {
		return s.certRefusal(dev, err)
	}
	return nil
}

// checkKeyUse refuses a leaf whose key usage does not allow what its key
// does in the negotiated key exchange (every version, every profile,
// verified or not: OpenSSL and BoringSSL check it with verification off
// too), and an ECDSA leaf on a curve the ClientHello did not offer (RFC
// 8422 §5.3, and RFC 4492 §5.3 before TLS 1.2).
func (s *Server) checkKeyUse(dev *Device, suite *handshake.Suite, ch *handshake.ClientHello, leaf *x509.Certificate) *wire.Error {
	// The key's type first: a usage is meaningless for a key that cannot
	// do the job at all.
	_, isRSA := leaf.PublicKey.(*rsa.PublicKey)
	_, isECDSA := leaf.PublicKey.(*ecdsa.PublicKey)
	var kx certs.KeyExchange
	switch suite.KeyExchange {
	case handshake.KeyExchangeRSA:
		if !isRSA {
			return keyTypeRefusal("RSA key exchange needs an RSA certificate")
		}
		kx = certs.KeyExchangeRSA
	case handshake.KeyExchangeECDHERSA:
		if !isRSA {
			return keyTypeRefusal("ECDHE_RSA needs an RSA certificate")
		}
		kx = certs.KeyExchangeSigned
	case handshake.KeyExchangeECDHEECDSA:
		if !isECDSA {
			return keyTypeRefusal("ECDHE_ECDSA needs an ECDSA certificate")
		}
		kx = certs.KeyExchangeSigned
	default:
		return opErr(wire.StatusUnsupported, "unsupported key exchange")
	}
	if err := certs.CheckKeyUsage(leaf, kx); err != nil {
		return s.certRefusal(dev, err)
	}
	if err := certs.CheckCurve(leaf, ch.SupportedGroups); err != nil {
		return s.certRefusal(dev, err)
	}
	return nil
}

func keyTypeRefusal(detail string) *wire.Error {
	return &wire.Error{Status: wire.StatusInvalidCertificate, Reason: wire.ReasonKeyUsage, Detail: detail}
}

// certRefusal turns a refusal of package certs into the device's answer:
// StatusInvalidCertificate, the same reason, and certs' detail. The rule,
// finer than the reason, is logged for the operator. Any other error is
// the offloader's own.
func (s *Server) certRefusal(dev *Device, err error) *wire.Error {
	var ce *certs.Error
	if !errors.As(err, &ce) {
		s.log.Error("offloader: certificate verification", "device", dev.ID, "err", err)
		return opErr(wire.StatusInternal, "certificate verification failed")
	}
	d := ce.Detail
	if d == "" {
		d = ce.Reason.String()
	}
	s.log.Info("offloader: server certificate refused", "device", dev.ID,
		"reason", ce.Reason.String(), "rule", ce.Rule.String(), "detail", d)
	e := opErr(wire.StatusInvalidCertificate, d)
	e.Reason = wire.Reason(ce.Reason)
	return e
}
