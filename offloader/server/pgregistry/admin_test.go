package pgregistry

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/offloader/server"
)

func TestMigrateIsIdempotent(t *testing.T) {
	db := newDB(t) // migrated once
	ctx := context.Background()
	applied, err := Migrate(ctx, db.pool)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second Migrate applied %v, %v; want nothing", applied, err)
	}
	if err := checkSchema(ctx, db.pool); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != SchemaVersion() {
		t.Fatalf("schema_migrations has %d rows (%v), want %d", n, err, SchemaVersion())
	}
	// A database without the schema is refused with the fix named.
	if _, err := db.pool.Exec(ctx, "DELETE FROM schema_migrations"); err != nil {
		t.Fatal(err)
	}
	if err := checkSchema(ctx, db.pool); err == nil || !strings.Contains(err.Error(), "offloader migrate") {
		t.Fatalf("checkSchema of an unmigrated database: %v", err)
	}
	if _, err := Open(ctx, Config{DSN: db.dsn, KEK: db.kek, Logger: quietLog()}); err == nil {
		t.Fatal("Open of an unmigrated database succeeded")
	}
}

func TestPSKNeverReadableFromTheDatabase(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	mustPolicy(t, db, Policy{Name: "p", AllowedNames: []string{"*"}})
	secret := []byte("0123456789abcdef0123456789ABCDEF")
	mustAdd(t, db, "dev-1", "p", secret)
	mustAdd(t, db, "dev-2", "p", psk(2))

	// Everything the row holds, as text and bytes: the PSK is in none of it.
	var dump string
	if err := db.pool.QueryRow(ctx, "SELECT d::text FROM devices d WHERE id = 'dev-1'").Scan(&dump); err != nil {
		t.Fatal(err)
	}
	var sealed []byte
	if err := db.pool.QueryRow(ctx, "SELECT psk_sealed FROM devices WHERE id = 'dev-1'").Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) || strings.Contains(dump, string(secret)) || strings.Contains(strings.ToLower(dump), "3031323334353637") {
		t.Fatal("the PSK is readable in the database")
	}
	if got, err := db.kek.open(purposePSK, "dev-1", sealed); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("the KEK does not open the PSK: %v", err)
	}
	// Another key, or the sealed PSK moved to another device, opens nothing.
	other, _ := NewKEK(psk(9))
	if _, err := other.open(purposePSK, "dev-1", sealed); !errors.Is(err, ErrSealed) {
		t.Errorf("a wrong KEK: %v", err)
	}
	if _, err := db.pool.Exec(ctx, "UPDATE devices SET psk_sealed = $1 WHERE id = 'dev-2'", sealed); err != nil {
		t.Fatal(err)
	}
	r := db.open(t, nil)
	if _, err := r.LookupDevice("dev-2"); !errors.Is(err, ErrSealed) {
		t.Errorf("a PSK copied to another row: lookup %v, want ErrSealed", err)
	}
	d, err := r.LookupDevice("dev-1")
	if err != nil || !bytes.Equal(d.PSK, secret) {
		t.Fatalf("lookup dev-1: %v", err)
	}
}

func TestAdminLifecycle(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	p, err := testpki.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	roots := p.RootPEM()
	mustPolicy(t, db, Policy{Name: "cams", AllowedNames: []string{"*.example.com"}, RootsPEM: roots})
	mustPolicy(t, db, Policy{Name: "cams2", AllowedNames: []string{"api.example.com"}, RootsPEM: roots, MinVersion: 0x0302})
	var bundles int
	db.pool.QueryRow(ctx, "SELECT count(*) FROM trust_bundles").Scan(&bundles)
	if bundles != 1 {
		t.Errorf("%d trust bundles for two policies with the same roots, want 1", bundles)
	}
	if err := db.admin.SetPolicy(ctx, Policy{Name: "bad", AllowedNames: []string{"a.*.com"}}); err == nil {
		t.Error("a bad allowed name was stored")
	}

	mustAdd(t, db, "cam-1", "cams", psk(1))
	if err := db.admin.AddDevice(ctx, DeviceSpec{ID: "cam-1", Policy: "cams", PSK: psk(1)}); !errors.Is(err, ErrExists) {
		t.Errorf("adding twice: %v", err)
	}
	if err := db.admin.AddDevice(ctx, DeviceSpec{ID: "cam-2", Policy: "nope", PSK: psk(1)}); !errors.Is(err, ErrNoPolicy) {
		t.Errorf("unknown policy: %v", err)
	}
	if err := db.admin.AddDevice(ctx, DeviceSpec{ID: "cam-2", Policy: "cams", PSK: []byte("short")}); !errors.Is(err, server.ErrInvalidDevice) {
		t.Errorf("short PSK: %v", err)
	}

	r := db.open(t, nil)
	d, err := r.LookupDevice("cam-1")
	if err != nil || d.Roots == nil || d.AllowedNames[0] != "*.example.com" {
		t.Fatalf("lookup: %+v %v", d, err)
	}
	info, err := db.admin.ShowDevice(ctx, "cam-1")
	if err != nil || info.Policy != "cams" || info.Revoked {
		t.Fatalf("show: %+v %v", info, err)
	}
	if err := db.admin.SetDevicePolicy(ctx, "cam-1", "cams2"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the policy change to reach the replica", func() bool {
		d, err := r.LookupDevice("cam-1")
		return err == nil && d.MinVersion == 0x0302
	})
	if err := db.admin.RotatePSK(ctx, "cam-1", psk(7)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new PSK", func() bool { d, err := r.LookupDevice("cam-1"); return err == nil && d.PSK[0] == 7 })
	if err := db.admin.Revoke(ctx, "cam-1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the revocation", func() bool { _, err := r.LookupDevice("cam-1"); return errors.Is(err, server.ErrUnknownDevice) })
	if info, _ := db.admin.ShowDevice(ctx, "cam-1"); !info.Revoked {
		t.Error("show does not say revoked")
	}
	for _, err := range []error{
		db.admin.Revoke(ctx, "ghost"), db.admin.RotatePSK(ctx, "ghost", psk(1)), db.admin.SetDevicePolicy(ctx, "ghost", "cams"),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("on an unknown device: %v", err)
		}
	}
	// A policy change reaches its devices.
	mustAdd(t, db, "cam-3", "cams", psk(3))
	if _, err := r.LookupDevice("cam-3"); err != nil {
		t.Fatal(err)
	}
	mustPolicy(t, db, Policy{Name: "cams", AllowedNames: []string{"other.example.com"}, RootsPEM: roots})
	waitFor(t, "the policy edit", func() bool {
		d, err := r.LookupDevice("cam-3")
		return err == nil && d.AllowedNames[0] == "other.example.com"
	})

	var ids []string
	db.admin.ListDevices(ctx, "", func(i DeviceInfo) error { ids = append(ids, i.ID); return nil })
	if strings.Join(ids, " ") != "cam-1 cam-3" {
		t.Errorf("list: %v", ids)
	}
}

