package client

import (
	"context"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
	"github.com/tlsoffload/tlsoffload/tlsclient"
)

// The protocol's modes, behind tlsclient's semantic seam: Start answered
// from the Client's cache or by one Start flight; the key exchange as one
// pipelined flight of Auth, KeyGen and Key (one round trip), or, with
// Config.Sequential, as the patent's sequence of three flights with the
// offloader's sealed state token carried from each answer to the next
// request. Inputs are checked against the protocol's limits before any
// round trip; answers are checked once, here (Do already holds them to one
// result per request, in order).

var (
	_ tlsclient.Offloader   = (*Client)(nil)
	_ tlsclient.StartCacher = (*Client)(nil)
)

// Start answers tlsclient's Start: from the cache while the offloader's
// last answer for this server name and offer is fresh, else with one Start
// round trip. A refusal (policy, unsupported) is a *tlsclient.Refusal
// wrapping the *wire.Error.
func (c *Client) Start(ctx context.Context, serverName string, offer tlsclient.Offer) (tlsclient.Offer, error) {
	req, err := startRequest(serverName, offer)
	if err != nil {
		return tlsclient.Offer{}, err
	}
	key := cacheKey(req)
	if allowed, ok := c.cache.get(key, time.Now()); ok {
		if c.tracing() {
			c.trace("offloader: start for %q from cache", serverName)
		}
		return allowed, nil
	}
	hid, err := c.handshakeID()
	if err != nil {
		return tlsclient.Offer{}, err
	}
	t0 := c.traceClock()
	fr, err := c.flight(ctx, &wire.Flight{HandshakeID: hid, Requests: []wire.Request{req}})
	if c.tracing() {
		c.trace("offloader: start in 1 round trip, %s", roundDuration(time.Since(t0)))
	}
	if err != nil {
		return tlsclient.Offer{}, err
	}
	if e := fr.Results[0].Err; e != nil {
		return tlsclient.Offer{}, refusal(e)
	}
	res := fr.Results[0].Body.(*wire.StartResponse) // Do checked its op
	allowed := tlsclient.Offer{
		Versions:            res.Versions,
		CipherSuites:        res.CipherSuites,
		Groups:              res.Groups,
		SignatureAlgorithms: res.SignatureAlgorithms,
	}
	if res.TTL > 0 {
		c.cache.put(key, allowed, time.Now().Add(res.TTL))
	}
	return allowed, nil
}

// CachedStart returns the cached answer Start would, without a round trip.
func (c *Client) CachedStart(serverName string, offer tlsclient.Offer) (tlsclient.Offer, bool) {
	req, err := startRequest(serverName, offer)
	if err != nil {
		return tlsclient.Offer{}, false
	}
	allowed, ok := c.cache.get(cacheKey(req), time.Now())
	if ok && c.tracing() {
		c.trace("offloader: start for %q from cache", serverName)
	}
	return allowed, ok
}

// startRequest is the Start request for an offer, checked against the
// protocol's limits.
func startRequest(serverName string, offer tlsclient.Offer) (*wire.StartRequest, error) {
	if len(serverName) > wire.MaxServerName {
		return nil, errors.New("client: server name longer than " + strconv.Itoa(int(wire.MaxServerName)) + " bytes")
	}
	req := &wire.StartRequest{
		ServerName:          serverName,
		Versions:            offer.Versions,
		CipherSuites:        offer.CipherSuites,
		Groups:              offer.Groups,
		SignatureAlgorithms: offer.SignatureAlgorithms,
	}
	for _, l := range [][]uint16{req.Versions, req.CipherSuites, req.Groups, req.SignatureAlgorithms} {
		if len(l) > wire.MaxListLen {
			return nil, errors.New("client: an offer lists at most " + strconv.Itoa(int(wire.MaxListLen)) + " entries")
		}
	}
	return req, nil
}

// KeyExchange answers tlsclient's KeyExchange with Auth, KeyGen and Key:
// one pipelined flight, or three sequential ones (Config.Sequential). The
// first operation that fails decides the error: a *tlsclient.Refusal
// wrapping its *wire.Error when it refused the server or its parameters,
// the *wire.Error itself otherwise.
func (c *Client) KeyExchange(ctx context.Context, sf *tlsclient.ServerFlight) (*tlsclient.ClientFlight, error) {
	if len(sf.ServerName) > wire.MaxServerName {
		return nil, errors.New("client: server name longer than " + strconv.Itoa(int(wire.MaxServerName)) + " bytes")
	}
	if len(sf.Transcript) > wire.MaxTranscript {
		return nil, errors.New("client: server flight of " + strconv.Itoa(len(sf.Transcript)) + " bytes, larger than the offloader takes (" + strconv.Itoa(int(wire.MaxTranscript)) + ")")
	}
	hid, err := c.handshakeID()
	if err != nil {
		return nil, err
	}
	reqs := []wire.Request{
		&wire.AuthRequest{ServerName: sf.ServerName, Transcript: sf.Transcript},
		&wire.KeyGenRequest{},
		// The offloader knows the client Certificate it chose.
		&wire.KeyRequest{},
	}
	var results []wire.Result
	t0 := c.traceClock()
	if !c.cfg.Sequential {
		fr, err := c.flight(ctx, &wire.Flight{HandshakeID: hid, Requests: reqs})
		if err != nil {
			return nil, err
		}
		if c.tracing() {
			c.trace("offloader: auth+keygen+key in 1 round trip, %s", roundDuration(time.Since(t0)))
		}
		results = fr.Results
	} else {
		var token []byte
		for _, req := range reqs {
			t1 := time.Now()
			fr, err := c.flight(ctx, &wire.Flight{HandshakeID: hid, Token: token, Requests: []wire.Request{req}})
			if err != nil {
				return nil, err
			}
			c.trace("offloader: %s in 1 round trip, %s", req.Op(), roundDuration(time.Since(t1)))
			if e := fr.Results[0].Err; e != nil {
				return nil, refusal(e)
			}
			results = append(results, fr.Results[0])
			token = fr.Token
		}
		c.trace("offloader: auth, keygen, key in 3 round trips, %s", roundDuration(time.Since(t0)))
	}
	for _, r := range results {
		if r.Err != nil {
			return nil, refusal(r.Err)
		}
	}
	// Do checked each result's op, so each body is of its request's type.
	auth := results[0].Body.(*wire.AuthResponse)
	kg := results[1].Body.(*wire.KeyGenResponse)
	key := results[2].Body.(*wire.KeyResponse)
	// The verdict refers to the certificates the server sent by index.
	if err := auth.ResolvePresented(sf.Certificates); err != nil {
		return nil, err
	}
	return &tlsclient.ClientFlight{
		ClientKeyExchange: kg.ClientKeyExchange,
		Certificate:       kg.ClientCertificate,
		CertificateVerify: kg.CertificateVerify,
		MasterSecret:      key.MasterSecret,
		KeyBlock:          key.KeyBlock,
		Peer:              tlsclient.PeerVerification{Chain: auth.VerifiedChain},
	}, nil
}

