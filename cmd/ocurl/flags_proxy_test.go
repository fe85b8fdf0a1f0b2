package main

import (
	"strings"
	"testing"

	"github.com/tlsoffload/tlsoffload/internal/testserver"
)

// https goes through a CONNECT tunnel with TLS end to end; -i shows the
// proxy's answer first, as curl does; -U authenticates.
func TestProxyConnect(t *testing.T) {
	s := testserver.Start(t)
	p := testserver.StartProxy(t, testserver.ProxyConfig{User: "u", Password: "p"})
	url := s.URL + "/echo/via"
	code, out, errOut := ocurl("--cacert", s.RootFile, "-x", p.Addr, "-U", "u:p", "-i", "-w", "|%{http_connect}", url)
	if code != 0 || !strings.HasPrefix(out, "HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK\r\n") ||
		!strings.Contains(out, "uri: /echo/via\n") || !strings.HasSuffix(out, "|200") || strings.Contains(out, "Proxy-Authorization") {
		t.Fatalf("exit %d out %q err %s", code, out, errOut)
	}
	want := "CONNECT localhost:" + s.Port + " HTTP/1.1\r\nHost: localhost:" + s.Port + "\r\nProxy-Authorization: Basic dTpw\r\nUser-Agent: ocurl/1\r\nProxy-Connection: Keep-Alive\r\n\r\n"
	if got := p.Records()[0].Head; got != want {
		t.Fatalf("CONNECT\n%q\nwant (curl's)\n%q", got, want)
	}
	code, out, errOut = ocurl("--cacert", s.RootFile, "-x", "http://"+p.Addr, "-w", "%{http_connect} %{http_code}", url)
	if code != exitRecv || out != "407 000" || !strings.Contains(errOut, "ocurl: (56) CONNECT tunnel failed, response 407") {
		t.Fatalf("no credentials: exit %d out %q err %s", code, out, errOut)
	}
	// The proxy's credentials may come in its URL.
	if code, _, errOut := ocurl("--cacert", s.RootFile, "-x", "http://u:p@"+p.Addr, url); code != 0 {
		t.Fatalf("credentials in the proxy URL: exit %d %s", code, errOut)
	}
}

// http goes to the proxy in absolute form (or through CONNECT with -p).
func TestProxyHTTP(t *testing.T) {
	s := testserver.Start(t)
	p := testserver.StartProxy(t, testserver.ProxyConfig{})
	target := "http://u:pw@example.test:" + s.HTTPPort + "/echo?y=1#frag"
	code, out, errOut := ocurl("-x", p.Addr, "-A", "agent", target)
	if e := parseEcho(t, out); code != 0 || e.uri != "/echo?y=1" || e.host != "example.test:"+s.HTTPPort || e.header("Authorization") != "Basic dTpwdw==" {
		t.Fatalf("absolute form: exit %d out %q err %s", code, out, errOut)
	}
	want := "GET http://example.test:" + s.HTTPPort + "/echo?y=1 HTTP/1.1\r\nHost: example.test:" + s.HTTPPort +
		"\r\nAuthorization: Basic dTpwdw==\r\nUser-Agent: agent\r\nAccept: */*\r\nProxy-Connection: Keep-Alive\r\n\r\n"
	if got := p.Records()[0].Head; got != want {
		t.Fatalf("request\n%q\nwant (curl's)\n%q", got, want)
	}
	code, out, errOut = ocurl("-p", "-x", p.Addr, "http://example.test:"+s.HTTPPort+"/echo/t")
	if e := parseEcho(t, out); code != 0 || e.uri != "/echo/t" || !strings.HasPrefix(p.Records()[1].Head, "CONNECT example.test:"+s.HTTPPort+" HTTP/1.1\r\n") {
		t.Fatalf("-p: exit %d out %q err %s", code, out, errOut)
	}
}

// Without -x, the environment names the proxy (http_proxy in lower case
// only, https_proxy, all_proxy), no_proxy and --noproxy exempt hosts, and
// -x "" turns the environment off.
func TestProxyEnvironment(t *testing.T) {
	s := testserver.Start(t)
	p := testserver.StartProxy(t, testserver.ProxyConfig{})
	url := testserver.URLFor(s.HTTPURL, "127.0.0.1") + "/echo"
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		proxied bool
	}{
		{"http_proxy", map[string]string{"http_proxy": p.Addr}, nil, true},
		{"HTTP_PROXY ignored", map[string]string{"HTTP_PROXY": p.Addr}, nil, false},
		{"all_proxy", map[string]string{"ALL_PROXY": "http://" + p.Addr}, nil, true},
		{"https_proxy is for https", map[string]string{"https_proxy": p.Addr}, nil, false},
		{"no_proxy IP", map[string]string{"http_proxy": p.Addr, "no_proxy": "example.com,127.0.0.1"}, nil, false},
		{"NO_PROXY CIDR", map[string]string{"http_proxy": p.Addr, "NO_PROXY": "10.0.0.0/8, 127.0.0.0/8"}, nil, false},
		{"--noproxy *", map[string]string{"http_proxy": p.Addr}, []string{"--noproxy", "*"}, false},
		{"--noproxy overrides no_proxy", map[string]string{"http_proxy": p.Addr, "no_proxy": "*"}, []string{"--noproxy", "other"}, true},
		{"-x \"\"", map[string]string{"http_proxy": p.Addr}, []string{"-x", ""}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(p.Records())
			code, out, errOut := ocurlIn("", tc.env, append(tc.args, url)...)
			if e := parseEcho(t, out); code != 0 || e.uri != "/echo" {
				t.Fatalf("exit %d out %q err %s", code, out, errOut)
			}
			if proxied := len(p.Records()) > before; proxied != tc.proxied {
				t.Fatalf("through the proxy: %v, want %v", proxied, tc.proxied)
			}
		})
	}
	if !noProxyMatch(".example.com", "www.example.com") || noProxyMatch("example.com", "badexample.com") || !noProxyMatch("::1", "[::1]") {
		t.Fatal("noProxyMatch")
	}
	for _, tc := range []struct {
		proxy string
		code  int
	}{
		{"proxy.invalid:3128", exitProxyResolve},
		{s.RefusedAddr, exitConnect},
		{"socks5://" + p.Addr, exitNotHere},
		{"https://" + p.Addr, exitNotHere},
	} {
		if code, _, errOut := ocurl("-x", tc.proxy, url); code != tc.code {
			t.Errorf("-x %s: exit %d, want %d: %s", tc.proxy, code, tc.code, errOut)
		}
	}
}
