package handshake

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// message is implemented by every handshake message type of the package.
type message interface {
	// Marshal returns the whole message, 4-byte header included, and sets
	// the message's Raw. It returns nil if a field exceeds its RFC length
	// limit (or, for the hellos, breaks a rule a peer would reject, such
	// as a duplicate extension).
	Marshal() []byte
	// Unmarshal decodes a whole message, header included.
	Unmarshal(b []byte) error
}

// parseMessage decodes one whole handshake message (header included) into a
// pointer to the message type of its type byte: *ClientHello, *ServerHello,
// *Certificate, and so on. An unknown type is a *DecodeError. The tests and
// FuzzParseMessage reach every parser through it.
func parseMessage(b []byte) (any, error) {
	if len(b) == 0 {
		return nil, &DecodeError{Message: "handshake message", Detail: "empty message"}
	}
	var m message
	switch b[0] {
	case TypeHelloRequest:
		m = new(HelloRequest)
	case TypeClientHello:
		m = new(ClientHello)
	case TypeServerHello:
		m = new(ServerHello)
	case TypeNewSessionTicket:
		m = new(NewSessionTicket)
	case TypeCertificate:
		m = new(Certificate)
	case TypeServerKeyExchange:
		m = new(ServerKeyExchange)
	case TypeCertificateRequest:
		m = new(CertificateRequest)
	case TypeServerHelloDone:
		m = new(ServerHelloDone)
	case TypeCertificateVerify:
		m = new(CertificateVerify)
	case TypeClientKeyExchange:
		m = new(ClientKeyExchange)
	case TypeFinished:
		m = new(Finished)
	case TypeCertificateStatus:
		m = new(CertificateStatus)
	default:
		return nil, &DecodeError{Message: "handshake message", Detail: "unknown message type"}
	}
	if err := m.Unmarshal(b); err != nil {
		return nil, err
	}
	return m, nil
}

