package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

var testPSK = bytes.Repeat([]byte{0x42}, 32)

const testDevice = "dev-1"

// fakeServer is a tiny offloader: it opens channels with wire.ServerOpen
// and answers each Flight through handle, which by default echoes one OK
// Result per request and the flight's Token (so tests can tell answers
// apart). The real server is tested in package offloader/server.
type fakeServer struct {
	t      *testing.T
	l      net.Listener
	handle func(f *wire.Flight) *wire.FlightResponse // nil: echo; a nil answer: none
	// onFlight, when set, runs in the channel's goroutine before handle
	// and may answer out of band through send, or kill the channel.
	onFlight func(f *wire.Flight, send func(*wire.FlightResponse), kill func()) bool

	mu     sync.Mutex
	opens  int // ServerOpen attempts
	chans  int // channels opened
	conns  []net.Conn
	closed bool
	wg     sync.WaitGroup
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{t: t, l: l}
	s.wg.Add(1)
	go s.acceptLoop()
	t.Cleanup(s.stop)
	return s
}

func (s *fakeServer) addr() string { return s.l.Addr().String() }

func (s *fakeServer) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns = append(s.conns, c)
		s.opens++
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

func (s *fakeServer) serveConn(c net.Conn) {
	defer s.wg.Done()
	defer c.Close()
	lookup := func(id string) ([]byte, bool) {
		if id != testDevice {
			return nil, false
		}
		return testPSK, true
	}
	ch, _, err := wire.ServerOpen(c, lookup, true, nil)
	if err != nil {
		return
	}
	defer ch.Close()
	s.mu.Lock()
	s.chans++
	s.mu.Unlock()
	var wmu sync.Mutex
	send := func(r *wire.FlightResponse) {
		b, err := r.Marshal()
		if err != nil {
			s.t.Errorf("fake server: marshal: %v", err)
			return
		}
		wmu.Lock()
		defer wmu.Unlock()
		ch.WriteFrame(b)
	}
	for {
		b, err := ch.ReadFrame()
		if err != nil {
			return
		}
		f := new(wire.Flight)
		if err := f.Unmarshal(b); err != nil {
			s.t.Errorf("fake server: flight does not parse: %v", err)
			return
		}
		if s.onFlight != nil && s.onFlight(f, send, func() { c.Close() }) {
			continue
		}
		s.mu.Lock()
		h := s.handle
		s.mu.Unlock()
		if h == nil {
			h = echo
		}
		if r := h(f); r != nil {
			send(r)
		}
	}
}

// stop closes the listener and every channel, and waits for them.
func (s *fakeServer) stop() {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	s.l.Close()
	for _, c := range conns {
		c.Close()
	}
	s.wg.Wait()
}

func (s *fakeServer) counts() (opens, chans int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opens, s.chans
}

func echo(f *wire.Flight) *wire.FlightResponse {
	r := &wire.FlightResponse{ID: f.ID, Token: f.Token}
	for _, q := range f.Requests {
		var res wire.Result
		switch q := q.(type) {
		case *wire.StartRequest:
			res.Body = &wire.StartResponse{
				Versions:     q.Versions,
				CipherSuites: q.CipherSuites,
				TTL:          time.Minute,
			}
		case *wire.AuthRequest:
			res.Body = &wire.AuthResponse{VerifiedChain: [][]byte{{0x30, 1}}}
		case *wire.KeyGenRequest:
			res.Body = &wire.KeyGenResponse{ClientKeyExchange: []byte{1, 2, 3}}
		case *wire.KeyRequest:
			res.Body = &wire.KeyResponse{MasterSecret: make([]byte, 48), KeyBlock: make([]byte, 40)}
		}
		r.Results = append(r.Results, res)
	}
	return r
}

func startFlight(tag string) *wire.Flight {
	return &wire.Flight{
		ID:    0xdeadbeef, // Do must overwrite it
		Token: []byte(tag),
		Requests: []wire.Request{&wire.StartRequest{
			ServerName:   "example.com",
			Versions:     []uint16{0x0303},
			CipherSuites: []uint16{0xc02f},
		}},
	}
}

