package main

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"
)

// conn is one connection to a server, directly or through a proxy.
type conn struct {
	id  int64
	key connKey
	nc  net.Conn      // what HTTP reads and writes: TLS or plain
	br  *bufio.Reader // HTTP/1.1 reads
	h2  *h2Conn       // set for HTTP/2
	tls *tlsInfo      // set for TLS

	proxied  bool // HTTP/1.1 through an HTTP proxy, no tunnel: absolute-form requests
	remoteIP string
	remotePt int
	localIP  string
	localPt  int
	reused   bool
}

// connKey says which connections a request may reuse.
type connKey struct {
	scheme, host, port string
	proxy              string
}

func (c *conn) close() {
	if c.h2 != nil {
		c.h2.cc.Close()
	}
	c.nc.Close()
}

// abort closes the connection at once, under any read or write still
// waiting on it: the socket first, without a TLS close_notify. A server
// that sees close_notify may answer it (net/http ends a waiting handler
// and sends "200, no body"), and that answer must not be read as the
// response: a deadline (-m) is a failure (28), never a short success.
func (c *conn) abort() {
	if t, ok := c.nc.(interface{ NetConn() net.Conn }); ok {
		t.NetConn().Close()
	}
	c.nc.Close()
}

// connPool keeps idle connections for the next URL or redirect, one per
// key, as curl reuses a connection.
type connPool struct {
	mu   sync.Mutex
	idle map[connKey]*conn
}

func (p *connPool) get(k connKey) *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.idle[k]
	delete(p.idle, k)
	return c
}

func (p *connPool) put(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.idle == nil {
		p.idle = make(map[connKey]*conn)
	}
	if old := p.idle[c.key]; old != nil {
		old.close()
	}
	p.idle[c.key] = c
}

func (p *connPool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, c := range p.idle {
		c.close()
		delete(p.idle, k)
	}
}

// timing holds the moments curl's -w reports, as durations since the
// request began.
type timing struct {
	start                        time.Time
	namelookup, connect, appconn time.Duration
	pretransfer, starttransfer   time.Duration
}

func (t *timing) since() time.Duration { return time.Since(t.start) }

// connect returns a connection for u: an idle one if the pool has it, else
// a new one (name resolution, TCP, the proxy's CONNECT, TLS).
func (x *transfer) connect(ctx context.Context, u *url.URL) (*conn, error) {
	r := x.r
	proxy, err := r.proxyFor(u)
	if err != nil {
		return nil, err
	}
	key := connKey{scheme: u.Scheme, host: strings.ToLower(u.Hostname()), port: portOf(u)}
	if proxy != nil {
		key.proxy = proxy.String()
	}
	if c := r.pool.get(key); c != nil {
		c.reused = true
		x.tracef("Re-using existing connection #%d with host %s", c.id, u.Hostname())
		x.t.namelookup, x.t.connect, x.t.appconn = x.t.since(), x.t.since(), x.t.since()
		return c, nil
	}

	cctx, cancel := ctx, context.CancelFunc(func() {})
	if r.o.connectTimeout > 0 {
		cctx, cancel = context.WithTimeout(ctx, r.o.connectTimeout)
	}
	defer cancel()

	c := &conn{id: r.connSeq.Add(1) - 1, key: key}
	host, port := u.Hostname(), portOf(u)
	tunnel := false
	if proxy != nil {
		host, port = proxy.Hostname(), portOf(proxy)
		tunnel = u.Scheme == "https" || r.o.tunnel
		c.proxied = !tunnel
	} else if h, p := r.connectTo(host, port); h != host || p != port {
		x.tracef("Connecting to hostname: %s port %s (--connect-to)", h, p)
		host, port = h, p
	}
	raw, err := x.dialHost(cctx, host, port, proxy != nil)
	if err != nil {
		return nil, err
	}
	x.tracef("Connected to %s (%s) port %s (#%d)", host, hostOf(raw.RemoteAddr()), port, c.id)
	if tunnel {
		if err := x.tunnel(cctx, raw, u, proxy); err != nil {
			raw.Close()
			return nil, err
		}
	}
	c.nc = raw
	if u.Scheme == "https" {
		setup, err := r.tlsSetup()
		if err != nil {
			raw.Close()
			return nil, err
		}
		x.tracef("ALPN: offers %s", strings.Join(r.alpn(), ","))
		tc, info, err := setup.handshake(cctx, raw, u.Hostname(), r.alpn())
		if info != nil {
			x.tls = info
			x.offloadTime += info.offload
			x.roundTrips += info.roundTrips
		}
		if err != nil {
			raw.Close()
			if cctx.Err() != nil && ctx.Err() == nil {
				return nil, fail(exitTimeout, "Connection timed out after %d milliseconds", r.o.connectTimeout.Milliseconds())
			}
			return nil, err
		}
		c.nc, c.tls = tc, info
		x.t.appconn = x.t.since()
		x.traceHandshake(info)
	}
	c.br = bufio.NewReaderSize(c.nc, 16<<10)
	h2 := (c.tls != nil && c.tls.alpn == "h2") || (c.tls == nil && !c.proxied && r.o.httpVersion == http2Prior)
	if h2 {
		hc, err := newH2Conn(ctx, c.nc, u.Scheme, net.JoinHostPort(u.Hostname(), portOf(u)))
		if err != nil {
			c.nc.Close()
			return nil, fail(exitHTTP2, "HTTP/2 connection failed: %v", err)
		}
		c.h2 = hc
		x.tracef("using HTTP/2")
	}
	if la, ok := raw.LocalAddr().(*net.TCPAddr); ok {
		c.localIP, c.localPt = la.IP.String(), la.Port
	}
	if ra, ok := raw.RemoteAddr().(*net.TCPAddr); ok {
		c.remoteIP, c.remotePt = ra.IP.String(), ra.Port
	}
	return c, nil
}