func seq(n int, start byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// fullClientHello sets every field, so every extension is exercised.
func fullClientHello() *ClientHello {
	return &ClientHello{
		Version:              VersionTLS12,
		Random:               seq(32, 1),
		SessionID:            seq(32, 100),
		CipherSuites:         []uint16{TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_RSA_WITH_AES_128_GCM_SHA256, TLS_EMPTY_RENEGOTIATION_INFO_SCSV},
		CompressionMethods:   []uint8{0},
		ServerName:           "example.com",
		SupportedGroups:      []uint16{GroupX25519, GroupP256},
		PointFormats:         []uint8{0},
		SignatureAlgorithms:  []uint16{SigECDSAP256SHA256, SigRSAPSSRSAESHA256},
		ALPNProtocols:        []string{"h2", "http/1.1"},
		ExtendedMasterSecret: true,
		SecureRenegotiation:  true,
		RenegotiationInfo:    seq(12, 7),
		TicketSupported:      true,
		SessionTicket:        seq(40, 9),
		MaxFragmentLength:    2,
		OCSPStapling:         true,
		Extra:                []Extension{{Type: 0x1234, Data: nil}},
	}
}

func fullServerHello() *ServerHello {
	return &ServerHello{
		Version:              VersionTLS12,
		Random:               seq(32, 50),
		SessionID:            seq(16, 3),
		CipherSuite:          TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		SecureRenegotiation:  true,
		RenegotiationInfo:    seq(24, 1),
		ExtendedMasterSecret: true,
		TicketSupported:      true,
		ALPNProtocol:         "h2",
		ServerNameAck:        true,
		PointFormats:         []uint8{0, 1},
		MaxFragmentLength:    3,
		OCSPStapling:         true,
		Extra:                []Extension{{Type: 0x4242, Data: []byte("x")}},
		// The order Marshal sends them in.
		Extensions: []uint16{ExtRenegotiationInfo, ExtExtendedMasterSecret, ExtSessionTicket,
			ExtALPN, ExtServerName, ExtECPointFormats, ExtMaxFragmentLength, ExtStatusRequest, 0x4242},
	}
}

// sampleMessages returns one populated value of every message type, plus
// minimal ones, each paired with a fresh value to decode into.
func sampleMessages() []struct {
	name string
	msg  message
	into func() message
} {
	type row = struct {
		name string
		msg  message
		into func() message
	}
	return []row{
		{"ClientHello/full", fullClientHello(), func() message { return new(ClientHello) }},
		{"ClientHello/minimal", &ClientHello{Version: VersionTLS10, Random: seq(32, 0), CipherSuites: []uint16{1}, CompressionMethods: []uint8{0}},
			func() message { return new(ClientHello) }},
		{"ServerHello/full", fullServerHello(), func() message { return new(ServerHello) }},
		{"ServerHello/minimal", &ServerHello{Version: VersionTLS12, Random: seq(32, 0), CipherSuite: 0x9c},
			func() message { return new(ServerHello) }},
		{"Certificate", &Certificate{Certificates: [][]byte{seq(300, 1), seq(1, 2), seq(70000, 3)}}, func() message { return new(Certificate) }},
		{"Certificate/empty", &Certificate{}, func() message { return new(Certificate) }},
		{"ServerKeyExchange", &ServerKeyExchange{Body: seq(100, 1)}, func() message { return new(ServerKeyExchange) }},
		{"CertificateRequest", &CertificateRequest{CertificateTypes: []uint8{1, 64}, SignatureAlgorithms: []uint16{SigECDSAP256SHA256},
			CertificateAuthorities: [][]byte{seq(20, 1), seq(3, 4)}}, func() message { return new(CertificateRequest) }},
		{"CertificateRequest/noCAs", &CertificateRequest{CertificateTypes: []uint8{1}, SignatureAlgorithms: []uint16{SigRSAPKCS1SHA256, SigECDSASHA1}},
			func() message { return new(CertificateRequest) }},
		{"ServerHelloDone", &ServerHelloDone{}, func() message { return new(ServerHelloDone) }},
		{"ClientKeyExchange", &ClientKeyExchange{Body: ECDHEClientKeyExchangeBody(seq(32, 1))}, func() message { return new(ClientKeyExchange) }},
		{"CertificateVerify", &CertificateVerify{SignatureAlgorithm: SigRSAPSSRSAESHA256, Signature: seq(256, 1)}, func() message { return new(CertificateVerify) }},
		{"CertificateVerify/emptySig", &CertificateVerify{SignatureAlgorithm: SigECDSAP256SHA256}, func() message { return new(CertificateVerify) }},
		{"Finished", &Finished{VerifyData: seq(12, 1)}, func() message { return new(Finished) }},
		{"NewSessionTicket", &NewSessionTicket{LifetimeHint: 7200, Ticket: seq(180, 1)}, func() message { return new(NewSessionTicket) }},
		{"NewSessionTicket/empty", &NewSessionTicket{LifetimeHint: 1}, func() message { return new(NewSessionTicket) }},
		{"CertificateStatus", &CertificateStatus{OCSPResponse: seq(500, 1)}, func() message { return new(CertificateStatus) }},
		{"HelloRequest", &HelloRequest{}, func() message { return new(HelloRequest) }},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range sampleMessages() {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.msg.Marshal()
			if b == nil {
				t.Fatal("Marshal returned nil")
			}
			if raw := reflect.ValueOf(tc.msg).Elem().FieldByName("Raw").Bytes(); !bytes.Equal(raw, b) {
				t.Error("Marshal did not set Raw")
			}
			got := tc.into()
			if err := got.Unmarshal(b); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !reflect.DeepEqual(got, tc.msg) {
				t.Errorf("round trip differs:\n got %+v\nwant %+v", got, tc.msg)
			}
			// Marshal again: the same bytes.
			if again := got.Marshal(); !bytes.Equal(again, b) {
				t.Error("re-marshal differs")
			}
			// ParseMessage gives the same value.
			pm, err := parseMessage(b)
			if err != nil {
				t.Fatalf("ParseMessage: %v", err)
			}
			if !reflect.DeepEqual(pm, tc.msg) {
				t.Errorf("ParseMessage differs: %+v", pm)
			}
		})
	}
}

