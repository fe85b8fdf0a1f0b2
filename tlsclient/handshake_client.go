package tlsclient

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"slices"
	"strconv"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/record"
)

// clientHandshakeState is one full TLS 1.2 handshake (RFC 5246 §7.3), run
// once per Conn. Its methods follow the message sequence:
//
//	start                 Offloader.Start: what the ClientHello may offer
//	sendClientHello       ClientHello                     →
//	readServerHello       ←  ServerHello
//	readServerFlight      ←  Certificate, CertificateStatus*, ServerKeyExchange*, CertificateRequest*, ServerHelloDone
//	offload               Offloader.KeyExchange: verdict, ClientKeyExchange, keys
//	sendClientFlight      Certificate*, ClientKeyExchange, ChangeCipherSpec, Finished →
//	readSessionTicket     ←  NewSessionTicket*
//	readFinished          ←  ChangeCipherSpec, Finished
//
// The device parses no certificate and performs no public-key operation:
// the raw server messages go to the offloader.
type clientHandshakeState struct {
	helloRequests int // ignored so far (readHandshake)

	c          *Conn
	ctx        context.Context
	config     *Config
	serverName string // as configured; verifyName / sniName derive from it

	// Set by start and sendClientHello.
	params  Offer // the Config's lists as far as Start allows them
	hello   *handshake.ClientHello
	offered []uint16 // extension types actually sent

	// Set by readServerHello.
	serverHello *handshake.ServerHello
	suite       *handshake.Suite

	// The transcript: hashed as it goes (Finished), and kept whole from
	// ClientHello through ServerHelloDone (the offloader's Auth input).
	transcript handshake.Transcript
	raw        []byte
	rawBox     *[]byte // raw's pool handle (footprint.go)

	// Set by readServerFlight.
	chain         [][]byte // DER as presented, leaf first; parsed only on demand
	stapled       bool     // a CertificateStatus came
	curve         uint16
	certRequested bool
	certRequest   *handshake.CertificateRequest // when certRequested

	// Set by offload; master and keyBlock are zeroed once used.
	verifiedChain [][]byte
	ckeBody       []byte
	clientCertMsg []byte // the offloader's answer to a CertificateRequest (clientcert.go)
	certVerifyMsg []byte
	master        []byte
	keyBlock      []byte

	clientFinished []byte

	res resumeState // session resumption (resume.go)
}

func (hs *clientHandshakeState) handshake() error {
	if err := hs.start(); err != nil {
		return err
	}
	hs.loadSession()
	if err := hs.sendClientHello(); err != nil {
		return err
	}
	if err := hs.readServerHello(); err != nil {
		return err
	}
	if err := hs.checkMaxFragment(); err != nil {
		return err
	}
	if hs.serverResumes() {
		return hs.resumeHandshake()
	}
	if err := hs.readServerFlight(); err != nil {
		return err
	}
	if err := hs.offload(); err != nil {
		return err
	}
	defer clear(hs.master)
	if err := hs.sendClientFlight(); err != nil {
		return err
	}
	if err := hs.readSessionTicket(); err != nil {
		return err
	}
	if err := hs.readFinished(); err != nil {
		return err
	}
	hs.saveSession()
	if hs.config.Trace != nil {
		hs.config.trace("tls: handshake complete: %s", hs.suite.Name)
	}
	return nil
}

// start gets what the ClientHello may offer: from the Start the Dialer
// found cached or ran while dialling, or from Offloader.Start.
func (hs *clientHandshakeState) start() (err error) {
	c := hs.c
	switch {
	case c.startReady != nil:
		r := c.startReady
		c.startReady = nil
		hs.params, err = r.params, r.err
	case c.pendingStart != nil:
		ch := c.pendingStart
		c.pendingStart = nil
		select {
		case r := <-ch:
			hs.params, err = r.params, r.err
		case <-hs.ctx.Done():
			err = hs.ctx.Err()
		}
	default:
		hs.params, err = hs.config.start(hs.ctx, hs.serverName)
	}
	return err
}

