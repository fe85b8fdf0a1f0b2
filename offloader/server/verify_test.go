package server

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// Auth's verification as a device meets it: for each rule, the refusal
// reaches the device's answer with certs' reason and detail, under the
// profile, pins and CRLs of the device's entry. Package certs tests the
// rules themselves; these tests test that the offloader applies them, to
// the right certificates, for the right device.

var allGroups = []uint16{handshake.GroupX25519, handshake.GroupP256, handshake.GroupP384}

// caseSynth is a TLS 1.2 ECDHE server flight presenting c's chain, signed
// with c's leaf key: ECDHE_ECDSA for an ECDSA leaf, ECDHE_RSA for an RSA
// one.
func caseSynth(t testing.TB, c *testpki.Case) synth {
	t.Helper()
	o := synth{
		name: c.ServerName, chain: c.Chain, ske: true, group: handshake.GroupX25519, chGroups: allGroups,
		chSigs: []uint16{handshake.SigECDSAP256SHA256, handshake.SigRSAPKCS1SHA256}, signer: c.LeafKey, signOpts: crypto.SHA256,
	}
	switch c.LeafKey.Public().(type) {
	case *ecdsa.PublicKey:
		o.suite, o.sigAlg = handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, handshake.SigECDSAP256SHA256
	case *rsa.PublicKey:
		o.suite, o.sigAlg = handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, handshake.SigRSAPKCS1SHA256
	default:
		t.Fatalf("no TLS 1.2 suite for a %T leaf", c.LeafKey.Public())
	}
	return o
}

// flightFor is pipelined, asking about name.
func flightFor(name string, transcript []byte) *wire.Flight {
	f := pipelined(transcript)
	f.Requests[0].(*wire.AuthRequest).ServerName = name
	return f
}

// addPolicyDevice registers d with the test PSK and every name allowed.
func addPolicyDevice(t testing.TB, fx *fixture, d Device) string {
	t.Helper()
	d.PSK, d.AllowedNames = testPSK, []string{"*"}
	if err := fx.reg.Add(d); err != nil {
		t.Fatal(err)
	}
	return d.ID
}

// wantRefusal checks Auth refused with status 1, reason and, when
// detailHas is set, a detail holding it.
func wantRefusal(t testing.TB, resp *wire.FlightResponse, reason wire.Reason, detailHas string) *wire.Error {
	t.Helper()
	e := checkStatus(t, resp, 0, wire.StatusInvalidCertificate)
	if e.Reason != reason {
		t.Fatalf("reason %v (%q), want %v", e.Reason, e.Detail, reason)
	}
	if !strings.Contains(e.Detail, detailHas) {
		t.Fatalf("detail %q does not say %q", e.Detail, detailHas)
	}
	return e
}

// namedCase is a chain with a name, for the builders beside the twins.
type namedCase struct {
	name string
	c    *testpki.Case
}

