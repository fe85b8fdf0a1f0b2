package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

func latencyOf(t *testing.T, st Stats, kind string) FlightLatency {
	t.Helper()
	for _, l := range st.Latency {
		if l.Kind == kind {
			return l
		}
	}
	t.Fatalf("Stats.Latency has no kind %q", kind)
	return FlightLatency{}
}

func deviceRow(t *testing.T, s *Server, id string) DeviceActivity {
	t.Helper()
	tab := s.Devices(DeviceQuery{Match: id, Limit: MaxDeviceRows})
	for _, d := range tab.Rows {
		if d.ID == id {
			return d
		}
	}
	t.Fatalf("device %q not in the table (%+v)", id, tab)
	return DeviceActivity{}
}

// TestHandshakeOutcomes drives handshakes over real channels to real
// crypto/tls servers, and refusals of each kind, and reads them back by
// reason, per device, and by kind of flight.
func TestHandshakeOutcomes(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.MaxInFlight = 1; c.FlightWait = 10 * time.Millisecond })
	ch, _, err := dial(t, fx, wire.ChannelConfig{DeviceID: testDevice, PSK: testPSK}, false)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "met", func() bool { return fx.srv.Stats().Devices.Connected == 1 })
	if st := fx.srv.Stats(); st.Devices.Tracked != 1 {
		t.Fatalf("devices %+v with one channel open", st.Devices)
	}

	// Two handshakes that succeed: the second is answered from the cache.
	checkOK(t, roundTrip(t, ch, startFlight(1)))
	for range 2 {
		p := startHandshake(t, hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ems: true, sni: testHost, leaf: testLeaf(t, testpki.RSA2048, testpki.Good)})
		resp := roundTrip(t, ch, pipelined(p.transcript))
		checkOK(t, resp)
		p.finish(t, resp.Results[1].Body.(*wire.KeyGenResponse).ClientKeyExchange, resp.Results[2].Body.(*wire.KeyResponse))
	}
	// An expired certificate, a name the policy refuses, and a flight
	// refused whole as rate limited.
	p := startHandshake(t, hsOpts{suite: handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ems: true, sni: testHost, leaf: testLeaf(t, testpki.RSA2048, testpki.Expired)})
	checkStatus(t, roundTrip(t, ch, pipelined(p.transcript)), 0, wire.StatusInvalidCertificate)
	denied := startFlight(2)
	denied.Requests[0].(*wire.StartRequest).ServerName = "elsewhere.test"
	checkStatus(t, roundTrip(t, ch, denied), 0, wire.StatusPolicyDenied)
	hold := func(n int) { fx.srv.lmu.Lock(); fx.srv.running += n; fx.srv.lmu.Unlock() }
	hold(1) // the one flight slot taken: the next flight waits FlightWait, then is refused
	checkStatus(t, roundTrip(t, ch, startFlight(3)), 0, wire.StatusRateLimited)
	hold(-1)
	// Openings refused: the known device with a wrong PSK, a device the
	// registry does not hold.
	_, wrongDone, err := dial(t, fx, wire.ChannelConfig{DeviceID: testDevice, PSK: bytes.Repeat([]byte{1}, 32)}, false)
	if !errors.Is(err, wire.StatusAuthFailed) {
		t.Fatalf("wrong PSK: %v", err)
	}
	<-wrongDone // the server has counted it
	_, done, err := dial(t, fx, wire.ChannelConfig{DeviceID: "nobody", PSK: testPSK}, false)
	if !errors.Is(err, wire.StatusAuthFailed) {
		t.Fatalf("unknown device: %v", err)
	}
	<-done

	st := fx.srv.Stats()
	want := map[string]uint64{"expired": 1, "policy_denied": 1, "rate_limited": 1, "wrong_psk": 1, "unknown_device": 1}
	if st.Handshakes.OK != 2 || fmt.Sprint(st.Handshakes.Failed) != fmt.Sprint(want) || st.Handshakes.FailedTotal() != 5 {
		t.Errorf("handshakes %+v, want 2 ok and failures %v", st.Handshakes, want)
	}
	if st.VerifyCache.Hits != 1 || st.VerifyCache.Entries != 1 || st.VerifyCache.Misses != 2 {
		t.Errorf("verify cache %+v, want one entry, one hit, two misses (the good chain, then the expired one)", st.VerifyCache)
	}
	if st.Devices.RateLimited != 1 || st.MaxInFlight != 1 {
		t.Errorf("devices %+v, max in flight %d", st.Devices, st.MaxInFlight)
	}

	d := deviceRow(t, fx.srv, testDevice)
	if d.Channels != 1 || d.Flights != 6 || d.Handshakes != 2 || d.Failures != 4 || d.RateLimited != 1 || d.LastReason != "wrong_psk" {
		t.Errorf("device row %+v", d)
	}
	if tab := fx.srv.Devices(DeviceQuery{Match: "nobody"}); tab.Matched != 0 {
		t.Errorf("a claimed unknown id has a row: %+v", tab)
	}

	// Flights read from the channel queued; every one ran.
	start := latencyOf(t, st, "start")
	if start.Queue.Count() != 2 || start.Run.Count() != 2 {
		t.Errorf("start: queued %d, ran %d; want 2 and 2 (the rate-limited one ran not)", start.Queue.Count(), start.Run.Count())
	}
	if pl := latencyOf(t, st, "pipelined"); pl.Queue.Count() != 3 || pl.Run.Count() != 3 {
		t.Errorf("pipelined: queued %d, ran %d; want 3 and 3", pl.Queue.Count(), pl.Run.Count())
	}
	if a := latencyOf(t, st, "auth"); a.Run.Count() != 0 {
		t.Errorf("auth flights: %d, want none (Auth ran inside pipelined flights)", a.Run.Count())
	}

	// Do called directly counts no queueing.
	checkOK(t, fx.srv.Do(context.Background(), testDevice, startFlight(4)))
	if start := latencyOf(t, fx.srv.Stats(), "start"); start.Queue.Count() != 2 || start.Run.Count() != 3 {
		t.Errorf("after Do: start queued %d, ran %d; want 2, 3", start.Queue.Count(), start.Run.Count())
	}

	ch.Close()
	waitFor(t, "met", func() bool { return fx.srv.Stats().Devices.Connected == 0 })
	if d := deviceRow(t, fx.srv, testDevice); d.Channels != 0 {
		t.Errorf("channels %d after close", d.Channels)
	}
}

