package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// hsMsg frames body as one handshake message of type typ.
func hsMsg(typ uint8, body []byte) []byte {
	return append([]byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
}

// A KeyGen result with no answer to a CertificateRequest keeps the bytes it
// had before client certificates existed, so the two forms never collide.
func TestKeyGenWithoutClientAuthKeepsItsBytes(t *testing.T) {
	r := &FlightResponse{ID: 9, Results: []Result{{Body: &KeyGenResponse{ClientKeyExchange: []byte{1, 0xaa}}}}}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{KindFlightResponse, 0, 0, 0, 9, 0, 0, 1, byte(OpKeyGen), 0, 0, 0, 0, 0, 0, 4, 0, 2, 1, 0xaa}
	if !bytes.Equal(b, want) {
		t.Fatalf("got %x, want %x", b, want)
	}
	var g FlightResponse
	if err := g.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	if kg := g.Results[0].Body.(*KeyGenResponse); kg.ClientCertificate != nil || kg.CertificateVerify != nil {
		t.Fatalf("client auth fields appeared: %+v", kg)
	}
}

func TestKeyGenClientAuthLayout(t *testing.T) {
	cert := hsMsg(11, []byte{0, 0, 4, 0, 0, 1, 0x30})
	cv := hsMsg(15, []byte{4, 1, 0, 2, 0xde, 0xad})
	r := &FlightResponse{ID: 1, Results: []Result{{Body: &KeyGenResponse{
		ClientKeyExchange: []byte{1, 0xaa}, ClientCertificate: cert, CertificateVerify: cv}}}}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// body: cke<u16> · client_certificate<u24> · certificate_verify<u16>
	body := []byte{0, 2, 1, 0xaa, 0, 0, byte(len(cert))}
	body = append(body, cert...)
	body = append(body, 0, byte(len(cv)))
	body = append(body, cv...)
	want := append([]byte{KindFlightResponse, 0, 0, 0, 1, 0, 0, 1, byte(OpKeyGen), 0, 0, 0, 0, 0, 0, byte(len(body))}, body...)
	if !bytes.Equal(b, want) {
		t.Fatalf("got  %x\nwant %x", b, want)
	}
	var g FlightResponse
	if err := g.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g.Results[0].Body.(*KeyGenResponse), r.Results[0].Body.(*KeyGenResponse)) {
		t.Fatalf("round trip: %+v", g.Results[0].Body.(*KeyGenResponse))
	}
}

func TestKeyGenClientAuthLimits(t *testing.T) {
	cke := []byte{1, 0xaa}
	emptyCert := hsMsg(11, []byte{0, 0, 0})
	cv := hsMsg(15, []byte{4, 1, 0, 1, 0xff})
	big := hsMsg(11, append([]byte{0, 0xff, 0xf9, 0, 0xff, 0xf6}, seq(MaxClientCertificate-10)...))
	if len(big) != MaxClientCertificate {
		t.Fatalf("test certificate is %d bytes", len(big))
	}
	bigCV := hsMsg(15, append([]byte{4, 1, 0xff, 0xf9}, seq(MaxCertificateVerify-8)...))
	ok := map[string]*KeyGenResponse{
		"empty certificate": {ClientKeyExchange: cke, ClientCertificate: emptyCert},
		"largest":           {ClientKeyExchange: cke, ClientCertificate: big, CertificateVerify: bigCV},
	}
	for name, kg := range ok {
		r := &FlightResponse{Results: []Result{{Body: kg}}}
		b, err := r.Marshal()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var g FlightResponse
		if err := g.Unmarshal(b); err != nil || !reflect.DeepEqual(g.Results[0].Body.(*KeyGenResponse), kg) {
			t.Fatalf("%s: round trip: %v", name, err)
		}
	}
	over := map[string]*KeyGenResponse{
		"verify without certificate":    {ClientKeyExchange: cke, CertificateVerify: cv},
		"verify after no certificate":   {ClientKeyExchange: cke, ClientCertificate: emptyCert, CertificateVerify: cv},
		"certificate too long":          {ClientKeyExchange: cke, ClientCertificate: hsMsg(11, seq(MaxClientCertificate-3))},
		"verify too long":               {ClientKeyExchange: cke, ClientCertificate: big, CertificateVerify: hsMsg(15, seq(MaxCertificateVerify-3))},
		"certificate of the wrong type": {ClientKeyExchange: cke, ClientCertificate: hsMsg(15, []byte{0, 0, 0})},
		"verify of the wrong type":      {ClientKeyExchange: cke, ClientCertificate: big, CertificateVerify: hsMsg(11, []byte{0, 0, 0})},
		"certificate header too short":  {ClientKeyExchange: cke, ClientCertificate: emptyCert[:6]},
		"certificate trailing byte":     {ClientKeyExchange: cke, ClientCertificate: append(bytes.Clone(emptyCert), 0)},
		"verify header only":            {ClientKeyExchange: cke, ClientCertificate: big, CertificateVerify: []byte{15, 0, 0}},
	}
	for name, kg := range over {
		r := &FlightResponse{Results: []Result{{Body: kg}}}
		if _, err := r.Marshal(); !errors.Is(err, StatusMalformed) {
			t.Errorf("%s: Marshal err = %v, want malformed", name, err)
		}
	}

	// Hand-built bodies for the parser.
	u24 := func(b []byte) []byte {
		return append([]byte{byte(len(b) >> 16), byte(len(b) >> 8), byte(len(b))}, b...)
	}
	u16 := func(b []byte) []byte { return append([]byte{byte(len(b) >> 8), byte(len(b))}, b...) }
	resp := func(body []byte) []byte {
		b := []byte{KindFlightResponse, 0, 0, 0, 9, 0, 0, 1, byte(OpKeyGen), 0, 0, 0, 0}
		return append(b, u24(body)...)
	}
	base := u16(cke)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	if err := new(FlightResponse).Unmarshal(resp(cat(base, u24(emptyCert), u16(nil)))); err != nil {
		t.Fatalf("hand-built response refused: %v", err)
	}
	bad := map[string][]byte{
		"empty certificate field":     resp(cat(base, u24(nil), u16(nil))),
		"no verify length":            resp(cat(base, u24(emptyCert))),
		"verify after no certificate": resp(cat(base, u24(emptyCert), u16(cv))),
		"verify of the wrong type":    resp(cat(base, u24(big), u16(hsMsg(16, nil)))),
		"certificate of wrong type":   resp(cat(base, u24(hsMsg(12, []byte{0, 0, 0})), u16(nil))),
		"certificate too long":        resp(cat(base, u24(hsMsg(11, seq(MaxClientCertificate-3))), u16(nil))),
		"trailing byte":               resp(cat(base, u24(emptyCert), u16(nil), []byte{0})),
	}
	for name, b := range bad {
		err := new(FlightResponse).Unmarshal(b)
		var e *Error
		if !errors.As(err, &e) || e.Status != StatusMalformed {
			t.Errorf("%s: Unmarshal err = %v, want *Error malformed", name, err)
		}
	}
}

// Every strict prefix of a KeyGen result carrying client authentication
// is refused: the optional tail cannot be cut at a field boundary unseen.
func TestKeyGenClientAuthPrefixes(t *testing.T) {
	for _, r := range sampleResponses()[7:] {
		b, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < len(b); n++ {
			if err := new(FlightResponse).Unmarshal(b[:n]); !errors.Is(err, StatusMalformed) {
				t.Fatalf("response %d: prefix of %d/%d bytes: err = %v", r.ID, n, len(b), err)
			}
		}
	}
}
