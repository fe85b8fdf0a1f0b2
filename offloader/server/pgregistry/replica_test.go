package pgregistry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/server"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// waitFor polls cond for up to 10s (a bound for a loaded CI machine, not a
// measurement).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// revokeDeadline bounds how long a test waits for a revoke to be seen: a
// correctness bound generous enough for a loaded CI machine, not a
// measurement. How fast a revoke is seen (the "within a second")
// is measured by BenchmarkRevokeThreeReplicas and reported in
// docs/PERFORMANCE.md; the tests only log what they saw.
const revokeDeadline = 10 * time.Second

// closedAfter reports how long after start ch's reader saw the channel end.
func closedAfter(ch *wire.Channel, start time.Time, out chan<- time.Duration) {
	go func() {
		_, err := ch.ReadFrame()
		if err == nil {
			out <- -1
			return
		}
		out <- time.Since(start)
	}()
}

// TestRevokeClosesChannelsOnThreeReplicas is the acceptance test:
// three replicas on one database each serve the device; a revoke closes its
// channels on all three (the time it took is logged, not asserted), and no
// replica knows the device or opens a new channel for it.
func TestRevokeClosesChannelsOnThreeReplicas(t *testing.T) {
	db := newDB(t)
	mustPolicy(t, db, Policy{Name: "p", AllowedNames: []string{"*"}})
	mustAdd(t, db, "stolen", "p", psk(1))
	mustAdd(t, db, "honest", "p", psk(2))
	var reps []*replica
	for range 3 {
		reps = append(reps, startReplica(t, db))
	}
	var stolen, honest []*wire.Channel
	for _, rp := range reps {
		ch, err := rp.openChannel("stolen", psk(1))
		if err != nil {
			t.Fatal(err)
		}
		stolen = append(stolen, ch)
		ch, err = rp.openChannel("honest", psk(2))
		if err != nil {
			t.Fatal(err)
		}
		honest = append(honest, ch)
		defer ch.Close()
	}
	closed := make(chan time.Duration, len(stolen))
	start := time.Now()
	if err := db.admin.Revoke(context.Background(), "stolen"); err != nil {
		t.Fatal(err)
	}
	for _, ch := range stolen {
		closedAfter(ch, start, closed)
	}
	deadline := time.After(revokeDeadline)
	for range stolen {
		select {
		case d := <-closed:
			if d < 0 {
				t.Fatal("a revoked device's channel delivered a frame")
			}
			t.Logf("channel closed %v after the revoke", d)
		case <-deadline:
			t.Fatalf("a revoked device's channel is still open %v after the revoke", revokeDeadline)
		}
	}
	for i, rp := range reps {
		if _, err := rp.reg.LookupDevice("stolen"); !errors.Is(err, server.ErrUnknownDevice) {
			t.Errorf("replica %d: lookup after the revoke: %v, want refused", i, err)
		}
		if _, err := rp.openChannel("stolen", psk(1)); !errors.Is(err, wire.StatusAuthFailed) {
			t.Errorf("replica %d: opening after the revoke: %v", i, err)
		}
		if rp.reg.Stats().Notifications == 0 {
			t.Errorf("replica %d was notified of nothing", i)
		}
	}
	// The other device's channels are untouched: a frame still goes through.
	for i, ch := range honest {
		f := &wire.Flight{ID: 1, Requests: []wire.Request{&wire.StartRequest{ServerName: "a.example", Versions: []uint16{0x0303}, CipherSuites: []uint16{0xc02f}}}}
		b, _ := f.Marshal()
		if err := ch.WriteFrame(b); err != nil {
			t.Fatalf("honest channel %d: %v", i, err)
		}
		if _, err := ch.ReadFrame(); err != nil {
			t.Fatalf("honest channel %d closed: %v", i, err)
		}
	}
}

// TestDatabaseRestartMidLoad: devices opening channels in a loop while the
// database stops and starts again. Cached devices keep working throughout;
// a device not cached is refused with the reason counted; after the
// restart the listener reconnects and resyncs.
func TestDatabaseRestartMidLoad(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	mustPolicy(t, db, Policy{Name: "p", AllowedNames: []string{"*"}})
	for _, id := range []string{"a", "b", "cold"} {
		mustAdd(t, db, id, "p", psk(id[0]))
	}
	rp := startReplica(t, db)
	for _, id := range []string{"a", "b"} { // warm
		ch, err := rp.openChannel(id, psk(id[0]))
		if err != nil {
			t.Fatal(err)
		}
		ch.Close()
	}

	var (
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		mu       sync.Mutex
		opened   int
		failures []error
	)
	for _, id := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ch, err := rp.openChannel(id, psk(id[0]))
				mu.Lock()
				if err != nil {
					failures = append(failures, err)
				} else {
					opened++
					ch.Close()
				}
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}

	if err := pg.StopServer(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			pg.Restart(false)
		}
	}()
	waitFor(t, "the listener to notice the outage", func() bool { return !rp.reg.Stats().Listening })
	if _, err := rp.openChannel("cold", psk('c')); !errors.Is(err, wire.StatusAuthFailed) {
		t.Errorf("an uncached device during the outage: %v, want refused", err)
	}
	if _, err := rp.reg.LookupDevice("cold"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("lookup of an uncached device during the outage: %v, want ErrUnavailable", err)
	}
	if rp.reg.Stats().Unavailable == 0 {
		t.Error("the refusal during the outage was not counted")
	}
	mu.Lock()
	before := opened
	mu.Unlock()
	waitFor(t, "cached devices to open channels during the outage", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return opened > before+20
	})

	resyncs := rp.reg.Stats().Resyncs
	if err := pg.Restart(false); err != nil {
		t.Fatal(err)
	}
	restarted = true
	waitFor(t, "the listener to reconnect and resync", func() bool {
		s := rp.reg.Stats()
		return s.Listening && s.Resyncs > resyncs
	})
	if _, err := rp.openChannel("cold", psk('c')); err != nil {
		t.Errorf("the uncached device after the restart: %v", err)
	}
	close(stop)
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("cached devices failed %d times during the outage, first: %v", len(failures), failures[0])
	}
	t.Logf("%d channels opened across the restart", opened)
	_ = ctx
}

