package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/tlsclient"
	"github.com/tlsoffload/tlsoffload/tlsclient/tlsstate"
)

// countingOffloader counts a device's round trips to its offloader
// (client.WithRoundTripHook): resumed handshakes must make none.
type countingOffloader struct {
	off   tlsclient.Offloader
	calls atomic.Int64
}

// CachedStart lets the Dialer see the client's Start cache, as without
// the counter.
func (c *countingOffloader) CachedStart(name string, offer tlsclient.Offer) (tlsclient.Offer, bool) {
	if sc, ok := c.off.(tlsclient.StartCacher); ok {
		return sc.CachedStart(name, offer)
	}
	return tlsclient.Offer{}, false
}

func (c *countingOffloader) Start(ctx context.Context, name string, offer tlsclient.Offer) (tlsclient.Offer, error) {
	return c.off.Start(client.WithRoundTripHook(ctx, c.count), name, offer)
}

func (c *countingOffloader) KeyExchange(ctx context.Context, sf *tlsclient.ServerFlight) (*tlsclient.ClientFlight, error) {
	return c.off.KeyExchange(client.WithRoundTripHook(ctx, c.count), sf)
}

func (c *countingOffloader) count(string, time.Duration, error) { c.calls.Add(1) }

// resumingConfig is the offloaded Config for c with a session cache, primed
// by one full handshake, and the counter of its offloader calls.
func (e *env) resumingConfig(c hsCase, addr string) (*tlsclient.Config, *countingOffloader, error) {
	counter := &countingOffloader{off: e.offload}
	cfg := e.deviceConfig(c, counter)
	cfg.SessionCache = tlsclient.NewLRUSessionCache(8)
	conn, err := dialDevice(cfg, addr)
	if err != nil {
		return nil, nil, err
	}
	err = conn.Close()
	counter.calls.Store(0) // count from the first resumption on
	return cfg, counter, err
}

// resumedShare dials n times and returns how many resumed (checked outside
// the timed loops: ConnectionState is not part of a handshake's cost).
func resumedShare(n int, dial func() (net.Conn, error)) (int, error) {
	resumed := 0
	for i := 0; i < n; i++ {
		c, err := dial()
		if err != nil {
			return 0, err
		}
		var st tls.ConnectionState
		switch c := c.(type) {
		case *tls.Conn:
			st = c.ConnectionState()
		case *tlsclient.Conn:
			st = tlsstate.Convert(c.ConnectionState())
		}
		if st.DidResume {
			resumed++
		}
		c.Close()
	}
	return resumed, nil
}

// measureResumedCPU: abbreviated handshakes, by ticket against the
// crypto/tls server and by session ID against openssl s_server -no_ticket
// (Go's server issues no session IDs to resume, and Go's client resumes by
// ticket only).
func measureResumedCPU(e *env, o *options, rep *report, buf []byte) error {
	c := hsCases[0]
	t := &table{
		title:  fmt.Sprintf("Resumed handshake (%s): device CPU per handshake, µs (%d per client and run, in %d slices taking turns with the controls)", c.name, cpuSlices*max(cpuHandshakes(o)/cpuSlices, 1), cpuSlices),
		header: []string{"resumption", "offloaded", "crypto/tls", "offloaded's control", "crypto/tls's control", "offloaded TLS-only", "crypto/tls TLS-only", "ratio offloaded / crypto/tls (TLS-only)"},
	}
	var notes, planNotes []string

	// Tickets, against the crypto/tls server.
	addr := e.tlsAddr(c)
	dev, counter, err := e.resumingConfig(c, addr)
	if err != nil {
		return fmt.Errorf("ticket: %w", err)
	}
	gocfg := e.goTLSConfig(c)
	gocfg.ClientSessionCache = tls.NewLRUClientSessionCache(8)
	devDial := func() (net.Conn, error) { return dialDevice(dev, addr) }
	goDial := func() (net.Conn, error) { return dialGoTLS(gocfg, addr) }
	if err := dialClose(goDial)(); err != nil { // fill crypto/tls's session cache
		return fmt.Errorf("ticket: %w", err)
	}
	devPlan, err := recordPlan(e, addr, &eventLog{}, deviceHS(dev))
	if err != nil {
		return fmt.Errorf("ticket: offloaded control plan: %w", err)
	}
	goPlan, err := recordPlan(e, addr, &eventLog{}, goHS(gocfg))
	if err != nil {
		return fmt.Errorf("ticket: crypto/tls control plan: %w", err)
	}
	planNotes = append(planNotes, fmt.Sprintf("Control plans, tickets: offloaded %s; crypto/tls %s.", devPlan, goPlan))
	devT, goT, devC, goC, err := resumedRuns(o, dialClose(devDial), dialClose(goDial),
		func() error { return devPlan.run(e, buf) }, func() error { return goPlan.run(e, buf) })
	if err != nil {
		return fmt.Errorf("ticket: %w", err)
	}
	calls := counter.calls.Load()
	devR, err1 := resumedShare(10, devDial)
	goR, err2 := resumedShare(10, goDial)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	t.rows = append(t.rows, []string{"session ticket (RFC 5077), crypto/tls server", devT.fmt(1), goT.fmt(1), devC.fmt(1), goC.fmt(1),
		devT.minus(devC).fmt(1), goT.minus(goC).fmt(1), devT.minus(devC).ratio(goT.minus(goC)).pct()})
	notes = append(notes, fmt.Sprintf("Tickets: of 10 check handshakes after the timed ones, offloaded resumed %d, crypto/tls %d. Offloader calls during the %d timed offloaded resumptions and their warm-up: %d.",
		devR, goR, o.runs*cpuSlices*max(cpuHandshakes(o)/cpuSlices, 1), calls))

	// Session IDs, against openssl s_server -no_ticket.
	osAddr, stop, err := startOpenSSLSessionIDs(e)
	if err != nil {
		t.rows = append(t.rows, []string{"session ID, openssl s_server -no_ticket", "n/a (" + err.Error() + ")", "n/a", "", "", "", "", ""})
	} else {
		defer stop()
		dev, counter, err := e.resumingConfig(c, osAddr)
		if err != nil {
			return fmt.Errorf("session ID: %w", err)
		}
		devDial := func() (net.Conn, error) { return dialDevice(dev, osAddr) }
		devPlan, err := recordPlan(e, osAddr, &eventLog{}, deviceHS(dev))
		if err != nil {
			return fmt.Errorf("session ID: offloaded control plan: %w", err)
		}
		planNotes = append(planNotes, fmt.Sprintf("Control plan, session IDs: offloaded %s.", devPlan))
		devS, _, ctlS, _, err := resumedRuns(o, dialClose(devDial), nil, func() error { return devPlan.run(e, buf) }, nil)
		if err != nil {
			return fmt.Errorf("session ID: %w", err)
		}
		calls := counter.calls.Load()
		devR, err := resumedShare(10, devDial)
		if err != nil {
			return err
		}
		t.rows = append(t.rows, []string{"session ID, openssl s_server -no_ticket", devS.fmt(1), "n/a (crypto/tls resumes by ticket only)",
			ctlS.fmt(1), "n/a", devS.minus(ctlS).fmt(1), "n/a", "n/a"})
		notes = append(notes, fmt.Sprintf("Session IDs: offloaded resumed %d of 10 check handshakes; offloader calls during the %d timed resumptions and their warm-up: %d. The server is OpenSSL here (Go's server has no session-ID cache), so the row compares with the control only.",
			devR, o.runs*cpuSlices*max(cpuHandshakes(o)/cpuSlices, 1), calls))
	}
	notes = append(notes, "Control: as for full handshakes, each client's own abbreviated handshake replayed as plain TCP (recorded on a warm resumed handshake): connect, ClientHello and the server's flight, the client's last flight, close_notify, close; no offloader call (there is none).")
	notes = append(notes, planNotes...)
	t.notes = notes
	rep.table(t)
	return nil
}

