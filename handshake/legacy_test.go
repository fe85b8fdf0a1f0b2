package handshake

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding"
	"encoding/binary"
	"fmt"
	"hash"
	"net"
	"strings"
	"testing"
)

// refPHash is P_hash written out from RFC 2246 §5 independently of pHash.
func refPHash(h func() hash.Hash, secret, seed []byte, n int) []byte {
	var out []byte
	a := seed
	for len(out) < n {
		m := hmac.New(h, secret)
		m.Write(a)
		a = m.Sum(nil)
		m = hmac.New(h, secret)
		m.Write(a)
		m.Write(seed)
		out = m.Sum(out)
	}
	return out[:n]
}

// TestPRF10Split checks the secret split of RFC 2246 §5 (odd lengths share
// the middle byte) and the XOR of P_MD5 and P_SHA-1 against refPHash.
func TestPRF10Split(t *testing.T) {
	for _, secretLen := range []int{0, 1, 2, 47, 48, 49} {
		secret := make([]byte, secretLen)
		for i := range secret {
			secret[i] = byte(i*7 + 1)
		}
		seed := []byte("seed bytes")
		half := (secretLen + 1) / 2
		md := refPHash(md5.New, secret[:half], append([]byte("lbl"), seed...), 100)
		sh := refPHash(sha1.New, secret[secretLen-half:], append([]byte("lbl"), seed...), 100)
		want := make([]byte, 100)
		for i := range want {
			want[i] = md[i] ^ sh[i]
		}
		got := make([]byte, 100)
		prf10(got, secret, "lbl", seed)
		if !bytes.Equal(got, want) {
			t.Errorf("secret of %d bytes: prf10 = %x, want %x", secretLen, got, want)
		}
	}
}

func TestPRFForVersion(t *testing.T) {
	s := SuiteByID(TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)
	secret, seed := []byte("secret"), []byte("seed")
	a, b, c := make([]byte, 40), make([]byte, 40), make([]byte, 40)
	prfForVersion(VersionTLS12, s)(a, secret, "x", seed)
	if want := refPRF(s.Hash.New, secret, "x", seed, len(a)); !bytes.Equal(a, want) {
		t.Error("the TLS 1.2 PRF is not P_SHA256")
	}
	for _, v := range []uint16{VersionTLS10, VersionTLS11} {
		prfForVersion(v, s)(c, secret, "x", seed)
		prf10(b, secret, "x", seed)
		if !bytes.Equal(c, b) || bytes.Equal(c, a) {
			t.Errorf("the PRF of %#04x is not prf10", v)
		}
	}
}

// TestTranscriptMD5SHA1 checks the TLS 1.0/1.1 handshake hash: MD5 || SHA-1
// of everything written, buffered messages included, Sum not disturbing
// the state, and a state that survives MarshalBinary / UnmarshalBinary and
// Clone.
func TestTranscriptMD5SHA1(t *testing.T) {
	var tr Transcript
	tr.Write([]byte("client hello "))
	tr.SetSuite(SuiteByID(TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384), VersionTLS10)
	tr.Write([]byte("server hello"))
	all := []byte("client hello server hello")
	m, s := md5.Sum(all), sha1.Sum(all)
	want := append(m[:], s[:]...)
	if got := tr.Sum(); !bytes.Equal(got, want) {
		t.Fatalf("Sum = %x, want %x", got, want)
	}
	if got := tr.Sum(); !bytes.Equal(got, want) {
		t.Fatal("Sum changed the running state")
	}

	h := SuiteByID(TLS_RSA_WITH_AES_128_GCM_SHA256).TranscriptHash(VersionTLS11)
	h.Write([]byte("abc"))
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	h2 := SuiteByID(TLS_RSA_WITH_AES_128_GCM_SHA256).TranscriptHash(VersionTLS11)
	if err := h2.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	c, err := h.(hash.Cloner).Clone()
	if err != nil {
		t.Fatal(err)
	}
	h.Write([]byte("def"))
	h2.Write([]byte("def"))
	c.Write([]byte("def"))
	m, s = md5.Sum([]byte("abcdef")), sha1.Sum([]byte("abcdef"))
	want = append(m[:], s[:]...)
	for i, x := range []hash.Hash{h, h2, c} {
		if got := x.Sum(nil); !bytes.Equal(got, want) || x.Size() != 36 {
			t.Errorf("hash %d: %x, want %x", i, got, want)
		}
	}
	if err := h2.(encoding.BinaryUnmarshaler).UnmarshalBinary(state[:len(state)-1]); err == nil {
		t.Error("a truncated state was accepted")
	}
	if SuiteByID(TLS_RSA_WITH_AES_256_GCM_SHA384).TranscriptHash(VersionTLS12).Size() != 48 {
		t.Error("TLS 1.2 transcript hash is not the suite's")
	}
}

