package handshake

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/internal/cryptobyte"
	"golang.org/x/crypto/chacha20poly1305"
)

var update = flag.Bool("update", false, "rewrite testdata/*.hex from a fresh crypto/tls handshake")

// recordingConn keeps every byte read from and written to a connection.
type recordingConn struct {
	net.Conn
	mu          sync.Mutex
	read, wrote []byte
}

func (c *recordingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	c.read = append(c.read, b[:n]...)
	c.mu.Unlock()
	return n, err
}

func (c *recordingConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.wrote = append(c.wrote, b...)
	c.mu.Unlock()
	return c.Conn.Write(b)
}

func selfSigned(t testing.TB, key any, pub any) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "test.example"},
		DNSNames:     []string{"test.example"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

var (
	testCertsOnce       sync.Once
	testECDSA, testRSA  tls.Certificate
	testRSAKey          *rsa.PrivateKey
	testCertsGenerateOK bool
)

func testCerts(t testing.TB) (ecdsaCert, rsaCert tls.Certificate) {
	testCertsOnce.Do(func() {
		ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return
		}
		rk, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return
		}
		testECDSA = selfSigned(t, ek, &ek.PublicKey)
		// Not a real OCSP response: crypto/tls staples whatever it is
		// given, which is enough to get a CertificateStatus message.
		testECDSA.OCSPStaple = []byte("stapled OCSP response")
		testRSA = selfSigned(t, rk, &rk.PublicKey)
		testRSAKey = rk
		testCertsGenerateOK = true
	})
	if !testCertsGenerateOK {
		t.Fatal("generating test keys failed")
	}
	return testECDSA, testRSA
}

// capture is one crypto/tls handshake as seen on the client's wire.
type capture struct {
	clientMsgs, serverMsgs [][]byte // plaintext handshake messages, in order
	clientFinishedRecord   []byte   // encrypted record bodies
	serverFinishedRecord   []byte
	master                 []byte // from KeyLogWriter
	suite                  uint16
}

// runHandshake runs a crypto/tls TLS 1.2 client and server over net.Pipe
// with one cipher suite and records the client's side of the wire.
func runHandshake(t *testing.T, suite uint16, cert tls.Certificate) *capture {
	t.Helper()
	c, s := net.Pipe()
	rec := &recordingConn{Conn: c}
	var keyLog bytes.Buffer
	pool := x509.NewCertPool()
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	pool.AddCert(leaf)
	client := tls.Client(rec, &tls.Config{
		ServerName:   "test.example",
		RootCAs:      pool,
		MinVersion:   tls.VersionTLS12,
		MaxVersion:   tls.VersionTLS12,
		CipherSuites: []uint16{suite},
		NextProtos:   []string{"h2", "http/1.1"},
		KeyLogWriter: &keyLog,
	})
	server := tls.Server(s, &tls.Config{
		Certificates: []tls.Certificate{cert},
		MaxVersion:   tls.VersionTLS12,
		CipherSuites: []uint16{suite},
		NextProtos:   []string{"h2"},
	})
	errc := make(chan error, 1)
	go func() {
		errc <- server.Handshake()
	}()
	if err := client.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	// Close the pipe, not the TLS conns: close_notify would block on the
	// synchronous pipe with nobody reading.
	c.Close()
	s.Close()

	cp := &capture{suite: suite}
	cp.clientMsgs, cp.clientFinishedRecord = splitRecords(t, rec.wrote)
	cp.serverMsgs, cp.serverFinishedRecord = splitRecords(t, rec.read)
	for _, line := range strings.Split(keyLog.String(), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "CLIENT_RANDOM" {
			cp.master = unhex(t, f[2])
		}
	}
	if cp.master == nil {
		t.Fatal("no CLIENT_RANDOM line in the key log")
	}
	return cp
}

// splitRecords reads TLS records (RFC 5246 §6.2.1): the plaintext handshake
// messages before ChangeCipherSpec, and the body of the first encrypted
// handshake record after it (the Finished).
func splitRecords(t *testing.T, wire []byte) (msgs [][]byte, finished []byte) {
	t.Helper()
	s := cryptobyte.String(wire)
	var plain []byte
	ccs := false
	for !s.Empty() {
		var typ uint8
		var version uint16
		var body cryptobyte.String
		if !s.ReadUint8(&typ) || !s.ReadUint16(&version) || !s.ReadUint16LengthPrefixed(&body) {
			t.Fatal("truncated record")
		}
		switch {
		case typ == 20:
			ccs = true
		case typ == 22 && !ccs:
			plain = append(plain, body...)
		case typ == 22 && ccs && finished == nil:
			finished = body
		}
	}
	msgs, err := SplitMessages(plain)
	if err != nil {
		t.Fatal(err)
	}
	return msgs, finished
}

