package main

import (
	"bytes"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/internal/testserver"
	"github.com/tlsoffload/tlsoffload/offloader/server"
)

// rateLimitedOffloader serves device d1 (the PSK in pskFile) with s's
// roots, allowed rate flights per second with a burst of one, and returns
// its address.
func rateLimitedOffloader(t *testing.T, s *testserver.Server, rate float64) (addr, pskFile string) {
	t.Helper()
	psk := bytes.Repeat([]byte{0xab, 0xcd}, 16)
	reg := server.NewRegistry()
	if err := reg.Add(server.Device{ID: "d1", PSK: psk, Roots: s.Roots, AllowedNames: []string{"localhost"},
		Limits: server.DeviceLimits{Rate: rate, Burst: 1}}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Registry: reg, Logger: slog.New(slog.DiscardHandler), FlightWait: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l, false)
	return l.Addr().String(), writeFile(t, t.TempDir(), "psk", strings.Repeat("abcd", 16))
}

// An offloader that answers "rate limited" (a device over its rate, or
// no flight slot in time) is a TLS failure (35) whose hint says so, not
// "is the offloader running?".
func TestRateLimitedOffloader(t *testing.T) {
	s := testserver.Start(t)
	addr, pskFile := rateLimitedOffloader(t, s, 0.001) // one flight, then none for 1000 s
	code, _, errOut := ocurl("--offloader", addr, "--device-id", "d1", "--psk-file", pskFile, s.URL+"/")
	// The bucket refills in 1000 s; the hint is capped at wire.MaxRetryAfter.
	if code != exitTLS || !strings.Contains(errOut, "rate limited") ||
		!strings.Contains(errOut, "ocurl: hint: the offloader is busy or this device is over its rate: retry later, after 1m0s as it asks (--retry N waits for it)") {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
}

// --retry retries an offloader that stayed busy, as curl retries a 429,
// and waits for the offloader's retry-after hint rather than its own 1 s
// backoff. The device may make one flight every 5 s: the handshake's
// Start passes, its key exchange is refused with a hint of about 5 s,
// which is past -m, so the client gives up at once and ocurl waits for
// the hint; the second attempt reuses the client's cached Start, and its
// key exchange takes the token that came in meanwhile.
func TestRetryRateLimitedOffloader(t *testing.T) {
	s := testserver.Start(t)
	addr, pskFile := rateLimitedOffloader(t, s, 0.2)
	code, out, errOut := ocurl("-m", "3", "--retry", "1", "--offloader", addr, "--device-id", "d1", "--psk-file", pskFile, s.URL+"/")
	m := regexp.MustCompile(`Warning: Problem : offloader busy\. Will retry in ([0-9.]+) seconds\. 1 retries left\.`).FindStringSubmatch(errOut)
	if code != 0 || out == "" || m == nil || strings.Count(errOut, "rate limited") != 1 {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	// The hint is what is left of the 5 s the bucket needs: more than the
	// 1 s backoff ocurl would use without one.
	if wait, _ := strconv.ParseFloat(m[1], 64); wait <= 1 || wait > 5 {
		t.Fatalf("waited %s s, want the offloader's hint (1–5 s); stderr %s", m[1], errOut)
	}
}

// --offloader lists replicas: one that refuses connections is failed over
// (whichever the client starts at), spaces around the commas are allowed,
// and an empty entry is a usage error.
func TestOffloaderReplicas(t *testing.T) {
	s := testserver.Start(t)
	psk := bytes.Repeat([]byte{0xab, 0xcd}, 16)
	reg := server.NewRegistry()
	if err := reg.Add(server.Device{ID: "d1", PSK: psk, Roots: s.Roots, AllowedNames: []string{"localhost"}}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l, false)
	pskFile := writeFile(t, t.TempDir(), "psk", strings.Repeat("abcd", 16))
	list := s.RefusedAddr + " , " + l.Addr().String()
	for range 4 { // the client starts at a random address: both orders, most likely
		code, out, errOut := ocurl("-v", "--offloader", list, "--device-id", "d1", "--psk-file", pskFile, s.URL+"/echo")
		if code != 0 || out == "" {
			t.Fatalf("--offloader %q: exit %d, stderr %s", list, code, errOut)
		}
	}
	code, _, errOut := ocurl("--offloader", l.Addr().String()+",,", "--device-id", "d1", "--psk-file", pskFile, s.URL+"/echo")
	if code != exitUsage || !strings.Contains(errOut, "empty offloader address") {
		t.Errorf("an empty entry: exit %d, stderr %s", code, errOut)
	}
}