// Every strict prefix of a message, and the message with a byte appended
// (with or without a fixed-up length), must be refused with a DecodeError.
func TestPrefixAndTrailingRejected(t *testing.T) {
	for _, tc := range sampleMessages() {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.msg.Marshal()
			n := len(b)
			if n > 2000 {
				n = 2000 // the tail is what matters; keep the test fast
			}
			for i := 0; i < n; i++ {
				if err := tc.into().Unmarshal(b[:i]); !isDecodeError(err) {
					t.Fatalf("prefix of %d/%d bytes: err = %v", i, len(b), err)
				}
				// The same prefix with its header length fixed up: the body
				// alone is truncated. Empty-body-or-opaque-body messages
				// legitimately accept shorter bodies.
			}
			trailing := append(append([]byte(nil), b...), 0)
			if err := tc.into().Unmarshal(trailing); !isDecodeError(err) {
				t.Fatalf("trailing byte: err = %v", err)
			}
			if opaqueBody(b[0]) {
				return
			}
			fixed := withLength(trailing)
			if err := tc.into().Unmarshal(fixed); !isDecodeError(err) {
				t.Fatalf("trailing byte inside the body: err = %v", err)
			}
			for i := 4; i < len(b) && i < 2000; i++ {
				short := withLength(append([]byte(nil), b[:i]...))
				if err := tc.into().Unmarshal(short); err == nil {
					// A shorter body may be a valid different message only
					// where the tail is optional (hello extensions block).
					if b[0] == TypeClientHello || b[0] == TypeServerHello {
						continue
					}
					t.Fatalf("body truncated to %d bytes parsed", i-4)
				}
			}
		})
	}
}

// opaqueBody reports types whose body is kept whole, so any body length is
// valid.
func opaqueBody(typ uint8) bool {
	switch typ {
	case TypeServerKeyExchange, TypeClientKeyExchange, TypeFinished:
		return true
	}
	return false
}

// withLength rewrites the 24-bit length of a message to match its body.
func withLength(b []byte) []byte {
	n := len(b) - 4
	b[1], b[2], b[3] = byte(n>>16), byte(n>>8), byte(n)
	return b
}

func isDecodeError(err error) bool {
	var d *DecodeError
	return errors.As(err, &d)
}

func isIllegalParameter(err error) bool {
	var d *IllegalParameterError
	return errors.As(err, &d)
}

func TestWrongTypeAndLength(t *testing.T) {
	for _, tc := range sampleMessages() {
		b := tc.msg.Marshal()
		wrong := append([]byte(nil), b...)
		wrong[0] ^= 0x80
		if err := tc.into().Unmarshal(wrong); !isDecodeError(err) {
			t.Errorf("%s: wrong type byte: err = %v", tc.name, err)
		}
		long := append([]byte(nil), b...)
		long[1] = 0xff
		if err := tc.into().Unmarshal(long); !isDecodeError(err) {
			t.Errorf("%s: length too long: err = %v", tc.name, err)
		}
	}
}

// Unmarshal must not keep references into the caller's buffer.
func TestUnmarshalCopies(t *testing.T) {
	ch := fullClientHello()
	b := ch.Marshal()
	var got ClientHello
	if err := got.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 0xee
	}
	if !reflect.DeepEqual(&got, fullClientHello().withRaw()) {
		t.Error("decoded ClientHello changed when the input buffer was overwritten")
	}
}

func (m *ClientHello) withRaw() *ClientHello { m.Marshal(); return m }

// extBlock builds a hello with the given raw extensions block appended.
func helloWithExtensions(t *testing.T, server bool, exts ...Extension) []byte {
	t.Helper()
	var b []byte
	if server {
		sh := &ServerHello{Version: VersionTLS12, Random: seq(32, 0), CipherSuite: 0xc02f, Extra: exts}
		b = sh.Marshal()
	} else {
		ch := &ClientHello{Version: VersionTLS12, Random: seq(32, 0), CipherSuites: []uint16{0xc02f}, Extra: exts}
		b = ch.Marshal()
	}
	if b == nil {
		t.Fatal("marshal failed")
	}
	return b
}