// legacyCapture runs a crypto/tls client and server at one version with
// one suite and records the client's wire and its key log.
func legacyCapture(t *testing.T, version, suite uint16, cert tls.Certificate) *capture {
	t.Helper()
	c, s := net.Pipe()
	rec := &recordingConn{Conn: c}
	var keyLog bytes.Buffer
	pool := x509.NewCertPool()
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	pool.AddCert(leaf)
	client := tls.Client(rec, &tls.Config{
		ServerName: "test.example", RootCAs: pool,
		MinVersion: version, MaxVersion: version,
		CipherSuites: []uint16{suite}, KeyLogWriter: &keyLog,
	})
	server := tls.Server(s, &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   version, MaxVersion: version,
		CipherSuites: []uint16{suite},
	})
	errc := make(chan error, 1)
	go func() { errc <- server.Handshake() }()
	if err := client.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	c.Close()
	s.Close()
	cp := &capture{suite: suite}
	cp.clientMsgs, cp.clientFinishedRecord = splitRecords(t, rec.wrote)
	cp.serverMsgs, cp.serverFinishedRecord = splitRecords(t, rec.read)
	for _, line := range strings.Split(keyLog.String(), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "CLIENT_RANDOM" {
			cp.master = unhex(t, f[2])
		}
	}
	if cp.master == nil {
		t.Fatal("no CLIENT_RANDOM line in the key log")
	}
	return cp
}

// openCBCRecord decrypts the first record of a direction (sequence number
// 0) of a CBC suite by hand (RFC 2246 §6.2.3.2, RFC 4346 §6.2.3.2): the
// IV is the key block's in TLS 1.0 and the record's first block after;
// padding and HMAC over seq || type || version || length || content.
func openCBCRecord(t *testing.T, version uint16, mac crypto.Hash, macKey, key, iv, body []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	if version >= VersionTLS11 {
		iv, body = body[:16], body[16:]
	}
	if len(body) == 0 || len(body)%16 != 0 {
		t.Fatalf("CBC record of %d bytes", len(body))
	}
	plain := make([]byte, len(body))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, body)
	pad := int(plain[len(plain)-1])
	if pad+1+mac.Size() > len(plain) {
		t.Fatal("bad padding")
	}
	for _, b := range plain[len(plain)-1-pad:] {
		if int(b) != pad {
			t.Fatal("bad padding bytes")
		}
	}
	plain = plain[:len(plain)-1-pad]
	content, tag := plain[:len(plain)-mac.Size()], plain[len(plain)-mac.Size():]
	m := hmac.New(mac.New, macKey)
	var hdr [13]byte
	hdr[8] = 22
	binary.BigEndian.PutUint16(hdr[9:], version)
	binary.BigEndian.PutUint16(hdr[11:], uint16(len(content)))
	m.Write(hdr[:])
	m.Write(content)
	if !hmac.Equal(m.Sum(nil), tag) {
		t.Fatal("record MAC does not verify with the derived MAC key")
	}
	return content
}

