package tlsclient

import (
	"bytes"
	"errors"
	"slices"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/record"
)

// Client certificates (RFC 5246 §7.4.6, §7.4.8). The device holds no
// certificate and no key: its offloader holds them, decides the answer to
// a CertificateRequest from the transcript it parses, and returns it with
// the key exchange (ClientFlight): the whole Certificate message to send
// before the ClientKeyExchange and, when that message holds a certificate,
// the whole CertificateVerify to send after it, signed over the
// transcript. The offloader put that Certificate in the extended master
// secret's session hash itself. The device checks the two messages' shape
// and sends them as they are.

// takeClientAuth checks the offloader's answer to a CertificateRequest and
// keeps the messages sendClientFlight sends.
func (hs *clientHandshakeState) takeClientAuth(cf *ClientFlight) error {
	bad := func(detail string) error { return hs.offloaderFailure(errors.New(detail)) }
	if !hs.certRequested {
		if cf.Certificate != nil || cf.CertificateVerify != nil {
			return bad("client certificate returned, but the server asked for none")
		}
		return nil
	}
	if cf.Certificate == nil {
		return bad("no answer to the server's CertificateRequest")
	}
	var cert handshake.Certificate
	if err := cert.Unmarshal(cf.Certificate); err != nil {
		return bad("client Certificate does not parse")
	}
	if len(cert.Certificates) == 0 {
		if cf.CertificateVerify != nil {
			return bad("CertificateVerify without a client certificate")
		}
		hs.clientCertMsg, hs.certVerifyMsg = cf.Certificate, nil
		return nil
	}
	cv := handshake.CertificateVerify{Version: hs.serverHello.Version}
	if cf.CertificateVerify == nil || cv.Unmarshal(cf.CertificateVerify) != nil {
		return bad("client certificate without a well-formed CertificateVerify")
	}
	if hs.serverHello.Version >= handshake.VersionTLS12 && !slices.Contains(hs.certRequest.SignatureAlgorithms, cv.SignatureAlgorithm) {
		return bad("CertificateVerify signed with " + hex16(cv.SignatureAlgorithm) + ", which the server did not ask for")
	}
	hs.clientCertMsg, hs.certVerifyMsg = cf.Certificate, cf.CertificateVerify
	if hs.config.Trace != nil {
		hs.config.trace("tls: the offloader answers the CertificateRequest with %d certificates", len(cert.Certificates))
	}
	return nil
}

// writeClientCertificate writes the Certificate chosen by the offloader,
// if the server asked for one.
func (hs *clientHandshakeState) writeClientCertificate() error {
	if !hs.certRequested {
		return nil
	}
	return hs.writeClientMessage(hs.clientCertMsg, "Certificate")
}

// writeCertificateVerify writes the offloader's CertificateVerify, if any.
func (hs *clientHandshakeState) writeCertificateVerify() error {
	if hs.certVerifyMsg == nil {
		return nil
	}
	return hs.writeClientMessage(hs.certVerifyMsg, "CertificateVerify")
}

func (hs *clientHandshakeState) writeClientMessage(msg []byte, name string) error {
	hs.transcript.Write(msg)
	if err := hs.c.rc.WriteRecords(record.TypeHandshake, bytes.Clone(msg)); err != nil {
		return wrapf("tlsclient: writing "+name, err)
	}
	return nil
}
