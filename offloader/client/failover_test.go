package client_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/offloader/server"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// Fail-over against three real offloader/server cores on loopback, each
// behind a small TCP relay (replica) the test can kill as kill -9 would
// look from the device (every connection cut, the port closed), hold
// (bytes from the device are swallowed, so a flight stays unanswered), and
// bring back on the same address. The server's own counters say which
// replica ran what. The process-level version, with real daemons, is in
// cmd/offloader (TestFailoverProcesses).

type replica struct {
	t    *testing.T
	srv  *server.Server
	back string // the server core's own address
	addr string // the relay's, which the device lists

	mu    sync.Mutex
	l     net.Listener
	conns []net.Conn
	hold  bool          // swallow the device's bytes
	held  chan struct{} // gets a value when bytes were swallowed
}

// newReplicas starts n server cores serving device "dev" with limits, each
// behind its relay.
func newReplicas(t *testing.T, n int, limits server.DeviceLimits) []*replica {
	t.Helper()
	var rs []*replica
	for range n {
		addr, srv := busyOffloader(t, limits, nil)
		r := &replica{t: t, srv: srv, back: addr, held: make(chan struct{}, 1)}
		r.listen("127.0.0.1:0")
		t.Cleanup(r.kill)
		rs = append(rs, r)
	}
	return rs
}

func (r *replica) listen(addr string) {
	r.t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.l, r.addr = l, l.Addr().String()
	r.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", r.back)
			if err != nil {
				c.Close()
				continue
			}
			r.mu.Lock()
			r.conns = append(r.conns, c, b)
			r.mu.Unlock()
			go func() { io.Copy(c, b); c.Close() }()
			go r.up(c, b)
		}
	}()
}

// up relays device bytes to the server, or swallows them while held.
func (r *replica) up(c, b net.Conn) {
	defer b.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			r.mu.Lock()
			hold := r.hold
			r.mu.Unlock()
			if hold {
				select {
				case r.held <- struct{}{}:
				default:
				}
			} else if _, werr := b.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (r *replica) setHold(h bool) { r.mu.Lock(); r.hold = h; r.mu.Unlock() }

// kill closes the port and cuts every connection through it.
func (r *replica) kill() {
	r.mu.Lock()
	l, conns := r.l, r.conns
	r.conns = nil
	r.mu.Unlock()
	l.Close()
	for _, c := range conns {
		c.Close()
	}
}

// restart listens on the same address again.
func (r *replica) restart() {
	r.setHold(false)
	r.listen(r.addr)
}

// starts is how many Start requests this replica's server ran.
func (r *replica) starts() uint64 { ran, _ := okResults(r.srv, "start"); return ran }

func addrsOf(rs []*replica) []string {
	var a []string
	for _, r := range rs {
		a = append(a, r.addr)
	}
	return a
}

func failoverClient(t *testing.T, rs []*replica, cfg client.Config) (*client.Client, *traceLines) {
	t.Helper()
	tl := &traceLines{}
	cfg.Addrs, cfg.DeviceID, cfg.PSK = addrsOf(rs), "dev", busyPSK
	cfg.StartCacheSize = -1 // every Start is a flight
	cfg.Trace = tl.trace
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, tl
}

type traceLines struct {
	mu    sync.Mutex
	lines []string
}

func (tl *traceLines) trace(format string, args ...any) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.lines = append(tl.lines, format)
}