// TestCryptoTLSLegacyKeySchedule checks the TLS 1.0/1.1 key schedule (and
// the CBC suites' in 1.2) against real crypto/tls handshakes, which need
// no GODEBUG once MinVersion is set: the ServerKeyExchange parses in the
// version's form and its signature verifies (RSA: PKCS #1 v1.5 over
// MD5 || SHA-1 without DigestInfo; ECDSA: over SHA-1); for RSA key
// exchange the premaster, recovered with the server key, gives crypto/tls's
// master secret through our ExtendedMasterSecret over the MD5 || SHA-1
// session hash (RFC 7627 §3); the key block derived from the master secret
// decrypts and authenticates both Finished records, whose verify_data is
// ours.
func TestCryptoTLSLegacyKeySchedule(t *testing.T) {
	ecCert, rsaCert := testCerts(t)
	t.Setenv("GODEBUG", "tlsrsakex=1")
	cases := []struct {
		version uint16
		suite   *Suite
	}{}
	for _, v := range []uint16{VersionTLS10, VersionTLS11, VersionTLS12} {
		for _, s := range cbcSuites() {
			// crypto/tls has no AES-256-CBC-SHA384 nor RSA AES-256-CBC-SHA256.
			if !s.AllowedIn(v) || s.MACHash == crypto.SHA384 || s.ID == TLS_RSA_WITH_AES_256_CBC_SHA256 {
				continue
			}
			cases = append(cases, struct {
				version uint16
				suite   *Suite
			}{v, s})
		}
	}
	if len(cases) < 20 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		s, v := tc.suite, tc.version
		t.Run(fmt.Sprintf("%#04x/%s", v, s.Name), func(t *testing.T) {
			cert := rsaCert
			if s.KeyExchange == KeyExchangeECDHEECDSA {
				cert = ecCert
			}
			cp := legacyCapture(t, v, s.ID, cert)
			checkLegacyCapture(t, v, s, cp, cert)
		})
	}
}

