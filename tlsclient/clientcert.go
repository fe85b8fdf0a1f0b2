package tlsclient

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
	"github.com/tlsoffload/tlsoffload/record"
)

// Client certificates (RFC 5246 §7.4.6, §7.4.8). The device holds no
// certificate and no key: its offloader holds them, decides the answer to
// a CertificateRequest from the transcript Auth parses, and returns it with
// KeyGen: the whole Certificate message to send before the
// ClientKeyExchange and, when that message holds a certificate, the whole
// CertificateVerify to send after it, signed over the transcript. The
// device checks the two messages' shape and sends them as they are; the
// pipelined flight stays one round trip.
//
// The Key request carries no client messages: the offloader put the
// Certificate it chose in the extended master secret's session hash
// itself. In the sequential mode the device echoes that Certificate (or,
// facing an offloader that predates client certificates and returned none,
// the empty Certificate it then sends), which either kind of offloader
// accepts.

// emptyCertificateMsg is a Certificate message with no certificates.
var emptyCertificateMsg = []byte{handshake.TypeCertificate, 0, 0, 3, 0, 0, 0}

// keyClientMessages is the Key request's client messages in the
// sequential mode, once KeyGen answered kg.
func (hs *clientHandshakeState) keyClientMessages(kg *wire.KeyGenResponse) []byte {
	switch {
	case !hs.certRequested:
		return nil
	case kg != nil && len(kg.ClientCertificate) > 0:
		return kg.ClientCertificate
	}
	return emptyCertificateMsg
}

// takeClientAuth checks the offloader's answer to a CertificateRequest and
// keeps the messages sendClientFlight sends. pipelined says whether Key
// ran in the same flight (and so without knowing what the device sends).
func (hs *clientHandshakeState) takeClientAuth(kg *wire.KeyGenResponse, pipelined bool) error {
	bad := func(detail string) error { return hs.offloaderFailure("keygen", errors.New(detail)) }
	if !hs.certRequested {
		if kg.ClientCertificate != nil || kg.CertificateVerify != nil {
			return bad("client certificate returned, but the server asked for none")
		}
		return nil
	}
	if kg.ClientCertificate == nil {
		// An offloader that predates client certificates: send an empty
		// Certificate. Its pipelined Key hashed no Certificate into the
		// extended master secret, so the server would refuse our Finished.
		if pipelined && hs.serverHello.ExtendedMasterSecret {
			return bad("the offloader does not answer CertificateRequests, and its extended master secret omits the client Certificate")
		}
		hs.clientCertMsg, hs.certVerifyMsg = emptyCertificateMsg, nil
		return nil
	}
	var cert handshake.Certificate
	if err := cert.Unmarshal(kg.ClientCertificate); err != nil {
		return bad("client Certificate does not parse")
	}
	if len(cert.Certificates) == 0 {
		if kg.CertificateVerify != nil {
			return bad("CertificateVerify without a client certificate")
		}
		hs.clientCertMsg, hs.certVerifyMsg = kg.ClientCertificate, nil
		return nil
	}
	cv := handshake.CertificateVerify{Version: hs.serverHello.Version}
	if kg.CertificateVerify == nil || cv.Unmarshal(kg.CertificateVerify) != nil {
		return bad("client certificate without a well-formed CertificateVerify")
	}
	if hs.serverHello.Version >= handshake.VersionTLS12 && !contains(hs.certRequest.SignatureAlgorithms, cv.SignatureAlgorithm) {
		return bad(fmt.Sprintf("CertificateVerify signed with %#04x, which the server did not ask for", cv.SignatureAlgorithm))
	}
	hs.clientCertMsg, hs.certVerifyMsg = kg.ClientCertificate, kg.CertificateVerify
	hs.config.trace("offloader: answers the CertificateRequest with %d certificates", len(cert.Certificates))
	return nil
}

// writeClientCertificate writes the Certificate chosen by the offloader,
// if the server asked for one.
func (hs *clientHandshakeState) writeClientCertificate() error {
	if !hs.certRequested {
		return nil
	}
	msg := hs.clientCertMsg
	if msg == nil {
		msg = emptyCertificateMsg
	}
	return hs.writeClientMessage(msg, "Certificate")
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
		return fmt.Errorf("tlsclient: writing %s: %w", name, err)
	}
	return nil
}
