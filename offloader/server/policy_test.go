package server

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

var allKeyExchanges = []handshake.KeyExchange{handshake.KeyExchangeECDHERSA, handshake.KeyExchangeECDHEECDSA, handshake.KeyExchangeRSA}

func TestDeviceCheckPolicy(t *testing.T) {
	cl := clientLeaf(t, testpki.ECDSAP256)
	const (
		gcm128 = handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
		tls11  = handshake.VersionTLS11
	)
	for _, c := range []struct {
		name  string
		d     Device
		field string
		index int
	}{
		{"max 1.1", Device{MaxVersion: tls11, MinVersion: handshake.VersionTLS10}, "", 0},
		{"max 1.3", Device{MaxVersion: handshake.VersionTLS13}, "MaxVersion", 0},
		{"max below default min", Device{MaxVersion: tls11}, "MaxVersion", 0},
		{"max below min", Device{MinVersion: handshake.VersionTLS12, MaxVersion: handshake.VersionTLS10}, "MaxVersion", 0},
		{"suites", Device{CipherSuites: []uint16{gcm128, handshake.TLS_RSA_WITH_AES_128_CBC_SHA}}, "", 0},
		{"unknown suite", Device{CipherSuites: []uint16{gcm128, 0x1301}}, "CipherSuites", 1},
		{"suite twice", Device{CipherSuites: []uint16{gcm128, handshake.TLS_RSA_WITH_AES_128_CBC_SHA, gcm128}}, "CipherSuites", 2},
		{"key exchanges", Device{KeyExchanges: allKeyExchanges}, "", 0},
		{"unknown key exchange", Device{KeyExchanges: []handshake.KeyExchange{handshake.KeyExchangeRSA, 9}}, "KeyExchanges", 1},
		{"key exchange twice", Device{KeyExchanges: []handshake.KeyExchange{handshake.KeyExchangeRSA, handshake.KeyExchangeRSA}}, "KeyExchanges", 1},
		// A listed suite the rest of the policy never lets be used.
		{"RSA suite, client certificate", Device{ClientCertificate: cl.Chain, ClientKey: cl.Key,
			CipherSuites: []uint16{gcm128, handshake.TLS_RSA_WITH_AES_128_GCM_SHA256}}, "CipherSuites", 1},
		{"RSA suite, client certificate, rsa listed", Device{ClientCertificate: cl.Chain, ClientKey: cl.Key,
			CipherSuites: []uint16{gcm128, handshake.TLS_RSA_WITH_AES_128_GCM_SHA256}, KeyExchanges: allKeyExchanges}, "", 0},
		{"suite outside key exchanges", Device{CipherSuites: []uint16{gcm128, handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
			KeyExchanges: []handshake.KeyExchange{handshake.KeyExchangeECDHERSA}}, "CipherSuites", 1},
		{"TLS 1.2 suite, max 1.1", Device{MinVersion: handshake.VersionTLS10, MaxVersion: tls11,
			CipherSuites: []uint16{handshake.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, gcm128}}, "CipherSuites", 1},
	} {
		d := c.d
		d.ID, d.PSK = "d", testPSK
		err := d.Check()
		if c.field == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		var de *DeviceError
		if !errors.As(err, &de) || de.Field != c.field || de.Index != c.index {
			t.Errorf("%s: error %v, want field %s[%d]", c.name, err, c.field, c.index)
		}
		if err := NewRegistry().Add(d); err == nil {
			t.Errorf("%s: Add accepted what Check refuses", c.name)
		}
	}
}

// Start answers only the versions and suites the device's policy allows.
func TestStartPolicy(t *testing.T) {
	fx := newFixture(t, nil)
	cl := clientLeaf(t, testpki.ECDSAP256)
	devs := []Device{
		{ID: "max11", MinVersion: handshake.VersionTLS10, MaxVersion: handshake.VersionTLS11},
		{ID: "suites", CipherSuites: []uint16{handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, handshake.TLS_RSA_WITH_AES_128_GCM_SHA256}},
		{ID: "ecdhe-rsa", KeyExchanges: []handshake.KeyExchange{handshake.KeyExchangeECDHERSA}},
		{ID: "cert", ClientCertificate: cl.Chain, ClientKey: cl.Key},
		{ID: "cert-rsa", ClientCertificate: cl.Chain, ClientKey: cl.Key, KeyExchanges: allKeyExchanges},
	}
	for _, d := range devs {
		d.PSK, d.AllowedNames = testPSK, []string{"*"}
		if err := fx.reg.Add(d); err != nil {
			t.Fatal(err)
		}
	}
	all := handshake.SuiteIDs(handshake.Suites)
	start := func(dev string, suites []uint16) *wire.FlightResponse {
		return fx.srv.Do(context.Background(), dev, &wire.Flight{ID: 1, Requests: []wire.Request{&wire.StartRequest{
			ServerName: testHost, Versions: allVersions, CipherSuites: suites,
			Groups: handshake.DefaultGroups, SignatureAlgorithms: handshake.DefaultSignatureAlgorithms,
		}}})
	}
	kxOf := func(ids []uint16) []handshake.KeyExchange {
		var out []handshake.KeyExchange
		for _, id := range ids {
			if kx := handshake.SuiteByID(id).KeyExchange; !slices.Contains(out, kx) {
				out = append(out, kx)
			}
		}
		slices.Sort(out)
		return out
	}

	r := start("max11", all)
	checkOK(t, r)
	if got := r.Results[0].Body.(*wire.StartResponse).Versions; !slices.Equal(got, []uint16{handshake.VersionTLS11, handshake.VersionTLS10}) {
		t.Errorf("max11: versions %x, want TLS 1.1 and 1.0", got)
	}
	r = start("suites", all)
	checkOK(t, r)
	if got := r.Results[0].Body.(*wire.StartResponse).CipherSuites; !slices.Equal(got, []uint16{handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, handshake.TLS_RSA_WITH_AES_128_GCM_SHA256}) {
		t.Errorf("suites: %x", got)
	}
	for _, c := range []struct {
		dev  string
		want []handshake.KeyExchange
	}{
		{testDevice, []handshake.KeyExchange{handshake.KeyExchangeRSA, handshake.KeyExchangeECDHERSA, handshake.KeyExchangeECDHEECDSA}},
		{"ecdhe-rsa", []handshake.KeyExchange{handshake.KeyExchangeECDHERSA}},
		{"cert", []handshake.KeyExchange{handshake.KeyExchangeECDHERSA, handshake.KeyExchangeECDHEECDSA}},
		{"cert-rsa", []handshake.KeyExchange{handshake.KeyExchangeRSA, handshake.KeyExchangeECDHERSA, handshake.KeyExchangeECDHEECDSA}},
	} {
		r := start(c.dev, all)
		checkOK(t, r)
		if got := kxOf(r.Results[0].Body.(*wire.StartResponse).CipherSuites); !slices.Equal(got, c.want) {
			t.Errorf("%s: key exchanges of the answered suites %v, want %v", c.dev, got, c.want)
		}
	}
	// Offers the policy leaves nothing of are policy denials that say why;
	// an offer the offloader does not implement stays unsupported.
	for _, c := range []struct {
		dev    string
		suites []uint16
		status wire.Status
		detail string
	}{
		{"cert", []uint16{handshake.TLS_RSA_WITH_AES_128_GCM_SHA256}, wire.StatusPolicyDenied, "no offered cipher suite is allowed for this device (key exchange rsa not allowed)"},
		{"suites", []uint16{handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, wire.StatusPolicyDenied, "no offered cipher suite is allowed for this device"},
		{"max11", []uint16{handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, wire.StatusPolicyDenied, "no offered cipher suite is usable in TLS 1.1, this device's highest version"},
		{"cert-rsa", []uint16{0x1301}, wire.StatusUnsupported, "no cipher suite in common"},
	} {
		if e := checkStatus(t, start(c.dev, c.suites), 0, c.status); e.Detail != c.detail {
			t.Errorf("%s offering %x: detail %q, want %q", c.dev, c.suites, e.Detail, c.detail)
		}
	}
	// A device capped below TLS 1.2 is answered no TLS 1.2-only suite.
	r = start("max11", all)
	checkOK(t, r)
	for _, id := range r.Results[0].Body.(*wire.StartResponse).CipherSuites {
		if s := handshake.SuiteByID(id); !s.AllowedIn(handshake.VersionTLS11) {
			t.Errorf("max11: answered %s, which needs TLS 1.2", s.Name)
		}
	}
	if len(r.Results[0].Body.(*wire.StartResponse).CipherSuites) == 0 {
		t.Error("max11: no suite answered")
	}
}

// Auth refuses a ServerHello outside the device's policy even when the
// device offered it; the same handshake passes a device that allows it.
func TestAuthPolicy(t *testing.T) {
	rsaLeaf := testLeaf(t, testpki.RSA2048, testpki.Good)
	cl := clientLeaf(t, testpki.ECDSAP256)
	for _, c := range []struct {
		name   string
		o      hsOpts
		dev    Device
		denied string // "" allows
	}{
		{"suite listed", hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, leaf: rsaLeaf},
			Device{CipherSuites: []uint16{handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}, ""},
		{"suite not listed", hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, leaf: rsaLeaf},
			Device{CipherSuites: []uint16{handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}, "cipher suite TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 not allowed"},
		{"key exchange listed", hsOpts{suite: handshake.TLS_RSA_WITH_AES_128_GCM_SHA256, leaf: rsaLeaf},
			Device{KeyExchanges: []handshake.KeyExchange{handshake.KeyExchangeRSA}}, ""},
		{"key exchange not listed", hsOpts{suite: handshake.TLS_RSA_WITH_AES_128_GCM_SHA256, leaf: rsaLeaf},
			Device{KeyExchanges: []handshake.KeyExchange{handshake.KeyExchangeECDHERSA}}, "key exchange rsa"},
		{"client certificate, ECDHE", hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, leaf: rsaLeaf},
			Device{ClientCertificate: cl.Chain, ClientKey: cl.Key}, ""},
		{"client certificate, RSA by default", hsOpts{suite: handshake.TLS_RSA_WITH_AES_128_GCM_SHA256, leaf: rsaLeaf},
			Device{ClientCertificate: cl.Chain, ClientKey: cl.Key}, "key exchange rsa"},
		{"client certificate, RSA listed", hsOpts{suite: handshake.TLS_RSA_WITH_AES_128_GCM_SHA256, leaf: rsaLeaf},
			Device{ClientCertificate: cl.Chain, ClientKey: cl.Key, KeyExchanges: allKeyExchanges}, ""},
		{"max version below the server's", hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, leaf: rsaLeaf},
			Device{MinVersion: handshake.VersionTLS10, MaxVersion: handshake.VersionTLS11}, "protocol version TLS 1.2 not allowed for this device (it allows TLS 1.0 to TLS 1.1)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t, nil)
			d := c.dev
			d.ID, d.PSK, d.Roots, d.AllowedNames = testDevice, testPSK, testPKI(t).Roots, []string{"*.example.com"}
			if err := fx.reg.Add(d); err != nil {
				t.Fatal(err)
			}
			p := startHandshake(t, c.o)
			resp := fx.srv.Do(context.Background(), testDevice, pipelined(p.transcript))
			if c.denied == "" {
				checkOK(t, resp)
				p.finish(t, resp.Results[1].Body.(*wire.KeyGenResponse).ClientKeyExchange, resp.Results[2].Body.(*wire.KeyResponse))
				return
			}
			e := checkStatus(t, resp, 0, wire.StatusPolicyDenied)
			if !strings.Contains(e.Detail, c.denied) {
				t.Errorf("detail %q, want it to say %q", e.Detail, c.denied)
			}
		})
	}
}

