// Package testserver is a real HTTPS and HTTP server for tests across the
// project: curl-like clients (ocurl, Debian's curl side by side), tlsclient
// with net/http, and anything else that needs a web server with known,
// deterministic answers. It is test support only: nothing in it is for
// production use.
//
// Start(t) listens on 127.0.0.1 with an ephemeral port for each of:
//
//   - URL (https://localhost:PORT): crypto/tls, TLS 1.2 at most (so
//     tlsoffload's TLS 1.0-1.2 client can speak to it), HTTP/1.1 only in
//     ALPN, so clients that would pick HTTP/2 by default (curl) and clients
//     that speak HTTP/1.1 by default (ocurl) talk the same protocol.
//   - H2URL: the same, offering h2 and http/1.1 in ALPN.
//   - HTTPURL (http://localhost:PORT): plain HTTP/1.1, and HTTP/2 with prior
//     knowledge (h2c).
//   - MTLSURL: like URL but requires a client certificate issued by the
//     test PKI (ClientCertFile and ClientKeyFile, for --cert and --key).
//
// The certificate is a fresh ECDSA P-256 leaf from certs/testpki for the
// names in Names (localhost, 127.0.0.1, server.test, other.test), issued by
// a PKI made once per process; RootFile is its root as PEM, written into
// t.TempDir() (for --cacert). RefusedAddr is a loopback address where a TCP
// connection is refused (a socket bound but not listening, held for the
// server's lifetime, so no other process takes the port meanwhile). SilentAddr
// accepts connections and never sends a byte.
//
// Every handler answers on every listener, with no Date header (so two runs
// print the same bytes), and stops early when the client goes away or the
// server closes. Handlers (query parameters in brackets):
//
//	/echo[/...]                 method, request URI, protocol, host, the request
//	                            headers sorted by name, Transfer-Encoding, the
//	                            client certificate's subject (mTLS), and the body
//	                            (its length and SHA-256; the bytes if at most 64 KiB)
//	/status/{code}              that status with the body "status CODE\n"
//	/redirect/{code}[?to=LOC]   301/302/303/307/308 to LOC (default /echo), with
//	                            a short body; LOC may name another host
//	/chain/{n}[?code=C]         n redirects (C, default 302) ending at /chain/0,
//	                            which echoes
//	/loop                       302 to itself, forever
//	/basic-auth/{user}/{pass}   401 with WWW-Authenticate unless the request
//	                            carries those Basic credentials
//	/cookies                    echoes the Cookie headers and the parsed cookies
//	/cookies/set[?c=V...][&redirect=LOC]
//	                            one Set-Cookie per c, verbatim (attributes included)
//	/cookies/fixed[?redirect=LOC]
//	                            a fixed set of cookies with HttpOnly, Expires,
//	                            Secure and Path attributes (see FixedCookies)
//	/compress/{gzip|deflate|br} CompressBody encoded so, whatever was asked
//	/compress/auto              encoded as the Accept-Encoding asks (br, gzip,
//	                            deflate, in that order of preference) or not at all
//	/bytes/{n}                  n binary bytes (Bytes), with ranges: 206
//	                            Content-Range, 416 for an unsatisfiable range
//	/text/{n}                   n bytes of numbered text lines (Text), with ranges
//	/upload[/...]               method, URI, Content-Type, Content-Length, Expect,
//	                            Transfer-Encoding, and the body's length and SHA-256;
//	                            for multipart/form-data, each part's disposition,
//	                            type, length, SHA-256 and (short text) value, with
//	                            the random boundary and the length it implies shown
//	                            as <boundary> and <set>
//	/disposition[?filename=F|value=V]
//	                            Content-Disposition: attachment; filename="F", or V
//	                            verbatim (for -J), body "attachment body\n"
//	/slow[?head=D&chunks=N&delay=D]
//	                            waits D before the headers, then N chunks
//	                            "chunk i\n" with D between them (each D at most 30s)
//	/truncated[?length=N&send=M] Content-Length N, only M bytes of Text, then the
//	                            connection closes (HTTP/2: the stream is reset)
//	/truncated-chunked          two chunks and no last chunk, then close
//	/chunked[?chunks=N&size=S]  N chunks of S bytes of Text, no Content-Length
//	/raw/{name}                 a canned response written byte for byte over the
//	                            hijacked connection: wire order and case of header
//	                            names kept (see RawResponses); HTTP/1.1 only
//	/raw?status=S&h=N:V...&body=B
//	                            the same, built from the query: status line
//	                            "HTTP/1.1 S", each h a header line as given, the body
//	/flaky?id=ID[&fail=N&code=C&delay=D]
//	                            answers C (default 503) to the first N (default
//	                            1) requests for ID, D after they arrived (default
//	                            0), then 200 "ok after N failures\n" at once
//	/rendezvous?id=ID[&n=N]     holds each request until N (default 2) requests
//	                            for ID have arrived, then answers "together\n";
//	                            after 10 s, "alone\n" (proves requests run at once)
//
// Requests() lists the requests the server saw (the last 1000).
//
// StartWith takes Options: a defective leaf certificate, other TLS
// versions, no ALPN, a rewritten echoed User-Agent.
//
// StartRaw starts a Raw server instead, for tests that need exact bytes
// both ways: it records each request head as it arrived and answers with
// the bytes a handler gives.
//
// StartProxy starts an HTTP proxy: CONNECT tunnels (for https URLs) and
// absolute-form forwarding (for http URLs), optionally requiring
// Proxy-Authorization: Basic. It dials loopback only: IP literals must be
// loopback, and localhost and every name under .test go to 127.0.0.1. It
// records each request it served (Records).
//
// The package writes only inside the directory the test gives it
// (t.TempDir()).
package testserver

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