func TestDuplicateExtensions(t *testing.T) {
	for _, server := range []bool{false, true} {
		for _, typ := range []uint16{ExtExtendedMasterSecret, 0x5555} {
			// Marshal refuses to send a duplicate...
			if server {
				sh := &ServerHello{Random: seq(32, 0), ExtendedMasterSecret: true,
					Extra: []Extension{{Type: typ}, {Type: typ}}}
				if sh.Marshal() != nil {
					t.Errorf("ServerHello with duplicate %d marshalled", typ)
				}
			} else {
				ch := &ClientHello{Random: seq(32, 0), CipherSuites: []uint16{1}, ExtendedMasterSecret: true,
					Extra: []Extension{{Type: typ}, {Type: typ}}}
				if _, err := ch.MarshalChecked(); err == nil || !strings.HasPrefix(err.Error(), "handshake: ") {
					t.Errorf("ClientHello with duplicate %d: err = %v", typ, err)
				}
			}
			// ...and Unmarshal refuses to receive one.
			b := helloWithExtensions(t, server, Extension{Type: typ}, Extension{Type: 0x7777}, Extension{Type: typ + 1})
			// Rewrite the third extension's type to repeat the first.
			i := bytes.LastIndex(b, []byte{byte((typ + 1) >> 8), byte(typ + 1), 0, 0})
			b[i+1] = byte(typ)
			var err error
			if server {
				err = new(ServerHello).Unmarshal(b)
			} else {
				err = new(ClientHello).Unmarshal(b)
			}
			if !isIllegalParameter(err) {
				t.Errorf("server=%v duplicate %d: err = %v", server, typ, err)
			}
		}
	}
}