// openFinished decrypts the first encrypted record of a direction (sequence
// number 0) with the suite's record protection (RFC 5288, RFC 7905).
func openFinished(t *testing.T, s *Suite, key, iv, body []byte) []byte {
	t.Helper()
	var aead cipher.AEAD
	var nonce []byte
	var err error
	if s.IVLen == 4 {
		block, _ := aes.NewCipher(key)
		aead, _ = cipher.NewGCM(block)
		nonce = append(append([]byte(nil), iv...), body[:8]...)
		body = body[8:]
	} else {
		aead, err = chacha20poly1305.New(key)
		if err != nil {
			t.Fatal(err)
		}
		nonce = append([]byte(nil), iv...) // XOR with sequence number 0
	}
	ad := make([]byte, 13) // seq_num 0, type, version, length
	ad[8] = 22
	binary.BigEndian.PutUint16(ad[9:], VersionTLS12)
	binary.BigEndian.PutUint16(ad[11:], uint16(len(body)-aead.Overhead()))
	plain, err := aead.Open(nil, nonce, body, ad)
	if err != nil {
		t.Fatalf("decrypting Finished with the derived keys: %v", err)
	}
	return plain
}

// TestCryptoTLSHandshake parses every message of real crypto/tls handshakes
// and checks the key schedule against them: the ServerKeyExchange signature
// verifies over SignedParams, the key block derived from crypto/tls's master
// secret decrypts both Finished records, and their contents are our
// FinishedVerifyData over our Transcript. For RSA key exchange the
// premaster is recovered with the server key and the extended master secret
// recomputed.
func TestCryptoTLSHandshake(t *testing.T) {
	ecCert, rsaCert := testCerts(t)
	t.Setenv("GODEBUG", "tlsrsakex=1") // RSA key exchange is off by default
	for _, s := range Suites {
		if s.MACLen > 0 {
			continue // a CBC suite: TestCryptoTLSLegacyKeySchedule (legacy_test.go)
		}
		t.Run(s.Name, func(t *testing.T) {
			cert := ecCert
			if s.KeyExchange != KeyExchangeECDHEECDSA {
				cert = rsaCert
			}
			cp := runHandshake(t, s.ID, cert)
			checkCapture(t, s, cp, cert)
			if *update && s.ID == TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 {
				writeTestdata(t, "gotls_ecdhe_ecdsa", cp)
			}
			if *update && s.ID == TLS_RSA_WITH_AES_128_GCM_SHA256 {
				writeTestdata(t, "gotls_rsa", cp)
			}
		})
	}
}

