// Command ocurl fetches a URL over HTTP/1.1 (HTTP/2 with --http2) like
// curl, with TLS done by tlsoffload: the handshake's public-key work runs on
// an offloader, embedded in this process by default or reached over its PSK
// channel with --offloader. Run "ocurl --help" for the options and exit
// codes.
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/offloader/server"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
	"github.com/tlsoffload/tlsoffload/record"
	"github.com/tlsoffload/tlsoffload/tlsclient"
)

func main() {
	removeTempsOnSignal()
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes, as curl's.
const (
	exitOK          = 0
	exitUsage       = 2
	exitBadURL      = 3
	exitResolve     = 6
	exitConnect     = 7
	exitHTTPError   = 22
	exitWrite       = 23
	exitRead        = 26
	exitTimeout     = 28
	exitTLS         = 35
	exitRecv        = 56
	exitCertificate = 60
	exitCACert      = 77
)

// failure is an error with the exit code and the hint ocurl prints for it.
type failure struct {
	code int
	err  error
	hint string
}

func (f *failure) Error() string { return f.err.Error() }

// Main runs ocurl and returns its exit code; it never calls os.Exit.
func Main(args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "ocurl: error: %v\nocurl: hint: try 'ocurl --help'\n", err)
		return exitUsage
	}
	if o.help {
		io.WriteString(stdout, usageText)
		return exitOK
	}
	r := &run{o: o, stdout: stdout, stderr: stderr}
	if err := r.fetch(); err != nil {
		var f *failure
		if !errors.As(err, &f) {
			f = &failure{code: exitRecv, err: err}
		}
		if !o.silent || o.showError {
			fmt.Fprintf(stderr, "ocurl: error: %v\n", f.err)
			if f.hint != "" {
				fmt.Fprintf(stderr, "ocurl: hint: %s\n", f.hint)
			}
		}
		return f.code
	}
	return exitOK
}

// run is one invocation's state.
type run struct {
	o              *options
	stdout, stderr io.Writer
	offloaderDesc  string
}

func (r *run) tracef(format string, args ...any) {
	if r.o.verbose {
		fmt.Fprintf(r.stderr, "* "+format+"\n", args...)
	}
}

func (r *run) fetch() error {
	u, err := parseURL(r.o.url)
	if err != nil {
		return &failure{code: exitBadURL, err: err}
	}
	ctx := context.Background()
	if r.o.maxTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.o.maxTime)
		defer cancel()
	}

	var tlsConfig *tlsclient.Config
	if u.Scheme == "https" {
		off, closeOff, err := r.offloader(ctx)
		if err != nil {
			return err
		}
		defer closeOff()
		tlsConfig = &tlsclient.Config{
			Offloader:  off,
			NextProtos: r.alpnProtos(),
			Sequential: r.o.sequential,
			MinVersion: r.o.minVersion,
			MaxVersion: r.o.maxVersion,
			StartCache: tlsclient.NewStartCache(8),
		}
		if r.o.verbose {
			tlsConfig.Trace = r.tracef
		}
	}

	req, err := r.request(ctx, u)
	if err != nil {
		return err
	}
	transport := &http.Transport{
		DialContext: r.dialPlain,
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return r.dialTLS(ctx, network, addr, tlsConfig)
		},
		DisableCompression: true,
		DisableKeepAlives:  true,
		Proxy:              nil,
	}
	var rt interface {
		http.RoundTripper
		CloseIdleConnections()
	} = transport
	if r.o.http2 && tlsConfig != nil {
		rt = r.newALPNTransport(transport, tlsConfig) // see http2.go
	}
	defer rt.CloseIdleConnections()
	hc := &http.Client{
		Transport:     rt,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := hc.Do(req)
	if err != nil {
		return classify(err)
	}
	defer resp.Body.Close()
	if r.o.verbose {
		fmt.Fprintf(r.stderr, "< %s %s\n", resp.Proto, resp.Status)
		writeHeaders(r.stderr, "< ", resp.Header)
		fmt.Fprintf(r.stderr, "<\n")
	}
	if r.o.fail && resp.StatusCode >= 400 {
		return &failure{code: exitHTTPError, err: fmt.Errorf("the requested URL returned error: %s", resp.Status)}
	}
	return r.writeResponse(resp)
}

