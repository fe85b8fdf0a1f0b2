package server

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256" // also the PRF and transcript hashes
	_ "crypto/sha512"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// The server's capabilities, in one place: versionAllowed (versions.go:
// TLS 1.0 to 1.2, within each device's policy), suiteAllowed, groupAllowed
// and sigAllowed. Start intersects a device's offer with these; Auth
// re-checks what the server negotiated against them, so a device whose
// cached Start answer is stale cannot get past them.

// suiteAllowed accepts every row of the handshake package's suite table.
func suiteAllowed(id uint16) bool { return handshake.SuiteByID(id) != nil }

// ecdheGroup is a named group and its curve.
type ecdheGroup struct {
	id    uint16
	curve ecdh.Curve
}

// ecdheGroups are the groups KeyGen computes.
var ecdheGroups = []ecdheGroup{
	{handshake.GroupX25519, ecdh.X25519()},
	{handshake.GroupP256, ecdh.P256()},
	{handshake.GroupP384, ecdh.P384()},
}

func groupCurve(id uint16) ecdh.Curve {
	if i := slices.IndexFunc(ecdheGroups, func(g ecdheGroup) bool { return g.id == id }); i >= 0 {
		return ecdheGroups[i].curve
	}
	return nil
}

func groupAllowed(id uint16) bool { return groupCurve(id) != nil }

// sigKind is a signature algorithm's family.
type sigKind uint8

// sigScheme is a TLS 1.2 signature algorithm: its code point, family and
// hash.
type sigScheme struct {
	id   uint16
	kind sigKind
	hash crypto.Hash
}

const (
	sigPKCS1 sigKind = iota + 1
	sigPSS
	sigECDSA
)

// sigSchemes are the ServerKeyExchange signatures Auth verifies. SHA-1
// schemes are left out on purpose (RFC 9155). In TLS 1.2 an ECDSA code
// point is a {hash, ecdsa} pair that names no curve (RFC 5246 §7.4.1.4.1;
// only TLS 1.3 binds 0x0403 to P-256), and servers use it so: crypto/tls
// signs with a P-384 key under ecdsa_secp256r1_sha256 when the client lists
// that first. So the scheme fixes the hash and the leaf fixes the curve.
var sigSchemes = []sigScheme{
	{handshake.SigECDSAP256SHA256, sigECDSA, crypto.SHA256},
	{handshake.SigECDSAP384SHA384, sigECDSA, crypto.SHA384},
	{handshake.SigECDSAP521SHA512, sigECDSA, crypto.SHA512},
	{handshake.SigRSAPSSRSAESHA256, sigPSS, crypto.SHA256},
	{handshake.SigRSAPSSRSAESHA384, sigPSS, crypto.SHA384},
	{handshake.SigRSAPSSRSAESHA512, sigPSS, crypto.SHA512},
	{handshake.SigRSAPKCS1SHA256, sigPKCS1, crypto.SHA256},
	{handshake.SigRSAPKCS1SHA384, sigPKCS1, crypto.SHA384},
	{handshake.SigRSAPKCS1SHA512, sigPKCS1, crypto.SHA512},
}

// sigAllowed: what this table verifies and the handshake package offers.
func sigAllowed(id uint16) bool {
	return handshake.SupportedSignatureAlgorithm(id) && sigSchemeIndex(id) >= 0
}

func sigSchemeIndex(id uint16) int {
	return slices.IndexFunc(sigSchemes, func(s sigScheme) bool { return s.id == id })
}

// stage is how far one handshake's state has come.
type stage uint8

const (
	stageNone   stage = iota // nothing verified
	stageAuthed              // Auth accepted the server
	stageKeyGen              // the premaster exists
	stageDone                // Key derived the keys; nothing more to do
)