// A policy narrowed between a sequential handshake's Auth and KeyGen (a
// reload) refuses the KeyGen carrying the old Auth's token.
func TestTokenPolicyRecheck(t *testing.T) {
	fx := newFixture(t, nil)
	p := startHandshake(t, hsOpts{suite: handshake.TLS_RSA_WITH_AES_128_GCM_SHA256, ems: true, leaf: testLeaf(t, testpki.RSA2048, testpki.Good)})
	hs := [16]byte{7}
	ctx := context.Background()
	r1 := fx.srv.Do(ctx, testDevice, &wire.Flight{ID: 1, HandshakeID: hs, Requests: []wire.Request{authReq(testHost, p.transcript)}})
	checkOK(t, r1)
	if err := fx.reg.Add(Device{ID: testDevice, PSK: testPSK, Roots: testPKI(t).Roots, AllowedNames: []string{"*.example.com"},
		KeyExchanges: []handshake.KeyExchange{handshake.KeyExchangeECDHERSA}}); err != nil {
		t.Fatal(err)
	}
	r2 := fx.srv.Do(ctx, testDevice, &wire.Flight{ID: 2, HandshakeID: hs, Token: r1.Token, Requests: []wire.Request{keyGenReq()}})
	if e := checkStatus(t, r2, 0, wire.StatusPolicyDenied); !strings.Contains(e.Detail, "key exchange rsa") {
		t.Errorf("detail %q", e.Detail)
	}
}
