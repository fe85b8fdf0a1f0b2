package main

import (
	"bufio"
	"context"
	"net"
	"net/url"
	"strings"
)

// HTTP proxies, as curl uses them: -x/--proxy (or, without it, the
// http_proxy, https_proxy and all_proxy environment variables; http_proxy
// only in lower case, as curl, so a CGI's HTTP_PROXY from a request header
// cannot redirect it), minus --noproxy (or no_proxy). An https URL goes
// through a CONNECT tunnel and TLS runs end to end inside it; an http URL
// is sent to the proxy in absolute form, or tunnelled too with -p. -U (or
// the proxy URL's user info) authenticates to the proxy with Basic. Only
// HTTP proxies: HTTPS proxies and SOCKS exit 4.

// defaultProxyPort is curl's port for a proxy given without one.
const defaultProxyPort = "1080"

// proxyFor is the proxy to use for u, nil for none.
func (r *run) proxyFor(u *url.URL) (*url.URL, error) {
	var spec string
	if r.o.proxy != nil {
		spec = *r.o.proxy
	} else {
		env := r.iv.getenv
		if u.Scheme == "https" {
			spec = firstEnv(env, "https_proxy", "HTTPS_PROXY")
		} else {
			spec = env("http_proxy")
		}
		if spec == "" {
			spec = firstEnv(env, "all_proxy", "ALL_PROXY")
		}
	}
	if spec == "" {
		return nil, nil
	}
	noproxy := firstEnv(r.iv.getenv, "no_proxy", "NO_PROXY")
	if r.o.noproxy != nil {
		noproxy = *r.o.noproxy
	}
	if noProxyMatch(noproxy, u.Hostname()) {
		return nil, nil
	}
	return parseProxy(spec)
}

func firstEnv(env func(string) string, names ...string) string {
	for _, n := range names {
		if v := env(n); v != "" {
			return v
		}
	}
	return ""
}

// parseProxy reads a proxy: [http://][user:password@]host[:port].
func parseProxy(spec string) (*url.URL, error) {
	s := spec
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	p, err := url.Parse(s)
	if err != nil || p.Hostname() == "" {
		return nil, fail(exitProxyResolve, "Unsupported proxy syntax in %q", spec)
	}
	switch strings.ToLower(p.Scheme) {
	case "http":
	case "https", "socks4", "socks4a", "socks5", "socks5h":
		return nil, fail(exitNotHere, "%s proxies are not supported by ocurl (HTTP proxies only): %s", p.Scheme, p.Redacted())
	default:
		return nil, fail(exitNotHere, "Unsupported proxy scheme for %q", p.Redacted())
	}
	p.Scheme = "http"
	if p.Port() == "" {
		p.Host = net.JoinHostPort(p.Hostname(), defaultProxyPort)
	}
	return p, nil
}

// noProxyMatch reports whether host is in a no_proxy list: "*" for every
// host, names matching themselves and their subdomains (a leading dot is
// ignored), IP addresses and CIDR ranges.
func noProxyMatch(list, host string) bool {
	host = strings.ToLower(strings.Trim(host, "[]"))
	ip := net.ParseIP(host)
	for _, e := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' }) {
		e = strings.ToLower(strings.TrimPrefix(e, "."))
		switch {
		case e == "*":
			return true
		case e == "":
			continue
		case ip != nil:
			if _, n, err := net.ParseCIDR(e); err == nil && n.Contains(ip) {
				return true
			}
			if eip := net.ParseIP(strings.Trim(e, "[]")); eip != nil && eip.Equal(ip) {
				return true
			}
		case host == e || strings.HasSuffix(host, "."+e):
			return true
		}
	}
	return false
}

// proxyAuth is the Proxy-Authorization value: -U, else the proxy URL's
// user info.
func proxyAuth(proxy *url.URL, user string) string {
	if user != "" {
		return basicAuth(user)
	}
	if proxy.User != nil {
		pw, _ := proxy.User.Password()
		return basicAuth(proxy.User.Username() + ":" + pw)
	}
	return ""
}

// tunnel asks the proxy on c for a tunnel to u's host and port.
func (x *transfer) tunnel(ctx context.Context, c net.Conn, u, proxy *url.URL) error {
	o := x.r.o
	target := net.JoinHostPort(u.Hostname(), portOf(u))
	var b strings.Builder
	b.WriteString("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n")
	if auth := proxyAuth(proxy, o.proxyUser); auth != "" {
		b.WriteString("Proxy-Authorization: " + auth + "\r\n")
	}
	ua := userAgent
	if o.userAgent != nil {
		ua = *o.userAgent
	}
	if ua != "" {
		b.WriteString("User-Agent: " + ua + "\r\n")
	}
	b.WriteString("Proxy-Connection: Keep-Alive\r\n\r\n")
	x.verbose("> ", []byte(b.String()))
	x.sizeRequest += int64(b.Len())
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if _, err := c.Write([]byte(b.String())); err != nil {
		return fail(exitSend, "Failed sending CONNECT to the proxy: %v", err)
	}
	// The proxy says nothing after its answer until the client speaks, so
	// a reader that may read ahead is safe here; a 1-byte buffer keeps it
	// from taking any byte that is not the answer's anyway.
	br := bufio.NewReaderSize(&oneByteReader{c}, 16)
	h, err := readHead(br)
	if err != nil {
		if ctx.Err() != nil {
			return fail(exitTimeout, "Connection timed out in CONNECT")
		}
		return fail(exitRecv, "Proxy CONNECT aborted: %v", err)
	}
	x.connectStatus = h.status
	x.gotHead(h)
	if h.status/100 != 2 {
		return fail(exitRecv, "CONNECT tunnel failed, response %d", h.status)
	}
	x.tracef("CONNECT tunnel established, response %d", h.status)
	return nil
}

// oneByteReader reads one byte at a time, so the reader over it never
// holds bytes beyond what was asked for.
type oneByteReader struct{ r net.Conn }

func (o *oneByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}
