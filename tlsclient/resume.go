package tlsclient

import (
	"bytes"
	"io"
	"slices"
	"time"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/record"
)

// Session resumption on the device (RFC 5246 §7.3, RFC 5077, RFC 7627
// §5.3). An abbreviated handshake needs only the PRF over the master secret
// kept from the full handshake, so it makes no offloader call at all (the
// Start answer comes from the Start cache while it is fresh; once it
// expires one Start call refreshes the policy, whose answer is part of the
// session key).
//
//	loadSession           session from Config.SessionCache, if fresh
//	offerSession          ClientHello: session_ticket and a random session id, or the session id
//	readServerHello       ←  ServerHello echoing the session id
//	resumeHandshake       version, suite and EMS as in the session; key block by the PRF
//	  readSessionTicket   ←  NewSessionTicket*
//	  readFinished        ←  ChangeCipherSpec, Finished
//	  sendFinished        ChangeCipherSpec, Finished →
//	saveSession           a full handshake's session, or a renewed ticket
//
// A server that does not echo the session id runs a full handshake (and the
// offloader is used as usual); its new session replaces the old one.
//
// A session without the extended master secret is neither kept nor
// offered unless Config.ResumeWithoutEMS says so (RFC 7627 §5.3: a client
// SHOULD NOT offer one); the ClientHello always offers the extension.

// resumeState is the resumption part of clientHandshakeState.
type resumeState struct {
	key     string         // cache key; "" when Config.SessionCache is nil
	session *ClientSession // offered in the ClientHello; nil if none

	ticket         *handshake.NewSessionTicket // received in this handshake
	didResume      bool
	serverFinished []byte // verify_data: tls-unique of an abbreviated handshake
}

// loadSession looks up a session for this server and policy. An expired
// session is dropped from the cache.
func (hs *clientHandshakeState) loadSession() {
	cache := hs.config.SessionCache
	if cache == nil {
		return
	}
	hs.res.key = hs.sessionKey()
	s, ok := cache.Get(hs.res.key)
	if !ok || s == nil {
		return
	}
	if !hs.config.now().Before(s.expires) {
		cache.Put(hs.res.key, nil)
		hs.config.trace("tls: session expired, full handshake")
		return
	}
	if !slices.Contains(hs.params.CipherSuites, s.suite) || len(s.master) != handshake.MasterSecretLen ||
		!s.ems && !hs.config.ResumeWithoutEMS {
		return
	}
	hs.res.session = s
}

// offerSession puts the session in the ClientHello: a ticket goes with a
// fresh random session id, which the server echoes if it accepts the
// ticket (RFC 5077 §3.4); otherwise the server's session id is offered.
func (hs *clientHandshakeState) offerSession(hello *handshake.ClientHello) error {
	s := hs.res.session
	if s == nil {
		return nil
	}
	switch {
	case len(s.ticket) > 0:
		id := make([]byte, 32)
		if _, err := io.ReadFull(hs.config.rand(), id); err != nil {
			return wrapf("tlsclient: reading random", err)
		}
		hello.SessionTicket = s.ticket
		hello.SessionID = id
		hs.config.trace("tls: resuming session (ticket)")
	case len(s.sessionID) > 0:
		hello.SessionID = s.sessionID
		hs.config.trace("tls: resuming session (id)")
	default:
		hs.res.session = nil
		return nil
	}
	return nil
}

// serverResumes reports whether the ServerHello accepts the offered
// session: it echoes the non-empty session id the ClientHello carried.
func (hs *clientHandshakeState) serverResumes() bool {
	if hs.res.session == nil {
		return false
	}
	// Checked against the hello as sent (a ClientHello-shaping hook may
	// have dropped the ticket): the session must really have been offered.
	s, sent := hs.res.session, hs.hello
	offered := len(s.ticket) > 0 && bytes.Equal(sent.SessionTicket, s.ticket) ||
		len(s.sessionID) > 0 && bytes.Equal(sent.SessionID, s.sessionID)
	if offered && len(sent.SessionID) > 0 && bytes.Equal(hs.serverHello.SessionID, sent.SessionID) {
		return true
	}
	hs.config.trace("tls: server declined resumption, full handshake")
	hs.releaseSession()
	return false
}

// releaseSession zeroes the master secret of the session the handshake
// got from the cache, when it is the handshake's own copy (an
// LRUSessionCache hands out copies; another cache may hand out the
// session it keeps, which is left alone).
func (hs *clientHandshakeState) releaseSession() {
	if s := hs.res.session; s != nil {
		if _, ok := hs.config.SessionCache.(*LRUSessionCache); ok {
			s.zero()
		}
	}
}

// resumeHandshake runs the abbreviated handshake after a ServerHello that
// accepted the session. Any failure drops the session from the cache.
func (hs *clientHandshakeState) resumeHandshake() error {
	defer hs.releaseSession()
	err := hs.doResume()
	if err != nil && hs.config.SessionCache != nil {
		hs.config.SessionCache.Put(hs.res.key, nil)
	}
	return err
}

