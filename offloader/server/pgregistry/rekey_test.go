package pgregistry

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

func newTestKEK(t testing.TB) *KEK {
	t.Helper()
	key := make([]byte, KEKLen)
	rand.Read(key)
	k, err := NewKEK(key)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sealedRows returns each device's sealed PSK and client key, as stored.
func sealedRows(t *testing.T, db *testDB) map[string][2]string {
	t.Helper()
	rows, err := db.pool.Query(context.Background(), "SELECT id, psk_sealed, client_key_sealed FROM devices")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][2]string{}
	for rows.Next() {
		var id string
		var psk, key []byte
		if err := rows.Scan(&id, &psk, &key); err != nil {
			t.Fatal(err)
		}
		out[id] = [2]string{string(psk), string(key)}
	}
	return out
}

func versions(t *testing.T, db *testDB) map[string]int64 {
	t.Helper()
	rows, err := db.pool.Query(context.Background(), "SELECT id, version FROM devices")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var v int64
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		out[id] = v
	}
	return out
}

// TestRekey: Rekey re-seals every PSK and client key under the new KEK in
// one transaction. A replica with the new KEK serves every device with its
// own secrets, one with only the old KEK no longer opens them; a replica
// running through the rekey is told nothing and keeps its channels; a
// second run finds everything done; a row under neither key fails the
// whole rekey and changes nothing.
func TestRekey(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	oldKEK, newKEK := db.kek, newTestKEK(t)
	mustPolicy(t, db, Policy{Name: "p", AllowedNames: []string{"*"}})
	leaf := clientLeaf(t)
	if err := db.admin.AddDevice(ctx, DeviceSpec{ID: "cam", Policy: "p", PSK: psk(1), ClientCertificate: leaf.Chain, ClientKey: leaf.Key}); err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"d-1", "d-2", "sentinel"} {
		mustAdd(t, db, id, "p", psk(byte(2+i)))
	}

	// A replica on the old KEK, a live channel, and a replica that already
	// holds the new KEK with the old one as its previous.
	rp := startReplica(t, db)
	ch, err := rp.openChannel("d-1", psk(2))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	both := db.open(t, func(c *Config) { c.KEK, c.PreviousKEK = newKEK, oldKEK })
	if d, err := both.LookupDevice("d-2"); err != nil || !bytes.Equal(d.PSK, psk(3)) {
		t.Fatalf("a replica with the old KEK as its previous, before the rekey: %v", err)
	}
	before, versionsBefore := sealedRows(t, db), versions(t, db)
	notes := rp.reg.Stats().Notifications

	res, err := NewAdmin(db.pool, newKEK).Rekey(ctx, oldKEK)
	if err != nil {
		t.Fatal(err)
	}
	if res != (RekeyResult{Devices: 4, Secrets: 5}) {
		t.Errorf("rekey: %+v, want 4 devices, 5 secrets", res)
	}
	after := sealedRows(t, db)
	for id := range before {
		if before[id] == after[id] {
			t.Errorf("device %s: sealed secrets unchanged by the rekey", id)
		}
	}
	if v := versions(t, db); !maps.Equal(v, versionsBefore) {
		t.Errorf("versions changed by the rekey: %v, before %v", v, versionsBefore)
	}
	var nulls int
	if err := db.pool.QueryRow(ctx, "SELECT count(*) FROM devices WHERE client_key_sealed IS NULL").Scan(&nulls); err != nil || nulls != 3 {
		t.Errorf("%d devices without a client key after the rekey (%v), want 3", nulls, err)
	}

	// The new KEK alone opens every device, with its own secrets.
	fresh := db.open(t, func(c *Config) { c.KEK = newKEK })
	for i, id := range []string{"d-1", "d-2", "sentinel"} {
		if d, err := fresh.LookupDevice(id); err != nil || !bytes.Equal(d.PSK, psk(byte(2+i))) {
			t.Errorf("device %s under the new KEK: %v", id, err)
		}
	}
	d, err := fresh.LookupDevice("cam")
	if err != nil || !bytes.Equal(d.PSK, psk(1)) || d.ClientKey == nil ||
		!leaf.Key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(d.ClientKey.Public()) {
		t.Errorf("cam under the new KEK: %v", err)
	}
	// The old KEK alone opens none: a replica started with it now is
	// refused at start (the check value was re-sealed with the secrets);
	// the one running through the rekey refuses a device it had not cached
	// as an unusable entry, not as the database being unavailable.
	if _, err := Open(ctx, Config{DSN: db.dsn, KEK: oldKEK, Logger: quietLog()}); !errors.Is(err, ErrKEKMismatch) {
		t.Errorf("a replica started with only the old KEK after the rekey: %v, want ErrKEKMismatch", err)
	}
	unavailable := rp.reg.Stats().Unavailable
	if _, err := rp.reg.LookupDevice("d-2"); !errors.Is(err, ErrSealed) || !errors.Is(err, ErrUnusable) || errors.Is(err, ErrUnavailable) {
		t.Errorf("a replica with only the old KEK after the rekey: %v, want ErrUnusable and ErrSealed", err)
	}
	if st := rp.reg.Stats(); st.Unavailable != unavailable || st.Unusable != 1 {
		t.Errorf("counted as unavailable %d, unusable %d; want 0 and 1", st.Unavailable-unavailable, st.Unusable)
	}
	// Nor does a copy of the database taken before, opened with the new.
	if _, err := newKEK.open(purposePSK, "d-2", []byte(before["d-2"][0])); !errors.Is(err, ErrSealed) {
		t.Errorf("an old sealed PSK opens under the new KEK: %v", err)
	}

	// The replica running through it was told nothing: the sentinel's
	// revoke is the next notification it gets (notifications arrive in
	// commit order), and the live channel still serves.
	if err := db.admin.Revoke(ctx, "sentinel"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the sentinel's notification", func() bool { return rp.reg.Stats().Notifications > notes })
	if n := rp.reg.Stats().Notifications; n != notes+1 {
		t.Errorf("the replica got %d notifications for the rekey and a revoke, want 1", n-notes)
	}
	f := &wire.Flight{ID: 1, Requests: []wire.Request{&wire.StartRequest{ServerName: "a.example", Versions: []uint16{0x0303}, CipherSuites: []uint16{0xc02f}}}}
	b, _ := f.Marshal()
	if err := ch.WriteFrame(b); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.ReadFrame(); err != nil {
		t.Errorf("a channel open through the rekey was closed: %v", err)
	}

	// Again: everything is under the new KEK already.
	if res, err := NewAdmin(db.pool, newKEK).Rekey(ctx, oldKEK); err != nil || res != (RekeyResult{Already: 4}) {
		t.Errorf("rekey again: %+v %v, want 4 already", res, err)
	}

	// A device sealed under a third key: the whole rekey is refused, the
	// device named, nothing changed.
	if err := NewAdmin(db.pool, newTestKEK(t)).AddDevice(ctx, DeviceSpec{ID: "stray", Policy: "p", PSK: psk(9)}); err != nil {
		t.Fatal(err)
	}
	newest := newTestKEK(t)
	mid := sealedRows(t, db)
	_, err = NewAdmin(db.pool, newest).Rekey(ctx, newKEK)
	if err == nil || !strings.Contains(err.Error(), `device "stray"`) {
		t.Errorf("rekey past a stray row: %v", err)
	}
	if !maps.Equal(sealedRows(t, db), mid) {
		t.Error("a failed rekey changed rows")
	}
	// The triggers are enabled again (the failed transaction rolled back
	// their disabling too, the successful ones enabled them).
	var enabled int
	err = db.pool.QueryRow(ctx, `SELECT count(*) FROM pg_trigger WHERE tgrelid = 'devices'::regclass
		AND tgname IN ('devices_bump', 'devices_notify') AND tgenabled = 'O'`).Scan(&enabled)
	if err != nil || enabled != 2 {
		t.Errorf("%d of the devices triggers enabled after the rekeys (%v), want 2", enabled, err)
	}
}

// clientLeaf is a device's client certificate (ECDSA P-256, no server
// auth) from a fresh test PKI.
func clientLeaf(t *testing.T) *testpki.Leaf {
	t.Helper()
	pki, err := testpki.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := pki.Issue([]string{"cam.devices.example"}, testpki.ECDSAP256, testpki.NoServerAuth)
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}
