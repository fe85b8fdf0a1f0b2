package main

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

// testProxy is a small HTTP proxy: CONNECT opens a tunnel (to any
// address: tests point names at 127.0.0.1 through it), other requests are
// answered by the proxy itself with the request line it got. With auth
// set, requests without that Proxy-Authorization get a 407.
type testProxy struct {
	addr string
	auth string

	mu    sync.Mutex
	heads []string
}

func newTestProxy(t *testing.T, auth string, dialTo string) *testProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &testProxy{addr: l.Addr().String(), auth: auth}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { p.serve(c, dialTo) })
		}
	})
	return p
}

func (p *testProxy) serve(c net.Conn, dialTo string) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		var head strings.Builder
		for {
			line, err := br.ReadString('\n')
			head.WriteString(line)
			if err != nil {
				return
			}
			if line == "\r\n" {
				break
			}
		}
		h := head.String()
		p.mu.Lock()
		p.heads = append(p.heads, h)
		p.mu.Unlock()
		q := &rawRequest{head: h}
		if p.auth != "" && q.header("Proxy-Authorization") != p.auth {
			io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n")
			continue
		}
		first, _, _ := strings.Cut(h, "\r\n")
		if strings.HasPrefix(first, "CONNECT ") {
			target := strings.Fields(first)[1]
			if dialTo != "" {
				_, port, _ := net.SplitHostPort(target)
				target = net.JoinHostPort(dialTo, port)
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
				return
			}
			defer up.Close()
			io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
			go func() { io.Copy(up, br); up.Close() }()
			io.Copy(c, up)
			return
		}
		body := "proxy got: " + first
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
	}
}

func (p *testProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.heads...)
}

// https goes through a CONNECT tunnel with TLS end to end; -i shows the
// proxy's answer first, as curl does; -U authenticates.
func TestProxyConnect(t *testing.T) {
	s := newTestServer(t, testpki.Good, echoHandler)
	p := newTestProxy(t, "Basic dTpw", "")
	url := "https://localhost:" + s.port + "/via"
	code, out, errOut := ocurl("--cacert", s.rootFile, "-x", p.addr, "-U", "u:p", "-i", "-w", "|%{http_connect}", url)
	if code != 0 || !strings.HasPrefix(out, "HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK\r\n") ||
		!strings.Contains(out, "GET /via host=localhost:"+s.port) || !strings.HasSuffix(out, "|200") {
		t.Fatalf("exit %d out %q err %s", code, out, errOut)
	}
	want := "CONNECT localhost:" + s.port + " HTTP/1.1\r\nHost: localhost:" + s.port + "\r\nProxy-Authorization: Basic dTpw\r\nUser-Agent: ocurl/1\r\nProxy-Connection: Keep-Alive\r\n\r\n"
	if got := p.seen()[0]; got != want {
		t.Fatalf("CONNECT\n%q\nwant (curl's)\n%q", got, want)
	}
	code, out, errOut = ocurl("--cacert", s.rootFile, "-x", "http://"+p.addr, "-w", "%{http_connect} %{http_code}", url)
	if code != exitRecv || out != "407 000" || !strings.Contains(errOut, "ocurl: (56) CONNECT tunnel failed, response 407") {
		t.Fatalf("no credentials: exit %d out %q err %s", code, out, errOut)
	}
	// The proxy's credentials may come in its URL.
	if code, _, errOut := ocurl("--cacert", s.rootFile, "-x", "http://u:p@"+p.addr, url); code != 0 {
		t.Fatalf("credentials in the proxy URL: exit %d %s", code, errOut)
	}
}

// http goes to the proxy in absolute form (or through CONNECT with -p).
func TestProxyHTTP(t *testing.T) {
	target := newRawServer(t, func(q *rawRequest) rawReply { return reply("direct " + q.target) })
	_, port, _ := net.SplitHostPort(target.addr)
	p := newTestProxy(t, "", "127.0.0.1")
	code, out, _ := ocurl("-x", p.addr, "-A", "agent", "http://u:pw@example.test/x?y=1#frag")
	if code != 0 || out != "proxy got: GET http://example.test/x?y=1 HTTP/1.1" {
		t.Fatalf("absolute form: exit %d out %q", code, out)
	}
	want := "GET http://example.test/x?y=1 HTTP/1.1\r\nHost: example.test\r\nAuthorization: Basic dTpwdw==\r\nUser-Agent: agent\r\nAccept: */*\r\nProxy-Connection: Keep-Alive\r\n\r\n"
	if got := p.seen()[0]; got != want {
		t.Fatalf("request\n%q\nwant (curl's)\n%q", got, want)
	}
	code, out, errOut := ocurl("-p", "-x", p.addr, "http://example.test:"+port+"/t")
	if code != 0 || out != "direct /t" || !strings.HasPrefix(p.seen()[1], "CONNECT example.test:"+port+" HTTP/1.1\r\n") {
		t.Fatalf("-p: exit %d out %q err %s", code, out, errOut)
	}
}

// Without -x, the environment names the proxy (http_proxy in lower case
// only, https_proxy, all_proxy), no_proxy and --noproxy exempt hosts, and
// -x "" turns the environment off.
func TestProxyEnvironment(t *testing.T) {
	direct := newRawServer(t, func(q *rawRequest) rawReply { return reply("direct") })
	p := newTestProxy(t, "", "")
	url := "http://" + direct.addr + "/"
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"http_proxy", map[string]string{"http_proxy": p.addr}, nil, "proxy got: GET " + url + " HTTP/1.1"},
		{"HTTP_PROXY ignored", map[string]string{"HTTP_PROXY": p.addr}, nil, "direct"},
		{"all_proxy", map[string]string{"ALL_PROXY": "http://" + p.addr}, nil, "proxy got: GET " + url + " HTTP/1.1"},
		{"https_proxy is for https", map[string]string{"https_proxy": p.addr}, nil, "direct"},
		{"no_proxy IP", map[string]string{"http_proxy": p.addr, "no_proxy": "example.com,127.0.0.1"}, nil, "direct"},
		{"NO_PROXY CIDR", map[string]string{"http_proxy": p.addr, "NO_PROXY": "10.0.0.0/8, 127.0.0.0/8"}, nil, "direct"},
		{"--noproxy *", map[string]string{"http_proxy": p.addr}, []string{"--noproxy", "*"}, "direct"},
		{"--noproxy overrides no_proxy", map[string]string{"http_proxy": p.addr, "no_proxy": "*"}, []string{"--noproxy", "other"}, "proxy got: GET " + url + " HTTP/1.1"},
		{"-x \"\"", map[string]string{"http_proxy": p.addr}, []string{"-x", ""}, "direct"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := ocurlIn("", tc.env, append(tc.args, url)...)
			if code != 0 || out != tc.want {
				t.Fatalf("exit %d out %q want %q err %s", code, out, tc.want, errOut)
			}
		})
	}
	if !noProxyMatch(".example.com", "www.example.com") || noProxyMatch("example.com", "badexample.com") || !noProxyMatch("::1", "[::1]") {
		t.Fatal("noProxyMatch")
	}
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	for _, tc := range []struct {
		proxy string
		code  int
	}{
		{"proxy.invalid:3128", exitProxyResolve},
		{deadAddr, exitConnect},
		{"socks5://" + p.addr, exitNotHere},
		{"https://" + p.addr, exitNotHere},
	} {
		if code, _, errOut := ocurl("-x", tc.proxy, url); code != tc.code {
			t.Errorf("-x %s: exit %d, want %d: %s", tc.proxy, code, tc.code, errOut)
		}
	}
}