// Names are the names the server's certificate is valid for. The DNS names
// under .test do not resolve: use them through --resolve or --connect-to
// (the proxy maps them to 127.0.0.1 itself).
var Names = []string{"localhost", "127.0.0.1", "server.test", "other.test"}

// Server is a running test server. Its fields are set by Start and read-only
// afterwards.
type Server struct {
	// URL is https://localhost:Port: TLS 1.2 at most, HTTP/1.1 only.
	URL, Port string
	// H2URL is https://localhost:H2Port, offering h2 and http/1.1 in ALPN.
	H2URL, H2Port string
	// HTTPURL is http://localhost:HTTPPort: HTTP/1.1, and h2c with prior
	// knowledge.
	HTTPURL, HTTPPort string
	// MTLSURL is https://localhost:MTLSPort, which requires a client
	// certificate issued by PKI (ClientCertFile, ClientKeyFile).
	MTLSURL, MTLSPort string

	// RootFile is PKI's root as PEM; Roots holds it.
	RootFile string
	Roots    *x509.CertPool
	PKI      *testpki.PKI
	// Leaf is the server certificate; Pin its public key as curl's
	// --pinnedpubkey wants it ("sha256//" and the base64 SHA-256 of the
	// SubjectPublicKeyInfo).
	Leaf *testpki.Leaf
	Pin  string
	// ClientCertFile (chain, PEM) and ClientKeyFile (PKCS#8 PEM) are a
	// client certificate MTLSURL accepts.
	ClientCertFile, ClientKeyFile string

	// RefusedAddr is a 127.0.0.1 address where connections are refused.
	RefusedAddr string
	// SilentAddr is a 127.0.0.1 address that accepts connections and never
	// sends a byte (for handshake and connect timeouts).
	SilentAddr string

	opts    Options
	ctx     context.Context
	cancel  context.CancelFunc
	servers []*http.Server
	refused io.Closer
	silent  net.Listener

	handlers sync.WaitGroup // in-flight handlers, waited for by Close

	mu           sync.Mutex
	hijacked     map[net.Conn]struct{}
	requests     []Request
	flaky        map[string]int
	rendezvousOf map[string]*meeting
	closed       bool
}