// Malformed bodies of the known extensions are refused with the right error.
func TestHelloExtensionErrors(t *testing.T) {
	tests := []struct {
		name    string
		server  bool
		ext     Extension
		illegal bool // IllegalParameterError rather than DecodeError
	}{
		{"ch empty sni", false, Extension{ExtServerName, nil}, false},
		{"ch sni empty list", false, Extension{ExtServerName, []byte{0, 0}}, false},
		{"ch sni empty name", false, Extension{ExtServerName, []byte{0, 3, 0, 0, 0}}, false},
		{"ch sni trailing dot", false, Extension{ExtServerName, []byte{0, 5, 0, 0, 2, 'a', '.'}}, false},
		{"ch sni NUL", false, Extension{ExtServerName, []byte{0, 5, 0, 0, 2, 'a', 0}}, false},
		{"ch sni two hosts", false, Extension{ExtServerName, []byte{0, 8, 0, 0, 1, 'a', 0, 0, 1, 'b'}}, true},
		{"ch sni trailing", false, Extension{ExtServerName, []byte{0, 4, 0, 0, 1, 'a', 9}}, false},
		{"ch groups odd", false, Extension{ExtSupportedGroups, []byte{0, 3, 0, 29, 0}}, false},
		{"ch groups empty", false, Extension{ExtSupportedGroups, []byte{0, 0}}, false},
		{"ch point formats empty", false, Extension{ExtECPointFormats, []byte{0}}, false},
		{"ch sigalgs empty", false, Extension{ExtSignatureAlgorithms, []byte{0, 0}}, false},
		{"ch alpn empty list", false, Extension{ExtALPN, []byte{0, 0}}, false},
		{"ch alpn empty name", false, Extension{ExtALPN, []byte{0, 1, 0}}, false},
		{"ch ems nonempty", false, Extension{ExtExtendedMasterSecret, []byte{0}}, false},
		{"ch reneg empty", false, Extension{ExtRenegotiationInfo, nil}, false},
		{"ch reneg trailing", false, Extension{ExtRenegotiationInfo, []byte{0, 0}}, false},
		{"ch mfl empty", false, Extension{ExtMaxFragmentLength, nil}, false},
		{"ch mfl 5", false, Extension{ExtMaxFragmentLength, []byte{5}}, true},
		{"ch mfl 0", false, Extension{ExtMaxFragmentLength, []byte{0}}, true},
		{"sh reneg empty", true, Extension{ExtRenegotiationInfo, nil}, false},
		{"sh ems nonempty", true, Extension{ExtExtendedMasterSecret, []byte{0}}, false},
		{"sh ticket nonempty", true, Extension{ExtSessionTicket, []byte{1}}, false},
		{"sh alpn two", true, Extension{ExtALPN, []byte{0, 4, 1, 'a', 1, 'b'}}, false},
		{"sh alpn empty name", true, Extension{ExtALPN, []byte{0, 1, 0}}, false},
		{"sh alpn none", true, Extension{ExtALPN, []byte{0, 0}}, false},
		{"sh sni nonempty", true, Extension{ExtServerName, []byte{0}}, false},
		{"sh point formats empty", true, Extension{ExtECPointFormats, []byte{0}}, false},
		{"sh mfl long", true, Extension{ExtMaxFragmentLength, []byte{1, 1}}, false},
		{"sh mfl 9", true, Extension{ExtMaxFragmentLength, []byte{9}}, true},
		{"sh status nonempty", true, Extension{ExtStatusRequest, []byte{1}}, false},
	}
	for _, tc := range tests {
		b := helloWithExtensions(t, tc.server, tc.ext)
		var err error
		if tc.server {
			err = new(ServerHello).Unmarshal(b)
		} else {
			err = new(ClientHello).Unmarshal(b)
		}
		if tc.illegal && !isIllegalParameter(err) || !tc.illegal && !isDecodeError(err) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}

func TestClientHelloFieldRules(t *testing.T) {
	ch := &ClientHello{Random: seq(32, 0), CipherSuites: []uint16{1}}
	good := ch.Marshal()
	if good == nil {
		t.Fatal("minimal ClientHello did not marshal")
	}
	// Zero values follow the RFC minimums: 32-byte random, compression {0}.
	var got ClientHello
	if err := got.Unmarshal((&ClientHello{CipherSuites: []uint16{1}}).Marshal()); err != nil {
		t.Fatal(err)
	}
	if len(got.Random) != 32 || !bytes.Equal(got.CompressionMethods, []byte{0}) {
		t.Errorf("zero-value fields: random %d bytes, compression %v", len(got.Random), got.CompressionMethods)
	}
	// Marshal refuses what a peer would refuse.
	for name, bad := range map[string]*ClientHello{
		"random":     {Random: seq(31, 0), CipherSuites: []uint16{1}},
		"session id": {SessionID: seq(33, 0), CipherSuites: []uint16{1}},
		"alpn":       {CipherSuites: []uint16{1}, ALPNProtocols: []string{""}},
		"alpn long":  {CipherSuites: []uint16{1}, ALPNProtocols: []string{strings.Repeat("a", 256)}},
		"reneg long": {CipherSuites: []uint16{1}, SecureRenegotiation: true, RenegotiationInfo: seq(256, 0)},
		"no suites":  {},
		"sni dot":    {CipherSuites: []uint16{1}, ServerName: "example.com."},
		"sni space":  {CipherSuites: []uint16{1}, ServerName: "exa mple.com"},
		"extra long": {CipherSuites: []uint16{1}, Extra: []Extension{{Type: 99, Data: make([]byte, 1<<16)}}},
	} {
		if _, err := bad.MarshalChecked(); err == nil || !strings.HasPrefix(err.Error(), "handshake: ") {
			t.Errorf("%s: err = %v", name, err)
		}
		if bad.Marshal() != nil {
			t.Errorf("%s: Marshal did not return nil", name)
		}
	}
	// Unmarshal rules: empty cipher_suites, odd cipher_suites, session id
	// over 32, empty compression methods.
	mutate := func(f func(b []byte) []byte) error {
		b := f(append([]byte(nil), good...))
		return new(ClientHello).Unmarshal(withLength(b))
	}
	// Layout of good: hdr(4) version(2) random(32) sid len(1)=0 suites len(2) suites(2) comp len(1) comp(1).
	if err := mutate(func(b []byte) []byte { b[40] = 3; return b }); !isDecodeError(err) {
		t.Errorf("odd cipher suites: %v", err)
	}
	if err := mutate(func(b []byte) []byte {
		return append(append(b[:39:39], 0, 0), 1, 0) // empty suites
	}); !isDecodeError(err) {
		t.Errorf("empty cipher suites: %v", err)
	}
	if err := mutate(func(b []byte) []byte { return append(b[:43:43], 0) }); !isDecodeError(err) {
		t.Errorf("empty compression methods: %v", err)
	}
	long := append(append(append([]byte(nil), good[:38]...), 33), seq(33, 0)...)
	long = append(long, good[39:]...)
	if err := new(ClientHello).Unmarshal(withLength(long)); !isDecodeError(err) {
		t.Errorf("33-byte session id: %v", err)
	}
	// An empty extensions block is legal.
	if err := mutate(func(b []byte) []byte { return append(b, 0, 0) }); err != nil {
		t.Errorf("empty extensions block: %v", err)
	}
}

func TestUnknownExtensionsKept(t *testing.T) {
	b := helloWithExtensions(t, true, Extension{Type: 0x9999, Data: []byte{1, 2}})
	var sh ServerHello
	if err := sh.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sh.Extensions, []uint16{0x9999}) || len(sh.Extra) != 1 || !bytes.Equal(sh.Extra[0].Data, []byte{1, 2}) {
		t.Errorf("unknown ServerHello extension: %v %v", sh.Extensions, sh.Extra)
	}
	// ClientHello: unknown ones (supported_versions, a status_request
	// other than the OCSP request with empty lists, ...) go to Extra, in
	// order.
	b = helloWithExtensions(t, false, Extension{ExtSupportedVersions, []byte{2, 3, 3}}, Extension{ExtStatusRequest, nil})
	var ch ClientHello
	if err := ch.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	if len(ch.Extra) != 2 || ch.Extra[0].Type != ExtSupportedVersions || ch.Extra[1].Type != ExtStatusRequest {
		t.Errorf("Extra = %v", ch.Extra)
	}
}