// hsState is one handshake's state: built by Auth, extended by KeyGen,
// consumed by Key. It lives for one flight, or travels sealed in a token
// between the sequential mode's flights.
type hsState struct {
	stage         stage
	suite         *handshake.Suite
	clientVersion uint16 // ClientHello.client_version, in the RSA premaster
	version       uint16 // the negotiated version (ServerHello.server_version)
	clientRandom  []byte
	serverRandom  []byte
	ems           bool           // both hellos carried extended_master_secret
	group         uint16         // ECDHE: the server's group
	serverPoint   []byte         // ECDHE: the server's public point
	rsaKey        *rsa.PublicKey // RSA key exchange: the verified leaf key
	transcript    hash.Hash      // ClientHello … ServerHelloDone

	// After KeyGen.
	premaster []byte
	cke       []byte // ClientKeyExchange body

	clientAuth clientAuthState // the answer to a CertificateRequest (clientcert.go)
}

// wipe zeroes the state's secret (best effort: copies made by the
// runtime or the crypto packages are out of reach).
func (st *hsState) wipe() {
	clear(st.premaster)
	st.premaster = nil
}

func opErr(status wire.Status, detail string) *wire.Error {
	if len(detail) > wire.MaxDetail {
		detail = detail[:wire.MaxDetail]
	}
	return &wire.Error{Status: status, Detail: detail}
}

func malformed(detail string) *wire.Error { return opErr(wire.StatusMalformed, detail) }

// illegal is a fault of the server's messages found in a well-formed
// request: a value the server may not send (RFC 5246 §7.2.2
// illegal_parameter). StatusMalformed stays for a request that does not
// parse, StatusPolicyDenied for what the device's policy refuses.
func illegal(detail string) *wire.Error { return opErr(wire.StatusIllegalParameter, detail) }

// Do runs one flight for an authenticated device: the transport-agnostic
// core that ServeConn calls for each frame. Requests run in order on one
// handshake state; the first failure stops the flight and the requests
// after it are answered StatusAborted. A one-request flight that leaves
// the handshake between Auth and Key (the sequential mode) is answered with
// a token carrying the state; a flight carrying a token starts from it.
func (s *Server) Do(ctx context.Context, deviceID string, f *wire.Flight) *wire.FlightResponse {
	return s.do(ctx, nil, deviceID, f, time.Time{})
}

// do is Do for a flight read at arrived (zero: it did not queue) on a
// channel of the device whose activity row is act (nil: looked up here).
func (s *Server) do(ctx context.Context, act *deviceActivity, deviceID string, f *wire.Flight, arrived time.Time) *wire.FlightResponse {
	resp := &wire.FlightResponse{}
	if f == nil {
		return resp
	}
	resp.ID = f.ID
	resp.Results = make([]wire.Result, len(f.Requests))
	if len(f.Requests) == 0 {
		return resp
	}
	if len(f.Requests) > 1 {
		s.counters.pipelined.Add(1)
	} else {
		s.counters.sequential.Add(1)
	}
	s.counters.flightsRunning.Add(1)
	defer s.counters.flightsRunning.Add(-1)
	began := time.Now()

	st := &hsState{}
	defer func() { st.wipe() }()
	var first *wire.Error // a failure before any operation, charged to the first
	dev, lerr := s.cfg.Devices.LookupDevice(deviceID)
	if lerr == nil && act == nil {
		act = s.activity.devices.row(deviceID, s.now(), false)
	}
	switch {
	case errors.Is(lerr, ErrUnknownDevice):
		first = opErr(wire.StatusAuthFailed, "unknown device")
	case lerr != nil:
		first = opErr(wire.StatusInternal, "registry unavailable")
	case len(f.Requests) > wire.MaxRequests:
		first = malformed("too many requests in one flight")
	case len(f.Token) > 0:
		var e *wire.Error
		if st, e = s.openToken(deviceID, f.HandshakeID, f.Token, channelBinding(ctx)); e != nil {
			st = &hsState{}
			first = e
		} else if e = checkStatePolicy(dev, st); e != nil {
			first = e
		}
	}

	failed, keyed := false, false
	var firstErr *wire.Error // the flight's failure, for its outcome
	for i, req := range f.Requests {
		op := opOf(req)
		begin := time.Now()
		var res wire.Result
		var e *wire.Error
		switch {
		case failed:
			e = opErr(wire.StatusAborted, "")
		case first != nil:
			e = first
		case ctx.Err() != nil:
			e = opErr(wire.StatusAborted, "canceled")
		default:
			res, e = s.runOp(dev, st, req)
		}
		if e != nil {
			if !failed {
				firstErr = e
			}
			failed = true
			e.Op = op
			res = wire.Result{Err: e}
		} else if op == wire.OpKey {
			keyed = true
		}
		resp.Results[i] = res
		s.counters.observe(op, e, time.Since(begin))
	}
	o := outcomeOK
	if firstErr != nil {
		o = errOutcome(firstErr)
	}
	s.countFlight(act, flightKind(f), arrived, began, time.Now(), o, keyed)

	if !failed && len(f.Requests) == 1 && (st.stage == stageAuthed || st.stage == stageKeyGen) &&
		(opOf(f.Requests[0]) == wire.OpAuth || opOf(f.Requests[0]) == wire.OpKeyGen) {
		tok, err := s.sealToken(deviceID, f.HandshakeID, st, channelBinding(ctx))
		if err != nil {
			s.log.Error("offloader: sealing a token", "device", deviceID, "err", err)
			resp.Results[0] = wire.Result{Err: &wire.Error{Op: opOf(f.Requests[0]), Status: wire.StatusInternal, Detail: "state does not fit a token"}}
		} else {
			resp.Token = tok
		}
	}
	return resp
}