func newTestClient(t *testing.T, addrs ...string) *Client {
	t.Helper()
	c, err := New(Config{Addrs: addrs, DeviceID: testDevice, PSK: testPSK, DialTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.next = 0 // the rotation starts at the first address, for tests that count
	return c
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	l.Close()
	return a
}

func TestDo(t *testing.T) {
	s := newFakeServer(t)
	c := newTestClient(t, s.addr())
	f := startFlight("one")
	r, err := c.Do(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if f.ID == 0xdeadbeef {
		t.Error("Do kept the caller's flight id")
	}
	if r.ID != f.ID || string(r.Token) != "one" || len(r.Results) != 1 || r.Results[0].Op() != wire.OpStart || r.Results[0].Err != nil {
		t.Fatalf("response %+v", r)
	}
	if r.Results[0].Body.(*wire.StartResponse).TTL != time.Minute {
		t.Errorf("TTL %v", r.Results[0].Body.(*wire.StartResponse).TTL)
	}
}

func TestPlaintext(t *testing.T) {
	s := newFakeServer(t)
	c, err := New(Config{Addrs: []string{s.addr()}, DeviceID: testDevice, Plaintext: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Do(context.Background(), startFlight("p")); err != nil {
		t.Fatal(err)
	}
}

func TestUnixAddress(t *testing.T) {
	path := t.TempDir() + "/o.sock"
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{t: t, l: l}
	s.wg.Add(1)
	go s.acceptLoop()
	t.Cleanup(s.stop)
	c := newTestClient(t, "unix:"+path)
	if _, err := c.Do(context.Background(), startFlight("u")); err != nil {
		t.Fatal(err)
	}
}

// TestMultiplexed holds every answer until all n flights arrived, then
// answers in reverse order: it only passes if the calls share one channel
// concurrently and answers are matched by id.
func TestMultiplexed(t *testing.T) {
	const n = 20
	s := newFakeServer(t)
	var held []*wire.Flight
	s.onFlight = func(f *wire.Flight, send func(*wire.FlightResponse), _ func()) bool {
		held = append(held, f) // the channel's goroutine only
		if len(held) == n {
			ids := map[uint32]bool{}
			for i := len(held) - 1; i >= 0; i-- {
				if ids[held[i].ID] {
					t.Errorf("id %d used twice", held[i].ID)
				}
				ids[held[i].ID] = true
				send(echo(held[i]))
			}
		}
		return true
	}
	c := newTestClient(t, s.addr())
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tag := fmt.Sprint("call-", i)
			r, err := c.Do(context.Background(), startFlight(tag))
			if err != nil {
				t.Error(err)
				return
			}
			if string(r.Token) != tag {
				t.Errorf("call %s got the answer for %s", tag, r.Token)
			}
		}()
	}
	wg.Wait()
	if opens, chans := s.counts(); opens != 1 || chans != 1 {
		t.Errorf("%d connections, %d channels; want one of each", opens, chans)
	}
}

func TestContextCancel(t *testing.T) {
	s := newFakeServer(t)
	release := make(chan *wire.Flight, 1)
	arrived := make(chan struct{})
	s.onFlight = func(f *wire.Flight, send func(*wire.FlightResponse), _ func()) bool {
		if string(f.Token) == "never" {
			return true
		}
		if string(f.Token) == "hang" {
			release <- f
			close(arrived)
			return true
		}
		// Answer the hung flight late, just before this one.
		select {
		case h := <-release:
			send(echo(h))
		default:
		}
		return false
	}
	c := newTestClient(t, s.addr())
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Do(ctx, startFlight("hang"))
		errc <- err
	}()
	<-arrived
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled Do returned %v", err)
	}
	cn := c.current()
	cn.mu.Lock()
	left := len(cn.pending)
	cn.mu.Unlock()
	if left != 0 {
		t.Errorf("%d pending calls after cancel", left)
	}
	// The late answer to "hang" arrives first and is dropped; the next call
	// on the same channel gets its own.
	r, err := c.Do(context.Background(), startFlight("next"))
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Token) != "next" {
		t.Errorf("got the answer for %q", r.Token)
	}
	if c.current() != cn {
		t.Error("cancel killed the channel")
	}

	// A context already done never reaches the network.
	if _, err := c.Do(ctx, startFlight("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Do on a done context: %v", err)
	}
	// A deadline is the caller's too.
	dctx, dcancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer dcancel()
	if _, err := c.Do(dctx, startFlight("never")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Do past its deadline: %v", err)
	}
}