// TestResyncMakesGoodAMissedNotification: a change made while the
// replica's listener is away (here: with the notify trigger disabled, then
// the listener's connection killed) is found by the resync on reconnect,
// and the device's channel closed.
func TestResyncMakesGoodAMissedNotification(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	mustPolicy(t, db, Policy{Name: "p", AllowedNames: []string{"*"}})
	mustAdd(t, db, "d", "p", psk(4))
	rp := startReplica(t, db)
	ch, err := rp.openChannel("d", psk(4))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	notes := rp.reg.Stats().Notifications
	_, err = db.pool.Exec(ctx, `ALTER TABLE devices DISABLE TRIGGER devices_notify;
		UPDATE devices SET revoked_at = now() WHERE id = 'd';
		ALTER TABLE devices ENABLE TRIGGER devices_notify`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rp.reg.LookupDevice("d"); err != nil {
		t.Fatalf("before the resync the cached entry should still serve: %v", err)
	}
	resyncs := rp.reg.Stats().Resyncs
	if _, err := db.pool.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"); err != nil {
		t.Fatal(err)
	}
	closed := make(chan time.Duration, 1)
	closedAfter(ch, time.Now(), closed)
	select {
	case d := <-closed:
		if d < 0 {
			t.Fatal("frame on a revoked channel")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the resync did not close the revoked device's channel")
	}
	if s := rp.reg.Stats(); s.Resyncs <= resyncs || s.Notifications != notes {
		t.Errorf("stats %+v: want a resync and no notification", s)
	}
	if _, err := rp.reg.LookupDevice("d"); !errors.Is(err, server.ErrUnknownDevice) {
		t.Errorf("after the resync: %v", err)
	}
}

// TestCacheBoundAndTTL: the cache holds at most CacheSize entries; an entry
// past its TTL still answers at once and is refreshed behind.
func TestCacheBoundAndTTL(t *testing.T) {
	db := newDB(t)
	mustPolicy(t, db, Policy{Name: "p", AllowedNames: []string{"*"}})
	for _, id := range []string{"x1", "x2", "x3"} {
		mustAdd(t, db, id, "p", psk(1))
	}
	r := db.open(t, func(c *Config) { c.CacheSize = 2; c.CacheTTL = time.Millisecond })
	for _, id := range []string{"x1", "x2", "x3", "x1"} {
		if _, err := r.LookupDevice(id); err != nil {
			t.Fatal(err)
		}
	}
	if s := r.Stats(); s.Cached != 2 || s.Misses != 4 {
		t.Errorf("stats %+v: want 2 cached and 4 misses (x1 evicted by x3)", s)
	}
	time.Sleep(5 * time.Millisecond)
	if _, err := r.LookupDevice("x1"); err != nil { // stale: answered, refreshed
		t.Fatal(err)
	}
	if s := r.Stats(); s.Hits != 1 {
		t.Errorf("a stale entry was not served from the cache: %+v", s)
	}
}

// TestUnknownIDsCannotFloodTheCache: answers for unknown ids take at most
// an eighth of the cache, so made-up ids do not evict the fleet.
func TestUnknownIDsCannotFloodTheCache(t *testing.T) {
	db := newDB(t)
	mustPolicy(t, db, Policy{Name: "p", AllowedNames: []string{"*"}})
	mustAdd(t, db, "real", "p", psk(1))
	r := db.open(t, func(c *Config) { c.CacheSize = 16 })
	if _, err := r.LookupDevice("real"); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if _, err := r.LookupDevice(fmt.Sprintf("made-up-%d", i)); !errors.Is(err, server.ErrUnknownDevice) {
			t.Fatal(err)
		}
	}
	if s := r.Stats(); s.Cached != 1+16/8 {
		t.Errorf("%d cached after 40 unknown ids, want the device and 2 unknown", s.Cached)
	}
	hits := r.Stats().Hits
	if _, err := r.LookupDevice("real"); err != nil || r.Stats().Hits != hits+1 {
		t.Errorf("the real device was evicted: %v", err)
	}
}