func (hs *clientHandshakeState) sendClientHello() error {
	random := make([]byte, 32)
	if _, err := io.ReadFull(hs.config.rand(), random); err != nil {
		return wrapf("tlsclient: reading random", err)
	}
	hello := &handshake.ClientHello{
		Version:              hs.helloVersion(),
		Random:               random,
		SessionID:            []byte{},
		CipherSuites:         hs.params.CipherSuites,
		CompressionMethods:   []uint8{0},
		ServerName:           sniName(hs.serverName),
		SupportedGroups:      hs.params.Groups,
		PointFormats:         []uint8{0}, // uncompressed (RFC 8422 §5.1.2)
		SignatureAlgorithms:  hs.params.SignatureAlgorithms,
		ALPNProtocols:        hs.config.NextProtos,
		ExtendedMasterSecret: true,
		SecureRenegotiation:  true,
		RenegotiationInfo:    []byte{},
		TicketSupported:      true,
		OCSPStapling:         !hs.config.DisableStatusRequest,
	}
	if hello.Version < handshake.VersionTLS12 {
		hello.SignatureAlgorithms = nil // a TLS 1.2 extension (RFC 5246 §7.4.1.4.1)
	}
	if err := hs.offerSession(hello); err != nil {
		return err
	}
	if err := hs.offerMaxFragment(hello); err != nil {
		return err
	}
	if hs.config.ShapeClientHello != nil {
		if err := hs.config.ShapeClientHello(hello); err != nil {
			return wrapf("tlsclient: ShapeClientHello", err)
		}
		if len(hello.Random) != 32 || len(hello.CipherSuites) == 0 {
			return errors.New("tlsclient: ShapeClientHello left no random or no cipher suite")
		}
	}
	msg, err := hello.MarshalChecked()
	if err != nil {
		return wrapf("tlsclient: building ClientHello", err)
	}
	hs.hello = hello
	hs.offered = hello.ExtensionTypes() // from the fields: nothing encoded again; a few, so a slice, not a map
	hs.writeTranscript(msg)
	if err := hs.c.rc.WriteRecords(record.TypeHandshake, msg); err != nil {
		return wrapf("tlsclient: writing ClientHello", err)
	}
	if err := hs.c.rc.Flush(); err != nil {
		return wrapf("tlsclient: writing ClientHello", err)
	}
	if hs.config.Trace != nil {
		hs.config.trace("tls: ClientHello sent (%d suites, SNI %q)", len(hello.CipherSuites), hello.ServerName)
	}
	return nil
}

func (hs *clientHandshakeState) readServerHello() error {
	msg, err := hs.readHandshake(handshake.TypeServerHello)
	if err != nil {
		return err
	}
	sh := new(handshake.ServerHello)
	if err := sh.Unmarshal(msg); err != nil {
		return hs.decodeFailure("ServerHello", err)
	}
	hs.serverHello = sh
	hs.writeTranscript(msg)
	return hs.processServerHello()
}

