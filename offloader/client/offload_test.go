package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
	"github.com/tlsoffload/tlsoffload/tlsclient"
)

var testOffer = tlsclient.Offer{Versions: []uint16{0x0303}, CipherSuites: []uint16{0xc02f, 0xc030}, Groups: []uint16{29}, SignatureAlgorithms: []uint16{0x0804}}

// traceLines collects a Client's trace lines.
type traceLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *traceLines) trace(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *traceLines) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

func newTracedClient(t *testing.T, addr string, sequential bool) (*Client, *traceLines) {
	t.Helper()
	tl := new(traceLines)
	c, err := New(Config{Addrs: []string{addr}, DeviceID: testDevice, PSK: testPSK, Sequential: sequential, Trace: tl.trace})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, tl
}

// flightsSeen counts the flights a fake server got, by their ops.
func flightsSeen(s *fakeServer) *[]string {
	var mu sync.Mutex
	seen := new([]string)
	s.onFlight = func(f *wire.Flight, _ func(*wire.FlightResponse), _ func()) bool {
		mu.Lock()
		*seen = append(*seen, opsOf(f))
		mu.Unlock()
		return false
	}
	return seen
}

// Start asks the offloader once per TTL for a server name and offer, and
// answers from the cache meanwhile, saying so in the trace; CachedStart
// answers only from the cache.
func TestStartCached(t *testing.T) {
	s := newFakeServer(t)
	seen := flightsSeen(s)
	c, tl := newTracedClient(t, s.addr(), false)
	if _, ok := c.CachedStart("example.com", testOffer); ok {
		t.Fatal("CachedStart answered before any Start")
	}
	for range 2 {
		got, err := c.Start(context.Background(), "example.com", testOffer)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got.CipherSuites) != fmt.Sprint(testOffer.CipherSuites) {
			t.Errorf("Start answered %+v", got)
		}
	}
	if _, ok := c.CachedStart("EXAMPLE.com", testOffer); !ok {
		t.Error("CachedStart missed a fresh answer (names are case-folded)")
	}
	other := testOffer
	other.CipherSuites = []uint16{0xc02f}
	if _, ok := c.CachedStart("example.com", other); ok {
		t.Error("an answer for another offer was served")
	}
	if len(*seen) != 1 || (*seen)[0] != "start" {
		t.Errorf("flights %v, want one start", *seen)
	}
	if tl.count("offloader: start in 1 round trip") != 1 || tl.count(`offloader: start for "example.com" from cache`) != 1 ||
		tl.count(`offloader: start for "EXAMPLE.com" from cache`) != 1 {
		t.Errorf("trace %q", tl.lines)
	}
}

func TestStartCacheEviction(t *testing.T) {
	now := time.Unix(1000, 0)
	sc := newStartCache(2)
	key := func(name string, suite uint16) startKey {
		return cacheKey(&wire.StartRequest{ServerName: name, Versions: []uint16{0x0303}, CipherSuites: []uint16{suite}})
	}
	allowed := tlsclient.Offer{CipherSuites: []uint16{1}}
	sc.put(key("a", 1), allowed, now.Add(time.Minute))
	sc.put(key("b", 1), allowed, now.Add(time.Minute))
	sc.put(key("c", 1), allowed, now.Add(time.Minute)) // evicts a, the oldest
	_, a := sc.get(key("a", 1), now)
	_, b := sc.get(key("b", 1), now)
	_, cc := sc.get(key("c", 1), now)
	if a || !b || !cc || sc.len() != 2 {
		t.Error("eviction did not drop the oldest entry")
	}
	if _, ok := sc.get(key("b", 1), now.Add(time.Minute)); ok {
		t.Error("entry served past its TTL")
	}
	if _, ok := sc.get(key("c", 2), now); ok {
		t.Error("an answer for other offered suites was served")
	}
}

// A zero TTL answer is used once and not kept.
func TestStartZeroTTL(t *testing.T) {
	s := newFakeServer(t)
	seen := flightsSeen(s)
	s.handle = func(f *wire.Flight) *wire.FlightResponse {
		r := echo(f)
		r.Results[0].Body.(*wire.StartResponse).TTL = 0
		return r
	}
	c, _ := newTracedClient(t, s.addr(), false)
	for range 2 {
		if _, err := c.Start(context.Background(), "example.com", testOffer); err != nil {
			t.Fatal(err)
		}
	}
	if len(*seen) != 2 {
		t.Errorf("%d flights for two Starts of a zero TTL, want 2", len(*seen))
	}
}