// Options change what a server serves; the zero value is the default
// server Start starts.
type Options struct {
	// EchoUserAgent, if set, rewrites the User-Agent value /echo shows (what
	// Requests records stays as received). The side-by-side test of ocurl
	// against curl uses it to show each tool's own product token
	// ("curl/7.88.1", "ocurl/1") as one word, so the echoed body, and with it
	// Content-Length and %{size_download}, does not differ by the length of
	// a tool's name.
	EchoUserAgent func(string) string
	// Defect makes the server's leaf certificate bad in that way
	// (testpki.Expired, testpki.WrongName, ...), for tests of refusals and
	// of -k.
	Defect testpki.Defect
	// MinVersion and MaxVersion bound the TLS versions the https listeners
	// speak (default TLS 1.0 to TLS 1.2).
	MinVersion, MaxVersion uint16
	// NoALPN: the https listeners take no part in ALPN (a server from before
	// RFC 7301); H2URL then speaks HTTP/1.1 only.
	NoALPN bool
}

// Request is what the server recorded about one request.
type Request struct {
	Method, URI, Host, Proto string
	Header                   http.Header
}

const maxRecorded = 1000

var (
	pkiOnce = sync.OnceValues(func() (*testpki.PKI, error) { return testpki.New(time.Now()) })
)

// Start starts a server for the test and stops it at t.Cleanup. Files go
// into a new t.TempDir().
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith is Start with options.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := NewWith(t.TempDir(), opts)
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// New starts a server writing its files (root, client certificate) into
// dir. The caller must Close it.
func New(dir string) (*Server, error) {
	return NewWith(dir, Options{})
}

// NewWith is New with options.
func NewWith(dir string, opts Options) (*Server, error) {
	p, err := pkiOnce()
	if err != nil {
		return nil, err
	}
	leaf, err := p.Issue(Names, testpki.ECDSAP256, opts.Defect)
	if err != nil {
		return nil, err
	}
	client, err := p.Issue([]string{"testserver client"}, testpki.ECDSAP256, testpki.NoServerAuth)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:         opts,
		PKI:          p,
		Leaf:         leaf,
		Roots:        p.Roots,
		hijacked:     make(map[net.Conn]struct{}),
		flaky:        make(map[string]int),
		rendezvousOf: make(map[string]*meeting),
	}
	spki := sha256.Sum256(leaf.Cert.RawSubjectPublicKeyInfo)
	s.Pin = "sha256//" + base64.StdEncoding.EncodeToString(spki[:])
	s.ctx, s.cancel = context.WithCancel(context.Background())

	if s.RootFile, err = p.WriteRoot(dir); err != nil {
		return nil, err
	}
	if s.ClientCertFile, s.ClientKeyFile, err = client.WriteFiles(dir, "client"); err != nil {
		return nil, err
	}

	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	minV, maxV := opts.MinVersion, opts.MaxVersion
	if minV == 0 {
		minV = tls.VersionTLS10
	}
	if maxV == 0 {
		maxV = tls.VersionTLS12
	}
	tlsConfig := func() *tls.Config {
		return &tls.Config{
			Certificates: []tls.Certificate{leaf.TLSCertificate()},
			MinVersion:   minV,
			MaxVersion:   maxV,
		}
	}
	var h1, h2, plain http.Protocols
	h1.SetHTTP1(true)
	h2.SetHTTP1(true)
	h2.SetHTTP2(true)
	plain.SetHTTP1(true)
	plain.SetUnencryptedHTTP2(true)

	mtls := tlsConfig()
	mtls.ClientAuth = tls.RequireAndVerifyClientCert
	mtls.ClientCAs = p.Roots

	for _, l := range []struct {
		url, port *string
		scheme    string
		tls       *tls.Config
		protos    http.Protocols
	}{
		{&s.URL, &s.Port, "https", tlsConfig(), h1},
		{&s.H2URL, &s.H2Port, "https", tlsConfig(), h2},
		{&s.HTTPURL, &s.HTTPPort, "http", nil, plain},
		{&s.MTLSURL, &s.MTLSPort, "https", mtls, h1},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		*l.port = port
		*l.url = l.scheme + "://localhost:" + port
		hs := &http.Server{
			Handler:           s.routes(),
			TLSConfig:         l.tls,
			Protocols:         &l.protos,
			ReadHeaderTimeout: 30 * time.Second,
			ErrorLog:          log.New(io.Discard, "", 0), // refused handshakes and aborted bodies are tests' business
			BaseContext:       func(net.Listener) context.Context { return s.ctx },
		}
		s.servers = append(s.servers, hs)
		switch {
		case l.tls != nil && opts.NoALPN:
			// ServeTLS would offer http/1.1 in ALPN: serve TLS of our own.
			hs.Protocols = &h1
			go hs.Serve(tls.NewListener(ln, l.tls))
		case l.tls != nil:
			go hs.ServeTLS(ln, "", "")
		default:
			go hs.Serve(ln)
		}
	}

	addr, closer, err := refusedAddr()
	if err != nil {
		return nil, err
	}
	s.RefusedAddr, s.refused = addr, closer
	if s.silent, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, err
	}
	s.SilentAddr = s.silent.Addr().String()
	s.handlers.Add(1)
	go s.holdSilent()
	ok = true
	return s, nil
}