// TestAuthProfiles: for every twin of certs/testpki (a chain breaking one
// rule, and its sound twin) and the path-building cases, under each
// profile, Auth answers exactly what certs.Verifier says for the device's
// profile: the same reason and detail for a refusal, a whole flight for an
// acceptance. A server that ignored the device's profile would answer one
// of the two profiles wrongly for every rule that only webpki has.
func TestAuthProfiles(t *testing.T) {
	fx := newFixture(t, nil)
	now := fx.clock.now()
	var cases []namedCase
	for _, tw := range testpki.Twins() {
		for _, half := range []struct {
			name string
			make func(time.Time) (*testpki.Case, error)
		}{{"bad", tw.Bad}, {"good", tw.Good}} {
			c, err := half.make(now)
			if err != nil {
				t.Fatal(err)
			}
			cases = append(cases, namedCase{tw.Rule + "/" + half.name, c})
		}
	}
	more := []struct {
		name string
		make func() (*testpki.Case, error)
	}{
		{"anchor leaf/ECDSA", func() (*testpki.Case, error) { return testpki.AnchorLeaf(now, testpki.ECDSAP256, nil) }},
		{"anchor leaf/RSA", func() (*testpki.Case, error) { return testpki.AnchorLeaf(now, testpki.RSA2048, nil) }},
		{"self-issued intermediate/RSA-1024", func() (*testpki.Case, error) { return testpki.SelfIssuedIntermediate(now, testpki.RSA1024) }},
		{"self-issued intermediate/P-256", func() (*testpki.Case, error) { return testpki.SelfIssuedIntermediate(now, testpki.ECDSAP256) }},
		{"expired cross-signed root sent along", func() (*testpki.Case, error) { return testpki.CrossSignedExpiredRoot(now) }},
		{"two paths, the first with a weak root", func() (*testpki.Case, error) { return testpki.TwoPaths(now) }},
	}
	for _, m := range more {
		c, err := m.make()
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, namedCase{m.name, c})
	}

	refusedByOneProfile := 0
	for _, nc := range cases {
		t.Run(nc.name, func(t *testing.T) {
			o := caseSynth(t, nc.c)
			var verdicts [2]error
			for i, p := range []certs.Profile{certs.ProfileWebPKI, certs.ProfileRFC5280} {
				id := addPolicyDevice(t, fx, Device{ID: "profile-" + p.String(), Roots: nc.c.Roots, Profile: p})
				v := certs.Verifier{Roots: nc.c.Roots, Time: fx.clock.now, Profile: p}
				_, verdicts[i] = v.Verify(nc.c.Chain, nc.c.ServerName)
				resp := fx.srv.Do(context.Background(), id, flightFor(nc.c.ServerName, o.transcript(t)))
				var ce *certs.Error
				if !errors.As(verdicts[i], &ce) {
					if verdicts[i] != nil {
						t.Fatalf("%v: certs: %v", p, verdicts[i])
					}
					checkOK(t, resp)
					continue
				}
				e := checkStatus(t, resp, 0, wire.StatusInvalidCertificate)
				if e.Reason != wire.Reason(ce.Reason) || e.Detail != ce.Detail {
					t.Fatalf("%v: answered %v %q, certs says %v %q", p, e.Reason, e.Detail, ce.Reason, ce.Detail)
				}
			}
			if (verdicts[0] == nil) != (verdicts[1] == nil) {
				refusedByOneProfile++
			}
		})
	}
	if refusedByOneProfile < 10 {
		t.Errorf("only %d cases tell the profiles apart", refusedByOneProfile)
	}
}