// opOf is r's op; 0 for a nil request, which a flight passed to Do (not
// one parsed off the wire) might hold.
func opOf(r wire.Request) wire.Op {
	if r == nil {
		return 0
	}
	return r.Op()
}

// runOp runs one request, turning a panic into StatusInternal.
func (s *Server) runOp(dev *Device, st *hsState, req wire.Request) (res wire.Result, e *wire.Error) {
	defer func() {
		if r := recover(); r != nil {
			// Log what failed, never the value: it might hold request bytes.
			what := fmt.Sprintf("%T", r)
			if re, ok := r.(runtime.Error); ok {
				what = re.Error()
			}
			s.log.Error("offloader: panic in operation", "op", opLabel(opOf(req)), "device", dev.ID, "panic", what)
			res, e = wire.Result{}, opErr(wire.StatusInternal, "")
		}
	}()
	switch req := req.(type) {
	case *wire.StartRequest:
		if req == nil {
			return res, malformed("missing start body")
		}
		return result(s.start(dev, req))
	case *wire.AuthRequest:
		if req == nil {
			return res, malformed("missing auth body")
		}
		return result(s.auth(dev, st, req))
	case *wire.KeyGenRequest:
		if req == nil {
			return res, malformed("missing keygen body")
		}
		return result(s.keyGen(dev, st))
	case *wire.KeyRequest:
		if req == nil {
			return res, malformed("missing key body")
		}
		return result(s.key(st, req))
	}
	return res, malformed("unknown operation")
}

// result is an operation's answer as a Result: its body, or its error
// (and then no body, not even a typed nil one).
func result[T wire.Response](body T, e *wire.Error) (wire.Result, *wire.Error) {
	if e != nil {
		return wire.Result{}, e
	}
	return wire.Result{Body: body}, nil
}

