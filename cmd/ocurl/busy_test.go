package main

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/internal/testserver"
	"github.com/tlsoffload/tlsoffload/offloader/server"
)

// An offloader that answers "rate limited" (a device over its rate, or
// no flight slot in time) is a TLS failure (35) whose hint says so, not
// "is the offloader running?".
func TestRateLimitedOffloader(t *testing.T) {
	s := testserver.Start(t)
	psk := bytes.Repeat([]byte{0xab, 0xcd}, 16)
	reg := server.NewRegistry()
	if err := reg.Add(server.Device{ID: "d1", PSK: psk, Roots: s.Roots, AllowedNames: []string{"localhost"},
		Limits: server.DeviceLimits{Rate: 0.001, Burst: 1}}); err != nil { // one flight, then none for 1000 s
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Registry: reg, Logger: slog.New(slog.DiscardHandler), FlightWait: 10 * time.Millisecond})
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
	code, _, errOut := ocurl("--offloader", l.Addr().String(), "--device-id", "d1", "--psk-file", pskFile, s.URL+"/")
	if code != exitTLS || !strings.Contains(errOut, "rate limited") ||
		!strings.Contains(errOut, "ocurl: hint: the offloader is busy or this device is over its rate: retry later") {
		t.Fatalf("exit %d, stderr %s", code, errOut)
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