// TestFailureReasonsAreLabels: every failure reason is a distinct label
// other than "ok", and every certificate reason has an outcome of its own.
func TestFailureReasonsAreLabels(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range FailureReasons() {
		if r == "" || r == "ok" || seen[r] {
			t.Errorf("reason %q", r)
		}
		seen[r] = true
	}
	if len(seen) != int(numOutcomes)-1 {
		t.Errorf("%d reasons", len(seen))
	}
	// Every certificate reason of the protocol has its own outcome.
	for r := wire.ReasonExpired; r <= wire.ReasonRevocationUnknown; r++ {
		if o := errOutcome(&wire.Error{Status: wire.StatusInvalidCertificate, Reason: r}); o == outcomeInvalidCertificate || o == outcomeOK {
			t.Errorf("reason %v: outcome %q", r, outcomeLabels[o])
		}
	}
	if o := errOutcome(&wire.Error{Status: wire.StatusInvalidCertificate, Reason: 200}); o != outcomeInvalidCertificate {
		t.Errorf("an unknown reason: %q", outcomeLabels[o])
	}
	for s := wire.StatusInvalidCertificate; s <= wire.StatusIllegalParameter; s++ {
		if o := errOutcome(&wire.Error{Status: s}); o == outcomeUnknown || o == outcomeOK {
			t.Errorf("status %d: outcome %q", s, outcomeLabels[o])
		}
	}
}