// start intersects what the device would offer with what the server
// supports and the device's policy allows (versions, suites and their key
// exchanges: policy.go), in the device's order, for a name the policy
// allows.
func (s *Server) start(dev *Device, req *wire.StartRequest) (*wire.StartResponse, *wire.Error) {
	if !certs.MatchName(dev.AllowedNames, req.ServerName) {
		return nil, opErr(wire.StatusPolicyDenied, "server name not allowed for this device")
	}
	r := &wire.StartResponse{
		Versions:            intersect(req.Versions, dev.versionAllowed),
		Groups:              intersect(req.Groups, groupAllowed),
		SignatureAlgorithms: intersect(req.SignatureAlgorithms, sigAllowed),
		TTL:                 s.cfg.StartTTL,
	}
	if len(r.Versions) == 0 {
		if len(intersect(req.Versions, versionAllowed)) > 0 {
			return nil, opErr(wire.StatusPolicyDenied, fmt.Sprintf("no offered protocol version is allowed for this device (it allows %s)", dev.versionRange()))
		}
		return nil, opErr(wire.StatusUnsupported, "no protocol version in common")
	}
	// A suite is answered only if it may be used in one of the versions
	// answered: a device capped below TLS 1.2 gets no TLS 1.2-only suite.
	top := slices.Max(r.Versions)
	r.CipherSuites = intersect(req.CipherSuites, func(id uint16) bool {
		return dev.suiteAllowed(id) && handshake.SuiteByID(id).AllowedIn(top)
	})
	if len(r.CipherSuites) == 0 {
		switch {
		case len(intersect(req.CipherSuites, suiteAllowed)) == 0:
			return nil, opErr(wire.StatusUnsupported, "no cipher suite in common")
		case len(intersect(req.CipherSuites, dev.suiteAllowed)) == 0:
			return nil, dev.suitesDenied(req.CipherSuites)
		case top < slices.Max(intersect(req.Versions, versionAllowed)):
			return nil, opErr(wire.StatusPolicyDenied, fmt.Sprintf("no offered cipher suite is usable in %s, this device's highest version", versionName(top)))
		}
		return nil, opErr(wire.StatusUnsupported, fmt.Sprintf("no offered cipher suite is usable in %s or below", versionName(top)))
	}
	return r, nil
}

