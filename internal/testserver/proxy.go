package testserver

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// ProxyConfig configures a Proxy.
type ProxyConfig struct {
	// User and Password: when User is set, every request must carry
	// "Proxy-Authorization: Basic" with these credentials, else the proxy
	// answers 407 with Proxy-Authenticate and closes the connection.
	User, Password string
}

// ProxyRecord is one request the proxy served.
type ProxyRecord struct {
	// Method is CONNECT for a tunnel, else the forwarded request's method.
	Method string
	// Target is the CONNECT authority (host:port) or the absolute URL.
	Target string
	// ProxyAuthorization is the header as received ("" when absent).
	ProxyAuthorization string
	// Head is the request line and header lines byte for byte as the
	// client sent them, the blank line included.
	Head string
	// Status is the proxy's own answer: 200 for an established tunnel, 407,
	// 502 for a target it would not or could not reach, or the forwarded
	// response's status.
	Status int
	// ToServer and ToClient count the bytes the proxy moved through a
	// tunnel; they are final once the tunnel has closed.
	ToServer, ToClient int64
}

// String formats a record as one line: "CONNECT localhost:443 200 auth=...".
func (r ProxyRecord) String() string {
	auth := "none"
	if r.ProxyAuthorization != "" {
		auth = r.ProxyAuthorization
		if b, ok := strings.CutPrefix(auth, "Basic "); ok {
			if dec, err := base64.StdEncoding.DecodeString(b); err == nil {
				auth = "basic:" + string(dec)
			}
		}
	}
	return fmt.Sprintf("%s %s %d auth=%s", r.Method, r.Target, r.Status, auth)
}

// Proxy is a running HTTP proxy on 127.0.0.1.
type Proxy struct {
	// URL is http://127.0.0.1:PORT (for -x / --proxy); Addr is its host:port.
	URL, Addr string

	cfg ProxyConfig
	ln  net.Listener
	wg  sync.WaitGroup

	mu      sync.Mutex
	records []*ProxyRecord
	conns   map[net.Conn]struct{}
	closed  bool
}

// StartProxy starts a proxy for the test and stops it at t.Cleanup.
func StartProxy(t testing.TB, cfg ProxyConfig) *Proxy {
	t.Helper()
	p, err := NewProxy(cfg)
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// NewProxy starts a proxy; the caller must Close it.
func NewProxy(cfg ProxyConfig) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		URL:   "http://" + ln.Addr().String(),
		Addr:  ln.Addr().String(),
		cfg:   cfg,
		ln:    ln,
		conns: make(map[net.Conn]struct{}),
	}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Records returns what the proxy served so far, oldest first.
func (p *Proxy) Records() []ProxyRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]ProxyRecord, len(p.records))
	for i, r := range p.records {
		out[i] = *r
	}
	return out
}

// Close stops the proxy, closes every connection and waits for them.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}

// track remembers c for Close; false once the proxy is closing.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			c.Close()
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			p.handle(c)
		}()
	}
}

func (p *Proxy) addRecord(r *ProxyRecord) {
	p.mu.Lock()
	p.records = append(p.records, r)
	p.mu.Unlock()
}

func (p *Proxy) setStatus(r *ProxyRecord, code int) {
	p.mu.Lock()
	r.Status = code
	p.mu.Unlock()
}

func (p *Proxy) setCounts(r *ProxyRecord, toServer, toClient int64) {
	p.mu.Lock()
	r.ToServer, r.ToClient = toServer, toClient
	p.mu.Unlock()
}

// proxyAnswer writes a short response of the proxy's own and closes.
func proxyAnswer(c net.Conn, code int, extra, body string) {
	fmt.Fprintf(c, "HTTP/1.1 %d %s\r\n%sContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		code, http.StatusText(code), extra, len(body), body)
}

// authorized checks Proxy-Authorization against the configured credentials.
func (p *Proxy) authorized(h string) bool {
	if p.cfg.User == "" {
		return true
	}
	b, ok := strings.CutPrefix(h, "Basic ")
	if !ok {
		return false
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b))
	return err == nil && string(dec) == p.cfg.User+":"+p.cfg.Password
}

