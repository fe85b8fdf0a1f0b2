package pgregistry

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/server"
)

// TestPolicyNegotiation: a policy's max_version, cipher_suites and
// key_exchanges (schema version 3) reach every device using it through a
// replica and are told by ShowPolicy; the defaults are stored as NULL; a
// policy set again without them drops them, and the replica follows.
func TestPolicyNegotiation(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	narrow := Policy{Name: "narrow", AllowedNames: []string{"*"}, MinVersion: handshake.VersionTLS10, MaxVersion: handshake.VersionTLS11,
		CipherSuites: []uint16{handshake.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, handshake.TLS_RSA_WITH_AES_128_CBC_SHA},
		KeyExchanges: []handshake.KeyExchange{handshake.KeyExchangeECDHERSA, handshake.KeyExchangeRSA}}
	mustPolicy(t, db, narrow)
	mustPolicy(t, db, Policy{Name: "plain", AllowedNames: []string{"*"}})
	mustAdd(t, db, "n-1", "narrow", psk(1))
	mustAdd(t, db, "p-1", "plain", psk(2))

	r := db.open(t, nil)
	d, err := r.LookupDevice("n-1")
	if err != nil {
		t.Fatal(err)
	}
	if d.MinVersion != handshake.VersionTLS10 || d.MaxVersion != handshake.VersionTLS11 ||
		!slices.Equal(d.CipherSuites, narrow.CipherSuites) || !slices.Equal(d.KeyExchanges, narrow.KeyExchanges) {
		t.Errorf("served n-1: versions %#x..%#x suites %#x kx %v", d.MinVersion, d.MaxVersion, d.CipherSuites, d.KeyExchanges)
	}
	d, err = r.LookupDevice("p-1")
	if err != nil || d.MaxVersion != 0 || d.CipherSuites != nil || d.KeyExchanges != nil {
		t.Errorf("served p-1: %+v %v", d, err)
	}
	var nulls bool
	err = db.pool.QueryRow(ctx, "SELECT max_version IS NULL AND cipher_suites IS NULL AND key_exchanges IS NULL FROM policies WHERE name = 'plain'").Scan(&nulls)
	if err != nil || !nulls {
		t.Errorf("the default negotiation is not stored as NULL: %v %v", nulls, err)
	}
	i, err := db.admin.ShowPolicy(ctx, "narrow")
	if err != nil || i.MaxVersion != narrow.MaxVersion || !slices.Equal(i.CipherSuites, narrow.CipherSuites) || !slices.Equal(i.KeyExchanges, narrow.KeyExchanges) {
		t.Errorf("show narrow: %+v %v", i.Policy, err)
	}

	narrow.MaxVersion, narrow.CipherSuites, narrow.KeyExchanges = 0, nil, nil
	mustPolicy(t, db, narrow)
	waitFor(t, "the widened policy to reach the replica", func() bool {
		d, err := r.LookupDevice("n-1")
		return err == nil && d.MaxVersion == 0 && d.CipherSuites == nil && d.KeyExchanges == nil
	})
}