// intersect keeps the entries of list that ok accepts, in order, once each.
func intersect(list []uint16, ok func(uint16) bool) []uint16 {
	out := []uint16{}
	for _, v := range list {
		if ok(v) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// serverFlight is the transcript of an Auth request, parsed.
type serverFlight struct {
	ch     handshake.ClientHello
	sh     handshake.ServerHello
	cert   handshake.Certificate
	status *handshake.CertificateStatus  // the stapled OCSP response; nil when absent
	ske    *handshake.ServerKeyExchange  // nil when absent
	cr     *handshake.CertificateRequest // nil when absent
}

// parseTranscript splits the transcript into ClientHello, ServerHello,
// Certificate, CertificateStatus (optional: RFC 6066 §8),
// ServerKeyExchange (optional here), CertificateRequest (optional),
// ServerHelloDone and nothing else, and parses each.
func parseTranscript(b []byte) (*serverFlight, *wire.Error) {
	if len(b) > wire.MaxTranscript {
		return nil, malformed("transcript too long")
	}
	msgs, err := handshake.SplitMessages(b)
	if err != nil {
		return nil, malformed("transcript: " + err.Error())
	}
	fl := &serverFlight{}
	i := 0
	take := func(typ uint8) []byte {
		if i < len(msgs) && len(msgs[i]) > 0 && msgs[i][0] == typ {
			i++
			return msgs[i-1]
		}
		return nil
	}
	m := take(handshake.TypeClientHello)
	if m == nil {
		return nil, malformed("transcript does not start with a ClientHello")
	}
	if err := fl.ch.Unmarshal(m); err != nil {
		return nil, malformed(err.Error())
	}
	if m = take(handshake.TypeServerHello); m == nil {
		return nil, malformed("transcript: no ServerHello after the ClientHello")
	}
	if err := fl.sh.Unmarshal(m); err != nil {
		return nil, malformed(err.Error())
	}
	if m = take(handshake.TypeCertificate); m == nil {
		return nil, malformed("transcript: no Certificate after the ServerHello")
	}
	if err := fl.cert.Unmarshal(m); err != nil {
		return nil, malformed(err.Error())
	}
	if m = take(handshake.TypeCertificateStatus); m != nil {
		fl.status = new(handshake.CertificateStatus)
		if err := fl.status.Unmarshal(m); err != nil {
			return nil, malformed(err.Error())
		}
	}
	if m = take(handshake.TypeServerKeyExchange); m != nil {
		fl.ske = new(handshake.ServerKeyExchange)
		if err := fl.ske.Unmarshal(m); err != nil {
			return nil, malformed(err.Error())
		}
	}
	if m = take(handshake.TypeCertificateRequest); m != nil {
		fl.cr = &handshake.CertificateRequest{Version: fl.sh.Version}
		if err := fl.cr.Unmarshal(m); err != nil {
			return nil, malformed(err.Error())
		}
	}
	if m = take(handshake.TypeServerHelloDone); m == nil {
		return nil, malformed("transcript: unexpected message before ServerHelloDone")
	}
	var done handshake.ServerHelloDone
	if err := done.Unmarshal(m); err != nil {
		return nil, malformed(err.Error())
	}
	if i != len(msgs) {
		return nil, malformed("transcript: messages after ServerHelloDone")
	}
	return fl, nil
}

// auth verifies the server of the transcript for the device: the hellos
// agree with each other and with the device's policy, the chain verifies
// for the server name, and for ECDHE the ServerKeyExchange signature
// verifies under the leaf key. It keeps what KeyGen and Key need.
func (s *Server) auth(dev *Device, st *hsState, req *wire.AuthRequest) (*wire.AuthResponse, *wire.Error) {
	if st.stage != stageNone {
		return nil, malformed("auth already done for this handshake")
	}
	if len(req.ServerName) > wire.MaxServerName {
		return nil, malformed("server name too long")
	}
	fl, e := parseTranscript(req.Transcript)
	if e != nil {
		return nil, e
	}
	ch, sh := &fl.ch, &fl.sh

	// The name: the one the device asks about, the one its ClientHello
	// sent, and the device's policy.
	if ch.ServerName != "" && !equalFoldASCII(ch.ServerName, req.ServerName) {
		return nil, opErr(wire.StatusPolicyDenied, "ClientHello server_name differs from the requested name")
	}
	if !certs.MatchName(dev.AllowedNames, req.ServerName) {
		return nil, opErr(wire.StatusPolicyDenied, "server name not allowed for this device")
	}

	// The hellos (RFC 5246 §7.4.1.3), against what was offered and what
	// Start allows.
	if len(ch.Random) != handshake.RandomLen || len(sh.Random) != handshake.RandomLen {
		return nil, malformed("hello random is not 32 bytes")
	}
	if e := checkVersion(dev, ch, sh); e != nil {
		return nil, e
	}
	if !slices.Contains(ch.CipherSuites, sh.CipherSuite) {
		return nil, illegal("ServerHello cipher suite was not offered")
	}
	suite := handshake.SuiteByID(sh.CipherSuite)
	if suite == nil || !suiteAllowed(sh.CipherSuite) {
		return nil, opErr(wire.StatusUnsupported, "server chose an unsupported cipher suite")
	}
	if e := checkSuiteVersion(suite, sh.Version); e != nil {
		return nil, e
	}
	if e := checkSuitePolicy(dev, suite); e != nil {
		return nil, e
	}
	if sh.ExtendedMasterSecret && !ch.ExtendedMasterSecret {
		return nil, malformed("ServerHello extended_master_secret was not offered")
	}
	ecdhe := suite.KeyExchange == handshake.KeyExchangeECDHERSA || suite.KeyExchange == handshake.KeyExchangeECDHEECDSA
	switch {
	case ecdhe && fl.ske == nil:
		return nil, malformed("transcript: no ServerKeyExchange for an ECDHE suite")
	case !ecdhe && fl.ske != nil:
		return nil, malformed("transcript: ServerKeyExchange with RSA key exchange")
	}
	if e := checkServerExtensions(fl); e != nil {
		return nil, e
	}

	// The chain, its revocation, and what its key may do in this key
	// exchange (verify.go).
	chain, e := s.verifyChain(dev, fl.cert.Certificates, req.ServerName)
	if e != nil {
		return nil, e
	}
	if e := s.checkRevocation(dev, chain, fl.status); e != nil {
		return nil, e
	}
	leaf := chain[0]
	if e := s.checkKeyUse(dev, suite, ch, leaf); e != nil {
		return nil, e
	}

	next := hsState{
		stage:         stageAuthed,
		suite:         suite,
		clientVersion: ch.Version,
		version:       sh.Version,
		clientRandom:  slices.Clone(ch.Random),
		serverRandom:  slices.Clone(sh.Random),
		ems:           ch.ExtendedMasterSecret && sh.ExtendedMasterSecret,
	}
	switch suite.KeyExchange {
	case handshake.KeyExchangeRSA:
		pub, ok := leaf.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, &wire.Error{Status: wire.StatusInvalidCertificate, Reason: wire.ReasonKeyUsage, Detail: "RSA key exchange needs an RSA certificate"}
		}
		next.rsaKey = pub
	case handshake.KeyExchangeECDHERSA, handshake.KeyExchangeECDHEECDSA:
		params, err := handshake.ParseECDHEParams(fl.ske.Body, sh.Version)
		if err != nil {
			return nil, malformed(err.Error())
		}
		if e := checkECDHEVersion(sh.Version, suite, ch, sh, leaf, params); e != nil {
			return nil, e
		}
		next.group = params.Group
		next.serverPoint = slices.Clone(params.PublicKey)
	default:
		return nil, opErr(wire.StatusUnsupported, "unsupported key exchange")
	}

	next.transcript = suite.TranscriptHash(sh.Version)
	next.transcript.Write(req.Transcript)
	if fl.cr != nil {
		chooseClientAuth(dev, fl.cr, req.Transcript, &next)
	}
	*st = next

	resp := &wire.AuthResponse{VerifiedChain: make([][]byte, len(chain))}
	for i, c := range chain {
		resp.VerifiedChain[i] = c.Raw
	}
	resp.ReferPresented(fl.cert.Certificates) // the device has those: sent as indexes
	return resp, nil
}

// verifyChain runs certs.Verifier with the device's roots.
func (s *Server) verifyChain(dev *Device, chain [][]byte, serverName string) ([]*x509.Certificate, *wire.Error) {
	if len(chain) == 0 {
		return nil, &wire.Error{Status: wire.StatusInvalidCertificate, Reason: wire.ReasonNoCertificate, Detail: "the server sent no certificate"}
	}
	if len(chain) > wire.MaxChainCerts {
		return nil, &wire.Error{Status: wire.StatusInvalidCertificate, Reason: wire.ReasonMalformed, Detail: "too many certificates"}
	}
	if dev.InsecureSkipVerify {
		return presentedChain(dev, chain)
	}
	roots := dev.Roots
	if roots == nil {
		var err error
		if roots, err = x509.SystemCertPool(); err != nil {
			s.log.Error("offloader: system roots", "err", err)
			return nil, opErr(wire.StatusInternal, "no system roots")
		}
	}
	v := certs.Verifier{Roots: roots, Time: s.cfg.Time, Profile: dev.Profile, Pins: dev.Pins}
	if dev.Roots != nil { // a fixed pool: its pointer keys the cache, with the profile and pins
		v.Cache = s.verified.forDevice(dev.ID)
	}
	verified, err := v.Verify(chain, serverName)
	if err != nil {
		return nil, s.certRefusal(dev, err)
	}
	if len(verified) == 0 {
		return nil, opErr(wire.StatusInternal, "empty verified chain")
	}
	if len(verified) > wire.MaxChainCerts {
		return nil, &wire.Error{Status: wire.StatusInvalidCertificate, Reason: wire.ReasonMalformed, Detail: "verified chain too long"}
	}
	if e := checkLeafPins(dev, verified[0]); e != nil {
		return nil, e
	}
	return verified, nil
}

// presentedChain parses the chain as the server presented it, for a device
// that skips verification; the leaf pins still apply.
func presentedChain(dev *Device, chain [][]byte) ([]*x509.Certificate, *wire.Error) {
	out := make([]*x509.Certificate, len(chain))
	for i, der := range chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, &wire.Error{Status: wire.StatusInvalidCertificate, Reason: wire.ReasonMalformed, Detail: fmt.Sprintf("certificate %d does not parse", i)}
		}
		out[i] = c
	}
	if e := checkLeafPins(dev, out[0]); e != nil {
		return nil, e
	}
	return out, nil
}