// processServerHello checks the ServerHello against what was offered
// (RFC 5246 §7.4.1.3, RFC 8446 §4.1.3, RFC 5746 §3.4, RFC 7301 §3.1).
func (hs *clientHandshakeState) processServerHello() error {
	sh := hs.serverHello
	if err := hs.refuseGREASEServerHello(); err != nil {
		return err
	}
	if err := hs.checkServerVersion(); err != nil {
		return err
	}
	hs.suite = handshake.SuiteByID(sh.CipherSuite)
	if hs.suite == nil || !slices.Contains(hs.hello.CipherSuites, sh.CipherSuite) {
		return hs.fail(record.AlertIllegalParameter, "server chose cipher suite "+hex16(sh.CipherSuite)+", which was not offered", nil)
	}
	if err := hs.checkSuiteVersion(); err != nil {
		return err
	}
	if sh.CompressionMethod != 0 {
		return hs.fail(record.AlertIllegalParameter, "server chose a compression method", nil)
	}
	seen := make(map[uint16]bool, len(sh.Extensions))
	for _, t := range sh.Extensions {
		if !slices.Contains(hs.offered, t) {
			return hs.fail(record.AlertUnsupportedExtension, "server sent extension "+strconv.Itoa(int(t))+", which was not offered", nil)
		}
		if seen[t] {
			return hs.fail(record.AlertIllegalParameter, "server sent extension "+strconv.Itoa(int(t))+" twice", nil)
		}
		seen[t] = true
	}
	if sh.SecureRenegotiation && len(sh.RenegotiationInfo) != 0 {
		return hs.fail(record.AlertHandshakeFailure, "server sent a non-empty renegotiation_info on an initial handshake", nil)
	}
	if sh.ALPNProtocol != "" && !slices.Contains(hs.hello.ALPNProtocols, sh.ALPNProtocol) {
		return hs.fail(record.AlertIllegalParameter, "server chose an application protocol that was not offered", nil)
	}
	if sh.MaxFragmentLength != 0 {
		if sh.MaxFragmentLength != hs.hello.MaxFragmentLength {
			return hs.fail(record.AlertIllegalParameter, "server echoed another max_fragment_length", nil)
		}
		hs.c.rc.SetMaxFragment(256 << sh.MaxFragmentLength) // RFC 6066 §4: 2^(8+code)
	}
	hs.c.rc.SetVersion(sh.Version)
	hs.transcript.SetSuite(hs.suite, sh.Version)
	if hs.config.Trace != nil {
		hs.config.trace("tls: ServerHello: %s, %s, extended master secret %v", versionName(sh.Version), hs.suite.Name, sh.ExtendedMasterSecret)
	}
	return nil
}

// downgraded applies RFC 8446 §4.1.3 for a client whose highest version is
// max: the server random must not carry the sentinel of a version below
// one the client supports.
func downgraded(max, negotiated uint16, random []byte) bool {
	if len(random) != 32 {
		return false
	}
	tail := string(random[24:])
	if max >= handshake.VersionTLS13 && negotiated == handshake.VersionTLS12 && tail == string(handshake.DowngradeTLS12) {
		return true
	}
	if max >= handshake.VersionTLS12 && negotiated < handshake.VersionTLS12 &&
		(tail == string(handshake.DowngradeTLS11) || (max >= handshake.VersionTLS13 && tail == string(handshake.DowngradeTLS12))) {
		return true
	}
	return false
}

// readServerFlight reads Certificate, CertificateStatus (only where the
// ServerHello echoed status_request), ServerKeyExchange (ECDHE suites
// only), an optional CertificateRequest and ServerHelloDone (RFC 5246
// §7.3, RFC 6066 §8), keeping them raw for the offloader.
func (hs *clientHandshakeState) readServerFlight() error {
	msg, err := hs.readHandshake(handshake.TypeCertificate)
	if err != nil {
		return err
	}
	cert := new(handshake.Certificate)
	if err := cert.Unmarshal(msg); err != nil {
		return hs.decodeFailure("Certificate", err)
	}
	hs.chain = cert.Certificates
	hs.writeTranscript(msg)

	// What may follow the Certificate: the key exchange's next message,
	// and first a CertificateStatus where status_request was echoed (a
	// server may still not staple). processServerHello refused an echo of
	// an extension that was not offered; anywhere else a CertificateStatus
	// is an unexpected_message.
	next := []uint8{handshake.TypeServerKeyExchange}
	if hs.suite.KeyExchange == handshake.KeyExchangeRSA {
		next = []uint8{handshake.TypeCertificateRequest, handshake.TypeServerHelloDone}
	}
	if hs.serverHello.OCSPStapling {
		msg, err = hs.readHandshake(append(next, handshake.TypeCertificateStatus)...)
		if err != nil {
			return err
		}
		if msg[0] == handshake.TypeCertificateStatus {
			if err := hs.processCertificateStatus(msg); err != nil {
				return err
			}
			msg, err = hs.readHandshake(next...)
		}
	} else {
		msg, err = hs.readHandshake(next...)
	}
	if err != nil {
		return err
	}
	if hs.suite.KeyExchange != handshake.KeyExchangeRSA {
		if err := hs.processServerKeyExchange(msg); err != nil {
			return err
		}
		msg, err = hs.readHandshake(handshake.TypeCertificateRequest, handshake.TypeServerHelloDone)
		if err != nil {
			return err
		}
	}

	if msg[0] == handshake.TypeCertificateRequest {
		cr := &handshake.CertificateRequest{Version: hs.version()}
		if err := cr.Unmarshal(msg); err != nil {
			return hs.decodeFailure("CertificateRequest", err)
		}
		hs.certRequested = true
		hs.certRequest = cr
		hs.writeTranscript(msg)
		if msg, err = hs.readHandshake(handshake.TypeServerHelloDone); err != nil {
			return err
		}
	}
	done := new(handshake.ServerHelloDone)
	if err := done.Unmarshal(msg); err != nil {
		return hs.decodeFailure("ServerHelloDone", err)
	}
	hs.writeTranscript(msg)
	if hs.config.Trace != nil {
		hs.config.trace("tls: server flight: %d certificates, OCSP stapled %v, certificate requested %v", len(hs.chain), hs.stapled, hs.certRequested)
	}
	return nil
}

