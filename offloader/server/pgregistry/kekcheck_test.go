package pgregistry

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// TestKEKCheck: the admin stores a check value in a new database; a
// replica or an admin with another KEK is refused at start with
// ErrKEKMismatch (not as the database being unavailable, and without a
// key's bytes); one holding the database's KEK as its previous (a rotation
// under way) starts; the stored value does not hold its label in clear.
func TestKEKCheck(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	// A new database: nothing to check a KEK against until the admin
	// stores the check value.
	if check, err := readKEKCheck(ctx, db.pool); err != nil || check != nil {
		t.Fatalf("check value before any admin: %x %v", check, err)
	}
	if err := db.admin.CheckKEK(ctx); err != nil {
		t.Fatal(err)
	}
	check, err := readKEKCheck(ctx, db.pool)
	if err != nil || check == nil || bytes.Contains(check, []byte(kekCheckLabel)) || bytes.Contains(check, []byte("kek")) {
		t.Fatalf("stored check value %x (%v)", check, err)
	}
	if err := db.admin.CheckKEK(ctx); err != nil { // idempotent
		t.Fatal(err)
	}
	if again, _ := readKEKCheck(ctx, db.pool); !bytes.Equal(again, check) {
		t.Error("a second CheckKEK rewrote the check value")
	}

	wrongKey := bytes.Repeat([]byte{0x5a}, KEKLen)
	wrong, err := NewKEK(wrongKey)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, Config{DSN: db.dsn, KEK: wrong, Logger: quietLog()})
	if !errors.Is(err, ErrKEKMismatch) || errors.Is(err, ErrUnavailable) || !strings.HasPrefix(err.Error(), "pgregistry: the KEK does not match the database") {
		t.Errorf("a replica with a wrong KEK: %v", err)
	}
	if err != nil && (strings.Contains(err.Error(), hex.EncodeToString(wrongKey)[:16]) || strings.Contains(strings.ToLower(err.Error()), "unavailable")) {
		t.Errorf("the refusal says too much: %v", err)
	}
	if err := NewAdmin(db.pool, wrong).CheckKEK(ctx); !errors.Is(err, ErrKEKMismatch) {
		t.Errorf("an admin with a wrong KEK: %v", err)
	}
	// A rotation under way: the database's KEK is the replica's previous.
	db.open(t, func(c *Config) { c.KEK, c.PreviousKEK = wrong, db.kek })
	db.open(t, nil)

	// Rekey moves the check value to the new KEK with the secrets.
	mustPolicy(t, db, Policy{Name: "p", AllowedNames: []string{"*"}})
	mustAdd(t, db, "d-1", "p", psk(1))
	if _, err := NewAdmin(db.pool, wrong).Rekey(ctx, newTestKEK(t)); !errors.Is(err, ErrKEKMismatch) {
		t.Errorf("rekey with neither key the database's: %v", err)
	}
	if _, err := NewAdmin(db.pool, wrong).Rekey(ctx, db.kek); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, Config{DSN: db.dsn, KEK: db.kek, Logger: quietLog()}); !errors.Is(err, ErrKEKMismatch) {
		t.Errorf("the old KEK after the rekey: %v", err)
	}
	if d, err := db.open(t, func(c *Config) { c.KEK = wrong }).LookupDevice("d-1"); err != nil || !bytes.Equal(d.PSK, psk(1)) {
		t.Errorf("the new KEK after the rekey: %v", err)
	}
}