// alpn is the ALPN list ocurl offers.
func (r *run) alpn() []string {
	switch r.o.httpVersion {
	case http2ALPN, http2Prior:
		return []string{"h2", "http/1.1"}
	}
	return []string{"http/1.1"}
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	return defaultPort(u.Scheme)
}

// dialHost resolves host (through --resolve first) and connects to its
// addresses in turn until one answers.
func (x *transfer) dialHost(ctx context.Context, host, port string, isProxy bool) (net.Conn, error) {
	r := x.r
	addrs, err := r.lookup(ctx, host, port)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fail(exitTimeout, "Resolving timed out after %d milliseconds", r.o.connectTimeout.Milliseconds())
		}
		if isProxy {
			return nil, fail(exitProxyResolve, "Could not resolve proxy: %s", host)
		}
		return nil, fail(exitResolve, "Could not resolve host: %s", host)
	}
	x.t.namelookup = x.t.since()
	var d net.Dialer
	var last error
	for _, a := range addrs {
		target := net.JoinHostPort(a, port)
		x.tracef("  Trying %s...", target)
		c, err := d.DialContext(ctx, "tcp", target)
		if err == nil {
			x.t.connect = x.t.since()
			return c, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	if isTimeout(last) || ctx.Err() != nil {
		return nil, fail(exitTimeout, "Failed to connect to %s port %s: connection timed out", host, port)
	}
	what := "Failed to connect to"
	if isProxy {
		what = "Failed to connect to the proxy"
	}
	return nil, fail(exitConnect, "%s %s port %s: %w", what, host, port, dialCause(last))
}

// dialCause is the part of a dial error that says why.
func dialCause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// lookup resolves host: an IP literal as itself, a --resolve entry, or
// DNS (-4/-6 filter the answer).
func (r *run) lookup(ctx context.Context, host, port string) ([]string, error) {
	h := strings.Trim(host, "[]")
	if ip := net.ParseIP(h); ip != nil {
		return []string{ip.String()}, nil
	}
	if addrs := r.resolved(h, port); len(addrs) > 0 {
		return addrs, nil
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, h)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ip := range ips {
		v4 := ip.IP.To4() != nil
		if (r.o.ipVersion == 4 && !v4) || (r.o.ipVersion == 6 && v4) {
			continue
		}
		out = append(out, ip.IP.String())
	}
	if len(out) == 0 {
		return nil, errors.New("no address of the wanted family")
	}
	return out, nil
}

func hostOf(a net.Addr) string {
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}