// processCertificateStatus checks a CertificateStatus parses (an OCSP
// response, RFC 6066 §8) and keeps it in the transcript: the offloader
// judges the response itself, and it is part of what Finished covers.
func (hs *clientHandshakeState) processCertificateStatus(msg []byte) error {
	if err := new(handshake.CertificateStatus).Unmarshal(msg); err != nil {
		return hs.decodeFailure("CertificateStatus", err)
	}
	hs.stapled = true
	hs.writeTranscript(msg)
	return nil
}

// processServerKeyExchange decodes the ECDHE parameters only to check that
// the group and signature scheme were offered; the signature itself is the
// offloader's to verify.
func (hs *clientHandshakeState) processServerKeyExchange(msg []byte) error {
	ske := new(handshake.ServerKeyExchange)
	if err := ske.Unmarshal(msg); err != nil {
		return hs.decodeFailure("ServerKeyExchange", err)
	}
	p, err := handshake.ParseECDHEParams(ske.Body, hs.version())
	if err != nil {
		return hs.decodeFailure("ServerKeyExchange", err)
	}
	if err := hs.refuseGREASEKeyExchange(p.Group, p.SignatureAlgorithm); err != nil {
		return err
	}
	if !slices.Contains(hs.hello.SupportedGroups, p.Group) {
		return hs.fail(record.AlertIllegalParameter, "server chose group "+strconv.Itoa(int(p.Group))+", which was not offered", nil)
	}
	if hs.version() >= handshake.VersionTLS12 && !slices.Contains(hs.hello.SignatureAlgorithms, p.SignatureAlgorithm) {
		return hs.fail(record.AlertIllegalParameter, "server signed with scheme "+hex16(p.SignatureAlgorithm)+", which was not offered", nil)
	}
	hs.curve = p.Group
	hs.writeTranscript(msg)
	return nil
}

// offload hands the server's flight to the offloader and keeps its answer,
// checked: a ClientKeyExchange, the answer to a CertificateRequest
// (clientcert.go), and keys of the lengths the suite needs.
func (hs *clientHandshakeState) offload() error {
	sh := hs.serverHello
	cf, err := hs.config.Offloader.KeyExchange(hs.ctx, &ServerFlight{
		ServerName:           verifyName(hs.serverName),
		Transcript:           hs.raw,
		Certificates:         hs.chain,
		Version:              sh.Version,
		CipherSuite:          sh.CipherSuite,
		ClientRandom:         hs.hello.Random,
		ServerRandom:         sh.Random,
		ExtendedMasterSecret: sh.ExtendedMasterSecret,
		Group:                hs.curve,
		CertificateRequest:   hs.certRequest,
	})
	if err != nil {
		return hs.offloadFailure(err)
	}
	if cf == nil {
		return hs.offloaderFailure(errors.New("no answer"))
	}
	hs.verifiedChain = cf.Peer.Chain
	hs.ckeBody = cf.ClientKeyExchange
	hs.master, hs.keyBlock = cf.MasterSecret, cf.KeyBlock
	if err := hs.checkOffload(cf); err != nil {
		clear(hs.master)
		clear(hs.keyBlock)
		return err
	}
	return nil
}

