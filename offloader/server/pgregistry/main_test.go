package pgregistry

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tlsoffload/tlsoffload/internal/pgtest"
	"github.com/tlsoffload/tlsoffload/offloader/server"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// pg is the one PostgreSQL of this package's tests; each test makes its
// own database in it.
var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m.Run, &pg)) }

var dbSeq atomic.Int32

// testDB is a migrated database of its own for one test.
type testDB struct {
	dsn   string
	pool  *pgxpool.Pool
	kek   *KEK
	admin *Admin
}

func newDB(t testing.TB) *testDB {
	t.Helper()
	return newDBAt(t, 0)
}

// newDBAt is newDB with its schema at version upTo (0: the newest).
func newDBAt(t testing.TB, upTo int) *testDB {
	t.Helper()
	if pg == nil {
		t.Skip("no PostgreSQL installed")
	}
	ctx := context.Background()
	admin, err := NewPool(ctx, pg.DSN("postgres"), 1)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	admin.Close()
	db := &testDB{dsn: pg.DSN(name)}
	if db.pool, err = NewPool(ctx, db.dsn, 4); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.pool.Close)
	if _, err := migrateTo(ctx, db.pool, upTo); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, KEKLen)
	rand.Read(key)
	if db.kek, err = NewKEK(key); err != nil {
		t.Fatal(err)
	}
	db.admin = NewAdmin(db.pool, db.kek)
	return db
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// open is a replica's Registry on db.
func (db *testDB) open(t testing.TB, tweak func(*Config)) *Registry {
	t.Helper()
	cfg := Config{DSN: db.dsn, KEK: db.kek, Logger: quietLog()}
	if tweak != nil {
		tweak(&cfg)
	}
	r, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func psk(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func mustPolicy(t testing.TB, db *testDB, p Policy) {
	t.Helper()
	if err := db.admin.SetPolicy(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

func mustAdd(t testing.TB, db *testDB, id, policy string, key []byte) {
	t.Helper()
	if err := db.admin.AddDevice(context.Background(), DeviceSpec{ID: id, Policy: policy, PSK: key}); err != nil {
		t.Fatal(err)
	}
}

// replica is a real offloader server on a TCP socket, its devices in db.
type replica struct {
	reg  *Registry
	srv  *server.Server
	addr string
}

func startReplica(t testing.TB, db *testDB) *replica {
	t.Helper()
	rp := &replica{}
	var srvp atomic.Pointer[server.Server]
	rp.reg = db.open(t, func(c *Config) {
		c.OnChange = func(id string) {
			if s := srvp.Load(); s != nil {
				s.CloseDevice(id)
			}
		}
	})
	srv, err := server.New(server.Config{Devices: rp.reg, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	srvp.Store(srv)
	rp.srv = srv
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rp.addr = l.Addr().String()
	go srv.Serve(l, false)
	t.Cleanup(func() { srv.Close() })
	return rp
}

// openChannel opens a PSK channel to rp as device id.
func (rp *replica) openChannel(id string, key []byte) (*wire.Channel, error) {
	c, err := net.DialTimeout("tcp", rp.addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	ch, err := wire.ClientOpen(c, wire.ChannelConfig{DeviceID: id, PSK: key})
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return ch, nil
}
