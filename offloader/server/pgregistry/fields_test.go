package pgregistry

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/offloader/server"
)

// testCRL makes a CA and a complete CRL it signs revoking serial 7,
// returned as DER, and check, which checks a certificate of that serial
// the CA issues against a CRL set.
func testCRL(t testing.TB) (der []byte, check func(s *certs.CRLSet, serial int64) error) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pgregistry test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: big.NewInt(7), RevocationTime: now.Add(-time.Minute)}},
	}, ca, key)
	if err != nil {
		t.Fatal(err)
	}
	return crl, func(s *certs.CRLSet, serial int64) error {
		leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "leaf"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), DNSNames: []string{"a.example.com"},
		}, ca, leafKey.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(leafDER)
		if err != nil {
			t.Fatal(err)
		}
		return s.Check([]*x509.Certificate{leaf, ca}, time.Now())
	}
}

// TestPolicyVerificationAndLimits: a policy's profile, pins, CRLs and
// limits (schema version 2) reach every device using it through a
// replica, and policy show and list tell them; a CRL set is stored once
// whether given as PEM or DER.
func TestPolicyVerificationAndLimits(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	crlDER, checkCRL := testCRL(t)
	crlPEM := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crlDER})
	pin := certs.Pin{1, 2, 3}
	limits := server.DeviceLimits{MaxChannels: 3, MaxInFlight: 2, Rate: 12.5, Burst: 4, FrameBytes: 1 << 20}
	mustPolicy(t, db, Policy{Name: "strict", AllowedNames: []string{"*.example.com"}, Profile: certs.ProfileRFC5280,
		Pins: []certs.Pin{pin}, CRLs: crlPEM, Limits: limits})
	mustPolicy(t, db, Policy{Name: "strict-der", AllowedNames: []string{"*.example.com"}, CRLs: crlDER})
	mustPolicy(t, db, Policy{Name: "plain", AllowedNames: []string{"*"}})
	var sets int
	if err := db.pool.QueryRow(ctx, "SELECT count(*) FROM crl_sets").Scan(&sets); err != nil || sets != 1 {
		t.Errorf("%d CRL sets (%v) for the same CRL as PEM and DER, want 1", sets, err)
	}
	mustAdd(t, db, "s-1", "strict", psk(1))
	mustAdd(t, db, "p-1", "plain", psk(2))

	r := db.open(t, nil)
	d, err := r.LookupDevice("s-1")
	if err != nil {
		t.Fatal(err)
	}
	if d.Profile != certs.ProfileRFC5280 || !slices.Equal(d.Pins, []certs.Pin{pin}) || d.Limits != limits {
		t.Errorf("device: profile %v, pins %v, limits %+v; want rfc5280, [%v], %+v", d.Profile, d.Pins, d.Limits, pin, limits)
	}
	if d.CRLs == nil || d.CRLs.Len() != 1 {
		t.Fatalf("device CRLs: %v", d.CRLs)
	}
	// The stored CRL is the one given: it revokes serial 7 of its CA, not 8.
	if err := checkCRL(d.CRLs, 7); err == nil {
		t.Error("the device's CRLs do not revoke serial 7")
	}
	if err := checkCRL(d.CRLs, 8); err != nil {
		t.Errorf("the device's CRLs refuse serial 8: %v", err)
	}
	d2, err := r.LookupDevice("p-1")
	if err != nil || d2.Profile != certs.ProfileWebPKI || d2.Pins != nil || d2.CRLs != nil || d2.Limits != (server.DeviceLimits{}) {
		t.Errorf("plain device: %+v %v", d2, err)
	}

	info, err := db.admin.ShowPolicy(ctx, "strict")
	if err != nil {
		t.Fatal(err)
	}
	if info.Profile != certs.ProfileRFC5280 || !slices.Equal(info.Pins, []certs.Pin{pin}) || info.Limits != limits ||
		info.Devices != 1 || len(info.CRLsSHA256) != 32 || info.RootsSHA256 != nil {
		t.Errorf("show policy: %+v", info)
	}
	if _, err := db.admin.ShowPolicy(ctx, "nope"); !errors.Is(err, ErrNoPolicy) {
		t.Errorf("show of an unknown policy: %v", err)
	}
	var names []string
	if err := db.admin.ListPolicies(ctx, func(i PolicyInfo) error { names = append(names, i.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"plain", "strict", "strict-der"}) {
		t.Errorf("list policies: %v", names)
	}

	// Dropping the limits and CRLs reaches the replica's cached device.
	mustPolicy(t, db, Policy{Name: "strict", AllowedNames: []string{"*.example.com"}, Profile: certs.ProfileRFC5280})
	waitFor(t, "the policy edit", func() bool {
		d, err := r.LookupDevice("s-1")
		return err == nil && d.CRLs == nil && d.Limits == (server.DeviceLimits{}) && d.Pins == nil
	})

	for _, bad := range []Policy{
		{Name: "b1", CRLs: []byte("not a crl")},
		{Name: "b2", Profile: certs.Profile(9)},
		{Name: "b3", Limits: server.DeviceLimits{MaxChannels: -1}},
		{Name: "b4", Limits: server.DeviceLimits{MaxChannels: 1 << 40}},
	} {
		if err := db.admin.SetPolicy(ctx, bad); err == nil {
			t.Errorf("policy %s stored", bad.Name)
		}
	}
}

// TestPolicyLimitsEnforcedByAReplica: a policy's channel cap is the one a
// real server applies to the device's channels.
func TestPolicyLimitsEnforcedByAReplica(t *testing.T) {
	db := newDB(t)
	mustPolicy(t, db, Policy{Name: "one", AllowedNames: []string{"*"}, Limits: server.DeviceLimits{MaxChannels: 1}})
	mustAdd(t, db, "dev", "one", psk(4))
	rp := startReplica(t, db)
	ch, err := rp.openChannel("dev", psk(4))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	// The client side is open before the server has admitted the channel:
	// a second opening racing it could take the only place.
	waitFor(t, "the first channel to be admitted", func() bool { return rp.srv.Stats().Channels.Open == 1 })
	if ch2, err := rp.openChannel("dev", psk(4)); err == nil { // opened, then closed by the server
		defer ch2.Close()
		done := make(chan error, 1)
		go func() { _, err := ch2.ReadFrame(); done <- err }()
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("a second channel was served past the policy's max_channels 1")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a second channel stayed open past the policy's max_channels 1")
		}
	}
	waitFor(t, "the refusal to be counted", func() bool { return rp.srv.Stats().Refused["device_channels"] == 1 })
}

// TestDeleteDevice: a deleted device is gone from every replica at once,
// its channels closed, and its id free again.
func TestDeleteDevice(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	mustPolicy(t, db, Policy{Name: "p", AllowedNames: []string{"*"}})
	mustAdd(t, db, "gone", "p", psk(5))
	rp := startReplica(t, db)
	ch, err := rp.openChannel("gone", psk(5))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := db.admin.DeleteDevice(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := ch.ReadFrame(); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the deleted device's channel served a frame")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the deleted device's channel stayed open")
	}
	if _, err := rp.reg.LookupDevice("gone"); !errors.Is(err, server.ErrUnknownDevice) {
		t.Errorf("lookup after delete: %v", err)
	}
	if _, err := db.admin.ShowDevice(ctx, "gone"); !errors.Is(err, ErrNotFound) {
		t.Errorf("show after delete: %v", err)
	}
	if err := db.admin.DeleteDevice(ctx, "gone"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting twice: %v", err)
	}
	mustAdd(t, db, "gone", "p", psk(6)) // the id is free again
}