// keyExchangeFlight is a ServerFlight the fake server's echo answers.
func keyExchangeFlight() *tlsclient.ServerFlight {
	return &tlsclient.ServerFlight{ServerName: "example.com", Transcript: []byte{1, 0, 0, 0}, Certificates: [][]byte{{0x30, 1}}}
}

// KeyExchange sends Auth, KeyGen and Key in one flight, or with Sequential
// one per flight carrying each answer's token to the next request.
func TestKeyExchangeModes(t *testing.T) {
	for _, sequential := range []bool{false, true} {
		t.Run(fmt.Sprint("sequential=", sequential), func(t *testing.T) {
			s := newFakeServer(t)
			var mu sync.Mutex
			var flights []string
			s.handle = func(f *wire.Flight) *wire.FlightResponse {
				mu.Lock()
				flights = append(flights, fmt.Sprintf("%s[%s]", opsOf(f), f.Token))
				mu.Unlock()
				r := echo(f)
				r.Token = []byte("after-" + f.Requests[len(f.Requests)-1].Op().String())
				return r
			}
			c, tl := newTracedClient(t, s.addr(), sequential)
			cf, err := c.KeyExchange(context.Background(), keyExchangeFlight())
			if err != nil {
				t.Fatal(err)
			}
			if len(cf.ClientKeyExchange) == 0 || len(cf.MasterSecret) != 48 || len(cf.KeyBlock) == 0 {
				t.Errorf("answer %+v", cf)
			}
			want := "[auth+keygen+key[]]"
			lines := []string{"offloader: auth+keygen+key in 1 round trip"}
			if sequential {
				want = "[auth[] keygen[after-auth] key[after-keygen]]"
				lines = []string{"offloader: auth in 1 round trip", "offloader: keygen in 1 round trip",
					"offloader: key in 1 round trip", "offloader: auth, keygen, key in 3 round trips"}
			}
			if got := fmt.Sprint(flights); got != want {
				t.Errorf("flights %s, want %s", got, want)
			}
			for _, l := range lines {
				if tl.count(l) != 1 {
					t.Errorf("trace %q lacks %q", tl.lines, l)
				}
			}
		})
	}
}

// Inputs beyond the protocol's limits are refused before any round trip.
func TestInputsCheckedFirst(t *testing.T) {
	s := newFakeServer(t)
	seen := flightsSeen(s)
	c, _ := newTracedClient(t, s.addr(), false)
	long := strings.Repeat("a", wire.MaxServerName+1)
	big := keyExchangeFlight()
	big.Transcript = make([]byte, wire.MaxTranscript+1)
	named := keyExchangeFlight()
	named.ServerName = long
	wide := testOffer
	wide.Groups = make([]uint16, wire.MaxListLen+1)
	for name, call := range map[string]func() error{
		"long name start":  func() error { _, err := c.Start(context.Background(), long, testOffer); return err },
		"long list start":  func() error { _, err := c.Start(context.Background(), "a", wide); return err },
		"large transcript": func() error { _, err := c.KeyExchange(context.Background(), big); return err },
		"long name auth":   func() error { _, err := c.KeyExchange(context.Background(), named); return err },
	} {
		if err := call(); err == nil || !strings.HasPrefix(err.Error(), "client: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if len(*seen) != 0 {
		t.Errorf("%d flights sent for refused inputs", len(*seen))
	}
}

// The verdict's chain refers to the certificates the server presented by
// index: KeyExchange resolves them, and refuses one beyond what was sent.
func TestKeyExchangeChainReferences(t *testing.T) {
	for _, tc := range []struct {
		name string
		ref  int
		ok   bool
	}{
		{"leaf", 0, true},
		{"beyond the presented chain", 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newFakeServer(t)
			s.handle = func(f *wire.Flight) *wire.FlightResponse {
				r := echo(f)
				r.Results[0].Body = &wire.AuthResponse{VerifiedChain: [][]byte{nil, {0x30}}, Presented: []int{tc.ref, -1}}
				return r
			}
			c, _ := newTracedClient(t, s.addr(), false)
			sf := keyExchangeFlight()
			cf, err := c.KeyExchange(context.Background(), sf)
			if tc.ok {
				if err != nil || len(cf.Peer.Chain) != 2 || &cf.Peer.Chain[0][0] != &sf.Certificates[0][0] {
					t.Errorf("reference to the leaf not resolved: %v", err)
				}
				return
			}
			if !errors.Is(err, wire.StatusMalformed) {
				t.Errorf("err = %v, want malformed", err)
			}
			var r *tlsclient.Refusal
			if errors.As(err, &r) {
				t.Errorf("a bad answer is a refusal: %v", err)
			}
		})
	}
}