func (hs *clientHandshakeState) checkOffload(cf *ClientFlight) error {
	if len(hs.ckeBody) == 0 {
		return hs.offloaderFailure(errors.New("empty ClientKeyExchange"))
	}
	if err := hs.takeClientAuth(cf); err != nil {
		return err
	}
	if len(hs.master) != handshake.MasterSecretLen || len(hs.keyBlock) != hs.suite.KeyBlockLen() {
		return hs.offloaderFailure(errors.New("master secret or key block of the wrong length"))
	}
	return nil
}

// offloadFailure maps a failed KeyExchange to the alert sent and the error
// returned, as the offloader's *Refusal says: a refused certificate or
// signature is the server's fault (*CertificateError), and so is an
// illegal parameter the offloader found in the server's messages
// (*ProtocolError, illegal_parameter); a policy refusal is a
// handshake_failure, anything else an offloader that could not be used
// (*OffloaderError both).
func (hs *clientHandshakeState) offloadFailure(err error) error {
	if r, ok := errors.AsType[*Refusal](err); ok {
		switch r.Fault {
		case FaultIllegalParameter:
			if hs.config.Trace != nil {
				hs.config.trace("tls: the offloader refused the server's handshake: %v", err)
			}
			return hs.fail(record.AlertIllegalParameter, "server handshake refused by the offloader", err)
		case FaultCertificate:
			alert := certAlert(r.Reason)
			hs.c.rc.SendAlert(alert)
			if hs.config.Trace != nil {
				hs.config.trace("tls: the offloader refused the server: %v", err)
			}
			return &CertificateError{ServerName: verifyName(hs.serverName), Chain: hs.chain, Reason: r.Reason, Alert: alert, Err: err}
		case FaultPolicy:
			hs.c.rc.SendAlert(record.AlertHandshakeFailure)
			return &OffloaderError{Op: "key exchange", Err: err}
		}
	}
	return hs.offloaderFailure(err)
}

// offloaderFailure is an offloader that could not be used: internal_error
// (best effort) and *OffloaderError.
func (hs *clientHandshakeState) offloaderFailure(err error) error {
	hs.c.rc.SendAlert(record.AlertInternalError)
	return &OffloaderError{Op: "key exchange", Err: err}
}

// sendClientFlight writes the client's second flight in one transport
// write: the offloader's Certificate if one was requested,
// ClientKeyExchange, the offloader's CertificateVerify if it sent a
// certificate, ChangeCipherSpec and Finished (RFC 5246 §7.4.6-7.4.9).
func (hs *clientHandshakeState) sendClientFlight() error {
	rc := hs.c.rc
	if err := hs.writeClientCertificate(); err != nil {
		return err
	}
	cke := (&handshake.ClientKeyExchange{Body: hs.ckeBody}).Marshal()
	hs.transcript.Write(cke)
	if err := rc.WriteRecords(record.TypeHandshake, cke); err != nil {
		return wrapf("tlsclient: writing ClientKeyExchange", err)
	}
	if err := hs.writeCertificateVerify(); err != nil {
		return err
	}

	writeCipher, readCipher, err := hs.ciphers()
	if err != nil {
		return err
	}
	rc.PrepareWrite(writeCipher)
	if err := rc.WriteChangeCipherSpec(); err != nil {
		return wrapf("tlsclient: writing ChangeCipherSpec", err)
	}
	verify := hs.finishedVerifyData(true)
	fin := (&handshake.Finished{VerifyData: verify}).Marshal()
	hs.transcript.Write(fin)
	hs.clientFinished = verify
	if err := rc.WriteRecords(record.TypeHandshake, fin); err != nil {
		return wrapf("tlsclient: writing Finished", err)
	}
	if err := rc.Flush(); err != nil {
		return wrapf("tlsclient: writing client flight", err)
	}
	rc.PrepareRead(readCipher)
	return nil
}