func TestServerDiesMidCall(t *testing.T) {
	s := newFakeServer(t)
	s.onFlight = func(f *wire.Flight, _ func(*wire.FlightResponse), kill func()) bool {
		if string(f.Token) == "die" {
			kill()
			return true
		}
		return false
	}
	c := newTestClient(t, s.addr())
	if _, err := c.Do(context.Background(), startFlight("a")); err != nil {
		t.Fatal(err)
	}
	first := c.current()
	_, err := c.Do(context.Background(), startFlight("die"))
	if err == nil {
		t.Fatal("a call whose channel died succeeded")
	}
	if !strings.HasPrefix(err.Error(), "client: ") {
		t.Errorf("error %q", err)
	}
	<-first.readerDone // the reader exited with the channel
	r, err := c.Do(context.Background(), startFlight("b"))
	if err != nil {
		t.Fatalf("Do after the channel died: %v", err)
	}
	if string(r.Token) != "b" {
		t.Errorf("answer %q", r.Token)
	}
	if c.current() == first {
		t.Error("no new channel")
	}
	// The dying call was resent once on a second channel (it met a
	// reused one), died there too, and "b" opened the third.
	if _, chans := s.counts(); chans != 3 {
		t.Errorf("%d channels, want 3", chans)
	}
}

// TestResendOnReusedChannel: a flight that meets a reused channel's close
// (the offloader's idle timeout racing the write) is sent once more on a
// fresh channel and succeeds; one that fails on a fresh channel is not.
func TestResendOnReusedChannel(t *testing.T) {
	s := newFakeServer(t)
	var mu sync.Mutex
	killed := 0
	s.onFlight = func(f *wire.Flight, _ func(*wire.FlightResponse), kill func()) bool {
		mu.Lock()
		defer mu.Unlock()
		if string(f.Token) == "idle-close" && killed == 0 {
			killed++
			kill()
			return true
		}
		return false
	}
	c := newTestClient(t, s.addr())
	if _, err := c.Do(context.Background(), startFlight("open")); err != nil {
		t.Fatal(err)
	}
	r, err := c.Do(context.Background(), startFlight("idle-close"))
	if err != nil {
		t.Fatalf("flight on a channel closed under it was not resent: %v", err)
	}
	if string(r.Token) != "idle-close" {
		t.Errorf("answer %q", r.Token)
	}
	if _, chans := s.counts(); chans != 2 {
		t.Errorf("%d channels, want 2", chans)
	}
}

// TestPendingCallsFail: every call in flight on a channel that dies gets
// the error. A call that found the channel already open (rather than
// waiting for its opening) is resent once on a new channel, as Do does for
// any idle channel found dead; so the server kills every channel from the
// nth flight on, resends included. Which calls were resent depends on the
// scheduler; none may hang (the deadline only turns a hang into a failure).
func TestPendingCallsFail(t *testing.T) {
	s := newFakeServer(t)
	const n = 5
	var got atomic.Int32
	s.onFlight = func(f *wire.Flight, _ func(*wire.FlightResponse), kill func()) bool {
		if got.Add(1) >= n {
			kill()
		}
		return true
	}
	c := newTestClient(t, s.addr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Do(ctx, startFlight("p"))
			switch {
			case err == nil:
				t.Error("a call on a dead channel succeeded")
			case ctx.Err() != nil:
				t.Errorf("a call on a dead channel hung: %v", err)
			}
		}()
	}
	wg.Wait()
}

