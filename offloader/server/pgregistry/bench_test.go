package pgregistry

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/server"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// The scale figures of issue 13 (docs/PERFORMANCE.md): a fleet of
// fleetSize devices in PostgreSQL.
//
//	go test -run '^$' -bench . -benchtime 2000x ./offloader/server/pgregistry/
const fleetSize = 100_000

var (
	fleetOnce sync.Once
	fleetDB   *testDB
	fleetErr  error
)

func fleetID(i int) string { return fmt.Sprintf("dev-%06d", i) }

// fleet is a database holding fleetSize devices (PSK psk(1) each), made
// once for all benchmarks.
func fleet(b *testing.B) *testDB {
	fleetOnce.Do(func() {
		db := newDB(b)
		// newDB registered the pool's close on b; keep a pool of our own.
		pool, err := NewPool(context.Background(), db.dsn, 8)
		if err != nil {
			fleetErr = err
			return
		}
		db.pool, db.admin = pool, NewAdmin(pool, db.kek)
		if err := db.admin.SetPolicy(context.Background(), Policy{Name: "p", AllowedNames: []string{"*.example.com"}}); err != nil {
			fleetErr = err
			return
		}
		var sb strings.Builder
		sb.WriteString("id,policy,psk\n")
		for i := range fleetSize {
			fmt.Fprintf(&sb, "%s,p,%s\n", fleetID(i), strings.Repeat("01", 32))
		}
		start := time.Now()
		if _, err := db.admin.AddCSV(context.Background(), strings.NewReader(sb.String()), io.Discard); err != nil {
			fleetErr = err
			return
		}
		fmt.Printf("fleet: %d devices added by CSV in %v\n", fleetSize, time.Since(start).Round(time.Millisecond))
		fleetDB = db
	})
	if fleetErr != nil {
		b.Fatal(fleetErr)
	}
	return fleetDB
}

// benchReplica is a replica on its own Registry (its own cache).
func benchReplica(b *testing.B, db *testDB) *replica {
	rp := &replica{}
	reg, err := Open(context.Background(), Config{DSN: db.dsn, KEK: db.kek, Logger: quietLog(), OnChange: func(id string) {
		if rp.srv != nil {
			rp.srv.CloseDevice(id)
		}
	}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(reg.Close)
	rp.reg = reg
	return serveOn(b, rp, reg)
}

func serveOn(b *testing.B, rp *replica, src server.DeviceSource) *replica {
	srv, err := server.New(server.Config{Devices: src, Logger: quietLog()})
	if err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	rp.srv, rp.addr = srv, l.Addr().String()
	go srv.Serve(l, false)
	b.Cleanup(func() { srv.Close() })
	return rp
}

func openOrFail(b *testing.B, rp *replica, id string) *wire.Channel {
	ch, err := rp.openChannel(id, psk(1))
	if err != nil {
		b.Fatalf("%s: %v", id, err)
	}
	return ch
}

// BenchmarkChannelOpen opens PSK channels over loopback TCP: with the
// device in the replica's cache (warm), not in it (cold: one database
// read), and, side by side, from the in-memory YAML registry.
func BenchmarkChannelOpen(b *testing.B) {
	db := fleet(b)
	b.Run("yaml", func(b *testing.B) {
		reg := server.NewRegistry()
		for i := range 1000 {
			reg.Add(server.Device{ID: fleetID(i), PSK: psk(1), AllowedNames: []string{"*"}})
		}
		rp := serveOn(b, &replica{}, reg)
		for i := 0; b.Loop(); i++ {
			openOrFail(b, rp, fleetID(i%1000)).Close()
		}
	})
	b.Run("postgres-warm", func(b *testing.B) {
		rp := benchReplica(b, db)
		for i := range 1000 {
			if _, err := rp.reg.LookupDevice(fleetID(i)); err != nil {
				b.Fatal(err)
			}
		}
		for i := 0; b.Loop(); i++ {
			openOrFail(b, rp, fleetID(i%1000)).Close()
		}
	})
	b.Run("postgres-cold", func(b *testing.B) {
		rp := benchReplica(b, db)
		i := 0
		for b.Loop() {
			b.StopTimer()
			id := fleetID(i % fleetSize)
			i++
			rp.reg.mu.Lock()
			rp.reg.drop(id)
			rp.reg.mu.Unlock()
			b.StartTimer()
			openOrFail(b, rp, id).Close()
		}
	})
}

// BenchmarkCacheMemory fills a replica's cache with the whole fleet and
// reports the heap it holds per device.
func BenchmarkCacheMemory(b *testing.B) {
	db := fleet(b)
	for b.Loop() {
		reg, err := Open(context.Background(), Config{DSN: db.dsn, KEK: db.kek, Logger: quietLog()})
		if err != nil {
			b.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < fleetSize; i += 4 {
					if _, err := reg.LookupDevice(fleetID(i)); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		fill := time.Since(start)
		runtime.GC()
		runtime.ReadMemStats(&after)
		if n := reg.Stats().Cached; n != fleetSize {
			b.Fatalf("%d cached", n)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/fleetSize, "B/device")
		b.ReportMetric(fill.Seconds(), "s-to-fill")
		runtime.KeepAlive(reg)
		reg.Close()
	}
}

// BenchmarkRevokeThreeReplicas: the time from a revoke's commit to the
// device's channels being closed on all three replicas.
func BenchmarkRevokeThreeReplicas(b *testing.B) {
	db := fleet(b)
	reps := []*replica{benchReplica(b, db), benchReplica(b, db), benchReplica(b, db)}
	ctx := context.Background()
	i := 0
	for b.Loop() {
		b.StopTimer()
		id := fleetID(fleetSize - 1 - i%1000)
		i++
		var chans []*wire.Channel
		for _, rp := range reps {
			chans = append(chans, openOrFail(b, rp, id))
		}
		ended := make(chan error, len(chans))
		b.StartTimer()
		if err := db.admin.Revoke(ctx, id); err != nil {
			b.Fatal(err)
		}
		for _, ch := range chans {
			go func() { _, err := ch.ReadFrame(); ended <- err }()
		}
		for range chans {
			if err := <-ended; err == nil {
				b.Fatal("frame on a revoked channel")
			}
		}
		b.StopTimer()
		if err := db.admin.RotatePSK(ctx, id, psk(1)); err != nil { // enabled again
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