// checkLeafPins refuses a leaf whose public key the device's LeafPins do
// not list.
func checkLeafPins(dev *Device, leaf *x509.Certificate) *wire.Error {
	if len(dev.LeafPins) == 0 {
		return nil
	}
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	if slices.Contains(dev.LeafPins, sum) {
		return nil
	}
	return &wire.Error{Status: wire.StatusInvalidCertificate, Reason: wire.ReasonPinMismatch, Detail: "the server's public key matches no pin"}
}

// checkECDHE checks the server's ECDHE parameters against the ClientHello
// and the server's capabilities, and verifies their signature (RFC 8422
// §5.4) under the leaf key.
func checkECDHE(suite *handshake.Suite, ch *handshake.ClientHello, sh *handshake.ServerHello, leaf *x509.Certificate, p *handshake.ECDHEParams) *wire.Error {
	if !slices.Contains(ch.SupportedGroups, p.Group) {
		return illegal("server chose a group that was not offered")
	}
	if !groupAllowed(p.Group) {
		return opErr(wire.StatusUnsupported, "server chose an unsupported group")
	}
	if !slices.Contains(ch.SignatureAlgorithms, p.SignatureAlgorithm) {
		return illegal("server chose a signature algorithm that was not offered")
	}
	i := sigSchemeIndex(p.SignatureAlgorithm)
	if i < 0 || !sigAllowed(p.SignatureAlgorithm) {
		return opErr(wire.StatusUnsupported, "server chose an unsupported signature algorithm")
	}
	scheme := sigSchemes[i]

	var rsaKey *rsa.PublicKey
	var ecKey *ecdsa.PublicKey
	switch suite.KeyExchange {
	case handshake.KeyExchangeECDHERSA:
		k, ok := leaf.PublicKey.(*rsa.PublicKey)
		if !ok {
			return &wire.Error{Status: wire.StatusInvalidCertificate, Reason: wire.ReasonKeyUsage, Detail: "ECDHE_RSA needs an RSA certificate"}
		}
		rsaKey = k
	case handshake.KeyExchangeECDHEECDSA:
		k, ok := leaf.PublicKey.(*ecdsa.PublicKey)
		if !ok {
			return &wire.Error{Status: wire.StatusInvalidCertificate, Reason: wire.ReasonKeyUsage, Detail: "ECDHE_ECDSA needs an ECDSA certificate"}
		}
		ecKey = k
	}

	h := scheme.hash.New()
	h.Write(ch.Random)
	h.Write(sh.Random)
	h.Write(p.SignedParams)
	digest := h.Sum(nil)
	bad := opErr(wire.StatusBadSignature, "ServerKeyExchange signature does not verify")
	switch scheme.kind {
	case sigPKCS1:
		if rsaKey == nil {
			return opErr(wire.StatusBadSignature, "signature algorithm does not match the certificate key")
		}
		if rsa.VerifyPKCS1v15(rsaKey, scheme.hash, digest, p.Signature) != nil {
			return bad
		}
	case sigPSS:
		if rsaKey == nil {
			return opErr(wire.StatusBadSignature, "signature algorithm does not match the certificate key")
		}
		if rsa.VerifyPSS(rsaKey, scheme.hash, digest, p.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) != nil {
			return bad
		}
	case sigECDSA:
		if ecKey == nil {
			return opErr(wire.StatusBadSignature, "signature algorithm does not match the certificate key")
		}
		if !ecdsa.VerifyASN1(ecKey, digest, p.Signature) {
			return bad
		}
	default:
		return opErr(wire.StatusUnsupported, "unsupported signature algorithm")
	}
	return nil
}

