package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/tlsclient"
)

// The plain-TCP control of a handshake replays the network work of that
// very handshake with none of its TLS work. Its plan is recorded once, on a
// warm handshake whose connections are wrapped in countingConns: the bytes
// of every flight in each direction to the TLS server, the bytes of the
// offloader call (request and answer as they cross the channel, sealed
// frames included) and where in the handshake that call falls, and the
// final close_notify. The control then makes the same TCP connect, writes
// and reads the same byte counts to the "ctl" ping-pong listener (one write
// per flight, the answer read whole, the server first busy for as long as
// the real server made the client wait), makes the offloader round trip
// with the same sizes and wait on a standing plain connection to the echo
// service in the offloader process, writes the close_notify's bytes and
// closes.

// Connections a recorded handshake uses.
const (
	connTLS       = iota // the TLS server
	connOffloader        // the offloader channel
)

type ioEvent struct {
	conn  int
	write bool
	n     int
	at    time.Time // when the Read or Write returned
}

// eventLog records the reads and writes of countingConns, in order.
type eventLog struct {
	mu sync.Mutex
	ev []ioEvent
}

func (l *eventLog) add(conn int, write bool, n int) {
	l.mu.Lock()
	l.ev = append(l.ev, ioEvent{conn, write, n, time.Now()})
	l.mu.Unlock()
}

func (l *eventLog) take() []ioEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	ev := l.ev
	l.ev = nil
	return ev
}

// countingConn logs the byte count of every Read and Write of a connection.
type countingConn struct {
	net.Conn
	log  *eventLog
	conn int
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.log.add(c.conn, false, n)
	}
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.log.add(c.conn, true, n)
	}
	return n, err
}

// exchange is one flight written (n bytes) and the peer's answer read
// (m bytes, 0 for none). wait is how long the recorded client waited for
// the answer (from the end of its write to the return of the answer's
// first read); think is the part of it the control's server spends busy
// before answering: wait less the control's own wait with no think time.
type exchange struct {
	n, m        int
	wait, think time.Duration
}

// controlPlan is a handshake's network work: the exchanges with the TLS
// server, the offloader round trips, made after the first offAfter TLS
// exchanges, and the number of writes and reads the client made (for the
// notes: the control makes one write per flight).
type controlPlan struct {
	tls, off        []exchange
	offAfter        int
	writes, reads   int
	offWrites, offR int
}

// planOf turns a recorded handshake into its control plan: on each
// connection, consecutive writes make one flight, consecutive reads one
// answer.
func planOf(ev []ioEvent) (*controlPlan, error) {
	p := &controlPlan{}
	offStep := -1          // TLS steps before the first offloader event
	var steps [2][]ioEvent // merged, per connection
	var boundary [2]bool
	for _, e := range ev {
		if e.n == 0 { // a flight boundary: the next write is a flight of its own
			boundary[e.conn] = true
			continue
		}
		if e.conn == connOffloader && offStep < 0 {
			offStep = len(steps[connTLS])
		}
		switch {
		case e.conn == connTLS && e.write:
			p.writes++
		case e.conn == connTLS:
			p.reads++
		case e.write:
			p.offWrites++
		default:
			p.offR++
		}
		s := steps[e.conn]
		if k := len(s) - 1; k >= 0 && s[k].write == e.write && !(e.write && boundary[e.conn]) {
			s[k].n += e.n
			if e.write { // a flight ends at its last write; an answer starts at its first read
				s[k].at = e.at
			}
		} else {
			s = append(s, e)
		}
		if e.write {
			boundary[e.conn] = false
		}
		steps[e.conn] = s
	}
	for conn, s := range steps {
		var xs []exchange
		for i := 0; i < len(s); i++ {
			if !s[i].write {
				return nil, fmt.Errorf("control plan: connection %d: %d bytes read before any write", conn, s[i].n)
			}
			x := exchange{n: s[i].n}
			if i+1 < len(s) && !s[i+1].write {
				i++
				x.m, x.wait = s[i].n, s[i].at.Sub(s[i-1].at)
			}
			if x.n < pingHeader || x.n > 0xffff || x.m > 0xffff {
				return nil, fmt.Errorf("control plan: connection %d: exchange %d/%d out of the ping-pong's range", conn, x.n, x.m)
			}
			if conn == connTLS && offStep >= 0 && i < offStep {
				p.offAfter = len(xs) + 1
			}
			xs = append(xs, x)
		}
		if conn == connTLS {
			p.tls = xs
		} else {
			p.off = xs
		}
	}
	if len(p.tls) == 0 {
		return nil, fmt.Errorf("control plan: no bytes exchanged with the TLS server")
	}
	if offStep < 0 {
		p.offAfter = len(p.tls)
	}
	return p, nil
}