// TestDeviceTableBounded: the table holds MaxTrackedDevices rows, evicts
// the row seen longest ago that has no channel open, and never one with a
// channel open.
func TestDeviceTableBounded(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.MaxTrackedDevices = 2 })
	for _, id := range []string{"a-1", "b-2", "c-3"} {
		if err := fx.reg.Add(Device{ID: id, PSK: testPSK, AllowedNames: []string{"*.example.com"}}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	// a-1 has a channel open the whole time; b-2 runs flights through Do.
	cha, _, err := dial(t, fx, wire.ChannelConfig{DeviceID: "a-1", PSK: testPSK}, false)
	if err != nil {
		t.Fatal(err)
	}
	checkOK(t, roundTrip(t, cha, startFlight(1)))
	fx.clock.advance(time.Second)
	for i := range 3 {
		checkOK(t, fx.srv.Do(ctx, "b-2", startFlight(uint32(i))))
	}
	fx.clock.advance(time.Second)
	// c-3 comes: b-2 has no channel open and goes, although a-1 was seen
	// longer ago.
	checkOK(t, fx.srv.Do(ctx, "c-3", startFlight(9)))
	tab := fx.srv.Devices(DeviceQuery{})
	if tab.Matched != 2 || len(tab.Rows) != 2 || tab.Rows[0].ID != "a-1" || tab.Rows[1].ID != "c-3" {
		t.Fatalf("table %+v, want a-1 and c-3", tab)
	}
	// A fourth device finds every row but one with a channel open; with
	// both open it is not tracked.
	chc, _, err := dial(t, fx, wire.ChannelConfig{DeviceID: "c-3", PSK: testPSK}, false)
	if err != nil {
		t.Fatal(err)
	}
	checkOK(t, roundTrip(t, chc, startFlight(2)))
	checkOK(t, fx.srv.Do(ctx, "b-2", startFlight(10)))
	st := fx.srv.Stats()
	if st.Devices.Tracked != 2 || st.Devices.Untracked != 1 || st.Devices.Connected != 2 || st.Devices.MaxTracked != 2 {
		t.Errorf("devices %+v", st.Devices)
	}
	if tab := fx.srv.Devices(DeviceQuery{Match: "b-"}); tab.Matched != 0 {
		t.Errorf("b-2 tracked past the bound: %+v", tab)
	}
}

// TestDevicesQuery: the busiest, then the most failing; a match finds a
// device that neither list shows.
func TestDevicesQuery(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	add := func(id string, ok, failed int) {
		if err := fx.reg.Add(Device{ID: id, PSK: testPSK, AllowedNames: []string{"*.example.com"}}); err != nil {
			t.Fatal(err)
		}
		for i := range ok {
			checkOK(t, fx.srv.Do(ctx, id, startFlight(uint32(i))))
		}
		for i := range failed {
			f := startFlight(uint32(i))
			f.Requests[0].(*wire.StartRequest).ServerName = "elsewhere.test"
			checkStatus(t, fx.srv.Do(ctx, id, f), 0, wire.StatusPolicyDenied)
		}
	}
	add("busy-1", 20, 0)
	add("fail-big", 0, 9)
	add("fail-small", 0, 1)
	add("quiet-Sensor-7", 1, 0)
	for i := range 5 {
		add(fmt.Sprintf("mid-%d", i), 0, 3)
	}
	tab := fx.srv.Devices(DeviceQuery{Limit: 2})
	var ids []string
	for _, r := range tab.Rows {
		ids = append(ids, r.ID)
	}
	// The two busiest (most flights), then of the two most failing
	// (fail-big, then mid-0 by id among the threes) the one not listed.
	if fmt.Sprint(ids) != "[busy-1 fail-big mid-0]" || tab.Matched != 9 {
		t.Errorf("rows %v (matched %d)", ids, tab.Matched)
	}
	if r := tab.Rows[1]; r.Failures != 9 || r.LastReason != "policy_denied" || r.Flights != 9 {
		t.Errorf("fail-big: %+v", r)
	}
	tab = fx.srv.Devices(DeviceQuery{Match: "SENSOR"})
	if len(tab.Rows) != 1 || tab.Rows[0].ID != "quiet-Sensor-7" || tab.Matched != 1 {
		t.Errorf("match SENSOR: %+v", tab)
	}
	if tab := fx.srv.Devices(DeviceQuery{Match: "mid-", Limit: 3}); len(tab.Rows) != 3 || tab.Matched != 5 {
		t.Errorf("match mid- limit 3: %d rows of %d", len(tab.Rows), tab.Matched)
	}
	if tab := fx.srv.Devices(DeviceQuery{Limit: 1 << 20}); len(tab.Rows) != 9 {
		t.Errorf("a huge limit: %d rows", len(tab.Rows))
	}
}

// BenchmarkStartFlightCounted measures a Start flight through do with the
// dashboard's counting.
func BenchmarkStartFlightCounted(b *testing.B) {
	fx := newFixture(b, nil)
	ctx := context.Background()
	act := fx.srv.activity.devices.row(testDevice, fx.srv.now(), false)
	f := startFlight(1)
	b.ReportAllocs()
	for b.Loop() {
		fx.srv.do(ctx, act, testDevice, f, time.Now())
	}
}