func parseURL(s string) (*url.URL, error) {
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("malformed URL: %v", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("unsupported scheme %q (want https or http)", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("URL %q has no host", s)
	}
	return u, nil
}

func (r *run) request(ctx context.Context, u *url.URL) (*http.Request, error) {
	method := http.MethodGet
	var body io.Reader
	if len(r.o.data) > 0 {
		method = http.MethodPost
		parts := make([]string, 0, len(r.o.data))
		for _, d := range r.o.data {
			if name, ok := strings.CutPrefix(d, "@"); ok {
				b, err := os.ReadFile(name)
				if err != nil {
					return nil, &failure{code: exitRead, err: fmt.Errorf("reading --data file: %v", err)}
				}
				d = strings.NewReplacer("\r", "", "\n", "").Replace(string(b))
			}
			parts = append(parts, d)
		}
		body = strings.NewReader(strings.Join(parts, "&"))
	}
	if r.o.head {
		method = http.MethodHead
	}
	if r.o.method != "" {
		method = r.o.method
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, &failure{code: exitBadURL, err: err}
	}
	req.Header.Set("User-Agent", "ocurl/1")
	req.Header.Set("Accept", "*/*")
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, h := range r.o.headers {
		name, val, _ := strings.Cut(h, ":")
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		if strings.EqualFold(name, "Host") {
			req.Host = val
			continue
		}
		if val == "" {
			req.Header.Del(name) // "-H 'Name:'" removes a header, as in curl
			continue
		}
		req.Header.Add(name, val)
	}
	if r.o.verbose {
		trace := &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) {
				fmt.Fprintf(r.stderr, "> %s %s %s\n", method, u.RequestURI(), requestProto(info.Conn))
			},
			WroteHeaderField: func(k string, v []string) {
				for _, x := range v {
					fmt.Fprintf(r.stderr, "> %s: %s\n", k, x)
				}
			},
			WroteHeaders: func() { fmt.Fprintf(r.stderr, ">\n") },
		}
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	}
	return req, nil
}

// target maps host:port through --resolve.
func (r *run) target(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	for _, rv := range r.o.resolve {
		h, p, a, _ := parseResolve(rv)
		if strings.EqualFold(h, host) && p == port {
			return net.JoinHostPort(a, port), nil
		}
	}
	return addr, nil
}

// connectFailure tags a TCP dial failure as resolve, timeout or connect.
func connectFailure(err error, target string) error {
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr):
		return &failure{code: exitResolve, err: fmt.Errorf("could not resolve host: %s", dnsErr.Name)}
	case isTimeout(err):
		return &failure{code: exitTimeout, err: fmt.Errorf("connection to %s timed out", target)}
	}
	return &failure{code: exitConnect, err: fmt.Errorf("failed to connect to %s: %v", target, err)}
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func (r *run) withConnectTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.o.connectTimeout > 0 {
		return context.WithTimeout(ctx, r.o.connectTimeout)
	}
	return ctx, func() {}
}

func (r *run) dialPlain(ctx context.Context, network, addr string) (net.Conn, error) {
	ctx, cancel := r.withConnectTimeout(ctx)
	defer cancel()
	target, err := r.target(addr)
	if err != nil {
		return nil, &failure{code: exitBadURL, err: err}
	}
	r.tracef("Trying %s...", target)
	var d net.Dialer
	c, err := d.DialContext(ctx, network, target)
	if err != nil {
		return nil, connectFailure(err, target)
	}
	r.tracef("Connected to %s (%s)", addr, c.RemoteAddr())
	return c, nil
}

