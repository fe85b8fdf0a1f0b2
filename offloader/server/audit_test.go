package server

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// TestAuditLine: one audit line per handshake verdict, with the device,
// the server name, the verdict and its reason; a Start answered is not a
// verdict; a Start refused is.
func TestAuditLine(t *testing.T) {
	var logs syncBuffer
	fx := newFixture(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	ch, _, err := dial(t, fx, wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK}, false)
	if err != nil {
		t.Fatal(err)
	}
	checkOK(t, roundTrip(t, ch, startFlight(1)))
	p := startHandshake(t, hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ems: true, leaf: testLeaf(t, testpki.RSA2048, testpki.Good)})
	checkOK(t, roundTrip(t, ch, pipelined(p.transcript)))
	bad := startHandshake(t, hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ems: true, leaf: testLeaf(t, testpki.RSA2048, testpki.Expired)})
	checkStatus(t, roundTrip(t, ch, pipelined(bad.transcript)), 0, wire.StatusInvalidCertificate)
	denied := startFlight(2)
	denied.Requests[0].(*wire.StartRequest).ServerName = "elsewhere.test"
	checkStatus(t, roundTrip(t, ch, denied), 0, wire.StatusPolicyDenied)

	out := logs.String()
	var audits []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, `msg="offloader: audit"`) {
			audits = append(audits, l)
		}
	}
	want := []string{
		"device=" + testDevice + " server_name=" + testHost + " verdict=ok took=",
		"device=" + testDevice + " server_name=" + testHost + ` verdict=invalid_certificate failed_op=auth reason="certificate expired" took=`,
		"device=" + testDevice + " server_name=elsewhere.test verdict=policy_denied failed_op=start reason=\"server name not allowed for this device\" took=",
	}
	if len(audits) != len(want) {
		t.Fatalf("%d audit lines, want %d:\n%s", len(audits), len(want), out)
	}
	for i, w := range want {
		if !strings.Contains(audits[i], w) {
			t.Errorf("audit line %d:\n%s\nwant it to contain %s", i, audits[i], w)
		}
	}
}

// TestAuditSampled: a flood of refused handshakes writes at most the
// audit burst and a few lines more.
func TestAuditSampled(t *testing.T) {
	var logs syncBuffer
	fx := newFixture(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	ch, _, err := dial(t, fx, wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK}, false)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3 * auditBurst
	for i := range n {
		f := startFlight(uint32(i + 1))
		f.Requests[0].(*wire.StartRequest).ServerName = "elsewhere.test"
		checkStatus(t, roundTrip(t, ch, f), 0, wire.StatusPolicyDenied)
	}
	got := strings.Count(logs.String(), `msg="offloader: audit"`)
	if got < auditBurst || got >= n {
		t.Errorf("%d audit lines for %d refused handshakes, want %d..%d", got, n, auditBurst, n-1)
	}
}