func TestAddCSV(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	mustPolicy(t, db, Policy{Name: "line", AllowedNames: []string{"*"}})
	in := "id,policy,psk\nf-1,line,\nf-2,line," + strings.Repeat("ab", 32) + "\n"
	var out bytes.Buffer
	n, err := db.admin.AddCSV(ctx, strings.NewReader(in), &out)
	if err != nil || n != 2 {
		t.Fatalf("AddCSV: %d %v", n, err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "f-1,") || len(lines[0]) != len("f-1,")+64 {
		t.Fatalf("PSKs shown: %q, want f-1's only", out.String())
	}
	r := db.open(t, nil)
	if d, err := r.LookupDevice("f-2"); err != nil || d.PSK[0] != 0xab {
		t.Fatalf("f-2: %v", err)
	}
	// All or none: a bad line adds nothing, and says which line.
	_, err = db.admin.AddCSV(ctx, strings.NewReader("id,policy\ng-1,line\ng 2,line\n"), &out)
	var ce *CSVError
	if !errors.As(err, &ce) || ce.Line != 3 {
		t.Fatalf("bad id: %v", err)
	}
	if _, err := db.admin.AddCSV(ctx, strings.NewReader("id,policy\ng-1,line\nf-1,line\n"), &out); !errors.Is(err, ErrExists) {
		t.Fatalf("existing id: %v", err)
	}
	if _, err := db.admin.ShowDevice(ctx, "g-1"); !errors.Is(err, ErrNotFound) {
		t.Error("a failed bulk add left g-1 behind")
	}
	if _, err := db.admin.AddCSV(ctx, strings.NewReader("name,secret\n"), &out); err == nil {
		t.Error("a bad header was accepted")
	}
}

// TestClientCertificateStoredSealed: a device's client certificate and key
// go through the database (the key sealed) and come back usable.
func TestClientCertificateStoredSealed(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	p, err := testpki.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := p.Issue([]string{"cam.devices.example"}, testpki.ECDSAP256, testpki.NoServerAuth)
	if err != nil {
		t.Fatal(err)
	}
	mustPolicy(t, db, Policy{Name: "p", AllowedNames: []string{"*"}})
	if err := db.admin.AddDevice(ctx, DeviceSpec{ID: "cam", Policy: "p", PSK: psk(1), ClientCertificate: leaf.Chain, ClientKey: leaf.Key}); err != nil {
		t.Fatal(err)
	}
	var sealed []byte
	if err := db.pool.QueryRow(ctx, "SELECT client_key_sealed FROM devices WHERE id = 'cam'").Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(leaf.Key)
	if len(sealed) == 0 || bytes.Contains(sealed, der[len(der)-32:]) {
		t.Fatal("the client key is readable in the database")
	}
	r := db.open(t, nil)
	d, err := r.LookupDevice("cam")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.ClientCertificate) != len(leaf.Chain) || !leaf.Key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(d.ClientKey.Public()) {
		t.Fatal("the client certificate or key did not come back")
	}
	// Removed again: the replica sees it.
	if err := db.admin.SetClientCert(ctx, "cam", nil, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the certificate's removal", func() bool { d, err := r.LookupDevice("cam"); return err == nil && d.ClientKey == nil })
	// A mismatched pair is refused before the database.
	other, _ := p.Issue([]string{"x.devices.example"}, testpki.ECDSAP256, testpki.NoServerAuth)
	if err := db.admin.SetClientCert(ctx, "cam", leaf.Chain, other.Key); !errors.Is(err, server.ErrInvalidDevice) {
		t.Errorf("mismatched key: %v", err)
	}
}