// dialTLS connects and runs the offloaded handshake through
// tlsclient.Dialer, which asks the offloader's Start while TCP connects;
// --connect-timeout covers both, as in curl.
func (r *run) dialTLS(ctx context.Context, network, addr string, cfg *tlsclient.Config) (net.Conn, error) {
	ctx, cancel := r.withConnectTimeout(ctx)
	defer cancel()
	target, err := r.target(addr)
	if err != nil {
		return nil, &failure{code: exitBadURL, err: err}
	}
	host, _, _ := net.SplitHostPort(addr)
	c := *cfg
	c.ServerName = host
	r.tracef("Trying %s...", target)
	start := time.Now()
	nc, err := (&tlsclient.Dialer{Config: &c}).DialContext(ctx, network, target)
	if err != nil {
		if isDialError(err) {
			return nil, connectFailure(err, target)
		}
		return nil, handshakeFailure(err, r.offloaderDesc)
	}
	conn := nc.(*tlsclient.Conn)
	if r.o.verbose {
		st := conn.ConnectionState()
		r.tracef("Connected to %s (%s); TLS handshake done in %s: %s / %s", addr, conn.RemoteAddr(),
			time.Since(start).Round(time.Microsecond), versionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
		if st.NegotiatedProtocol != "" {
			r.tracef("ALPN: server accepted %s", st.NegotiatedProtocol)
		}
		if len(st.PeerCertificates) > 0 {
			leaf := st.PeerCertificates[0]
			r.tracef("Server certificate: subject %s; issuer %s; expires %s", leaf.Subject, leaf.Issuer, leaf.NotAfter.Format(time.RFC3339))
		}
	}
	return conn, nil
}

// handshakeFailure maps a handshake error to its exit code and hint.
func handshakeFailure(err error, offloaderDesc string) error {
	var f *failure
	if errors.As(err, &f) {
		return f
	}
	var certErr *tlsclient.CertificateError
	if errors.As(err, &certErr) && certErr.Err != nil && certErr.Err.Status == wire.StatusInvalidCertificate {
		return &failure{code: exitCertificate, err: err,
			hint: "the offloader does not trust this server's certificate; --cacert FILE trusts a private root"}
	}
	if isTimeout(err) {
		return &failure{code: exitTimeout, err: fmt.Errorf("TLS handshake timed out: %v", err)}
	}
	var offErr *tlsclient.OffloaderError
	if errors.As(err, &offErr) {
		hint := "is the offloader running at " + offloaderDesc + "?"
		if errors.Is(err, wire.StatusAuthFailed) {
			hint = "the offloader refused this device: check --device-id and --psk-file against its config"
		} else if errors.Is(err, wire.StatusPolicyDenied) {
			hint = "the offloader's policy for this device does not allow this server name"
		}
		return &failure{code: exitTLS, err: err, hint: hint}
	}
	return &failure{code: exitTLS, err: err}
}

// classify maps an error from http.Client.Do to a failure.
func classify(err error) error {
	var f *failure
	if errors.As(err, &f) {
		return f
	}
	if isTimeout(err) {
		return &failure{code: exitTimeout, err: fmt.Errorf("operation timed out: %v", unwrapURL(err))}
	}
	var alert *record.AlertError
	if errors.As(err, &alert) {
		return &failure{code: exitRecv, err: unwrapURL(err)}
	}
	return &failure{code: exitRecv, err: fmt.Errorf("failure receiving data: %v", unwrapURL(err))}
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (r *run) writeResponse(resp *http.Response) error {
	out := r.stdout
	if r.o.output != "" && r.o.output != "-" {
		f, err := openOutput(r.o.output)
		if err != nil {
			return &failure{code: exitWrite, err: fmt.Errorf("cannot write output: %v", err)}
		}
		committed := false
		defer func() {
			if !committed {
				f.Abort()
			}
		}()
		if err := r.copyResponse(f, resp); err != nil {
			return err
		}
		committed = true
		if err := f.Commit(); err != nil {
			return &failure{code: exitWrite, err: fmt.Errorf("cannot write output: %v", err)}
		}
		return nil
	}
	return r.copyResponse(out, resp)
}

func (r *run) copyResponse(out io.Writer, resp *http.Response) error {
	if r.o.include || r.o.head {
		fmt.Fprintf(out, "%s %s\r\n", resp.Proto, resp.Status)
		writeHeaders(out, "", resp.Header)
		io.WriteString(out, "\r\n")
	}
	if r.o.head {
		return nil
	}
	if _, err := io.Copy(outputWriter{out}, resp.Body); err != nil {
		var we *writeError
		if errors.As(err, &we) {
			return &failure{code: exitWrite, err: err}
		}
		if isTimeout(err) {
			return &failure{code: exitTimeout, err: fmt.Errorf("operation timed out while receiving the body: %v", err)}
		}
		return &failure{code: exitRecv, err: fmt.Errorf("failure receiving data: %v", err)}
	}
	return nil
}

// writeError marks a failure of the output side in io.Copy, so it is told
// apart from a failure reading the body.
type writeError struct{ error }

func (e *writeError) Unwrap() error { return e.error }

type outputWriter struct{ w io.Writer }

func (o outputWriter) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	if err != nil {
		err = &writeError{err}
	}
	return n, err
}

func writeHeaders(w io.Writer, prefix string, h http.Header) {
	for k, vs := range h {
		for _, v := range vs {
			fmt.Fprintf(w, "%s%s: %s\r\n", prefix, k, v)
		}
	}
}

func versionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1.0"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	}
	return fmt.Sprintf("0x%04x", v)
}