func (hs *clientHandshakeState) doResume() error {
	s, sh := hs.res.session, hs.serverHello
	if sh.Version != s.version {
		return hs.fail(record.AlertIllegalParameter, "server resumed the session with another version", nil)
	}
	if sh.CipherSuite != s.suite {
		return hs.fail(record.AlertIllegalParameter, "server resumed the session with another cipher suite", nil)
	}
	// RFC 7627 §5.3: the extension must be negotiated exactly as in the
	// original session, or the client aborts.
	if s.ems && !sh.ExtendedMasterSecret {
		return hs.fail(record.AlertHandshakeFailure, "server resumed an extended-master-secret session without the extension", nil)
	}
	if !s.ems && sh.ExtendedMasterSecret {
		return hs.fail(record.AlertHandshakeFailure, "server resumed a session without extended master secret with the extension", nil)
	}
	// RFC 6066 §4: "the negotiated length applies for the duration of the
	// session including session resumptions".
	if sh.MaxFragmentLength != s.maxFrag {
		return hs.fail(record.AlertIllegalParameter, "server resumed the session with another max_fragment_length", nil)
	}
	hs.res.didResume = true
	hs.chain, hs.verifiedChain, hs.curve = s.chain, s.verifiedChain, s.curve
	hs.master = append([]byte(nil), s.master...)
	defer clear(hs.master)
	// RFC 5246 §6.3 with the new randoms: the PRF only, on the device.
	hs.keyBlock = hs.suite.KeyBlock(sh.Version, hs.master, hs.hello.Random, sh.Random)
	write, read, err := hs.ciphers()
	if err != nil {
		return err
	}
	hs.c.rc.PrepareRead(read)
	if err := hs.readSessionTicket(); err != nil {
		return err
	}
	if err := hs.readFinished(); err != nil {
		return err
	}
	if err := hs.sendFinished(write); err != nil {
		return err
	}
	hs.saveSession()
	hs.config.trace("tls: resumed: no offloader call")
	if hs.config.Trace != nil {
		hs.config.trace("tls: handshake complete: %s (resumed)", hs.suite.Name)
	}
	return nil
}

// sendFinished writes ChangeCipherSpec and Finished in one transport write
// (RFC 5246 §7.3, the client's last flight of an abbreviated handshake).
func (hs *clientHandshakeState) sendFinished(write record.Cipher) error {
	rc := hs.c.rc
	rc.PrepareWrite(write)
	if err := rc.WriteChangeCipherSpec(); err != nil {
		return wrapf("tlsclient: writing ChangeCipherSpec", err)
	}
	verify := hs.suite.FinishedVerifyData(hs.serverHello.Version, hs.master, true, hs.transcript.Sum())
	fin := (&handshake.Finished{VerifyData: verify}).Marshal()
	hs.transcript.Write(fin)
	hs.clientFinished = verify
	if err := rc.WriteRecords(record.TypeHandshake, fin); err != nil {
		return wrapf("tlsclient: writing Finished", err)
	}
	if err := rc.Flush(); err != nil {
		return wrapf("tlsclient: writing Finished", err)
	}
	return nil
}

// saveSession stores the session of a completed handshake: a full
// handshake's new session, or a resumed one with its renewed ticket (RFC
// 5077 §3.3: a new ticket replaces the old). A session the server gave no
// way to resume (no session id, no ticket) removes the old one. It must
// run while hs.master is still set.
func (hs *clientHandshakeState) saveSession() {
	cache := hs.config.SessionCache
	if cache == nil {
		return
	}
	now := hs.config.now()
	var s *ClientSession
	if hs.res.didResume {
		if hs.res.ticket == nil || len(hs.res.ticket.Ticket) == 0 {
			return // the session stays as it was
		}
		s = hs.res.session.clone()
		s.ticket = hs.res.ticket.Ticket
		s.sessionID = nil
	} else {
		s = &ClientSession{
			version:       hs.serverHello.Version,
			suite:         hs.suite.ID,
			curve:         hs.curve,
			master:        append([]byte(nil), hs.master...),
			ems:           hs.serverHello.ExtendedMasterSecret,
			alpn:          hs.serverHello.ALPNProtocol,
			maxFrag:       hs.serverHello.MaxFragmentLength,
			sessionID:     append([]byte(nil), hs.serverHello.SessionID...),
			chain:         hs.chain,
			verifiedChain: hs.verifiedChain,
			created:       now,
		}
		if t := hs.res.ticket; t != nil && len(t.Ticket) > 0 {
			s.ticket = t.Ticket
		}
		if len(s.ticket) == 0 && len(s.sessionID) == 0 || !s.ems && !hs.config.ResumeWithoutEMS {
			cache.Put(hs.res.key, nil)
			return
		}
	}
	if hs.config.DiscardPeerCertificates {
		s.chain, s.verifiedChain = nil, nil
	}
	s.expires = s.created.Add(hs.config.sessionTTL())
	if t := hs.res.ticket; t != nil && len(s.ticket) > 0 && t.LifetimeHint > 0 {
		// RFC 5077 §3.3: the hint counts from the ticket's receipt.
		if hint := now.Add(secondsDuration(t.LifetimeHint)); hint.Before(s.expires) {
			s.expires = hint
		}
	}
	cache.Put(hs.res.key, s) // the cache owns s from here on
}

func secondsDuration(s uint32) time.Duration { return time.Duration(s) * time.Second }