// keyUsageCase builds a chain whose leaf (kt) has key usage ku (0: no
// keyUsage extension).
func keyUsageCase(t testing.TB, now time.Time, kt testpki.KeyType, ku x509.KeyUsage) *testpki.Case {
	t.Helper()
	c, err := testpki.Build(now, testpki.Spec{LeafKey: kt, IntermediateKey: testpki.ECDSAP256, RootKey: testpki.ECDSAP256,
		Leaf: func(c *x509.Certificate) { c.KeyUsage = ku }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAuthKeyUsage: the leaf's keyUsage must allow what its key does in
// the negotiated key exchange, in every version, verified or not; the
// refusal names the usage that was needed.
func TestAuthKeyUsage(t *testing.T) {
	fx := newFixture(t, nil)
	now := fx.clock.now()
	const (
		ds = x509.KeyUsageDigitalSignature
		ke = x509.KeyUsageKeyEncipherment
		nr = x509.KeyUsageContentCommitment // nonRepudiation
		ka = x509.KeyUsageKeyAgreement
	)
	ecdheRSA, ecdheECDSA, rsaKX := handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, handshake.TLS_RSA_WITH_AES_128_GCM_SHA256
	cbcRSA, cbcECDHE := handshake.TLS_RSA_WITH_AES_128_CBC_SHA, handshake.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
	for _, tc := range []struct {
		name     string
		version  uint16 // 0: TLS 1.2
		insecure bool   // a device that skips verification
		kt       testpki.KeyType
		ku       x509.KeyUsage
		suite    uint16
		refused  string // the usage the refusal names; "" accepted
	}{
		{"ECDHE_RSA/keyEncipherment only", 0, false, testpki.RSA2048, ke, ecdheRSA, "digitalSignature"},
		{"ECDHE_RSA/nonRepudiation only", 0, false, testpki.RSA2048, nr, ecdheRSA, "digitalSignature"},
		{"ECDHE_RSA/digitalSignature", 0, false, testpki.RSA2048, ds, ecdheRSA, ""},
		{"ECDHE_RSA/no keyUsage", 0, false, testpki.RSA2048, 0, ecdheRSA, ""},
		{"ECDHE_ECDSA/keyAgreement only", 0, false, testpki.ECDSAP256, ka, ecdheECDSA, "digitalSignature"},
		{"ECDHE_ECDSA/nonRepudiation only", 0, false, testpki.ECDSAP256, nr, ecdheECDSA, "digitalSignature"},
		{"ECDHE_ECDSA/digitalSignature", 0, false, testpki.ECDSAP256, ds, ecdheECDSA, ""},
		{"RSA/digitalSignature only", 0, false, testpki.RSA2048, ds, rsaKX, "keyEncipherment"},
		{"RSA/nonRepudiation only", 0, false, testpki.RSA2048, nr, rsaKX, "keyEncipherment"},
		{"RSA/keyEncipherment", 0, false, testpki.RSA2048, ke, rsaKX, ""},
		{"RSA/no keyUsage", 0, false, testpki.RSA2048, 0, rsaKX, ""},
		{"TLS 1.0/ECDHE_RSA/keyEncipherment only", handshake.VersionTLS10, false, testpki.RSA2048, ke, cbcECDHE, "digitalSignature"},
		{"TLS 1.0/RSA/digitalSignature only", handshake.VersionTLS10, false, testpki.RSA2048, ds, cbcRSA, "keyEncipherment"},
		{"TLS 1.0/RSA/keyEncipherment", handshake.VersionTLS10, false, testpki.RSA2048, ke, cbcRSA, ""},
		{"TLS 1.1/RSA/digitalSignature only", handshake.VersionTLS11, false, testpki.RSA2048, ds, cbcRSA, "keyEncipherment"},
		{"insecure/RSA/digitalSignature only", 0, true, testpki.RSA2048, ds, rsaKX, "keyEncipherment"},
		{"insecure/ECDHE_RSA/keyEncipherment only", 0, true, testpki.RSA2048, ke, ecdheRSA, "digitalSignature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := keyUsageCase(t, now, tc.kt, tc.ku)
			o := caseSynth(t, c)
			o.suite, o.chVersion, o.shVersion = tc.suite, tc.version, tc.version
			if handshake.SuiteByID(tc.suite).KeyExchange == handshake.KeyExchangeRSA {
				o.ske = false
			}
			d := Device{ID: "key-usage", Roots: c.Roots, MinVersion: handshake.VersionTLS10, InsecureSkipVerify: tc.insecure}
			if tc.insecure {
				d.Roots = nil
			}
			id := addPolicyDevice(t, fx, d)
			resp := fx.srv.Do(context.Background(), id, flightFor(c.ServerName, o.transcript(t)))
			if tc.refused == "" {
				checkOK(t, resp)
				return
			}
			wantRefusal(t, resp, wire.ReasonKeyUsage, tc.refused)
		})
	}
}

// TestAuthCurveOffered: an ECDSA leaf's curve must be among the groups
// the ClientHello offered (RFC 8422 §5.3), whichever group the key
// exchange uses.
func TestAuthCurveOffered(t *testing.T) {
	fx := newFixture(t, nil)
	c := keyUsageCase(t, fx.clock.now(), testpki.ECDSAP384, x509.KeyUsageDigitalSignature)
	id := addPolicyDevice(t, fx, Device{ID: "curves", Roots: c.Roots})
	o := caseSynth(t, c)
	o.chGroups = []uint16{handshake.GroupX25519, handshake.GroupP256}
	wantRefusal(t, fx.srv.Do(context.Background(), id, flightFor(c.ServerName, o.transcript(t))), wire.ReasonKeyUsage, "P-384")
	o.chGroups = []uint16{handshake.GroupX25519, handshake.GroupP384}
	checkOK(t, fx.srv.Do(context.Background(), id, flightFor(c.ServerName, o.transcript(t))))
}

// TestAuthPointFormats: a server that sends ec_point_formats must list
// uncompressed (RFC 8422 §5.1.2).
func TestAuthPointFormats(t *testing.T) {
	fx := newFixture(t, nil)
	c := keyUsageCase(t, fx.clock.now(), testpki.ECDSAP256, x509.KeyUsageDigitalSignature)
	id := addPolicyDevice(t, fx, Device{ID: "points", Roots: c.Roots})
	for _, tc := range []struct {
		points []uint8
		status wire.Status
	}{
		{nil, wire.StatusOK},
		{[]uint8{0}, wire.StatusOK},
		{[]uint8{1, 2, 0}, wire.StatusOK},
		{[]uint8{1}, wire.StatusIllegalParameter},
		{[]uint8{1, 2}, wire.StatusIllegalParameter},
	} {
		o := caseSynth(t, c)
		o.shPoints = tc.points
		resp := fx.srv.Do(context.Background(), id, flightFor(c.ServerName, o.transcript(t)))
		if tc.status == wire.StatusOK {
			checkOK(t, resp)
		} else {
			checkStatus(t, resp, 0, tc.status)
		}
	}
}

// ocspStaple is an OCSP response for c's leaf made at now: status, valid
// from thisUpdate to nextUpdate (offsets from now), signed by signer (nil:
// the issuer).
func ocspStaple(t testing.TB, c *testpki.Case, now time.Time, status int, thisUpdate, nextUpdate time.Duration, signer crypto.Signer) []byte {
	t.Helper()
	if signer == nil {
		signer = c.IssuerKey
	}
	der, err := ocsp.CreateResponse(c.Issuer, c.Issuer, ocsp.Response{
		Status: status, SerialNumber: c.Leaf.SerialNumber, IssuerHash: crypto.SHA256,
		ThisUpdate: now.Add(thisUpdate), NextUpdate: now.Add(nextUpdate), RevokedAt: now.Add(-time.Hour),
	}, signer)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestAuthRevocation: the stapled OCSP response (in the transcript's
// CertificateStatus) and the device's CRLs are checked against the
// verified path, must-staple included, and the hellos must have
// negotiated the staple.
func TestAuthRevocation(t *testing.T) {
	fx := newFixture(t, nil)
	now := fx.clock.now()
	c := keyUsageCase(t, now, testpki.ECDSAP256, x509.KeyUsageDigitalSignature)
	must, err := testpki.Build(now, testpki.Spec{LeafKey: testpki.ECDSAP256, IntermediateKey: testpki.ECDSAP256, RootKey: testpki.ECDSAP256,
		Leaf: func(l *x509.Certificate) {
			l.ExtraExtensions = append(l.ExtraExtensions, testpki.MustStapleExtension())
		}})
	if err != nil {
		t.Fatal(err)
	}
	otherKey := keyUsageCase(t, now, testpki.ECDSAP256, 0).IssuerKey
	good := ocspStaple(t, c, now, ocsp.Good, -time.Hour, 24*time.Hour, nil)
	revoked := ocspStaple(t, c, now, ocsp.Revoked, -time.Hour, 24*time.Hour, nil)
	expired := ocspStaple(t, c, now, ocsp.Good, -72*time.Hour, -48*time.Hour, nil)
	wrongSigner := ocspStaple(t, c, now, ocsp.Good, -time.Hour, 24*time.Hour, otherKey)
	mustGood := ocspStaple(t, must, now, ocsp.Good, -time.Hour, 24*time.Hour, nil)

	crl := func(serials ...*big.Int) *certs.CRLSet {
		der, err := c.CRL(now.Add(-time.Hour), now.Add(24*time.Hour), serials...)
		if err != nil {
			t.Fatal(err)
		}
		s, err := certs.ParseCRLs(der)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	listing, notListing := crl(c.Leaf.SerialNumber), crl(big.NewInt(12345))

	stapled := func(b []byte) func(*synth) { return func(o *synth) { o.stapling(b) } }
	for _, tc := range []struct {
		name     string
		c        *testpki.Case
		edit     func(*synth)
		crls     *certs.CRLSet
		insecure bool
		status   wire.Status
		reason   wire.Reason
		detail   string
	}{
		{"no status_request", c, nil, nil, false, wire.StatusOK, 0, ""},
		{"offered, not stapled", c, func(o *synth) { o.chStatus = true }, nil, false, wire.StatusOK, 0, ""},
		{"negotiated, not stapled", c, func(o *synth) { o.chStatus, o.shStatus = true, true }, nil, false, wire.StatusOK, 0, ""},
		{"good staple", c, stapled(good), nil, false, wire.StatusOK, 0, ""},
		{"revoked staple", c, stapled(revoked), nil, false, wire.StatusInvalidCertificate, wire.ReasonRevoked, "revoked"},
		{"expired staple", c, stapled(expired), nil, false, wire.StatusInvalidCertificate, wire.ReasonRevocationUnknown, "stale"},
		{"staple signed by another key", c, stapled(wrongSigner), nil, false, wire.StatusInvalidCertificate, wire.ReasonRevocationUnknown, "not signed by the issuer"},
		{"staple for another certificate", c, stapled(mustGood), nil, false, wire.StatusInvalidCertificate, wire.ReasonRevocationUnknown, ""},
		{"garbage staple", c, stapled([]byte{0x30, 0x03, 0x0a, 0x01, 0x00}), nil, false, wire.StatusInvalidCertificate, wire.ReasonRevocationUnknown, ""},
		{"must-staple, not stapled", must, func(o *synth) { o.chStatus, o.shStatus = true, true }, nil, false, wire.StatusInvalidCertificate, wire.ReasonRevocationUnknown, "must-staple"},
		{"must-staple, not offered", must, nil, nil, false, wire.StatusInvalidCertificate, wire.ReasonRevocationUnknown, "must-staple"},
		{"must-staple, stapled", must, stapled(mustGood), nil, false, wire.StatusOK, 0, ""},
		{"CRL lists the leaf", c, nil, listing, false, wire.StatusInvalidCertificate, wire.ReasonRevoked, "CRL"},
		{"CRL lists the leaf, good staple", c, stapled(good), listing, false, wire.StatusInvalidCertificate, wire.ReasonRevoked, "CRL"},
		{"CRL lists another", c, stapled(good), notListing, false, wire.StatusOK, 0, ""},
		{"insecure device, revoked staple", c, stapled(revoked), nil, true, wire.StatusOK, 0, ""},
		{"CertificateStatus without status_request", c, func(o *synth) { o.stapling(good); o.shStatus = false }, nil, false, wire.StatusIllegalParameter, 0, ""},
		{"status_request not offered", c, func(o *synth) { o.stapling(good); o.chStatus = false }, nil, false, wire.StatusIllegalParameter, 0, ""},
		{"CertificateStatus of another type", c, func(o *synth) {
			o.stapling(good)
			o.status[4] = 2 // status_type
		}, nil, false, wire.StatusMalformed, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Device{ID: "revocation", Roots: tc.c.Roots, CRLs: tc.crls, InsecureSkipVerify: tc.insecure}
			if tc.insecure {
				d.Roots = nil
			}
			id := addPolicyDevice(t, fx, d)
			o := caseSynth(t, tc.c)
			if tc.edit != nil {
				tc.edit(&o)
			}
			resp := fx.srv.Do(context.Background(), id, flightFor(tc.c.ServerName, o.transcript(t)))
			switch tc.status {
			case wire.StatusOK:
				checkOK(t, resp)
			case wire.StatusInvalidCertificate:
				wantRefusal(t, resp, tc.reason, tc.detail)
			default:
				checkStatus(t, resp, 0, tc.status)
			}
		})
	}
	if fx.srv.staples.Len() == 0 {
		t.Error("no staple remembered")
	}
}

// TestVerifyCacheKeyedByPolicy: a chain one device's policy accepted and
// the cache remembers is judged afresh for a device sharing its roots but
// not its profile or pins.
func TestVerifyCacheKeyedByPolicy(t *testing.T) {
	fx := newFixture(t, nil)
	now := fx.clock.now()
	var aki testpki.Twin
	for _, tw := range testpki.Twins() {
		if tw.Rule == "aki/leaf" {
			aki = tw
		}
	}
	c, err := aki.Bad(now) // webpki refuses it, rfc5280 accepts it
	if err != nil {
		t.Fatal(err)
	}
	tr := caseSynth(t, c).transcript(t)
	do := func(id string) *wire.FlightResponse {
		return fx.srv.Do(context.Background(), id, flightFor(c.ServerName, tr))
	}
	rootPin := certs.PinOf(c.RootCerts[0])
	otherPin := certs.PinOf(keyUsageCase(t, now, testpki.ECDSAP256, 0).RootCerts[0])
	open := addPolicyDevice(t, fx, Device{ID: "rfc5280", Roots: c.Roots, Profile: certs.ProfileRFC5280})
	strict := addPolicyDevice(t, fx, Device{ID: "webpki", Roots: c.Roots})
	pinnedElsewhere := addPolicyDevice(t, fx, Device{ID: "pinned-elsewhere", Roots: c.Roots, Profile: certs.ProfileRFC5280, Pins: []certs.Pin{otherPin}})
	pinnedRoot := addPolicyDevice(t, fx, Device{ID: "pinned-root", Roots: c.Roots, Profile: certs.ProfileRFC5280, Pins: []certs.Pin{otherPin, rootPin}})

	checkOK(t, do(open))
	if fx.srv.verified.Len() != 1 {
		t.Fatalf("cache holds %d chains, want 1", fx.srv.verified.Len())
	}
	wantRefusal(t, do(strict), wire.ReasonNonConforming, "authority key identifier")
	wantRefusal(t, do(pinnedElsewhere), wire.ReasonPinMismatch, "pinned")
	checkOK(t, do(pinnedRoot))
	checkOK(t, do(open))
}

// TestDeviceCheckVerification: Check refuses an unknown profile, and pins
// or CRLs on a device that verifies nothing.
func TestDeviceCheckVerification(t *testing.T) {
	crls, err := certs.ParseCRLs(mustCRL(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		d     Device
		field string
	}{
		{Device{Profile: 7}, "Profile"},
		{Device{InsecureSkipVerify: true, Pins: []certs.Pin{{1}}}, "Pins"},
		{Device{InsecureSkipVerify: true, CRLs: crls}, "CRLs"},
		{Device{Profile: certs.ProfileRFC5280, Pins: []certs.Pin{{1}}, CRLs: crls}, ""},
	} {
		tc.d.ID, tc.d.PSK = "d", testPSK
		err := tc.d.Check()
		var de *DeviceError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%+v: %v", tc.d, err)
		case tc.field != "" && (!errors.As(err, &de) || de.Field != tc.field):
			t.Errorf("%+v: %v, want a refusal of %s", tc.d, err, tc.field)
		}
	}
}

func mustCRL(t testing.TB) []byte {
	t.Helper()
	c := keyUsageCase(t, time.Now(), testpki.ECDSAP256, 0)
	der, err := c.CRL(time.Now(), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return der
}
