package server

import (
	"context"
	"testing"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// BenchmarkDoPipelined is one offloaded full handshake's flight (Auth,
// KeyGen, Key) as the server runs it, marshalling included: the CPU and
// allocations of the offloader's own code around the primitives.
func BenchmarkDoPipelined(b *testing.B) {
	for _, c := range []struct {
		name  string
		suite uint16
		kt    testpki.KeyType
		group uint16
	}{
		{"ECDHE-RSA-X25519", handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, testpki.RSA2048, handshake.GroupX25519},
		{"ECDHE-ECDSA-P256", handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, testpki.ECDSAP256, handshake.GroupP256},
		{"RSA", handshake.TLS_RSA_WITH_AES_128_GCM_SHA256, testpki.RSA2048, 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			fx := newFixture(b, nil)
			o := hsOpts{suite: c.suite, ems: true, leaf: testLeaf(b, c.kt, testpki.Good)}
			if c.group != 0 {
				o.groups = []uint16{c.group}
			}
			p := startHandshake(b, o)
			raw, err := pipelined(p.transcript).Marshal()
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				var f wire.Flight
				if err := f.Unmarshal(raw); err != nil {
					b.Fatal(err)
				}
				resp := fx.srv.Do(ctx, testDevice, &f)
				if resp.Results[2].Err != nil {
					b.Fatal(resp.Results[2].Err)
				}
				if _, err := resp.Marshal(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(raw)), "flight-bytes")
		})
	}
}