func checkLegacyCapture(t *testing.T, v uint16, s *Suite, cp *capture, cert tls.Certificate) {
	t.Helper()
	var ch ClientHello
	var sh ServerHello
	if err := ch.Unmarshal(cp.clientMsgs[0]); err != nil {
		t.Fatal(err)
	}
	if err := sh.Unmarshal(cp.serverMsgs[0]); err != nil {
		t.Fatal(err)
	}
	if sh.Version != v || sh.CipherSuite != s.ID {
		t.Fatalf("ServerHello %#04x %#04x", sh.Version, sh.CipherSuite)
	}
	var tr Transcript
	tr.Write(cp.clientMsgs[0])
	tr.Write(cp.serverMsgs[0])
	tr.SetSuite(s, v)
	idx := 1
	for ; idx < len(cp.serverMsgs); idx++ {
		m := cp.serverMsgs[idx]
		tr.Write(m)
		if m[0] == TypeServerHelloDone {
			break
		}
		if m[0] != TypeServerKeyExchange {
			continue
		}
		var ske ServerKeyExchange
		if err := ske.Unmarshal(m); err != nil {
			t.Fatal(err)
		}
		p, err := ParseECDHEParams(ske.Body, v)
		if err != nil {
			t.Fatalf("ParseECDHEParams: %v", err)
		}
		if v < VersionTLS12 {
			if p.SignatureAlgorithm != 0 {
				t.Error("a TLS 1.0/1.1 ServerKeyExchange gave a signature algorithm")
			}
			if _, err := ParseECDHEParams(ske.Body, VersionTLS12); err == nil {
				t.Error("the TLS 1.2 parser accepted a TLS 1.0/1.1 ServerKeyExchange")
			}
			if !bytes.Equal(p.Marshal(v), ske.Body) {
				t.Error("Marshal does not give the body back")
			}
		}
		signed := append(append(append([]byte(nil), ch.Random...), sh.Random...), p.SignedParams...)
		switch key := cert.PrivateKey.(type) {
		case *rsa.PrivateKey:
			if v < VersionTLS12 {
				m, s1 := md5.Sum(signed), sha1.Sum(signed)
				if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.MD5SHA1, append(m[:], s1[:]...), p.Signature); err != nil {
					t.Errorf("RSA MD5+SHA-1 signature: %v", err)
				}
			}
		case *ecdsa.PrivateKey:
			if v < VersionTLS12 {
				d := sha1.Sum(signed)
				if !ecdsa.VerifyASN1(&key.PublicKey, d[:], p.Signature) {
					t.Error("ECDSA SHA-1 signature does not verify")
				}
			}
		}
	}
	tr.Write(cp.clientMsgs[1])
	if s.KeyExchange == KeyExchangeRSA {
		var cke ClientKeyExchange
		if err := cke.Unmarshal(cp.clientMsgs[1]); err != nil {
			t.Fatal(err)
		}
		enc, err := ParseRSAClientKeyExchange(cke.Body)
		if err != nil {
			t.Fatal(err)
		}
		pre, err := rsa.DecryptPKCS1v15(nil, cert.PrivateKey.(*rsa.PrivateKey), enc)
		if err != nil {
			t.Fatal(err)
		}
		if binary.BigEndian.Uint16(pre) != ch.Version {
			t.Errorf("premaster version %x", pre[:2])
		}
		var ms []byte
		if sh.ExtendedMasterSecret {
			ms = s.ExtendedMasterSecret(v, pre, tr.Sum())
		} else {
			ms = s.MasterSecret(v, pre, ch.Random, sh.Random)
		}
		if !bytes.Equal(ms, cp.master) {
			t.Errorf("master secret (EMS %v) differs from crypto/tls's", sh.ExtendedMasterSecret)
		}
	}
	cm, sm, ck, sk, ci, si := s.Keys(s.KeyBlock(v, cp.master, ch.Random, sh.Random))
	clientFin := openCBCRecord(t, v, s.MACHash, cm, ck, ci, cp.clientFinishedRecord)
	want := (&Finished{VerifyData: s.FinishedVerifyData(v, cp.master, true, tr.Sum())}).Marshal()
	if !bytes.Equal(clientFin, want) {
		t.Errorf("client Finished = %x, want %x", clientFin, want)
	}
	tr.Write(clientFin)
	for _, m := range cp.serverMsgs[idx+1:] {
		tr.Write(m) // NewSessionTicket
	}
	serverFin := openCBCRecord(t, v, s.MACHash, sm, sk, si, cp.serverFinishedRecord)
	want = (&Finished{VerifyData: s.FinishedVerifyData(v, cp.master, false, tr.Sum())}).Marshal()
	if !bytes.Equal(serverFin, want) {
		t.Errorf("server Finished = %x, want %x", serverFin, want)
	}
}

func TestCBCSuiteTable(t *testing.T) {
	for _, s := range cbcSuites() {
		mac := crypto.SHA1
		switch {
		case strings.HasSuffix(s.Name, "_SHA256"):
			mac = crypto.SHA256
		case strings.HasSuffix(s.Name, "_SHA384"):
			mac = crypto.SHA384
		}
		wantHash := crypto.SHA256
		if mac == crypto.SHA384 {
			wantHash = crypto.SHA384
		}
		keyLen := 16
		if strings.Contains(s.Name, "AES_256") {
			keyLen = 32
		}
		if s.MACHash != mac || s.MACLen != mac.Size() || s.KeyLen != keyLen || s.IVLen != 16 || s.Hash != wantHash {
			t.Errorf("%s: %+v", s.Name, s)
		}
		if s.AllowedIn(VersionTLS10) != (mac == crypto.SHA1) || s.AllowedIn(VersionTLS11) != (mac == crypto.SHA1) ||
			!s.AllowedIn(VersionTLS12) || s.AllowedIn(VersionTLS13) {
			t.Errorf("%s: versions wrong", s.Name)
		}
	}
	for _, id := range []uint16{TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, TLS_RSA_WITH_AES_256_GCM_SHA384} {
		s := SuiteByID(id)
		if s.AllowedIn(VersionTLS10) || s.AllowedIn(VersionTLS11) || !s.AllowedIn(VersionTLS12) || s.MACLen != 0 {
			t.Errorf("%s: an AEAD suite allowed below TLS 1.2", s.Name)
		}
	}
}