// dialTarget connects to host:port if it is on loopback (an IP literal that
// is loopback, localhost, or a name under .test, which maps to 127.0.0.1).
func dialTarget(hostport string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	addr := host
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return nil, fmt.Errorf("testserver proxy: %s is not a loopback address", host)
		}
	} else if h := strings.ToLower(strings.TrimSuffix(host, ".")); h == "localhost" || strings.HasSuffix(h, ".test") {
		addr = "127.0.0.1"
	} else {
		return nil, fmt.Errorf("testserver proxy: %s is neither localhost nor under .test", host)
	}
	return net.DialTimeout("tcp", net.JoinHostPort(addr, port), 10*time.Second)
}

func (p *Proxy) handle(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	// The head is read byte for byte first (for Head), then parsed; br
	// goes on with what follows it.
	raw := bufio.NewReader(c)
	head, err := readRawHead(raw)
	if err != nil {
		return
	}
	br := bufio.NewReader(io.MultiReader(strings.NewReader(head), raw))
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	c.SetReadDeadline(time.Time{})
	rec := &ProxyRecord{Method: req.Method, Head: head, ProxyAuthorization: req.Header.Get("Proxy-Authorization")}
	if req.Method == http.MethodConnect {
		rec.Target = req.RequestURI
	} else {
		rec.Target = req.URL.String()
	}
	p.addRecord(rec)

	if !p.authorized(rec.ProxyAuthorization) {
		p.setStatus(rec, http.StatusProxyAuthRequired)
		proxyAnswer(c, http.StatusProxyAuthRequired, "Proxy-Authenticate: Basic realm=\"testproxy\"\r\n", "proxy authentication required\n")
		return
	}
	if req.Method == http.MethodConnect {
		p.tunnel(c, br, req, rec)
		return
	}
	p.forward(c, req, rec)
}

func (p *Proxy) tunnel(c net.Conn, br *bufio.Reader, req *http.Request, rec *ProxyRecord) {
	up, err := dialTarget(req.RequestURI)
	if err != nil {
		p.setStatus(rec, http.StatusBadGateway)
		proxyAnswer(c, http.StatusBadGateway, "", err.Error()+"\n")
		return
	}
	if !p.track(up) {
		up.Close()
		return
	}
	defer p.untrack(up)
	p.setStatus(rec, http.StatusOK)
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	var toServer, toClient int64
	done := make(chan struct{})
	go func() {
		// What the client sent after the CONNECT head is in br.
		toServer, _ = io.Copy(up, br)
		if cw, ok := up.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		close(done)
	}()
	toClient, _ = io.Copy(c, up)
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	<-done
	p.setCounts(rec, toServer, toClient)
}

func (p *Proxy) forward(c net.Conn, req *http.Request, rec *ProxyRecord) {
	if req.URL.Scheme != "http" || req.URL.Host == "" {
		p.setStatus(rec, http.StatusBadRequest)
		proxyAnswer(c, http.StatusBadRequest, "", "testserver proxy: want CONNECT or an absolute http:// URL\n")
		return
	}
	hostport := req.URL.Host
	if req.URL.Port() == "" {
		hostport = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	up, err := dialTarget(hostport)
	if err != nil {
		p.setStatus(rec, http.StatusBadGateway)
		proxyAnswer(c, http.StatusBadGateway, "", err.Error()+"\n")
		return
	}
	if !p.track(up) {
		up.Close()
		return
	}
	defer p.untrack(up)
	for _, h := range []string{"Proxy-Authorization", "Proxy-Connection"} {
		req.Header.Del(h)
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header["User-Agent"] = []string{""} // Request.Write would add Go's
	}
	if err := req.Write(up); err != nil {
		p.setStatus(rec, http.StatusBadGateway)
		proxyAnswer(c, http.StatusBadGateway, "", "testserver proxy: "+err.Error()+"\n")
		return
	}
	resp, err := http.ReadResponse(bufio.NewReader(up), req)
	if err != nil {
		p.setStatus(rec, http.StatusBadGateway)
		proxyAnswer(c, http.StatusBadGateway, "", "testserver proxy: "+err.Error()+"\n")
		return
	}
	defer resp.Body.Close()
	p.setStatus(rec, resp.StatusCode)
	resp.Close = true // one request per client connection
	resp.Write(c)
}