// rsaPremasterLen is the RSA key exchange's premaster: client_version and
// 46 random bytes (RFC 5246 §7.4.7.1).
const rsaPremasterLen = 48

// keyGen computes the ClientKeyExchange (RFC 5246 §7.4.7) for the server
// Auth verified: an ECDHE key pair and shared secret, or a fresh RSA
// premaster encrypted to the verified leaf key.
func (s *Server) keyGen(dev *Device, st *hsState) (*wire.KeyGenResponse, *wire.Error) {
	switch st.stage {
	case stageNone:
		return nil, malformed("keygen before a successful auth")
	case stageAuthed:
	default:
		return nil, malformed("keygen already done for this handshake")
	}
	var cke []byte
	switch st.suite.KeyExchange {
	case handshake.KeyExchangeECDHERSA, handshake.KeyExchangeECDHEECDSA:
		curve := groupCurve(st.group)
		if curve == nil {
			return nil, opErr(wire.StatusUnsupported, "unsupported group")
		}
		peer, err := curve.NewPublicKey(st.serverPoint)
		if err != nil {
			return nil, illegal("invalid server ECDHE point")
		}
		priv, err := curve.GenerateKey(s.rand())
		if err != nil {
			s.log.Error("offloader: ECDHE key generation", "err", err)
			return nil, opErr(wire.StatusInternal, "key generation failed")
		}
		shared, err := priv.ECDH(peer)
		if err != nil {
			return nil, illegal("invalid server ECDHE point")
		}
		cke = handshake.ECDHEClientKeyExchangeBody(priv.PublicKey().Bytes())
		// priv goes out of scope here: crypto/ecdh offers no way to zero it.
		st.premaster = shared
	case handshake.KeyExchangeRSA:
		if st.rsaKey == nil {
			return nil, opErr(wire.StatusInternal, "no server key")
		}
		// RFC 5246 §7.4.7.1: client_version || 46 random bytes.
		pm := make([]byte, rsaPremasterLen)
		binary.BigEndian.PutUint16(pm, st.clientVersion)
		if _, err := io.ReadFull(s.rand(), pm[2:]); err != nil {
			s.log.Error("offloader: premaster randomness", "err", err)
			return nil, opErr(wire.StatusInternal, "randomness failed")
		}
		ct, err := rsa.EncryptPKCS1v15(s.rand(), st.rsaKey, pm)
		if err != nil {
			clear(pm)
			return nil, opErr(wire.StatusInternal, "RSA encryption failed")
		}
		cke = handshake.RSAClientKeyExchangeBody(ct)
		st.premaster = pm
	default:
		return nil, opErr(wire.StatusUnsupported, "unsupported key exchange")
	}
	if cke == nil {
		st.wipe()
		return nil, opErr(wire.StatusInternal, "ClientKeyExchange too long")
	}
	resp := &wire.KeyGenResponse{ClientKeyExchange: slices.Clone(cke)}
	if e := s.answerClientAuth(dev, st, cke, resp); e != nil {
		st.wipe()
		return nil, e
	}
	st.cke = cke
	st.stage = stageKeyGen
	return resp, nil
}