func TestFailover(t *testing.T) {
	a, b := newFakeServer(t), newFakeServer(t)
	dead := deadAddr(t)
	c := newTestClient(t, dead, a.addr(), b.addr())
	if _, err := c.Do(context.Background(), startFlight("1")); err != nil {
		t.Fatal(err)
	}
	if _, chans := a.counts(); chans != 1 {
		t.Fatalf("first live address served %d channels", chans)
	}
	// a goes away: the next call finds the channel dead (an idle channel
	// has no reader), and its resend moves to b.
	a.stop()
	if _, err := c.Do(context.Background(), startFlight("2")); err != nil {
		t.Fatal(err)
	}
	if _, chans := b.counts(); chans != 1 {
		t.Fatalf("second address served %d channels", chans)
	}
}

func TestWrongPSK(t *testing.T) {
	s := newFakeServer(t)
	other := newFakeServer(t)
	c, err := New(Config{Addrs: []string{s.addr(), other.addr()}, DeviceID: testDevice,
		PSK: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.next = 0
	for range 2 {
		_, err = c.Do(context.Background(), startFlight("x"))
		var we *wire.Error
		if !errors.As(err, &we) || we.Status != wire.StatusAuthFailed {
			t.Fatalf("wrong PSK: %v (%T), want StatusAuthFailed", err, err)
		}
		if !errors.Is(err, wire.StatusAuthFailed) {
			t.Errorf("errors.Is(err, StatusAuthFailed) false for %v", err)
		}
	}
	// One opening per call, and a refusal is not taken to the next replica.
	if opens, chans := s.counts(); opens != 2 || chans != 0 {
		t.Errorf("%d openings, %d channels; want 2, 0", opens, chans)
	}
	if opens, _ := other.counts(); opens != 0 {
		t.Errorf("refused PSK tried on the second address %d times", opens)
	}

	// An unknown device is refused the same way.
	c2, _ := New(Config{Addrs: []string{s.addr()}, DeviceID: "nobody", PSK: testPSK})
	defer c2.Close()
	if _, err := c2.Do(context.Background(), startFlight("x")); !errors.Is(err, wire.StatusAuthFailed) {
		t.Errorf("unknown device: %v", err)
	}
}

func TestUnreachable(t *testing.T) {
	d1, d2 := deadAddr(t), deadAddr(t)
	c := newTestClient(t, d1, d2)
	_, err := c.Do(context.Background(), startFlight("x"))
	if err == nil {
		t.Fatal("Do to dead offloaders succeeded")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "client: offloader unreachable: dial tcp "+d1) || !strings.Contains(msg, d2) {
		t.Errorf("error %q does not name both addresses", msg)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("errors.Is(err, ECONNREFUSED) false for %q", msg)
	}
}

func TestBadResponse(t *testing.T) {
	s := newFakeServer(t)
	c := newTestClient(t, s.addr())
	for name, h := range map[string]func(*wire.Flight) *wire.FlightResponse{
		"too many results": func(f *wire.Flight) *wire.FlightResponse {
			r := echo(f)
			r.Results = append(r.Results, r.Results[0])
			return r
		},
		"wrong op": func(f *wire.Flight) *wire.FlightResponse {
			r := echo(f)
			r.Results[0] = wire.Result{Body: &wire.KeyGenResponse{ClientKeyExchange: []byte{1}}}
			return r
		},
	} {
		s.mu.Lock()
		s.handle = h
		s.mu.Unlock()
		_, err := c.Do(context.Background(), startFlight("x"))
		var we *wire.Error
		if !errors.As(err, &we) || we.Status != wire.StatusMalformed {
			t.Errorf("%s: %v, want StatusMalformed", name, err)
		}
	}
	// Too few: a two-request flight answered with one result.
	s.mu.Lock()
	s.handle = func(f *wire.Flight) *wire.FlightResponse {
		r := echo(f)
		r.Results = r.Results[:1]
		return r
	}
	s.mu.Unlock()
	f := &wire.Flight{Requests: []wire.Request{
		&wire.KeyGenRequest{},
		&wire.KeyRequest{},
	}}
	_, err := c.Do(context.Background(), f)
	var we *wire.Error
	if !errors.As(err, &we) || we.Status != wire.StatusMalformed {
		t.Errorf("too few results: %v, want StatusMalformed", err)
	}
	// The channel survives a bad answer.
	s.mu.Lock()
	s.handle = nil
	s.mu.Unlock()
	if _, err := c.Do(context.Background(), startFlight("ok")); err != nil {
		t.Errorf("Do after a bad answer: %v", err)
	}
}

func TestClose(t *testing.T) {
	s := newFakeServer(t)
	arrived := make(chan struct{}, 1)
	s.onFlight = func(*wire.Flight, func(*wire.FlightResponse), func()) bool {
		arrived <- struct{}{}
		return true // never answer
	}
	c := newTestClient(t, s.addr())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Do(context.Background(), startFlight("x"))
		errc <- err
	}()
	<-arrived
	cn := c.current()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Errorf("pending call after Close: %v", err)
	}
	select {
	case <-cn.readerDone:
	default:
		t.Error("Close returned before the reader exited")
	}
	if _, err := c.Do(context.Background(), startFlight("y")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Do after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestNewChecksConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no address": {DeviceID: "d", PSK: testPSK},
		"no device":  {Addrs: []string{"x:1"}, PSK: testPSK},
		"short psk":  {Addrs: []string{"x:1"}, DeviceID: "d", PSK: testPSK[:8]},
		"no psk":     {Addrs: []string{"x:1"}, DeviceID: "d"},
		"empty addr": {Addrs: []string{""}, DeviceID: "d", PSK: testPSK},
	} {
		if _, err := New(cfg); err == nil || !strings.HasPrefix(err.Error(), "client: ") {
			t.Errorf("%s: New returned %v", name, err)
		}
	}
}