// TestPolicyNegotiationRefused: SetPolicy refuses what a YAML device's
// check refuses (server.Device.CheckNegotiation), naming the field as the
// policy's column; a device with a client certificate is refused a policy
// listing RSA suites without listing rsa among its key exchanges, whether
// the device is added, moved, given its certificate, or the policy
// changed under it; nothing is stored by a refusal.
func TestPolicyNegotiationRefused(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	rsaSuite, ecdheSuite := handshake.TLS_RSA_WITH_AES_128_GCM_SHA256, handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
	for _, c := range []struct {
		p     Policy
		field string
		says  string
	}{
		{Policy{MaxVersion: 0x0300}, "max_version", "is not TLS 1.0, 1.1 or 1.2"},
		{Policy{MaxVersion: handshake.VersionTLS11}, "max_version", "below the lowest version"},
		{Policy{CipherSuites: []uint16{ecdheSuite, 0x1301}}, "cipher_suites[1]", "not a cipher suite the offloader implements"},
		{Policy{CipherSuites: []uint16{ecdheSuite, ecdheSuite}}, "cipher_suites[1]", "listed twice"},
		{Policy{KeyExchanges: []handshake.KeyExchange{handshake.KeyExchangeRSA, 9}}, "key_exchanges[1]", "is not a key exchange"},
		{Policy{CipherSuites: []uint16{ecdheSuite, rsaSuite}, KeyExchanges: []handshake.KeyExchange{handshake.KeyExchangeECDHERSA}},
			"cipher_suites[1]", "which the device's key exchanges do not list"},
		{Policy{MinVersion: handshake.VersionTLS10, MaxVersion: handshake.VersionTLS11, CipherSuites: []uint16{ecdheSuite}},
			"cipher_suites[0]", "above the device's highest version"},
	} {
		c.p.Name, c.p.AllowedNames = "bad", []string{"*"}
		err := db.admin.SetPolicy(ctx, c.p)
		var pe *PolicyError
		if !errors.As(err, &pe) || pe.Field != c.field || !strings.Contains(err.Error(), c.says) || !strings.Contains(err.Error(), `policy "bad": `+c.field+": ") {
			t.Errorf("%+v: %v, want field %s saying %q", c.p, err, c.field, c.says)
		}
	}
	if _, err := db.admin.ShowPolicy(ctx, "bad"); !errors.Is(err, ErrNoPolicy) {
		t.Errorf("a refused policy was stored: %v", err)
	}

	// The client-certificate rule depends on the device.
	leaf := clientLeaf(t)
	mustPolicy(t, db, Policy{Name: "rsa-listed", AllowedNames: []string{"*"}, CipherSuites: []uint16{ecdheSuite, rsaSuite}})
	mustPolicy(t, db, Policy{Name: "ecdhe", AllowedNames: []string{"*"}})
	mustAdd(t, db, "plain-1", "rsa-listed", psk(1)) // no client certificate: RSA is on by default
	wantDevice := func(what string, err error, device string) {
		t.Helper()
		var pe *PolicyError
		if !errors.As(err, &pe) || pe.Device != device || pe.Field != "cipher_suites[1]" || !strings.Contains(err.Error(), "off for a device with a client certificate") {
			t.Errorf("%s: %v, want a *PolicyError naming device %s and cipher_suites[1]", what, err, device)
		}
	}
	cam := DeviceSpec{ID: "cam-1", Policy: "rsa-listed", PSK: psk(2), ClientCertificate: leaf.Chain, ClientKey: leaf.Key}
	wantDevice("adding a device with a client certificate", db.admin.AddDevice(ctx, cam), "cam-1")
	if _, err := db.admin.ShowDevice(ctx, "cam-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the refused device was added: %v", err)
	}
	wantDevice("giving the device a client certificate", db.admin.SetClientCert(ctx, "plain-1", leaf.Chain, leaf.Key), "plain-1")
	cam.Policy = "ecdhe"
	if err := db.admin.AddDevice(ctx, cam); err != nil {
		t.Fatal(err)
	}
	wantDevice("moving the device", db.admin.SetDevicePolicy(ctx, "cam-1", "rsa-listed"), "cam-1")
	wantDevice("changing its policy under it", db.admin.SetPolicy(ctx, Policy{Name: "ecdhe", AllowedNames: []string{"*"}, CipherSuites: []uint16{ecdheSuite, rsaSuite}}), "cam-1")
	if i, err := db.admin.ShowDevice(ctx, "cam-1"); err != nil || i.Policy != "ecdhe" {
		t.Errorf("cam-1 after the refusals: %+v %v", i, err)
	}
	if i, err := db.admin.ShowPolicy(ctx, "ecdhe"); err != nil || i.CipherSuites != nil {
		t.Errorf("policy ecdhe after the refusal: %+v %v", i.Policy, err)
	}
	// Listing rsa makes it usable for the device with a client certificate.
	mustPolicy(t, db, Policy{Name: "ecdhe", AllowedNames: []string{"*"}, CipherSuites: []uint16{ecdheSuite, rsaSuite},
		KeyExchanges: []handshake.KeyExchange{handshake.KeyExchangeECDHERSA, handshake.KeyExchangeRSA}})
	if d, err := db.open(t, nil).LookupDevice("cam-1"); err != nil || !slices.Equal(d.CipherSuites, []uint16{ecdheSuite, rsaSuite}) {
		t.Errorf("cam-1 under a policy listing rsa: %v", err)
	}
}