// URLFor returns base (one of the server's URLs) with its host replaced by
// host, e.g. URLFor(s.URL, "other.test") for a redirect to another name.
func URLFor(base, host string) string {
	scheme, rest, _ := strings.Cut(base, "://")
	_, port, _ := net.SplitHostPort(rest)
	return scheme + "://" + net.JoinHostPort(host, port)
}

// Close stops every listener, closes every connection (hijacked ones too),
// ends slow handlers and waits for handlers to return.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for c := range s.hijacked {
		c.Close()
	}
	s.mu.Unlock()
	if s.cancel != nil {
		s.cancel()
	}
	for _, hs := range s.servers {
		hs.Close()
	}
	if s.refused != nil {
		s.refused.Close()
	}
	if s.silent != nil {
		s.silent.Close()
	}
	done := make(chan struct{})
	go func() { s.handlers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		fmt.Fprintln(os.Stderr, "testserver: handlers still running 10s after Close")
	}
}

// holdSilent accepts on SilentAddr and holds each connection, reading and
// discarding, until the client or Close ends it.
func (s *Server) holdSilent() {
	defer s.handlers.Done()
	for {
		c, err := s.silent.Accept()
		if err != nil {
			return
		}
		forget, ok := s.trackHijacked(c)
		if !ok {
			c.Close()
			return
		}
		s.handlers.Add(1)
		go func() {
			defer s.handlers.Done()
			defer forget()
			io.Copy(io.Discard, c)
			c.Close()
		}()
	}
}

// Requests returns the requests the server saw, oldest first (at most the
// last 1000).
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func (s *Server) record(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == maxRecorded {
		copy(s.requests, s.requests[1:])
		s.requests = s.requests[:maxRecorded-1]
	}
	s.requests = append(s.requests, Request{
		Method: r.Method, URI: r.RequestURI, Host: r.Host, Proto: r.Proto, Header: r.Header.Clone(),
	})
}

// trackHijacked remembers a hijacked connection so Close can close it; the
// returned func forgets it. It refuses (false) once the server is closing.
func (s *Server) trackHijacked(c net.Conn) (func(), bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	s.hijacked[c] = struct{}{}
	return func() {
		s.mu.Lock()
		delete(s.hijacked, c)
		s.mu.Unlock()
	}, true
}
