package server

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// FuzzAuthCertificateStatus feeds arbitrary CertificateStatus bodies
// (status_type, then the OCSP response) through Auth, inside an otherwise
// sound TLS 1.2 server flight that negotiated status_request, from a
// device with a CRL of the leaf's issuer: the path a stapled response
// takes from the transcript to certs.CheckRevocation. Seeds are real
// responses (good, revoked, stale, signed by another key) and a must-staple
// chain's good response.
//
// Invariants: no panic, never StatusInternal, one answer per request; an
// accepted flight's staple is one certs.CheckOCSP accepts for this leaf
// and issuer; a refusal names a reason certs can give for a staple.
func FuzzAuthCertificateStatus(f *testing.F) {
	fx := newFixture(f, nil)
	now := fx.clock.now()
	c := keyUsageCase(f, now, testpki.ECDSAP256, x509.KeyUsageDigitalSignature)
	crlDER, err := c.CRL(now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	crls, err := certs.ParseCRLs(crlDER)
	if err != nil {
		f.Fatal(err)
	}
	id := addPolicyDevice(f, fx, Device{ID: "fuzz-ocsp", Roots: c.Roots, CRLs: crls})

	// The flight around the CertificateStatus, built once: its
	// ServerKeyExchange signature does not cover the staple.
	o := caseSynth(f, c)
	o.chStatus, o.shStatus = true, true
	msgs, err := handshake.SplitMessages(o.transcript(f))
	if err != nil || len(msgs) != 5 {
		f.Fatalf("%d messages, %v", len(msgs), err)
	}
	before, after := bytes.Join(msgs[:3], nil), bytes.Join(msgs[3:], nil)

	body := func(resp []byte) []byte {
		m := (&handshake.CertificateStatus{OCSPResponse: resp}).Marshal()
		return m[4:]
	}
	otherKey := keyUsageCase(f, now, testpki.ECDSAP256, 0).IssuerKey
	f.Add(body(ocspStaple(f, c, now, ocsp.Good, -time.Hour, 24*time.Hour, nil)))
	f.Add(body(ocspStaple(f, c, now, ocsp.Revoked, -time.Hour, 24*time.Hour, nil)))
	f.Add(body(ocspStaple(f, c, now, ocsp.Unknown, -time.Hour, 24*time.Hour, nil)))
	f.Add(body(ocspStaple(f, c, now, ocsp.Good, -72*time.Hour, -48*time.Hour, nil)))
	f.Add(body(ocspStaple(f, c, now, ocsp.Good, -time.Hour, 24*time.Hour, otherKey)))
	f.Add([]byte{1, 0, 0, 1, 0})
	f.Add([]byte{2, 0, 0, 0})

	f.Fuzz(func(t *testing.T, status []byte) {
		if len(status) >= 1<<24 {
			return
		}
		msg := append([]byte{handshake.TypeCertificateStatus, byte(len(status) >> 16), byte(len(status) >> 8), byte(len(status))}, status...)
		tr := append(append(append([]byte(nil), before...), msg...), after...)
		resp := fx.srv.Do(context.Background(), id, flightFor(c.ServerName, tr))
		if len(resp.Results) != 3 {
			t.Fatalf("%d results", len(resp.Results))
		}
		e := resp.Results[0].Err
		if e != nil && e.Status == wire.StatusInternal {
			t.Fatalf("internal error %q", e.Detail)
		}
		var cs handshake.CertificateStatus
		parsed := cs.Unmarshal(msg) == nil
		switch {
		case e == nil:
			if !parsed {
				t.Fatal("accepted a CertificateStatus that does not parse")
			}
			if err := certs.CheckOCSP(cs.OCSPResponse, c.Leaf, c.Issuer, now); err != nil {
				t.Fatalf("accepted a staple certs refuses: %v", err)
			}
			for _, r := range resp.Results {
				if r.Err != nil {
					t.Fatalf("%v failed after Auth: %v", r.Op(), r.Err)
				}
			}
		case e.Status == wire.StatusMalformed:
			if parsed {
				t.Fatalf("a CertificateStatus that parses refused as malformed: %q", e.Detail)
			}
		case e.Status == wire.StatusInvalidCertificate:
			err := certs.CheckOCSP(cs.OCSPResponse, c.Leaf, c.Issuer, now)
			var ce *certs.Error
			if !parsed || !errors.As(err, &ce) || wire.Reason(ce.Reason) != e.Reason {
				t.Fatalf("refused %v %q; certs says %v", e.Reason, e.Detail, err)
			}
		default:
			t.Fatalf("status %v %q", e.Status, e.Detail)
		}
	})
}