// ciphers builds both directions' record protection from the key block
// (RFC 5246 §6.3), handing each cipher copies of its slices, and zeroes the
// key block.
func (hs *clientHandshakeState) ciphers() (write, read record.Cipher, err error) {
	defer clear(hs.keyBlock)
	cmac, smac, ckey, skey, civ, siv := hs.suite.Keys(hs.keyBlock)
	cp := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		return append([]byte(nil), b...)
	}
	if hs.suite.MACLen == 0 {
		// AEAD: record.NewAESGCM and NewChaCha20Poly1305 keep no reference
		// to their key or IV, so the key block's own slices will do.
		cp = func(b []byte) []byte { return b }
	}
	write, err = hs.suite.NewCipher(hs.serverHello.Version, cp(cmac), cp(ckey), cp(civ))
	if err == nil {
		read, err = hs.suite.NewCipher(hs.serverHello.Version, cp(smac), cp(skey), cp(siv))
	}
	if err != nil {
		hs.c.rc.SendAlert(record.AlertInternalError)
		return nil, nil, errors.New("tlsclient: building the record ciphers failed")
	}
	return write, read, nil
}

// readSessionTicket reads the NewSessionTicket a server that echoed
// session_ticket sends before its ChangeCipherSpec (RFC 5077 §3.3). The
// ticket is not kept yet (no resumption); it is part of the transcript.
func (hs *clientHandshakeState) readSessionTicket() error {
	if !hs.serverHello.TicketSupported {
		return nil
	}
	msg, err := hs.readHandshake(handshake.TypeNewSessionTicket)
	if err != nil {
		return err
	}
	t := new(handshake.NewSessionTicket)
	if err := t.Unmarshal(msg); err != nil {
		return hs.decodeFailure("NewSessionTicket", err)
	}
	hs.writeTranscript(msg)
	hs.res.ticket = t
	if hs.config.Trace != nil {
		hs.config.trace("tls: session ticket received (%d bytes, lifetime hint %ds)", len(t.Ticket), t.LifetimeHint)
	}
	return nil
}

// readFinished reads the server's ChangeCipherSpec and Finished and checks
// verify_data in constant time (RFC 5246 §7.4.9).
func (hs *clientHandshakeState) readFinished() error {
	typ, _, err := hs.c.rc.ReadMessage()
	if err != nil {
		return hs.readFailure("ChangeCipherSpec", err)
	}
	if typ != record.TypeChangeCipherSpec {
		return hs.fail(record.AlertUnexpectedMessage, "unexpected "+contentName(typ)+", want ChangeCipherSpec", nil)
	}
	msg, err := hs.readHandshake(handshake.TypeFinished)
	if err != nil {
		return err
	}
	fin := new(handshake.Finished)
	if err := fin.Unmarshal(msg); err != nil {
		return hs.decodeFailure("Finished", err)
	}
	want := hs.finishedVerifyData(false)
	if subtle.ConstantTimeCompare(want, fin.VerifyData) != 1 {
		return hs.fail(record.AlertDecryptError, "server Finished did not verify", nil)
	}
	hs.transcript.Write(msg) // the client's Finished follows it when resuming
	hs.res.serverFinished = fin.VerifyData
	return nil
}