func TestCertificateLimits(t *testing.T) {
	many := &Certificate{Certificates: make([][]byte, MaxCertificates+1)}
	for i := range many.Certificates {
		many.Certificates[i] = []byte{byte(i)}
	}
	if many.Marshal() != nil {
		t.Error("65 certificates marshalled")
	}
	// Build the 65-certificate message by hand from a 64 one plus one entry.
	many.Certificates = many.Certificates[:MaxCertificates]
	b := many.Marshal()
	if err := new(Certificate).Unmarshal(b); err != nil {
		t.Fatalf("64 certificates: %v", err)
	}
	b = append(b, 0, 0, 1, 0xaa)
	// Fix the list length (3 bytes after the header) and the header.
	n := len(b) - 7
	b[4], b[5], b[6] = byte(n>>16), byte(n>>8), byte(n)
	if err := new(Certificate).Unmarshal(withLength(b)); !isDecodeError(err) {
		t.Errorf("65 certificates: err = %v", err)
	}
	// A zero-length certificate is refused both ways.
	if (&Certificate{Certificates: [][]byte{{}}}).Marshal() != nil {
		t.Error("empty certificate marshalled")
	}
	if err := new(Certificate).Unmarshal([]byte{11, 0, 0, 6, 0, 0, 3, 0, 0, 0}); !isDecodeError(err) {
		t.Errorf("empty certificate entry: err = %v", err)
	}
	// The list length must match the message.
	if err := new(Certificate).Unmarshal([]byte{11, 0, 0, 7, 0, 0, 3, 0, 0, 1, 5}); !isDecodeError(err) {
		t.Errorf("list length mismatch: err = %v", err)
	}
}

func TestEmptyBodies(t *testing.T) {
	if err := new(ServerKeyExchange).Unmarshal([]byte{12, 0, 0, 0}); !isDecodeError(err) {
		t.Errorf("empty ServerKeyExchange: %v", err)
	}
	if err := new(ClientKeyExchange).Unmarshal([]byte{16, 0, 0, 0}); !isDecodeError(err) {
		t.Errorf("empty ClientKeyExchange: %v", err)
	}
	if err := new(ServerHelloDone).Unmarshal([]byte{14, 0, 0, 1, 0}); !isDecodeError(err) {
		t.Errorf("non-empty ServerHelloDone: %v", err)
	}
	if err := new(HelloRequest).Unmarshal([]byte{0, 0, 0, 1, 0}); !isDecodeError(err) {
		t.Errorf("non-empty HelloRequest: %v", err)
	}
}

func TestECDHEParams(t *testing.T) {
	p := &ECDHEParams{Group: GroupX25519, PublicKey: seq(32, 1), SignatureAlgorithm: SigECDSAP256SHA256, Signature: seq(71, 5)}
	body := p.Marshal(VersionTLS12)
	got, err := ParseECDHEParams(body, VersionTLS12)
	if err != nil {
		t.Fatal(err)
	}
	p.SignedParams = ECDHEParamsToSign(GroupX25519, seq(32, 1))
	if !reflect.DeepEqual(got, p) {
		t.Errorf("got %+v\nwant %+v", got, p)
	}
	if want := append([]byte{3, 0, 29, 32}, seq(32, 1)...); !bytes.Equal(got.SignedParams, want) {
		t.Errorf("SignedParams = %x", got.SignedParams)
	}
	for i := 0; i < len(body); i++ {
		if _, err := ParseECDHEParams(body[:i], VersionTLS12); err == nil {
			t.Fatalf("prefix of %d bytes parsed", i)
		}
	}
	if _, err := ParseECDHEParams(append(body, 0), VersionTLS12); !isDecodeError(err) {
		t.Errorf("trailing byte: %v", err)
	}
	explicit := append([]byte{1}, body[1:]...)
	if _, err := ParseECDHEParams(explicit, VersionTLS12); !isIllegalParameter(err) {
		t.Errorf("explicit curve: %v", err)
	}
	if _, err := ParseECDHEParams([]byte{3, 0, 23, 0, 4, 3, 0, 0}, VersionTLS12); !isDecodeError(err) {
		t.Errorf("empty point: %v", err)
	}
}