// run does the plan's network work: connect, the flights, the offloader
// round trips, close; each server thinks as long as the plan says.
func (p *controlPlan) run(e *env, buf []byte) error {
	_, _, err := p.runTimed(e, buf, true)
	return err
}

// runTimed is run, returning the waits of the TLS and offloader exchanges;
// with think false the servers answer at once (the control's own waits).
func (p *controlPlan) runTimed(e *env, buf []byte, think bool) (tlsWaits, offWaits []time.Duration, err error) {
	conn, err := net.DialTimeout("tcp", e.tlsSrv.vals["ctl"], dialLimit)
	if err != nil {
		return nil, nil, err
	}
	exch := func(c net.Conn, x exchange, waits *[]time.Duration) error {
		t := x.think
		if !think {
			t = 0
		}
		w, err := pingPong(c, buf, x.n, x.m, t)
		*waits = append(*waits, w)
		return err
	}
	for i := 0; i <= len(p.tls); i++ {
		if i == p.offAfter {
			for _, x := range p.off {
				if err := exch(e.echoConn, x, &offWaits); err != nil {
					conn.Close()
					return nil, nil, err
				}
			}
		}
		if i == len(p.tls) {
			break
		}
		if err := exch(conn, p.tls[i], &tlsWaits); err != nil {
			conn.Close()
			return nil, nil, err
		}
	}
	return tlsWaits, offWaits, conn.Close()
}

// planRecordings is how many handshakes a plan's waits are the median of.
const planRecordings = 7

// calibrate sets each exchange's think time: its recorded wait less the
// median wait of the same exchange in the control with no think time.
func (p *controlPlan) calibrate(e *env, buf []byte) error {
	var tw, ow [][]time.Duration
	for k := 0; k < planRecordings; k++ {
		t, o, err := p.runTimed(e, buf, false)
		if err != nil {
			return err
		}
		tw, ow = append(tw, t), append(ow, o)
	}
	set := func(xs []exchange, waits [][]time.Duration) {
		for i := range xs {
			if xs[i].m == 0 {
				continue
			}
			col := make([]time.Duration, len(waits))
			for k := range waits {
				col[k] = waits[k][i]
			}
			xs[i].think = max(xs[i].wait-medianDuration(col), 0)
		}
	}
	set(p.tls, tw)
	set(p.off, ow)
	return nil
}

func medianDuration(v []time.Duration) time.Duration {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

// sizes: the ClientHello, the server's first flight, and the offloader
// request and answer (summed over the round trips), for the floor's
// operands.
func (p *controlPlan) sizes() (clientHello, serverFlight, offReq, offResp int) {
	clientHello, serverFlight = p.tls[0].n, p.tls[0].m
	for _, x := range p.off {
		offReq += x.n
		offResp += x.m
	}
	return
}

// String shows the plan: →n bytes written, ←m read (after the server
// thought t µs), [offloader →n ←m].
func (p *controlPlan) String() string {
	var b strings.Builder
	answer := func(x exchange) {
		if x.m > 0 {
			fmt.Fprintf(&b, "←%d (think %d µs) ", x.m, x.think.Microseconds())
		}
	}
	for i := 0; i <= len(p.tls); i++ {
		if i == p.offAfter {
			for _, x := range p.off {
				fmt.Fprintf(&b, "[offloader →%d ", x.n)
				answer(x)
				b.WriteString("] ")
			}
		}
		if i < len(p.tls) {
			fmt.Fprintf(&b, "→%d ", p.tls[i].n)
			answer(p.tls[i])
		}
	}
	return strings.ReplaceAll(strings.TrimSpace(b.String()), " ]", "]")
}

// recordPlan runs planRecordings handshakes and Closes over counted
// connections to addr (hs wraps each in the client under test) and returns
// their plan: the byte counts of the first, the median of their waits, and
// the think times calibrated against the control. log also receives the
// offloader channel's events when hs's client uses a counted channel.
func recordPlan(e *env, addr string, log *eventLog, hs func(ctx context.Context, c net.Conn) (io.Closer, error)) (*controlPlan, error) {
	var plans []*controlPlan
	for k := 0; k < planRecordings; k++ {
		p, err := recordOne(addr, log, hs)
		if err != nil {
			return nil, err
		}
		if k > 0 && (len(p.tls) != len(plans[0].tls) || len(p.off) != len(plans[0].off) || p.offAfter != plans[0].offAfter) {
			return nil, fmt.Errorf("control plan: handshakes of different shapes: %v, then %v", plans[0], p)
		}
		plans = append(plans, p)
	}
	p := plans[0]
	med := func(xs []exchange, pick func(*controlPlan) []exchange) {
		for i := range xs {
			col := make([]time.Duration, len(plans))
			for k, q := range plans {
				col[k] = pick(q)[i].wait
			}
			xs[i].wait = medianDuration(col)
		}
	}
	med(p.tls, func(q *controlPlan) []exchange { return q.tls })
	med(p.off, func(q *controlPlan) []exchange { return q.off })
	if err := p.calibrate(e, make([]byte, 1<<16)); err != nil {
		return nil, err
	}
	return p, nil
}

// recordOne records one handshake and Close.
func recordOne(addr string, log *eventLog, hs func(ctx context.Context, c net.Conn) (io.Closer, error)) (*controlPlan, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dialLimit)
	defer cancel()
	raw, err := net.DialTimeout("tcp", addr, dialLimit)
	if err != nil {
		return nil, err
	}
	log.take()
	c, err := hs(ctx, &countingConn{Conn: raw, log: log, conn: connTLS})
	if err != nil {
		raw.Close()
		return nil, err
	}
	log.add(connTLS, true, 0) // close_notify is a flight of its own
	if err := c.Close(); err != nil {
		return nil, err
	}
	return planOf(log.take())
}