// The first operation that failed decides the error: the protocol's
// statuses become tlsclient's refusals, which keep the *wire.Error.
func TestKeyExchangeRefusals(t *testing.T) {
	for _, tc := range []struct {
		err    *wire.Error
		fault  tlsclient.Fault // 0: not a refusal
		reason tlsclient.CertificateReason
	}{
		{&wire.Error{Status: wire.StatusInvalidCertificate, Reason: wire.ReasonExpired}, tlsclient.FaultCertificate, tlsclient.ReasonExpired},
		{&wire.Error{Status: wire.StatusInvalidCertificate, Reason: wire.ReasonRevoked}, tlsclient.FaultCertificate, tlsclient.ReasonRevoked},
		{&wire.Error{Status: wire.StatusBadSignature}, tlsclient.FaultCertificate, tlsclient.ReasonBadSignature},
		{&wire.Error{Status: wire.StatusIllegalParameter}, tlsclient.FaultIllegalParameter, 0},
		{&wire.Error{Status: wire.StatusPolicyDenied}, tlsclient.FaultPolicy, 0},
		{&wire.Error{Status: wire.StatusUnsupported}, tlsclient.FaultPolicy, 0},
		{&wire.Error{Status: wire.StatusInternal}, 0, 0},
		{&wire.Error{Status: wire.StatusBadToken}, 0, 0},
	} {
		for _, sequential := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/sequential=%v", tc.err.Status.Error(), sequential), func(t *testing.T) {
				s := newFakeServer(t)
				s.handle = func(f *wire.Flight) *wire.FlightResponse {
					r := echo(f)
					for i := range r.Results {
						if r.Results[i].Op() == wire.OpAuth {
							e := *tc.err
							e.Op = wire.OpAuth
							r.Results[i] = wire.Result{Err: &e}
						} else if len(r.Results) > 1 {
							r.Results[i] = wire.Result{Err: &wire.Error{Op: r.Results[i].Op(), Status: wire.StatusAborted}}
						}
					}
					return r
				}
				c, _ := newTracedClient(t, s.addr(), sequential)
				_, err := c.KeyExchange(context.Background(), keyExchangeFlight())
				var we *wire.Error
				if !errors.As(err, &we) || we.Status != tc.err.Status || we.Op != wire.OpAuth {
					t.Fatalf("err = %v, want the auth's %v", err, tc.err.Status)
				}
				var r *tlsclient.Refusal
				if isRefusal := errors.As(err, &r); isRefusal != (tc.fault != 0) ||
					isRefusal && (r.Fault != tc.fault || r.Reason != tc.reason) {
					t.Errorf("err = %#v, want fault %v reason %v", err, tc.fault, tc.reason)
				}
			})
		}
	}
}

// Every reason of the protocol has its reason in tlsclient.
func TestCertReasons(t *testing.T) {
	for r := wire.ReasonNone; r <= wire.ReasonRevocationUnknown; r++ {
		if got := certReason(r); got.String() == "" || r != wire.ReasonNone && got == tlsclient.ReasonOther {
			t.Errorf("%v maps to %v", r, got)
		}
	}
	if got := certReason(200); got != tlsclient.ReasonOther {
		t.Errorf("an unknown reason maps to %v", got)
	}
}

// WithRoundTripHook reports each round trip of the calls made with its
// context, and only those.
func TestRoundTripHook(t *testing.T) {
	s := newFakeServer(t)
	c, _ := newTracedClient(t, s.addr(), true)
	var got []string
	ctx := WithRoundTripHook(context.Background(), func(ops string, took time.Duration, err error) {
		got = append(got, fmt.Sprintf("%s:%v", ops, err))
	})
	if _, err := c.Start(ctx, "example.com", testOffer); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Start(ctx, "example.com", testOffer); err != nil { // cached: no round trip
		t.Fatal(err)
	}
	if _, err := c.KeyExchange(ctx, keyExchangeFlight()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.KeyExchange(context.Background(), keyExchangeFlight()); err != nil {
		t.Fatal(err)
	}
	if want := "[start:<nil> auth:<nil> keygen:<nil> key:<nil>]"; fmt.Sprint(got) != want {
		t.Errorf("hook saw %v, want %s", got, want)
	}
}