// refusal is a failed operation's error for tlsclient: a *tlsclient.Refusal
// when the offloader refused the server, its parameters or the device's
// policy forbids them; the *wire.Error itself for anything else (the
// offloader could not be used).
func refusal(e *wire.Error) error {
	switch e.Status {
	case wire.StatusInvalidCertificate:
		return &tlsclient.Refusal{Fault: tlsclient.FaultCertificate, Reason: certReason(e.Reason), Err: e}
	case wire.StatusBadSignature:
		return &tlsclient.Refusal{Fault: tlsclient.FaultCertificate, Reason: tlsclient.ReasonBadSignature, Err: e}
	case wire.StatusIllegalParameter:
		return &tlsclient.Refusal{Fault: tlsclient.FaultIllegalParameter, Err: e}
	case wire.StatusPolicyDenied, wire.StatusUnsupported:
		return &tlsclient.Refusal{Fault: tlsclient.FaultPolicy, Err: e}
	}
	return e
}

// certReasons maps the protocol's reasons to tlsclient's.
var certReasons = [...]tlsclient.CertificateReason{
	wire.ReasonNone:             tlsclient.ReasonOther,
	wire.ReasonExpired:          tlsclient.ReasonExpired,
	wire.ReasonNotYetValid:      tlsclient.ReasonNotYetValid,
	wire.ReasonUnknownAuthority: tlsclient.ReasonUnknownAuthority,
	wire.ReasonNameMismatch:     tlsclient.ReasonNameMismatch,
	wire.ReasonKeyUsage:         tlsclient.ReasonKeyUsage,
	wire.ReasonWeakKey:          tlsclient.ReasonWeakKey,
	wire.ReasonWeakSignature:    tlsclient.ReasonWeakSignature,
	wire.ReasonMalformed:        tlsclient.ReasonMalformed,
	wire.ReasonRevoked:          tlsclient.ReasonRevoked,
	wire.ReasonPinMismatch:      tlsclient.ReasonPinMismatch,
	wire.ReasonNoCertificate:    tlsclient.ReasonNoCertificate,

	wire.ReasonNonConforming:     tlsclient.ReasonNonConforming,
	wire.ReasonRevocationUnknown: tlsclient.ReasonRevocationUnknown,
}

func certReason(r wire.Reason) tlsclient.CertificateReason {
	if int(r) < len(certReasons) {
		return certReasons[r]
	}
	return tlsclient.ReasonOther
}

// handshakeID is a fresh random id for one handshake's flights.
func (c *Client) handshakeID() (id [16]byte, err error) {
	if _, err := io.ReadFull(c.rand(), id[:]); err != nil {
		return id, wrapf("client: reading random", err)
	}
	return id, nil
}

// tracing reports whether Config.Trace is set. A hot path tests it before
// calling trace with arguments, which are boxed into trace's variadic slice
// even when Trace is nil, and before reading the clock for a trace line
// (traceClock): under qemu-arm, with no vDSO, time.Now is two system calls.
func (c *Client) tracing() bool { return c.cfg.Trace != nil }

// traceClock is time.Now when tracing, the zero Time otherwise.
func (c *Client) traceClock() time.Time {
	if !c.tracing() {
		return time.Time{}
	}
	return time.Now()
}

func (c *Client) trace(format string, args ...any) {
	if c.cfg.Trace != nil {
		c.cfg.Trace(format, args...)
	}
}

// roundDuration rounds a duration above a millisecond to microseconds, for
// trace lines.
func roundDuration(d time.Duration) time.Duration {
	if d > time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d
}

// roundTripHookKey is the context key of WithRoundTripHook.
type roundTripHookKey struct{}

// WithRoundTripHook returns a copy of ctx carrying hook: every offloader
// round trip made by a Client call with that context (Start, KeyExchange,
// Do) reports, once it ended, the operations it carried ("start",
// "auth+keygen+key", "auth", …), how long it took and its error. As
// net/http/httptrace does for HTTP, it lets a caller (ocurl's -w and -v)
// count one handshake's round trips among concurrent ones.
func WithRoundTripHook(ctx context.Context, hook func(ops string, took time.Duration, err error)) context.Context {
	return context.WithValue(ctx, roundTripHookKey{}, hook)
}

func roundTripHook(ctx context.Context) func(string, time.Duration, error) {
	h, _ := ctx.Value(roundTripHookKey{}).(func(string, time.Duration, error))
	return h
}
