package client_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/offloader/server"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
	"github.com/tlsoffload/tlsoffload/tlsclient"
)

// The busy backoff against the real offloader/server on a loopback socket:
// a device given a token bucket (DeviceLimits.Rate, Burst) has its flights
// past it answered "rate limited" at once (FlightWait is 1ms), and the
// server counts each refusal (Stats().Refused["rate_limited"]), so a test
// counts the client's attempts on the server's side. No test asserts a
// duration: each bounds attempts and uses contexts.

var busyPSK = bytes.Repeat([]byte{0x42}, 32)

const busyName = "server.test"

// busyOffloader serves one device "dev" with limits on a loopback TCP
// listener; roots may be nil (Start needs none).
func busyOffloader(t *testing.T, limits server.DeviceLimits, roots *testpki.PKI) (string, *server.Server) {
	t.Helper()
	dev := server.Device{ID: "dev", PSK: busyPSK, AllowedNames: []string{busyName}, Limits: limits}
	if roots != nil {
		dev.Roots = roots.Roots
	}
	return serveDevice(t, dev, server.Config{FlightWait: time.Millisecond})
}

// serveDevice runs a server with cfg (its Registry and Logger filled in)
// for dev alone on a loopback TCP listener until the test ends.
func serveDevice(t *testing.T, dev server.Device, cfg server.Config) (string, *server.Server) {
	t.Helper()
	reg := server.NewRegistry()
	if err := reg.Add(dev); err != nil {
		t.Fatal(err)
	}
	cfg.Registry, cfg.Logger = reg, slog.New(slog.DiscardHandler)
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.Serve(l, false); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return l.Addr().String(), srv
}

// retries counts the client's busy-retry trace lines.
type retries struct {
	mu sync.Mutex
	n  int
	ch chan struct{} // gets a value per retry line, if not full
}

