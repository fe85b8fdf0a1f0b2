package wire

import "testing"

// BenchmarkCodec: one pipelined full handshake's flight and its answer
// through the codec, each marshalled as its sender does (the device into a
// reused buffer) and parsed as its receiver does: the allocations the
// protocol's types cost per handshake on either side.
func BenchmarkCodec(b *testing.B) {
	f := &Flight{ID: 7, HandshakeID: [16]byte(seqFrom(0x10, 16)), Requests: []Request{
		&AuthRequest{ServerName: "www.example.com", Transcript: seq(4000)},
		&KeyGenRequest{},
		&KeyRequest{},
	}}
	r := &FlightResponse{ID: 7, Results: []Result{
		{Body: &AuthResponse{VerifiedChain: [][]byte{nil, nil, seq(900)}, Presented: []int{0, 1, -1}}},
		{Body: &KeyGenResponse{ClientKeyExchange: seq(33)}},
		{Body: &KeyResponse{MasterSecret: seq(48), KeyBlock: seq(40)}},
	}}
	b.Run("flight=pipelined", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, err = f.MarshalTo(buf); err != nil {
				b.Fatal(err)
			}
			var g Flight
			if err := g.Unmarshal(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("response=pipelined", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			raw, err := r.Marshal()
			if err != nil {
				b.Fatal(err)
			}
			var g FlightResponse
			if err := g.Unmarshal(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