// readHandshake returns the next handshake message, which must be of one
// of the types want; anything else is answered with unexpected_message. A
// HelloRequest is ignored during the handshake (RFC 5246 §7.4.1.1). The
// message aliases the record layer's buffer: it is valid until the next
// read (every handshake parser copies what it keeps).
func (hs *clientHandshakeState) readHandshake(want ...uint8) ([]byte, error) {
	for {
		typ, msg, err := hs.c.rc.ReadMessage()
		if err != nil {
			return nil, hs.readFailure(messageName(want[0]), err)
		}
		if typ != record.TypeHandshake {
			return nil, hs.fail(record.AlertUnexpectedMessage, "unexpected "+contentName(typ)+", want "+messageName(want[0]), nil)
		}
		if len(msg) == 4 && msg[0] == handshake.TypeHelloRequest && msg[1]|msg[2]|msg[3] == 0 {
			// A server has no reason to send more than one; a flood
			// would otherwise hold the handshake until its deadline.
			if hs.helloRequests++; hs.helloRequests > maxIgnoredHelloRequests {
				return nil, hs.fail(record.AlertUnexpectedMessage, "too many HelloRequests during the handshake", nil)
			}
			continue
		}
		if len(msg) < 4 || !slices.Contains(want, msg[0]) {
			got := "message"
			if len(msg) > 0 {
				got = messageName(msg[0])
			}
			return nil, hs.fail(record.AlertUnexpectedMessage, "unexpected "+got+", want "+messageName(want[0]), nil)
		}
		return msg, nil
	}
}

// maxIgnoredHelloRequests bounds the HelloRequests a handshake ignores.
const maxIgnoredHelloRequests = 16

func (hs *clientHandshakeState) writeTranscript(msg []byte) {
	hs.transcript.Write(msg)
	hs.appendRaw(msg) // footprint.go
}

// fail sends alert (best effort) and returns the error for it.
func (hs *clientHandshakeState) fail(alert record.Alert, detail string, err error) error {
	hs.c.rc.SendAlert(alert)
	return &ProtocolError{Detail: detail, Alert: &record.AlertError{Alert: alert}, Err: err}
}

// decodeFailure answers a message that did not parse: decode_error, or
// illegal_parameter where the parser says so.
func (hs *clientHandshakeState) decodeFailure(name string, err error) error {
	if _, ok := errors.AsType[*handshake.IllegalParameterError](err); ok {
		return hs.fail(record.AlertIllegalParameter, "bad "+name, err)
	}
	return hs.fail(record.AlertDecodeError, "bad "+name, err)
}

// readFailure wraps an error of the record layer, which has already sent
// any alert a local failure needs.
func (hs *clientHandshakeState) readFailure(want string, err error) error {
	if errors.Is(err, io.EOF) {
		return wrapf("tlsclient: reading "+want+": server closed the connection", io.ErrUnexpectedEOF)
	}
	return wrapf("tlsclient: reading "+want, err)
}

func messageName(t uint8) string {
	switch t {
	case handshake.TypeHelloRequest:
		return "HelloRequest"
	case handshake.TypeClientHello:
		return "ClientHello"
	case handshake.TypeServerHello:
		return "ServerHello"
	case handshake.TypeNewSessionTicket:
		return "NewSessionTicket"
	case handshake.TypeCertificate:
		return "Certificate"
	case handshake.TypeServerKeyExchange:
		return "ServerKeyExchange"
	case handshake.TypeCertificateRequest:
		return "CertificateRequest"
	case handshake.TypeServerHelloDone:
		return "ServerHelloDone"
	case handshake.TypeCertificateVerify:
		return "CertificateVerify"
	case handshake.TypeClientKeyExchange:
		return "ClientKeyExchange"
	case handshake.TypeFinished:
		return "Finished"
	case handshake.TypeCertificateStatus:
		return "CertificateStatus"
	}
	return "handshake message " + strconv.Itoa(int(t))
}

func contentName(t record.ContentType) string {
	switch t {
	case record.TypeChangeCipherSpec:
		return "ChangeCipherSpec"
	case record.TypeAlert:
		return "alert"
	case record.TypeHandshake:
		return "handshake message"
	case record.TypeApplicationData:
		return "application data"
	}
	return "record type " + strconv.Itoa(int(t))
}
