package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"

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
// per flight, the answer read whole), makes the offloader round trip with
// the same sizes on a standing plain connection to the echo service in the
// offloader process, writes the close_notify's bytes and closes.

// Connections a recorded handshake uses.
const (
	connTLS       = iota // the TLS server
	connOffloader        // the offloader channel
)

type ioEvent struct {
	conn  int
	write bool
	n     int
}

// eventLog records the reads and writes of countingConns, in order.
type eventLog struct {
	mu sync.Mutex
	ev []ioEvent
}

func (l *eventLog) add(conn int, write bool, n int) {
	l.mu.Lock()
	l.ev = append(l.ev, ioEvent{conn, write, n})
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
// (m bytes, 0 for none).
type exchange struct{ n, m int }

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
				x.m = s[i].n
			}
			if x.n < 4 || x.n > 0xffff || x.m > 0xffff {
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
// round trips, close.
func (p *controlPlan) run(e *env, buf []byte) error {
	conn, err := net.DialTimeout("tcp", e.tlsSrv.vals["ctl"], dialLimit)
	if err != nil {
		return err
	}
	for i := 0; i <= len(p.tls); i++ {
		if i == p.offAfter {
			for _, x := range p.off {
				if err := pingPong(e.echoConn, buf, x.n, x.m); err != nil {
					conn.Close()
					return err
				}
			}
		}
		if i == len(p.tls) {
			break
		}
		if err := pingPong(conn, buf, p.tls[i].n, p.tls[i].m); err != nil {
			conn.Close()
			return err
		}
	}
	return conn.Close()
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

// String shows the plan: → bytes written, ← bytes read, [offloader →n ←m].
func (p *controlPlan) String() string {
	var b strings.Builder
	for i := 0; i <= len(p.tls); i++ {
		if i == p.offAfter {
			for _, x := range p.off {
				fmt.Fprintf(&b, "[offloader →%d ←%d] ", x.n, x.m)
			}
		}
		if i < len(p.tls) {
			fmt.Fprintf(&b, "→%d ", p.tls[i].n)
			if p.tls[i].m > 0 {
				fmt.Fprintf(&b, "←%d ", p.tls[i].m)
			}
		}
	}
	return strings.TrimSpace(b.String())
}

// recordPlan runs one handshake and Close over a counted connection to addr
// (hs wraps it in the client under test) and returns its plan. log also
// receives the offloader channel's events when hs's client uses a counted
// channel.
func recordPlan(addr string, log *eventLog, hs func(ctx context.Context, c net.Conn) (io.Closer, error)) (*controlPlan, error) {
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
	if p.dev, err = recordPlan(addr, log, deviceHS(dev)); err != nil {
		return nil, fmt.Errorf("%s: offloaded control plan: %w", c.name, err)
	}
	if len(p.dev.off) == 0 {
		return nil, fmt.Errorf("%s: offloaded control plan: no offloader call recorded", c.name)
	}
	if p.gotls, err = recordPlan(addr, log, goHS(gocfg)); err != nil {
		return nil, fmt.Errorf("%s: crypto/tls control plan: %w", c.name, err)
	}
	if len(p.gotls.off) != 0 {
		return nil, fmt.Errorf("%s: crypto/tls control plan: offloader traffic recorded", c.name)
	}
	e.plans[c.name] = p
	return p, nil
}