func checkCapture(t *testing.T, s *Suite, cp *capture, cert tls.Certificate) {
	t.Helper()
	if len(cp.clientMsgs) != 2 {
		t.Fatalf("client sent %d plaintext messages, want ClientHello and ClientKeyExchange", len(cp.clientMsgs))
	}
	parsed := func(b []byte) any {
		m, err := parseMessage(b)
		if err != nil {
			t.Fatalf("parseMessage(%x...): %v", b[:min(len(b), 8)], err)
		}
		return m
	}
	ch, ok := parsed(cp.clientMsgs[0]).(*ClientHello)
	if !ok {
		t.Fatal("first client message is not a ClientHello")
	}
	if ch.ServerName != "test.example" || !ch.ExtendedMasterSecret || !ch.SecureRenegotiation ||
		strings.Join(ch.ALPNProtocols, ",") != "h2,http/1.1" || len(ch.SignatureAlgorithms) == 0 ||
		len(ch.SupportedGroups) == 0 || !bytes.Equal(ch.Raw, cp.clientMsgs[0]) {
		t.Errorf("ClientHello fields: %+v", ch)
	}
	var serverMsgs []any
	for _, m := range cp.serverMsgs {
		serverMsgs = append(serverMsgs, parsed(m))
	}
	sh, ok := serverMsgs[0].(*ServerHello)
	if !ok {
		t.Fatal("first server message is not a ServerHello")
	}
	if sh.CipherSuite != s.ID || sh.Version != VersionTLS12 || !sh.ExtendedMasterSecret ||
		!sh.SecureRenegotiation || sh.ALPNProtocol != "h2" || len(sh.Extensions) < 3 {
		t.Errorf("ServerHello fields: %+v", sh)
	}
	if sh.OCSPStapling != (cert.OCSPStaple != nil) {
		t.Errorf("ServerHello status_request = %v", sh.OCSPStapling)
	}
	certMsg := serverMsgs[1].(*Certificate)
	if len(certMsg.Certificates) != 1 || !bytes.Equal(certMsg.Certificates[0], cert.Certificate[0]) {
		t.Error("Certificate does not carry the server's certificate")
	}
	idx := 2
	if cs, ok := serverMsgs[idx].(*CertificateStatus); ok {
		if !bytes.Equal(cs.OCSPResponse, cert.OCSPStaple) {
			t.Error("CertificateStatus does not carry the stapled response")
		}
		idx++
	} else if cert.OCSPStaple != nil {
		t.Error("no CertificateStatus after Certificate")
	}
	if s.KeyExchange != KeyExchangeRSA {
		ske := serverMsgs[idx].(*ServerKeyExchange)
		p, err := ParseECDHEParams(ske.Body, VersionTLS12)
		if err != nil {
			t.Fatalf("ParseECDHEParams: %v", err)
		}
		if p.Group != GroupX25519 || len(p.PublicKey) != 32 {
			t.Errorf("ECDHE params: group %d, point %d bytes", p.Group, len(p.PublicKey))
		}
		if s.KeyExchange == KeyExchangeECDHEECDSA {
			if p.SignatureAlgorithm != SigECDSAP256SHA256 {
				t.Errorf("signature algorithm %04x", p.SignatureAlgorithm)
			}
			signed := append(append(append([]byte(nil), ch.Random...), sh.Random...), p.SignedParams...)
			digest := sha256.Sum256(signed)
			pub := cert.PrivateKey.(*ecdsa.PrivateKey).Public().(*ecdsa.PublicKey)
			if !ecdsa.VerifyASN1(pub, digest[:], p.Signature) {
				t.Error("ServerKeyExchange signature does not verify over SignedParams")
			}
		}
		idx++
	}
	if _, ok := serverMsgs[idx].(*ServerHelloDone); !ok {
		t.Fatalf("message %d is not ServerHelloDone", idx)
	}
	cke := parsed(cp.clientMsgs[1]).(*ClientKeyExchange)

	// Key schedule.
	var tr Transcript
	tr.Write(cp.clientMsgs[0])
	tr.Write(cp.serverMsgs[0])
	tr.SetSuite(s, VersionTLS12)
	for _, m := range cp.serverMsgs[1 : idx+1] {
		tr.Write(m)
	}
	tr.Write(cp.clientMsgs[1])
	sessionHash := tr.Sum()
	if s.KeyExchange == KeyExchangeRSA {
		enc, err := ParseRSAClientKeyExchange(cke.Body)
		if err != nil {
			t.Fatal(err)
		}
		pre, err := rsa.DecryptPKCS1v15(nil, cert.PrivateKey.(*rsa.PrivateKey), enc)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.ExtendedMasterSecret(VersionTLS12, pre, sessionHash); !bytes.Equal(got, cp.master) {
			t.Error("ExtendedMasterSecret differs from crypto/tls's master secret")
		}
		if got := s.MasterSecret(VersionTLS12, pre, ch.Random, sh.Random); bytes.Equal(got, cp.master) {
			t.Error("the non-EMS master secret matched: EMS was not in use")
		}
	} else if _, err := ParseECDHEClientKeyExchange(cke.Body); err != nil {
		t.Error(err)
	}
	_, _, ck, sk, ci, si := s.Keys(s.KeyBlock(VersionTLS12, cp.master, ch.Random, sh.Random))
	clientFin := openFinished(t, s, ck, ci, cp.clientFinishedRecord)
	want := (&Finished{VerifyData: s.FinishedVerifyData(VersionTLS12, cp.master, true, tr.Sum())}).Marshal()
	if !bytes.Equal(clientFin, want) {
		t.Errorf("client Finished = %x, want %x", clientFin, want)
	}
	tr.Write(clientFin)
	// The server's messages after ServerHelloDone (NewSessionTicket) come
	// before its Finished and are in its hash.
	for _, m := range cp.serverMsgs[idx+1:] {
		if _, ok := parsed(m).(*NewSessionTicket); !ok {
			t.Errorf("unexpected server message type %d", m[0])
		}
		tr.Write(m)
	}
	serverFin := openFinished(t, s, sk, si, cp.serverFinishedRecord)
	want = (&Finished{VerifyData: s.FinishedVerifyData(VersionTLS12, cp.master, false, tr.Sum())}).Marshal()
	if !bytes.Equal(serverFin, want) {
		t.Errorf("server Finished = %x, want %x", serverFin, want)
	}
}

func writeTestdata(t *testing.T, name string, cp *capture) {
	t.Helper()
	write := func(suffix string, msgs [][]byte) {
		var lines []string
		for _, m := range msgs {
			lines = append(lines, hex.EncodeToString(m))
		}
		p := filepath.Join("testdata", name+"_"+suffix+".hex")
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("client", cp.clientMsgs)
	write("server", cp.serverMsgs)
}