// TestNoGoroutineLeak runs the client through its lifecycles and checks
// every goroutine it started has returned.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		s := newFakeServer(t)
		s.onFlight = func(f *wire.Flight, _ func(*wire.FlightResponse), kill func()) bool {
			if string(f.Token) == "die" {
				kill()
				return true
			}
			return false
		}
		for range 3 {
			c, err := New(Config{Addrs: []string{deadAddr(t), s.addr()}, DeviceID: testDevice, PSK: testPSK})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for i := range 10 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tag := "ok"
					if i == 5 {
						tag = "die"
					}
					c.Do(context.Background(), startFlight(tag))
				}()
			}
			wg.Wait()
			c.Do(context.Background(), startFlight("ok"))
			c.Close()
		}
		s.stop()
	}()
	var now int
	for range 200 {
		now = runtime.NumGoroutine()
		if now <= before {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	buf := make([]byte, 1<<16)
	t.Fatalf("%d goroutines before, %d after:\n%s", before, now, buf[:runtime.Stack(buf, true)])
}

// TestOpenBounded: an offloader that accepts but never answers the opening
// is given up after DialTimeout, or when the caller's ctx ends.
func TestOpenBounded(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	c, err := New(Config{Addrs: []string{l.Addr().String()}, DeviceID: testDevice, PSK: testPSK,
		DialTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Do(context.Background(), startFlight("x"))
	if err == nil || !strings.Contains(err.Error(), "opening channel to "+l.Addr().String()+": timed out") {
		t.Errorf("silent offloader: %v", err)
	}

	c2 := newTestClient(t, l.Addr().String()) // a minute's DialTimeout
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	if _, err := c2.Do(ctx, startFlight("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled while opening: %v", err)
	}
}

// TestDeviceSideDeps: the device-side client links no server, metrics or
// config code.
func TestDeviceSideDeps(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "github.com/tlsoffload/tlsoffload/offloader/server" || dep == "github.com/tlsoffload/tlsoffload/certs" ||
			strings.Contains(dep, "prometheus") || strings.Contains(dep, "yaml") || dep == "net/http" {
			t.Errorf("the client links %s", dep)
		}
	}
}

// TestWriteAbandoned: over a synchronous pipe (the Dial hook) to an
// offloader that stops reading, a call's ctx cuts its blocked write short;
// the half-written channel is given up and the next call opens a new one.
func TestWriteAbandoned(t *testing.T) {
	var (
		mu    sync.Mutex
		dials int
		wg    sync.WaitGroup
	)
	defer wg.Wait()
	release := make(chan struct{})
	defer close(release)
	lookup := func(id string) ([]byte, bool) { return testPSK, id == testDevice }
	dial := func(ctx context.Context, addr string) (net.Conn, error) {
		if addr != "pipe" {
			t.Errorf("dialled %q", addr)
		}
		mu.Lock()
		dials++
		stall := dials == 1
		mu.Unlock()
		cc, sc := net.Pipe()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer sc.Close()
			ch, _, err := wire.ServerOpen(sc, lookup, false, nil)
			if err != nil {
				return
			}
			if stall {
				// Never read: hold the pipe until the test ends.
				<-release
				return
			}
			for {
				b, err := ch.ReadFrame()
				if err != nil {
					return
				}
				f := new(wire.Flight)
				if f.Unmarshal(b) != nil {
					return
				}
				out, _ := echo(f).Marshal()
				if ch.WriteFrame(out) != nil {
					return
				}
			}
		}()
		return cc, nil
	}
	c, err := New(Config{Addrs: []string{"pipe"}, DeviceID: testDevice, PSK: testPSK, Dial: dial})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Do(ctx, startFlight("stuck")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("blocked write: %v", err)
	}
	r, err := c.Do(context.Background(), startFlight("next"))
	if err != nil {
		t.Fatalf("Do after an abandoned write: %v", err)
	}
	if string(r.Token) != "next" || dials != 2 {
		t.Errorf("answer %q after %d dials", r.Token, dials)
	}
}

// TestReadingCallHandsOver: the lone call reads its own answer; when it
// gives up (ctx) while another call waits, reading passes to a goroutine
// and the other call still gets its answer on the same channel; once no
// call waits, no reader is left.
func TestReadingCallHandsOver(t *testing.T) {
	s := newFakeServer(t)
	type held struct {
		f    *wire.Flight
		send func(*wire.FlightResponse)
	}
	got := make(chan held, 2)
	s.onFlight = func(f *wire.Flight, send func(*wire.FlightResponse), _ func()) bool {
		if string(f.Token) == "solo" {
			return false
		}
		got <- held{f, send}
		return true // answered below
	}
	c := newTestClient(t, s.addr())
	if _, err := c.Do(context.Background(), startFlight("solo")); err != nil {
		t.Fatal(err)
	}
	cn := c.current()
	cn.mu.Lock()
	reading := cn.reading
	cn.mu.Unlock()
	if reading {
		t.Fatal("a reader is left on an idle channel")
	}

	ctx, cancel := context.WithCancel(context.Background())
	errA := make(chan error, 1)
	go func() {
		_, err := c.Do(ctx, startFlight("a"))
		errA <- err
	}()
	fa := <-got
	errB := make(chan error, 1)
	go func() {
		r, err := c.Do(context.Background(), startFlight("b"))
		if err == nil && string(r.Token) != "b" {
			err = fmt.Errorf("b got the answer for %q", r.Token)
		}
		errB <- err
	}()
	fb := <-got
	cancel()
	if err := <-errA; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled reading call: %v", err)
	}
	fa.send(echo(fa.f)) // late: dropped
	fb.send(echo(fb.f))
	if err := <-errB; err != nil {
		t.Fatalf("waiting call after the reader gave up: %v", err)
	}
	if c.current() != cn {
		t.Error("the channel was replaced")
	}
	// The goroutine that took over stops once no call waits.
	deadline := time.Now().Add(5 * time.Second)
	for {
		cn.mu.Lock()
		reading = cn.reading
		cn.mu.Unlock()
		if !reading {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("reader goroutine still reading with no call waiting")
		}
		time.Sleep(time.Millisecond)
	}
}