// TestLegacyMessageForms round-trips the TLS 1.0/1.1 forms and checks
// each version's parser refuses the other's bytes.
func TestLegacyMessageForms(t *testing.T) {
	cr := &CertificateRequest{Version: VersionTLS11, CertificateTypes: []uint8{1, 64}, CertificateAuthorities: [][]byte{[]byte("dn")}}
	b := cr.Marshal()
	got := CertificateRequest{Version: VersionTLS10}
	if err := got.Unmarshal(b); err != nil || len(got.SignatureAlgorithms) != 0 ||
		!bytes.Equal(got.CertificateTypes, cr.CertificateTypes) || len(got.CertificateAuthorities) != 1 {
		t.Errorf("CertificateRequest 1.0: %v %+v", err, got)
	}
	got.Version = VersionTLS12
	if err := got.Unmarshal(b); err == nil {
		t.Error("TLS 1.2 parser accepted a TLS 1.0 CertificateRequest")
	}
	cr.Version, cr.SignatureAlgorithms = VersionTLS12, []uint16{SigRSAPKCS1SHA256}
	got.Version = VersionTLS11
	if err := got.Unmarshal(cr.Marshal()); err == nil {
		t.Error("TLS 1.1 parser accepted a TLS 1.2 CertificateRequest")
	}
	for i := 0; i < len(b)-1; i++ {
		got.Version = VersionTLS10
		if err := got.Unmarshal(b[:i]); err == nil {
			t.Errorf("prefix of %d bytes parsed", i)
		}
	}

	cv := &CertificateVerify{Version: VersionTLS10, SignatureAlgorithm: SigRSAPKCS1SHA256, Signature: []byte("sig")}
	b = cv.Marshal()
	gcv := CertificateVerify{Version: VersionTLS10}
	if err := gcv.Unmarshal(b); err != nil || gcv.SignatureAlgorithm != 0 || string(gcv.Signature) != "sig" {
		t.Errorf("CertificateVerify 1.0: %v %+v", err, gcv)
	}
	if len(b) != 4+2+3 {
		t.Errorf("CertificateVerify 1.0 is %d bytes", len(b))
	}
	cv.Version, gcv.Version = VersionTLS12, VersionTLS12
	if err := gcv.Unmarshal(cv.Marshal()); err != nil || gcv.SignatureAlgorithm != SigRSAPKCS1SHA256 {
		t.Errorf("CertificateVerify 1.2: %v", err)
	}

	p := &ECDHEParams{Group: GroupP256, PublicKey: []byte{4, 1, 2}, Signature: []byte("sig")}
	body := p.Marshal(VersionTLS10)
	q, err := ParseECDHEParams(body, VersionTLS11)
	if err != nil || q.Group != GroupP256 || string(q.Signature) != "sig" || q.SignatureAlgorithm != 0 ||
		!bytes.Equal(q.SignedParams, ECDHEParamsToSign(GroupP256, p.PublicKey)) {
		t.Errorf("ECDHE params 1.0: %v %+v", err, q)
	}
	for i := 0; i < len(body); i++ {
		if _, err := ParseECDHEParams(body[:i], VersionTLS10); err == nil {
			t.Errorf("prefix of %d bytes parsed", i)
		}
	}
}
