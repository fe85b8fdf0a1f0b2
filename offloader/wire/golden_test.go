package wire

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The wire bytes of every kind of message, pinned: each request and result
// body, a failed result, a flight-wide failure, the KeyGen answer to a
// CertificateRequest and an Auth chain by reference. The hex was written
// once from the encoder and is never regenerated: a change to the Go types
// must leave these bytes as they are (issue 8: the protocol's bytes do not
// change). TestProtocolDocVector pins one Start exchange besides.

func goldenFlights() []struct {
	name string
	f    *Flight
	hex  string
} {
	hs := [16]byte(seqFrom(0x10, 16))
	return []struct {
		name string
		f    *Flight
		hex  string
	}{
		{"start", &Flight{ID: 1, HandshakeID: hs, Requests: []Request{&StartRequest{
			ServerName: "a.example", Versions: []uint16{0x0303, 0x0302}, CipherSuites: []uint16{0xc02f},
			Groups: []uint16{0x001d}, SignatureAlgorithms: []uint16{0x0804, 0x0403},
		}}}, "0100000001101112131415161718191a1b1c1d1e1f0000010100001a09612e6578616d706c65040303030202c02f02001d0408040403"},
		{"start-empty", &Flight{ID: 2, HandshakeID: hs, Requests: []Request{&StartRequest{}}}, "0100000002101112131415161718191a1b1c1d1e1f000001010000050000000000"},
		{"pipelined", &Flight{ID: 0x01020304, HandshakeID: hs, Requests: []Request{
			&AuthRequest{ServerName: "a.example", Transcript: seqFrom(0x40, 12)},
			&KeyGenRequest{},
			&KeyRequest{ClientMessages: hsMsg(11, []byte{0, 0, 0})},
		}}, "0101020304101112131415161718191a1b1c1d1e1f0000030200001909612e6578616d706c6500000c404142434445464748494a4b030000000400000a0000070b000003000000"},
		{"sequential-key", &Flight{ID: 3, HandshakeID: hs, Token: seqFrom(0x70, 5), Requests: []Request{
			&KeyRequest{},
		}}, "0100000003101112131415161718191a1b1c1d1e1f000570717273740104000003000000"},
		{"sequential-keygen", &Flight{ID: 4, Token: seqFrom(0x80, 3), Requests: []Request{
			&KeyGenRequest{},
		}}, "01000000040000000000000000000000000000000000038081820103000000"},
	}
}