// resumedRuns times o.runs runs of each op (goOp and goCtl may be nil).
func resumedRuns(o *options, devOp, goOp, devCtl, goCtl func() error) (dev, gos, devC, goC samples, err error) {
	ops := []func() error{devOp, goOp, devCtl, goCtl}
	res := make([]samples, len(ops))
	for _, op := range ops {
		for j := 0; op != nil && j < 3; j++ { // warm up
			if err := op(); err != nil {
				return nil, nil, nil, nil, err
			}
		}
	}
	var live []func() error // the ops given, taking turns in slices (cpu.go)
	var idx []int
	for i, op := range ops {
		if op != nil {
			live, idx = append(live, op), append(idx, i)
		}
	}
	for r := 0; r < o.runs; r++ {
		us, err := cpuInterleaved(cpuHandshakes(o), cpuSlices, live)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		for k, i := range idx {
			res[i] = append(res[i], us[k])
		}
	}
	return res[0], res[1], res[2], res[3], nil
}

// startOpenSSLSessionIDs runs openssl s_server with the RSA leaf, TLS 1.2,
// no tickets (so it resumes by session ID from its cache), and returns its
// address and a stop function.
func startOpenSSLSessionIDs(e *env) (string, func(), error) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		return "", nil, errors.New("openssl not installed")
	}
	leaf := e.leaves["rsa"]
	var chain []byte
	for _, der := range leaf.Chain[1:] {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	chainFile := filepath.Join(e.dir, "rsa-chain.pem")
	if err := os.WriteFile(chainFile, chain, 0o644); err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "s_server", "-accept", "127.0.0.1:0", "-www", "-tls1_2", "-no_ticket",
		"-cert", filepath.Join(e.dir, "rsa.crt"), "-key", filepath.Join(e.dir, "rsa.key"), "-cert_chain", chainFile,
		"-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
	pr, pw, err := os.Pipe()
	if err != nil {
		return "", nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	err = cmd.Start()
	pw.Close()
	if err != nil {
		pr.Close()
		return "", nil, err
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait(); pr.Close() }
	found := make(chan string, 1)
	go func() {
		accept := regexp.MustCompile(`ACCEPT\s+(\S+)`)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := accept.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		io.Copy(io.Discard, pr) // keep draining: s_server logs each connection
	}()
	select {
	case addr := <-found:
		return strings.Replace(addr, "0.0.0.0", "127.0.0.1", 1), stop, nil
	case <-time.After(10 * time.Second):
		stop()
		return "", nil, errors.New("openssl s_server did not start")
	}
}