func (tl *traceLines) count(sub string) int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	n := 0
	for _, l := range tl.lines {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

func start(ctx context.Context, c *client.Client) error {
	_, err := c.Start(ctx, busyName, busyOffer)
	return err
}

// serving returns the index of the one replica whose server ran more
// Starts than before, and fails the test if not exactly one did.
func serving(t *testing.T, rs []*replica, before []uint64) int {
	t.Helper()
	who := -1
	for i, r := range rs {
		if r.starts() > before[i] {
			if who >= 0 {
				t.Fatalf("replicas %d and %d both ran the Start", who, i)
			}
			who = i
		}
	}
	if who < 0 {
		t.Fatal("no replica ran the Start")
	}
	return who
}

func startCounts(rs []*replica) []uint64 {
	var n []uint64
	for _, r := range rs {
		n = append(n, r.starts())
	}
	return n
}

// A flight in flight on a replica that dies is sent again, to another
// replica, and succeeds; the dead replica is passed over afterwards.
func TestFailoverInFlight(t *testing.T) {
	rs := newReplicas(t, 3, server.DeviceLimits{})
	c, tl := failoverClient(t, rs, client.Config{DownFor: time.Hour, MaxChannelAge: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	before := startCounts(rs)
	if err := start(ctx, c); err != nil {
		t.Fatal(err)
	}
	first := serving(t, rs, before)

	// The next flight reaches the relay and goes no further; the replica
	// is then killed with it unanswered.
	rs[first].setHold(true)
	done := make(chan error, 1)
	before = startCounts(rs)
	go func() { done <- start(ctx, c) }()
	select {
	case <-rs[first].held:
	case <-ctx.Done():
		t.Fatal("the flight never reached the replica")
	}
	rs[first].kill()
	if err := <-done; err != nil {
		t.Fatalf("a flight in flight on a killed replica failed: %v", err)
	}
	second := serving(t, rs, before)
	if second == first {
		t.Fatalf("resent to the killed replica %d", first)
	}
	if n := tl.count("sending it again"); n != 1 {
		t.Errorf("%d resends traced, want 1", n)
	}

	// Back on its address, the killed replica is still marked down (for
	// an hour here): when the serving replica dies too, the flight goes
	// to the third, not to the one that came back.
	rs[first].restart()
	rs[second].kill()
	before = startCounts(rs)
	if err := start(ctx, c); err != nil {
		t.Fatal(err)
	}
	if who := serving(t, rs, before); who != 3-first-second {
		t.Errorf("replica %d served; want %d, the one not marked down", who, 3-first-second)
	}
}

// Channels rotate round-robin past MaxChannelAge; a replica that is killed
// is passed over, and once back (after DownFor) takes flights again.
func TestFailoverRotation(t *testing.T) {
	rs := newReplicas(t, 3, server.DeviceLimits{})
	c, _ := failoverClient(t, rs, client.Config{DownFor: 20 * time.Millisecond, MaxChannelAge: time.Nanosecond})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Every flight opens a channel to the next address: 6 flights, 2 each.
	for range 6 {
		if err := start(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range rs {
		if n := r.starts(); n != 2 {
			t.Errorf("replica %d ran %d of 6 Starts, want 2 (round-robin)", i, n)
		}
	}

	// Replica 0 killed: every flight still succeeds, on the other two.
	rs[0].kill()
	base := rs[0].starts()
	for range 6 {
		if err := start(ctx, c); err != nil {
			t.Fatalf("with one replica dead: %v", err)
		}
	}
	if rs[0].starts() != base {
		t.Fatal("a dead replica ran a Start")
	}

	// Back: it takes flights again once its mark lapses.
	rs[0].restart()
	for i := 0; rs[0].starts() == base; i++ {
		if i == 1000 {
			t.Fatal("the restarted replica took no flight in 1000")
		}
		if err := start(ctx, c); err != nil {
			t.Fatal(err)
		}
		if i > 10 {
			time.Sleep(time.Millisecond) // let the down mark lapse
		}
	}
}

// An address that refuses connections is marked down and skipped by later
// openings while another is up; with every address down, all are tried.
func TestFailoverDialErrors(t *testing.T) {
	rs := newReplicas(t, 2, server.DeviceLimits{})
	var accepts atomic.Int64
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() { // accepts and hangs up: the channel never opens
		for {
			cn, err := l.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			cn.Close()
		}
	}()
	cfg := client.Config{Addrs: []string{l.Addr().String(), rs[0].addr, rs[1].addr}, DeviceID: "dev", PSK: busyPSK,
		StartCacheSize: -1, DownFor: time.Hour, MaxChannelAge: time.Nanosecond}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for range 12 {
		if err := start(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if n := accepts.Load(); n != 1 {
		t.Errorf("the broken address was tried %d times in 12 openings, want once", n)
	}
	// Both good replicas die too: every address is down, and each is
	// tried (the broken one included) before the call fails.
	rs[0].kill()
	rs[1].kill()
	err = start(ctx, c)
	if err == nil {
		t.Fatal("Start with every replica down succeeded")
	}
	if n := accepts.Load(); n != 2 {
		t.Errorf("with every address down, the broken one tried %d times in all, want 2", n)
	}
	var we *wire.Error
	if errors.As(err, &we) {
		t.Errorf("unreachable offloaders gave an offloader answer: %v", err)
	}
}

// A flight answered busy (here: the device over its rate on that replica)
// is resent, after the backoff, on a channel to another replica.
func TestFailoverBusy(t *testing.T) {
	rs := newReplicas(t, 2, server.DeviceLimits{Rate: 0.001, Burst: 1})
	c, tl := failoverClient(t, rs, client.Config{BusyBackoff: time.Millisecond, MaxChannelAge: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := start(ctx, c); err != nil { // spends its burst on one replica
		t.Fatal(err)
	}
	if err := start(ctx, c); err != nil {
		t.Fatalf("the second Start, refused busy by one replica, did not get through on the other: %v", err)
	}
	for i, r := range rs {
		if ran := r.starts(); ran != 1 {
			t.Errorf("replica %d ran %d Starts, want 1", i, ran)
		}
	}
	refused := rateRefusals(rs[0].srv) + rateRefusals(rs[1].srv)
	if refused != 1 || tl.count("busy, passed over") != 1 {
		t.Errorf("%d refusals, %d busy marks; want 1, 1", refused, tl.count("busy, passed over"))
	}
}

// A verdict is the offloader's word: it is not taken to another replica.
func TestFailoverNotOnVerdict(t *testing.T) {
	rs := newReplicas(t, 3, server.DeviceLimits{})
	c, tl := failoverClient(t, rs, client.Config{})
	_, err := c.Start(context.Background(), "not-allowed.test", busyOffer)
	if !errors.Is(err, wire.StatusPolicyDenied) {
		t.Fatalf("Start for a name the policy forbids: %v", err)
	}
	var ran uint64
	for _, r := range rs {
		n, _ := okResults(r.srv, "start")
		ran += n
	}
	if ran != 1 || tl.count("sending it again")+tl.count("passed over") != 0 {
		t.Errorf("a refusal ran %d times (want 1), trace %q", ran, tl.lines)
	}
}