func TestClientKeyExchangeBodies(t *testing.T) {
	point := seq(65, 4)
	got, err := ParseECDHEClientKeyExchange(ECDHEClientKeyExchangeBody(point))
	if err != nil || !bytes.Equal(got, point) {
		t.Errorf("ECDHE: %x %v", got, err)
	}
	enc := seq(256, 1)
	got, err = ParseRSAClientKeyExchange(RSAClientKeyExchangeBody(enc))
	if err != nil || !bytes.Equal(got, enc) {
		t.Errorf("RSA: %x %v", got, err)
	}
	if ECDHEClientKeyExchangeBody(seq(256, 0)) != nil || ECDHEClientKeyExchangeBody(nil) != nil {
		t.Error("bad ECDHE point encoded")
	}
	if _, err := ParseECDHEClientKeyExchange([]byte{2, 1}); err == nil {
		t.Error("truncated ECDHE point parsed")
	}
	if _, err := ParseRSAClientKeyExchange([]byte{0, 2, 1, 1, 1}); err == nil {
		t.Error("trailing byte after RSA premaster parsed")
	}
}

func TestSplitMessages(t *testing.T) {
	a := (&ServerHelloDone{}).Marshal()
	b := (&Finished{VerifyData: seq(12, 0)}).Marshal()
	c := (&Certificate{Certificates: [][]byte{seq(10, 0)}}).Marshal()
	all := append(append(append([]byte(nil), a...), b...), c...)
	msgs, err := SplitMessages(all)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 || !bytes.Equal(msgs[0], a) || !bytes.Equal(msgs[1], b) || !bytes.Equal(msgs[2], c) {
		t.Errorf("split = %x", msgs)
	}
	if msgs, err := SplitMessages(nil); err != nil || len(msgs) != 0 {
		t.Errorf("empty: %v %v", msgs, err)
	}
	for i := 1; i < len(all); i++ {
		if i == len(a) || i == len(a)+len(b) {
			continue
		}
		if _, err := SplitMessages(all[:i]); !isDecodeError(err) {
			t.Fatalf("truncated at %d: err = %v", i, err)
		}
	}
}

func TestParseMessageUnknownType(t *testing.T) {
	for _, b := range [][]byte{nil, {3, 0, 0, 0}, {99, 0, 0, 0}} {
		if _, err := parseMessage(b); !isDecodeError(err) {
			t.Errorf("%x: err = %v", b, err)
		}
	}
}

func TestErrorsArePrefixed(t *testing.T) {
	_, err := parseMessage([]byte{1, 0, 0, 1})
	if err == nil || !strings.HasPrefix(err.Error(), "handshake: ") {
		t.Errorf("err = %v", err)
	}
}

func TestClientHelloExtensionTypes(t *testing.T) {
	ch := fullClientHello()
	want := []uint16{ExtServerName, ExtSupportedGroups, ExtECPointFormats, ExtSignatureAlgorithms, ExtALPN,
		ExtExtendedMasterSecret, ExtRenegotiationInfo, ExtSessionTicket, ExtMaxFragmentLength, ExtStatusRequest, 0x1234}
	if got := ch.ExtensionTypes(); !slices.Equal(got, want) {
		t.Errorf("ExtensionTypes = %v", got)
	}
	// The order on the wire is the same.
	if wire := wireExtensions(t, ch.Marshal()); !slices.Equal(wire, want) {
		t.Errorf("wire order = %v", wire)
	}
	if len((&ClientHello{CipherSuites: []uint16{1}}).ExtensionTypes()) != 0 {
		t.Error("a hello without extensions lists some")
	}
}