// offloader returns the device's offloader: a client of a running one with
// --offloader, else an embedded server reached over an in-memory pipe with
// the same PSK channel, so both paths run the same protocol.
func (r *run) offloader(ctx context.Context) (tlsclient.Offloader, func(), error) {
	if r.o.offloader != "" {
		pskHex, err := os.ReadFile(r.o.pskFile)
		if err != nil {
			return nil, nil, &failure{code: exitUsage, err: fmt.Errorf("--psk-file: %v", err)}
		}
		psk, err := hex.DecodeString(strings.TrimSpace(string(pskHex)))
		if err != nil || len(psk) < wire.MinPSKLen || len(psk) > wire.MaxPSKLen {
			return nil, nil, &failure{code: exitUsage, err: fmt.Errorf("--psk-file %s: want %d..%d bytes as hex (offloader psk makes one)", r.o.pskFile, wire.MinPSKLen, wire.MaxPSKLen)}
		}
		r.offloaderDesc = r.o.offloader
		cl, err := client.New(client.Config{
			Addrs:    strings.Split(r.o.offloader, ","),
			DeviceID: r.o.deviceID,
			PSK:      psk,
		})
		if err != nil {
			return nil, nil, &failure{code: exitUsage, err: err}
		}
		r.tracef("offloader: %s as device %q over a PSK channel", r.o.offloader, r.o.deviceID)
		return cl, func() { cl.Close() }, nil
	}

	var roots *x509.CertPool
	if r.o.cacert != "" {
		pem, err := os.ReadFile(r.o.cacert)
		if err != nil {
			return nil, nil, &failure{code: exitCACert, err: fmt.Errorf("--cacert: %v", err)}
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, nil, &failure{code: exitCACert, err: fmt.Errorf("--cacert %s: no PEM certificate in the file", r.o.cacert)}
		}
	}
	psk := make([]byte, 32)
	if _, err := rand.Read(psk); err != nil {
		return nil, nil, err
	}
	reg := server.NewRegistry()
	if err := reg.Add(server.Device{ID: "ocurl", PSK: psk, Roots: roots, AllowedNames: []string{"*"}, MinVersion: r.o.minVersion}); err != nil {
		return nil, nil, err
	}
	srv, err := server.New(server.Config{
		Registry: reg,
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, nil, err
	}
	srvCtx, stop := context.WithCancel(context.Background())
	cl, err := client.New(client.Config{
		Addrs:    []string{"embedded"},
		DeviceID: "ocurl",
		PSK:      psk,
		Dial: func(ctx context.Context, addr string) (net.Conn, error) {
			devEnd, srvEnd := net.Pipe()
			go srv.ServeConn(srvCtx, srvEnd, false)
			return devEnd, nil
		},
	})
	if err != nil {
		stop()
		return nil, nil, err
	}
	r.offloaderDesc = "(embedded)"
	rootsDesc := "the system roots"
	if r.o.cacert != "" {
		rootsDesc = r.o.cacert
	}
	r.tracef("offloader: embedded in this process (PSK channel over a pipe), trusting %s", rootsDesc)
	return cl, func() { cl.Close(); stop(); srv.Close() }, nil
}