// TestUnusableEntry: an entry the database holds but that does not
// validate (changed behind the admin's back) is refused as unusable, with
// the field at fault, not as the database being unavailable.
func TestUnusableEntry(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	mustPolicy(t, db, Policy{Name: "p", AllowedNames: []string{"*"}})
	mustAdd(t, db, "d-1", "p", psk(1))
	if _, err := db.pool.Exec(ctx, "UPDATE policies SET cipher_suites = '{4865}' WHERE name = 'p'"); err != nil { // TLS 1.3's 0x1301
		t.Fatal(err)
	}
	r := db.open(t, nil)
	_, err := r.LookupDevice("d-1")
	if !errors.Is(err, ErrUnusable) || !errors.Is(err, server.ErrInvalidDevice) || errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "CipherSuites[0]") {
		t.Errorf("lookup of an invalid entry: %v", err)
	}
	if st := r.Stats(); st.Unusable != 1 || st.Unavailable != 0 {
		t.Errorf("counted unusable %d, unavailable %d; want 1 and 0", st.Unusable, st.Unavailable)
	}
}

// TestMigrateFromSchema2: migration 0003 applies to a schema-2 database
// holding a fleet; every row is as it was, the new columns are NULL (the
// defaults), a replica serves the devices, and the KEK is checked against
// their PSKs until the admin stores a check value.
func TestMigrateFromSchema2(t *testing.T) {
	db := newDBAt(t, 2)
	ctx := context.Background()
	if SchemaVersion() < 3 {
		t.Fatal("no migration 3")
	}
	// A fleet as a schema-2 binary wrote it.
	sealed, err := db.kek.seal(purposePSK, "old-1", psk(7))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO policies (name, allowed_names, min_version, profile, max_channels, rate) VALUES ('v2', '{"*.example.com"}', 770, 'rfc5280', 3, 2.5)`,
		`INSERT INTO devices (id, policy, psk_sealed) VALUES ('old-1', 'v2', $1)`,
	} {
		args := []any{}
		if strings.Contains(q, "$1") {
			args = append(args, sealed)
		}
		if _, err := db.pool.Exec(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	const (
		policyRow = `SELECT (to_jsonb(p) - 'max_version' - 'cipher_suites' - 'key_exchanges')::text FROM policies p ORDER BY name`
		deviceRow = `SELECT to_jsonb(d)::text FROM devices d ORDER BY id`
	)
	snapshot := func() []string {
		var out []string
		for _, q := range []string{policyRow, deviceRow} {
			var s string
			if err := db.pool.QueryRow(ctx, q).Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	before := snapshot()
	if _, err := Open(ctx, Config{DSN: db.dsn, KEK: db.kek, Logger: quietLog()}); err == nil || !strings.Contains(err.Error(), "0003") {
		t.Errorf("a replica on a schema-2 database: %v, want it to name the missing migration", err)
	}

	applied, err := Migrate(ctx, db.pool)
	if err != nil || len(applied) != 1 || !strings.HasPrefix(applied[0], "0003_") {
		t.Fatalf("migrate: %v %v", applied, err)
	}
	if after := snapshot(); !slices.Equal(before, after) {
		t.Errorf("rows changed by the migration:\n%v\n%v", before, after)
	}
	var nulls bool
	if err := db.pool.QueryRow(ctx, "SELECT max_version IS NULL AND cipher_suites IS NULL AND key_exchanges IS NULL FROM policies").Scan(&nulls); err != nil || !nulls {
		t.Errorf("new columns of an old policy: NULL %v (%v)", nulls, err)
	}

	// No check value yet: a wrong KEK is found on the devices' PSKs.
	if _, err := Open(ctx, Config{DSN: db.dsn, KEK: newTestKEK(t), Logger: quietLog()}); !errors.Is(err, ErrKEKMismatch) {
		t.Errorf("a wrong KEK on a database without a check value: %v", err)
	}
	r := db.open(t, nil)
	d, err := r.LookupDevice("old-1")
	if err != nil || string(d.PSK) != string(psk(7)) || d.MinVersion != handshake.VersionTLS11 || d.MaxVersion != 0 ||
		d.CipherSuites != nil || d.KeyExchanges != nil || d.Limits.MaxChannels != 3 {
		t.Fatalf("old-1 after the migration: %+v %v", d, err)
	}
	if check, err := readKEKCheck(ctx, db.pool); err != nil || check != nil {
		t.Errorf("a replica wrote a check value (%v)", err)
	}
	// The admin derives it from the PSK its KEK opens.
	if err := db.admin.CheckKEK(ctx); err != nil {
		t.Fatal(err)
	}
	if check, err := readKEKCheck(ctx, db.pool); err != nil || !db.kek.opensKEKCheck(check) {
		t.Errorf("no check value under the KEK after CheckKEK (%v)", err)
	}
	if again, err := Migrate(ctx, db.pool); err != nil || len(again) != 0 {
		t.Errorf("migrate again: %v %v", again, err)
	}
}