func goldenResponses() []struct {
	name string
	r    *FlightResponse
	hex  string
} {
	return []struct {
		name string
		r    *FlightResponse
		hex  string
	}{
		{"start", &FlightResponse{ID: 1, Results: []Result{{Body: &StartResponse{
			Versions: []uint16{0x0303}, CipherSuites: []uint16{0xc02f, 0xc030}, Groups: []uint16{0x001d},
			SignatureAlgorithms: []uint16{0x0804}, TTL: 300 * time.Second,
		}}}}, "0200000001000001010000000000001202030304c02fc03002001d0208040000012c"},
		{"pipelined", &FlightResponse{ID: 0x01020304, Token: seqFrom(0x90, 4), Results: []Result{
			{Body: &AuthResponse{VerifiedChain: [][]byte{nil, nil, seqFrom(0xa0, 6)}, Presented: []int{0, 1, -1}}},
			{Body: &KeyGenResponse{ClientKeyExchange: seqFrom(0x20, 5)}},
			{Body: &KeyResponse{MasterSecret: seqFrom(0x30, 48), KeyBlock: seqFrom(0x60, 8)}},
		}}, "020102030400049091929303020000000000001100000e0000000101000006a0a1a2a3a4a5030000000000000700052021222324040000000000003b30303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f00086061626364656667"},
		{"auth-der", &FlightResponse{ID: 5, Results: []Result{
			{Body: &AuthResponse{VerifiedChain: [][]byte{seqFrom(1, 3), seqFrom(2, 2)}}},
		}}, "0200000005000001020000000000001000000d01000003010203010000020203"},
		{"keygen-client-auth", &FlightResponse{ID: 6, Results: []Result{
			{Body: &KeyGenResponse{ClientKeyExchange: seqFrom(0x20, 3),
				ClientCertificate: hsMsg(11, []byte{0, 0, 4, 0, 0, 1, 0x30}), CertificateVerify: hsMsg(15, []byte{4, 1, 0, 2, 0xde, 0xad})}},
		}}, "0200000006000001030000000000001f000320212200000b0b00000700000400000130000a0f00000604010002dead"},
		{"keygen-empty-certificate", &FlightResponse{ID: 7, Results: []Result{
			{Body: &KeyGenResponse{ClientKeyExchange: seqFrom(0x20, 3), ClientCertificate: hsMsg(11, []byte{0, 0, 0})}},
		}}, "0200000007000001030000000000001100032021220000070b0000030000000000"},
		{"failed", &FlightResponse{ID: 8, Results: []Result{
			{Err: &Error{Op: OpAuth, Status: StatusInvalidCertificate, Reason: ReasonExpired, Detail: "leaf expired"}},
			{Err: &Error{Op: OpKeyGen, Status: StatusAborted}},
			{Err: &Error{Op: OpKey, Status: StatusAborted}},
		}}, "0200000008000003020101000c6c656166206578706972656400000003070000000000000407000000000000"},
		{"flight-malformed", &FlightResponse{ID: 9, Results: []Result{
			{Err: &Error{Op: 0, Status: StatusMalformed, Detail: "truncated request"}},
		}}, "020000000900000100040000117472756e63617465642072657175657374000000"},
		{"rate-limited", &FlightResponse{ID: 10, Results: []Result{
			{Err: &Error{Op: OpStart, Status: StatusRateLimited}},
		}}, "020000000a0000010105000000000000"},
		// The retry-after hint (§8.3) is text at the head of the detail: a
		// plain failed result to a device that predates it.
		{"rate-limited-hint", &FlightResponse{ID: 11, Results: []Result{
			{Err: &Error{Op: OpStart, Status: StatusRateLimited, RetryAfter: 250 * time.Millisecond}},
		}}, "020000000b00000101050000117265747279206166746572203235306d73000000"},
		{"rate-limited-hint-detail", &FlightResponse{ID: 12, Results: []Result{
			{Err: &Error{Op: OpAuth, Status: StatusRateLimited, RetryAfter: 1500 * time.Millisecond, Detail: "shutting down"}},
		}}, "020000000c0000010205000021726574727920616674657220313530306d733b207368757474696e6720646f776e000000"},
	}
}

func checkGolden(t *testing.T, what, wantHex string, got []byte) {
	t.Helper()
	want, err := hex.DecodeString(strings.ReplaceAll(wantHex, " ", ""))
	if err != nil {
		t.Fatalf("%s: bad golden hex: %v", what, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: wire bytes changed:\n got %x\nwant %x", what, got, want)
	}
}

func TestGoldenFlights(t *testing.T) {
	for _, c := range goldenFlights() {
		b, err := c.f.Marshal()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		checkGolden(t, "flight "+c.name, c.hex, b)
		var g Flight
		if err := g.Unmarshal(b); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !reflect.DeepEqual(normalize(c.f), &g) {
			t.Errorf("flight %s: parsed\n %+v\nwant %+v", c.name, &g, c.f)
		}
	}
}

func TestGoldenResponses(t *testing.T) {
	for _, c := range goldenResponses() {
		b, err := c.r.Marshal()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		checkGolden(t, "response "+c.name, c.hex, b)
		var g FlightResponse
		if err := g.Unmarshal(b); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !reflect.DeepEqual(normalize(c.r), &g) {
			t.Errorf("response %s: parsed\n %+v\nwant %+v", c.name, &g, c.r)
		}
	}
}