// key derives the master secret (RFC 5246 §8.1, or RFC 7627 §4 when both
// hellos negotiated the extended master secret) and the key block (RFC
// 5246 §6.3), then forgets the premaster.
func (s *Server) key(st *hsState, req *wire.KeyRequest) (*wire.KeyResponse, *wire.Error) {
	switch st.stage {
	case stageNone, stageAuthed:
		return nil, malformed("key before a successful keygen")
	case stageKeyGen:
	default:
		return nil, malformed("key already derived for this handshake")
	}
	// Between ServerHelloDone and ClientKeyExchange a client sends only
	// its Certificate (RFC 5246 §7.4.6), which Auth chose and already put
	// in the transcript.
	if e := checkClientMessages(st, req.ClientMessages); e != nil {
		return nil, e
	}
	var ms []byte
	if st.ems {
		h, err := cloneTranscript(st.transcript)
		if err != nil {
			return nil, opErr(wire.StatusInternal, "transcript hash")
		}
		h.Write((&handshake.ClientKeyExchange{Body: st.cke}).Marshal())
		ms = st.suite.ExtendedMasterSecret(st.version, st.premaster, h.Sum(nil))
	} else {
		ms = st.suite.MasterSecret(st.version, st.premaster, st.clientRandom, st.serverRandom)
	}
	st.wipe()
	kb := st.suite.KeyBlock(st.version, ms, st.clientRandom, st.serverRandom)
	st.stage = stageDone
	return &wire.KeyResponse{MasterSecret: ms, KeyBlock: kb}, nil
}

// equalFoldASCII compares two host names case-insensitively, ignoring one
// trailing dot on each. ASCII only, unlike strings.EqualFold: "K" (U+212A,
// the Kelvin sign) is not "k" here.
func equalFoldASCII(a, b string) bool {
	a, b = strings.TrimSuffix(a, "."), strings.TrimSuffix(b, ".")
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