// deviceHS and goHS are recordPlan's hs for the two clients.
func deviceHS(cfg *tlsclient.Config) func(context.Context, net.Conn) (io.Closer, error) {
	return func(ctx context.Context, c net.Conn) (io.Closer, error) {
		tc := tlsclient.Client(c, cfg)
		return tc, tc.HandshakeContext(ctx)
	}
}

func goHS(cfg *tls.Config) func(context.Context, net.Conn) (io.Closer, error) {
	return func(ctx context.Context, c net.Conn) (io.Closer, error) {
		tc := tls.Client(c, cfg)
		return tc, tc.HandshakeContext(ctx)
	}
}

// fullPlans are the control plans of c's full handshakes.
type fullPlans struct{ dev, gotls *controlPlan }

// fullPlans records, once per case, the plans of an offloaded and a
// crypto/tls full handshake, each after warm-up handshakes (the offloaded
// one through its own counted channel to the offloader, its Start cached).
func (e *env) fullPlans(c hsCase) (*fullPlans, error) {
	if p, ok := e.plans[c.name]; ok {
		return p, nil
	}
	log := &eventLog{}
	off, err := client.New(client.Config{Addrs: []string{e.offAddr}, DeviceID: deviceID, PSK: e.psk,
		Dial: func(ctx context.Context, addr string) (net.Conn, error) {
			var d net.Dialer
			conn, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: conn, log: log, conn: connOffloader}, nil
		}})
	if err != nil {
		return nil, err
	}
	defer off.Close()
	dev := e.deviceConfig(c, off)
	gocfg := e.goTLSConfig(c)
	addr := e.tlsAddr(c)
	for i := 0; i < 2; i++ { // open the channel, fill the Start cache
		if err := dialClose(func() (net.Conn, error) { return dialDevice(dev, addr) })(); err != nil {
			return nil, fmt.Errorf("%s: control plan warm-up: %w", c.name, err)
		}
		if err := dialClose(func() (net.Conn, error) { return dialGoTLS(gocfg, addr) })(); err != nil {
			return nil, fmt.Errorf("%s: control plan warm-up: %w", c.name, err)
		}
	}
	p := &fullPlans{}
	if p.dev, err = recordPlan(e, addr, log, deviceHS(dev)); err != nil {
		return nil, fmt.Errorf("%s: offloaded control plan: %w", c.name, err)
	}
	if len(p.dev.off) == 0 {
		return nil, fmt.Errorf("%s: offloaded control plan: no offloader call recorded", c.name)
	}
	if p.gotls, err = recordPlan(e, addr, log, goHS(gocfg)); err != nil {
		return nil, fmt.Errorf("%s: crypto/tls control plan: %w", c.name, err)
	}
	if len(p.gotls.off) != 0 {
		return nil, fmt.Errorf("%s: crypto/tls control plan: offloader traffic recorded", c.name)
	}
	e.plans[c.name] = p
	return p, nil
}