func (r *retries) trace(format string, args ...any) {
	if !strings.Contains(format, "rate limited") {
		return
	}
	r.mu.Lock()
	r.n++
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

func (r *retries) count() int { r.mu.Lock(); defer r.mu.Unlock(); return r.n }

func busyClient(t *testing.T, addr string, cfg client.Config) (*client.Client, *retries) {
	t.Helper()
	r := &retries{ch: make(chan struct{}, 1)}
	cfg.Addrs, cfg.DeviceID, cfg.PSK = []string{addr}, "dev", busyPSK
	cfg.StartCacheSize = -1 // every Start is a flight
	cfg.Trace = r.trace
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, r
}

var busyOffer = tlsclient.Offer{Versions: []uint16{tls.VersionTLS12}, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
	Groups: []uint16{uint16(tls.X25519)}, SignatureAlgorithms: []uint16{uint16(tls.ECDSAWithP256AndSHA256)}}

func rateRefusals(srv *server.Server) int { return int(srv.Stats().Refused["rate_limited"]) }

// okResults counts the requests of op the server ran, and of them those
// that succeeded.
func okResults(srv *server.Server, op string) (ran, ok uint64) {
	for _, o := range srv.Stats().Ops {
		if o.Op == op {
			for _, n := range o.Results {
				ran += n
			}
			return ran, o.Results["ok"]
		}
	}
	return 0, 0
}

// A device over its rate gets its Start through once its bucket refills:
// each refusal is followed by one retry, and nothing more.
func TestBusyStartGetsThrough(t *testing.T) {
	addr, srv := busyOffloader(t, server.DeviceLimits{Rate: 2, Burst: 1}, nil) // a token every 500ms
	c, r := busyClient(t, addr, client.Config{BusyAttempts: 100, BusyBackoff: 20 * time.Millisecond, BusyBackoffMax: 100 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 2 {
		if _, err := c.Start(ctx, busyName, busyOffer); err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
	}
	refused := rateRefusals(srv)
	if refused == 0 {
		t.Fatal("the second Start was never refused: the test did not exercise the backoff")
	}
	if got := r.count(); got != refused {
		t.Errorf("%d retries for %d refusals", got, refused)
	}
	if ran, ok := okResults(srv, "start"); ran != 2 || ok != 2 {
		t.Errorf("start ran %d times, %d ok; want 2, 2", ran, ok)
	}
}

// The offloader's retry-after hint (docs/PROTOCOL.md §8.3) is honoured: a
// device whose bucket holds a token every 200ms, with a backoff of 1ms
// doubling to at most 10s and 5 attempts, gets its second Start through
// on its first retry, refused exactly once. Were the hint ignored, its
// retries after 1, 2, 4 and 8ms would all come before the token and be
// refused, and the Start would fail busy. The count is the server's: no
// duration is asserted.
func TestBusyHonoursRetryAfter(t *testing.T) {
	addr, srv := busyOffloader(t, server.DeviceLimits{Rate: 5, Burst: 1}, nil)
	c, r := busyClient(t, addr, client.Config{BusyAttempts: 5, BusyBackoff: time.Millisecond, BusyBackoffMax: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 2 {
		if _, err := c.Start(ctx, busyName, busyOffer); err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
	}
	if got := rateRefusals(srv); got != 1 {
		t.Errorf("the server refused %d flights, want 1: the retry came before the hint", got)
	}
	if got := r.count(); got != 1 {
		t.Errorf("%d retries, want 1", got)
	}
	if ran, ok := okResults(srv, "start"); ran != 2 || ok != 2 {
		t.Errorf("start ran %d times, %d ok; want 2, 2", ran, ok)
	}
}

// A hint the caller's deadline cannot wait for ends the call at once,
// without another attempt: the device is told to come back in a minute
// (the bucket holds a token every 1000s), its context has 5s left.
func TestBusyHintPastDeadline(t *testing.T) {
	addr, srv := busyOffloader(t, server.DeviceLimits{Rate: 0.001, Burst: 1}, nil)
	c, _ := busyClient(t, addr, client.Config{BusyAttempts: 100, BusyBackoff: time.Millisecond, BusyBackoffMax: time.Minute})
	if _, err := c.Start(context.Background(), busyName, busyOffer); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.Start(ctx, busyName, busyOffer)
	be := checkBusy(t, err, 1)
	if be.Err.RetryAfter != wire.MaxRetryAfter {
		t.Errorf("the refusal's hint %v, want %v", be.Err.RetryAfter, wire.MaxRetryAfter)
	}
	if got := rateRefusals(srv); got != 1 {
		t.Errorf("the server refused %d flights, want 1", got)
	}
}

// Past BusyAttempts the client gives up with the typed error, having sent
// the flight exactly BusyAttempts times.
func TestBusyGivesUpAfterAttempts(t *testing.T) {
	addr, srv := busyOffloader(t, server.DeviceLimits{Rate: 0.001, Burst: 1}, nil) // one flight, then none for 1000s
	c, _ := busyClient(t, addr, client.Config{BusyAttempts: 3, BusyBackoff: time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Start(ctx, busyName, busyOffer); err != nil {
		t.Fatal(err)
	}
	_, err := c.Start(ctx, busyName, busyOffer)
	checkBusy(t, err, 3)
	if got := rateRefusals(srv); got != 3 {
		t.Errorf("the server refused %d flights, want 3", got)
	}
}

func checkBusy(t *testing.T, err error, attempts int) *client.BusyError {
	t.Helper()
	var be *client.BusyError
	if !errors.Is(err, client.ErrBusy) || !errors.As(err, &be) {
		t.Fatalf("err = %v, want a *client.BusyError", err)
	}
	if !errors.Is(err, wire.StatusRateLimited) {
		t.Errorf("%v does not match wire.StatusRateLimited", err)
	}
	var temp interface{ Temporary() bool }
	if !errors.As(err, &temp) || !temp.Temporary() {
		t.Errorf("%v is not Temporary", err)
	}
	if attempts > 0 && be.Attempts != attempts {
		t.Errorf("gave up after %d attempts, want %d", be.Attempts, attempts)
	}
	return be
}

// With attempts to spare, the client gives up when the next wait would
// pass the context's deadline, and its attempts stay few: the backoff
// grows, it does not hammer the offloader.
func TestBusyGivesUpAtDeadline(t *testing.T) {
	addr, srv := busyOffloader(t, server.DeviceLimits{Rate: 0.001, Burst: 1}, nil)
	c, _ := busyClient(t, addr, client.Config{BusyAttempts: 10000, BusyBackoff: 10 * time.Millisecond, BusyBackoffMax: 80 * time.Millisecond})
	if _, err := c.Start(context.Background(), busyName, busyOffer); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := c.Start(ctx, busyName, busyOffer)
	be := checkBusy(t, err, 0)
	if got := rateRefusals(srv); be.Attempts != got {
		t.Errorf("the error says %d attempts, the server refused %d", be.Attempts, got)
	}
	// Every wait is at least half of 10ms, so 500ms hold at most 100
	// attempts; a client without backoff would make thousands.
	if be.Attempts > 100 {
		t.Errorf("%d attempts within 500ms: a retry storm", be.Attempts)
	}
	if be.Attempts < 2 {
		t.Errorf("gave up after %d attempt with most of the deadline left", be.Attempts)
	}
}

// A handshake through tlsclient whose flights are refused gets through
// once the bucket refills, pipelined and sequential: a refused flight was
// not run, so resending it (a sequential token included) neither spends
// the token twice nor signs twice.
func TestBusyHandshakeGetsThrough(t *testing.T) {
	pki, err := testpki.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := pki.Issue([]string{busyName}, testpki.ECDSAP256, testpki.Good)
	if err != nil {
		t.Fatal(err)
	}
	tlsAddr := serveEcho(t, &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}, MaxVersion: tls.VersionTLS12})
	for _, seq := range []bool{false, true} {
		addr, srv := busyOffloader(t, server.DeviceLimits{Rate: 4, Burst: 1}, pki) // a token every 250ms
		c, r := busyClient(t, addr, client.Config{Sequential: seq, BusyAttempts: 100, BusyBackoff: 10 * time.Millisecond, BusyBackoffMax: 50 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		d := &tlsclient.Dialer{Config: &tlsclient.Config{Offloader: c, ServerName: busyName}}
		conn, err := d.DialContext(ctx, "tcp", tlsAddr)
		cancel()
		if err != nil {
			t.Fatalf("sequential=%v: %v", seq, err)
		}
		msg := []byte("after the backoff")
		if _, err := conn.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(conn, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("sequential=%v: echo %q, %v", seq, got, err)
		}
		conn.Close()
		refused := rateRefusals(srv)
		if refused == 0 {
			t.Fatalf("sequential=%v: no flight refused: the test did not exercise the backoff", seq)
		}
		if got := r.count(); got != refused {
			t.Errorf("sequential=%v: %d retries for %d refusals", seq, got, refused)
		}
		for _, op := range []string{"start", "auth", "keygen", "key"} {
			if ran, ok := okResults(srv, op); ran != 1 || ok != 1 {
				t.Errorf("sequential=%v: %s ran %d times, %d ok; want once, ok", seq, op, ran, ok)
			}
		}
	}
}

// Through tlsclient's Dialer the typed error survives: errors.Is sees
// client.ErrBusy through the *tlsclient.OffloaderError.
func TestBusyErrorThroughDialer(t *testing.T) {
	addr, srv := busyOffloader(t, server.DeviceLimits{Rate: 0.001, Burst: 1}, nil)
	c, _ := busyClient(t, addr, client.Config{BusyAttempts: 2, BusyBackoff: time.Millisecond})
	if _, err := c.Start(context.Background(), busyName, busyOffer); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0") // never gets as far as a ClientHello
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := &tlsclient.Dialer{Config: &tlsclient.Config{Offloader: c, ServerName: busyName}}
	_, err = d.DialContext(ctx, "tcp", l.Addr().String())
	var oe *tlsclient.OffloaderError
	if !errors.As(err, &oe) {
		t.Fatalf("err = %v, want a *tlsclient.OffloaderError", err)
	}
	checkBusy(t, err, 2)
	if got := rateRefusals(srv); got != 2 {
		t.Errorf("the server refused %d flights, want 2", got)
	}
}

// Cancelling the context ends the backoff at once: with an hour's wait
// ahead, Start, and a dial through tlsclient's Dialer, return the
// context's error after one attempt each.
func TestBusyCancelStopsBackoff(t *testing.T) {
	addr, srv := busyOffloader(t, server.DeviceLimits{Rate: 0.001, Burst: 1}, nil)
	c, r := busyClient(t, addr, client.Config{BusyAttempts: 1000, BusyBackoff: time.Hour})
	if _, err := c.Start(context.Background(), busyName, busyOffer); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0") // never gets as far as a ClientHello
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	d := &tlsclient.Dialer{Config: &tlsclient.Config{Offloader: c, ServerName: busyName}}
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"start", func(ctx context.Context) error { _, err := c.Start(ctx, busyName, busyOffer); return err }},
		{"dial", func(ctx context.Context) error { _, err := d.DialContext(ctx, "tcp", l.Addr().String()); return err }},
	}
	for i, tc := range calls {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-r.ch // a refusal: the client now waits
			cancel()
		}()
		errc := make(chan error, 1)
		go func() { errc <- tc.call(ctx) }()
		select {
		case err = <-errc:
		case <-time.After(time.Minute): // a bound for a broken client, far below the hour
			t.Fatalf("%s still waits after its context was cancelled", tc.name)
		}
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: err = %v, want context.Canceled", tc.name, err)
		}
		if got := rateRefusals(srv); got != i+1 {
			t.Errorf("after %s the server refused %d flights, want %d", tc.name, got, i+1)
		}
	}
}

// serveEcho runs a crypto/tls echo server on loopback until the test ends.
func serveEcho(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(30 * time.Second))
				tc := tls.Server(nc, cfg)
				if tc.Handshake() == nil {
					io.Copy(tc, tc)
				}
			}()
		}
	}()
	return l.Addr().String()
}
