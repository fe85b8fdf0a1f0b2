package main

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/tlsclient"
)

// delayProxy forwards TCP connections to target, delivering every chunk
// it reads d after it arrived, in each direction: a delay line, not a
// bandwidth limit, so the added round trip is 2d whatever the sizes.
type delayProxy struct {
	l      net.Listener
	target string
	d      time.Duration
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func newDelayProxy(target string, d time.Duration) (*delayProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &delayProxy{l: l, target: target, d: d}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

func (p *delayProxy) addr() string { return p.l.Addr().String() }

func (p *delayProxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.l.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(out, in)
		go p.pipe(in, out)
	}
}

// pipe copies src to dst through a delay line.
func (p *delayProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	type chunk struct {
		b  []byte
		at time.Time
	}
	line := make(chan chunk, 1024)
	go func() {
		defer close(line)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				line <- chunk{buf[:n], time.Now().Add(p.d)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range line {
		time.Sleep(time.Until(c.at))
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	for range line { // drain so the reader can end
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

func (p *delayProxy) close() {
	p.l.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// handshakeLatency returns the median wall time of n handshakes.
func handshakeLatency(n int, dial func() (net.Conn, error)) (time.Duration, error) {
	var ts samples
	for i := 0; i < n; i++ {
		start := time.Now()
		c, err := dial()
		if err != nil {
			return 0, err
		}
		ts = append(ts, float64(time.Since(start)))
		c.Close()
	}
	return time.Duration(ts.median()), nil
}

// measureRoundTrips: handshake latency with a delay on the
// device↔offloader path, in units of the round trip it adds (2D).
func measureRoundTrips(e *env, o *options, rep *report) error {
	rep.section("Round trips to the offloader")
	proxy, err := newDelayProxy(e.offAddr, o.delay)
	if err != nil {
		return err
	}
	defer proxy.close()
	slow, err := e.newOffloadClient(proxy.addr())
	if err != nil {
		return err
	}
	defer slow.Close()
	sequential := func(cfg *client.Config) { cfg.Sequential = true }
	seqDirect, err := e.newOffloadClient(e.offAddr, sequential)
	if err != nil {
		return err
	}
	defer seqDirect.Close()
	seqSlow, err := e.newOffloadClient(proxy.addr(), sequential)
	if err != nil {
		return err
	}
	defer seqSlow.Close()
	c := hsCases[0]
	addr := e.tlsAddr(c)
	rtt := 2 * o.delay

	t := &table{
		title: fmt.Sprintf("Added handshake latency with %s added one way on the device↔offloader path (added RTT %s), %s, %d handshakes per run", o.delay, rtt, c.name, o.latencyN),
		header: []string{"mode", "latency, direct (ms)", "latency, delayed (ms)", "added (ms)",
			"added / added RTT", "expected"},
	}
	modes := []struct {
		name, expected     string
		sequential, resume bool
		goal               string // "" for none
	}{
		{"full handshake, pipelined (Auth+KeyGen+Key in one flight)", "1×", false, false, goalRTFull},
		{"full handshake, sequential (Config.Sequential)", "3× (4× with Start uncached)", true, false, ""},
		{"resumption (session ticket, Config.SessionCache)", "0×", false, true, goalRTResume},
	}
	for _, m := range modes {
		lat := func(off *client.Client) func() (net.Conn, error) {
			cfg := e.deviceConfig(c, off)
			if m.resume {
				cfg.SessionCache = tlsclient.NewLRUSessionCache(8)
			}
			warm := true
			return func() (net.Conn, error) {
				if warm { // fills this Config's Start and session caches (and opens the channel)
					warm = false
					conn, err := dialDevice(cfg, addr)
					if err != nil {
						return nil, err
					}
					conn.Close()
				}
				return dialDevice(cfg, addr)
			}
		}
		directDial, slowDial := lat(e.offload), lat(slow)
		if m.sequential {
			directDial, slowDial = lat(seqDirect), lat(seqSlow)
		}
		var direct, delayed samples
		for r := 0; r < o.runs; r++ {
			d, err := handshakeLatency(o.latencyN, directDial)
			if err != nil {
				return fmt.Errorf("%s direct: %w", m.name, err)
			}
			s, err := handshakeLatency(o.latencyN, slowDial)
			if err != nil {
				return fmt.Errorf("%s delayed: %w", m.name, err)
			}
			direct, delayed = append(direct, d.Seconds()*1e3), append(delayed, s.Seconds()*1e3)
		}
		added := delayed.minus(direct)
		units := make(samples, len(added))
		for i, a := range added {
			units[i] = a / (rtt.Seconds() * 1e3)
		}
		t.rows = append(t.rows, []string{m.name, direct.fmt(2), delayed.fmt(2), added.fmt(2), units.fmt(2) + "×", m.expected})
		if m.goal != "" {
			rep.goal(m.goal, c.name, units)
		}
	}
	firstUnits, err := firstHandshakeUnits(e, o, proxy, c, addr)
	if err != nil {
		return err
	}
	t.rows = append(t.rows,
		[]string{"first handshake of a Config, pipelined (Start not cached: runs during the TCP connect)", "", "", "", firstUnits.fmt(2) + "×", "1× + (1× − the TCP connect it overlaps) ≈ 2× on loopback"})
	t.notes = []string{
		"A delay line in this process between the device's offloader client and the offloader process (each chunk delivered D after it arrived, both ways); the device's channel to it is opened before timing. Latency = wall time of dial + handshake (median of the run); added = delayed − direct, run by run.",
		"Sequential mode: Start is answered from the cache (filled by the first handshake), so Auth, KeyGen and Key are three calls, three round trips: the patent's four requests minus the cached Start. Uncached, Start overlaps the TCP connect to the server, so even then it costs at most one more round trip minus the connect.",
		"Goal: 1 round trip per full handshake, 0 per resumption.",
	}
	rep.table(t)
	return nil
}

// firstHandshakeUnits measures a Config's first handshake, which also asks
// Start, over the delayed path, in units of the added RTT (the channel is
// already open; the Start cache is fresh each time).
func firstHandshakeUnits(e *env, o *options, proxy *delayProxy, c hsCase, addr string) (samples, error) {
	// Clients that keep no Start answer: every handshake asks Start.
	uncached := func(cfg *client.Config) { cfg.StartCacheSize = -1 }
	direct, err := e.newOffloadClient(e.offAddr, uncached)
	if err != nil {
		return nil, err
	}
	defer direct.Close()
	slow, err := e.newOffloadClient(proxy.addr(), uncached)
	if err != nil {
		return nil, err
	}
	defer slow.Close()
	rtt := 2 * o.delay
	fresh := func(off *client.Client) func() (net.Conn, error) {
		return func() (net.Conn, error) {
			return dialDevice(e.deviceConfig(c, off), addr)
		}
	}
	// Open both channels first.
	for _, d := range []func() (net.Conn, error){fresh(direct), fresh(slow)} {
		conn, err := d()
		if err != nil {
			return nil, err
		}
		conn.Close()
	}
	var units samples
	for r := 0; r < o.runs; r++ {
		d, err := handshakeLatency(o.latencyN, fresh(direct))
		if err != nil {
			return nil, err
		}
		s, err := handshakeLatency(o.latencyN, fresh(slow))
		if err != nil {
			return nil, err
		}
		units = append(units, (s-d).Seconds()/rtt.Seconds())
	}
	return units, nil
}
