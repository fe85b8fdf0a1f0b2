package client_test

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/offloader/server"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// A replica that shuts down closes its channels with close(shutting_down)
// (docs/PROTOCOL.md §6.1); against two real server cores on loopback, the
// client then sends the flight that met the close to the other replica at
// once, counts the first as drained, not down, and keeps away from it.

func closeFlight() *wire.Flight {
	return &wire.Flight{Requests: []wire.Request{&wire.StartRequest{
		ServerName: busyName, Versions: []uint16{0x0303}, CipherSuites: []uint16{0xc02f},
	}}}
}

// starts returns how many Start requests srv ran.
func starts(srv *server.Server) uint64 {
	for _, o := range srv.Stats().Ops {
		if o.Op == "start" {
			return o.Results["ok"]
		}
	}
	return 0
}

func TestShutdownDrainsToAnotherReplica(t *testing.T) {
	addrA, srvA := busyOffloader(t, server.DeviceLimits{}, nil)
	addrB, srvB := busyOffloader(t, server.DeviceLimits{}, nil)
	var traces []string
	c, err := client.New(client.Config{
		Addrs: []string{addrA, addrB}, DeviceID: "dev", PSK: busyPSK,
		DownFor: time.Minute, StartCacheSize: -1,
		Trace: func(format string, args ...any) { traces = append(traces, format) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	do := func() {
		t.Helper()
		resp, err := c.Do(ctx, closeFlight())
		if err != nil {
			t.Fatal(err)
		}
		if e := resp.Results[0].Err; e != nil {
			t.Fatal(e)
		}
	}
	do()
	first, other := srvA, srvB
	if starts(srvB) == 1 {
		first, other = srvB, srvA
	}
	if starts(first) != 1 || starts(other) != 0 {
		t.Fatalf("starts: %d and %d", starts(first), starts(other))
	}

	if err := first.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := first.Stats().Channels.Closed["shutting_down"]; got != 1 {
		t.Fatalf("the replica sent %d close(shutting_down)", got)
	}
	do() // meets the close, then goes to the other replica
	do() // stays there
	if starts(first) != 1 || starts(other) != 2 {
		t.Fatalf("after shutdown, starts: %d on the stopped replica, %d on the other; want 1 and 2", starts(first), starts(other))
	}
	st := c.Stats()
	if st.Drained != 1 || st.Down != 0 || st.Busy != 0 || st.Resends != 1 {
		t.Fatalf("client stats %+v, want 1 drained, 1 resend, nothing down or busy; traces %q", st, traces)
	}
}

// A close for another reason (here: the offloader's idle timeout) marks
// nothing: the flight that met it is resent on a new channel to the same,
// only, address.
func TestIdleCloseResendsToSameAddress(t *testing.T) {
	addr, srv := serveDevice(t, server.Device{ID: "dev", PSK: busyPSK, AllowedNames: []string{busyName}},
		server.Config{IdleTimeout: 50 * time.Millisecond})
	c, err := client.New(client.Config{Addrs: []string{addr}, DeviceID: "dev", PSK: busyPSK})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 2 {
		if i == 1 {
			for srv.Stats().Channels.Closed["idle"] == 0 {
				time.Sleep(10 * time.Millisecond)
			}
		}
		resp, err := c.Do(context.Background(), closeFlight())
		if err != nil {
			t.Fatalf("flight %d: %v", i, err)
		}
		if e := resp.Results[0].Err; e != nil {
			t.Fatal(e)
		}
	}
	if st := c.Stats(); st.Resends != 1 || st.Down != 0 || st.Drained != 0 {
		t.Fatalf("client stats %+v, want one resend and no mark", st)
	}
}

// brokenWrites is a transport whose writes fail once broken is set, as
// they do once the offloader's kernel answered with a reset; what was
// already received can still be read.
type brokenWrites struct {
	net.Conn
	broken atomic.Bool
}

func (c *brokenWrites) Write(p []byte) (int, error) {
	if c.broken.Load() {
		return 0, &net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}
	}
	return c.Conn.Write(p)
}

// A write that fails on a channel the offloader closed with a reason
// still finds the close frame waiting: the address is drained, not down.
func TestWriteFailureAfterCloseIsDrain(t *testing.T) {
	addrA, srvA := busyOffloader(t, server.DeviceLimits{}, nil)
	addrB, srvB := busyOffloader(t, server.DeviceLimits{}, nil)
	var (
		mu    sync.Mutex
		conns []*brokenWrites
	)
	c, err := client.New(client.Config{
		Addrs: []string{addrA, addrB}, DeviceID: "dev", PSK: busyPSK, DownFor: time.Minute,
		Dial: func(ctx context.Context, addr string) (net.Conn, error) {
			var d net.Dialer
			nc, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			bw := &brokenWrites{Conn: nc}
			mu.Lock()
			conns = append(conns, bw)
			mu.Unlock()
			return bw, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if _, err := c.Do(ctx, closeFlight()); err != nil {
		t.Fatal(err)
	}
	first, other := srvA, srvB
	if starts(srvB) == 1 {
		first, other = srvB, srvA
	}
	if err := first.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	for _, bw := range conns {
		bw.broken.Store(true) // the next write on the old channel fails
	}
	mu.Unlock()
	resp, err := c.Do(ctx, closeFlight())
	if err == nil && resp.Results[0].Err != nil {
		err = resp.Results[0].Err
	}
	if err != nil {
		t.Fatalf("after the close: %v", err)
	}
	if st := c.Stats(); st.Drained != 1 || st.Down != 0 || starts(other) != 1 {
		t.Fatalf("client stats %+v, %d starts on the other replica; want 1 drained, 0 down, 1 start", st, starts(other))
	}
}
