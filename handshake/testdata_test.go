package handshake

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// readTestdata returns the messages of testdata/*.hex (one hex message a
// line), keyed by file name.
func readTestdata(t testing.TB) map[string][][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.hex"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	out := map[string][][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Fields(string(data)) {
			out[filepath.Base(f)] = append(out[filepath.Base(f)], unhex(t, line))
		}
	}
	return out
}

// TestTestdataParses parses the captured real handshakes: Go's crypto/tls
// (both flights) and OpenSSL 3.0 (s_client's TLS 1.3-capable ClientHello,
// s_server's TLS 1.2 ECDHE_RSA flight).
func TestTestdataParses(t *testing.T) {
	for name, msgs := range readTestdata(t) {
		for i, b := range msgs {
			if _, err := parseMessage(b); err != nil {
				t.Errorf("%s message %d: %v", name, i, err)
			}
		}
	}
}

func TestOpenSSLClientHello(t *testing.T) {
	msgs := readTestdata(t)["openssl_client.hex"]
	var ch ClientHello
	if err := ch.Unmarshal(msgs[0]); err != nil {
		t.Fatal(err)
	}
	if ch.ServerName != "test.example" || !slices.Equal(ch.ALPNProtocols, []string{"h2", "http/1.1"}) ||
		!ch.ExtendedMasterSecret || !ch.TicketSupported || len(ch.SessionID) != 32 {
		t.Errorf("fields: %+v", ch)
	}
	// crypto/tls asks for an OCSP staple with empty lists: the field.
	if !ch.OCSPStapling {
		t.Error("status_request not decoded into OCSPStapling")
	}
	// supported_versions, key_share and the rest of TLS 1.3's extensions
	// are unknown here: kept in Extra.
	var extra []uint16
	for _, e := range ch.Extra {
		extra = append(extra, e.Type)
	}
	for _, want := range []uint16{ExtSupportedVersions, 51 /* key_share */} {
		if !slices.Contains(extra, want) {
			t.Errorf("extension %d not in Extra %v", want, extra)
		}
	}
}

func TestOpenSSLServerFlight(t *testing.T) {
	msgs := readTestdata(t)["openssl_server.hex"]
	if len(msgs) != 4 {
		t.Fatalf("%d messages", len(msgs))
	}
	var sh ServerHello
	if err := sh.Unmarshal(msgs[0]); err != nil {
		t.Fatal(err)
	}
	if sh.Version != VersionTLS12 || SuiteByID(sh.CipherSuite) == nil || sh.ALPNProtocol != "h2" ||
		!sh.ExtendedMasterSecret || !sh.SecureRenegotiation || len(sh.Extensions) == 0 {
		t.Errorf("ServerHello: %+v", sh)
	}
	var ske ServerKeyExchange
	if err := ske.Unmarshal(msgs[2]); err != nil {
		t.Fatal(err)
	}
	p, err := ParseECDHEParams(ske.Body, VersionTLS12)
	if err != nil {
		t.Fatal(err)
	}
	if p.Group != GroupX25519 || !SupportedSignatureAlgorithm(p.SignatureAlgorithm) || len(p.Signature) != 256 {
		t.Errorf("params: group %d alg %04x sig %d bytes", p.Group, p.SignatureAlgorithm, len(p.Signature))
	}
	if !bytes.Equal(p.Marshal(VersionTLS12), ske.Body) {
		t.Error("ECDHEParams.Marshal does not give the body back")
	}
}

// reparse checks the property the fuzz target holds: a message that parsed
// marshals, and the result parses to the same fields.
func reparse(t testing.TB, m any) {
	msg := m.(message)
	b := msg.Marshal()
	if b == nil {
		t.Fatalf("%T parsed but does not marshal", m)
	}
	again, err := parseMessage(b)
	if err != nil {
		t.Fatalf("%T: re-marshalled message does not parse: %v", m, err)
	}
	if !sameMessage(m, again) {
		t.Fatalf("%T: fields changed through marshal:\n%+v\n%+v", m, m, again)
	}
}

// sameMessage compares two decoded messages ignoring Raw and the order of
// ServerHello.Extensions (Marshal uses a fixed order).
func sameMessage(a, b any) bool {
	if sa, ok := a.(*ServerHello); ok {
		sb := b.(*ServerHello)
		ca, cb := *sa, *sb
		ca.Extensions = slices.Sorted(slices.Values(ca.Extensions))
		cb.Extensions = slices.Sorted(slices.Values(cb.Extensions))
		a, b = &ca, &cb
	}
	va := reflect.ValueOf(a).Elem()
	vb := reflect.ValueOf(b).Elem()
	ca := reflect.New(va.Type()).Elem()
	cb := reflect.New(vb.Type()).Elem()
	ca.Set(va)
	cb.Set(vb)
	ca.FieldByName("Raw").SetBytes(nil)
	cb.FieldByName("Raw").SetBytes(nil)
	return reflect.DeepEqual(ca.Interface(), cb.Interface())
}

func TestTestdataReparse(t *testing.T) {
	for _, msgs := range readTestdata(t) {
		for _, b := range msgs {
			m, err := parseMessage(b)
			if err != nil {
				t.Fatal(err)
			}
			reparse(t, m)
		}
	}
}
