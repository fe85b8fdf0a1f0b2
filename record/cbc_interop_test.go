package record

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"hash"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// tapConn records every byte read from and written to a net.Conn.
type tapConn struct {
	net.Conn
	mu            sync.Mutex
	read, written bytes.Buffer
}

func (c *tapConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	c.read.Write(b[:n])
	c.mu.Unlock()
	return n, err
}

func (c *tapConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.mu.Lock()
	c.written.Write(b[:n])
	c.mu.Unlock()
	return n, err
}

func (c *tapConn) streams() (read, written []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.read.Bytes()), bytes.Clone(c.written.Bytes())
}

// testPRF is the TLS PRF written out for this test (RFC 2246 §5 for TLS
// 1.0/1.1, RFC 5246 §5 with SHA-256 for TLS 1.2), independent of the
// handshake package, which imports this one.
func testPRF(version uint16, secret []byte, label string, seed []byte, n int) []byte {
	pHash := func(h func() hash.Hash, secret, seed []byte) []byte {
		var out []byte
		m := hmac.New(h, secret)
		m.Write(seed)
		a := m.Sum(nil)
		for len(out) < n {
			m.Reset()
			m.Write(a)
			m.Write(seed)
			out = m.Sum(out)
			m.Reset()
			m.Write(a)
			a = m.Sum(nil)
		}
		return out[:n]
	}
	ls := append([]byte(label), seed...)
	if version == 0x0303 {
		return pHash(sha256.New, secret, ls)
	}
	half := (len(secret) + 1) / 2
	out := pHash(md5.New, secret[:half], ls)
	for i, b := range pHash(sha1.New, secret[len(secret)-half:], ls) {
		out[i] ^= b
	}
	return out
}

// selfSigned returns an ECDSA P-256 certificate for a crypto/tls server.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "cbc.test"},
		DNSNames:     []string{"cbc.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// afterCCS returns the body of the first record after the first
// ChangeCipherSpec in stream (the encrypted Finished), and the server
// random when stream holds a ServerHello.
func afterCCS(t *testing.T, stream []byte) (finished, serverRandom []byte) {
	t.Helper()
	types, bodies := records(t, stream)
	for i, typ := range types {
		if typ == TypeHandshake && serverRandom == nil && len(bodies[i]) >= 38 && bodies[i][0] == 2 {
			serverRandom = bodies[i][6:38] // type(1) length(3) version(2) random(32)
		}
		if typ == TypeChangeCipherSpec && i+1 < len(types) {
			return bodies[i+1], serverRandom
		}
	}
	t.Fatal("no ChangeCipherSpec")
	return nil, nil
}

// TestCBCInteropCryptoTLS runs a crypto/tls client and server through a
// CBC handshake, takes the client's keys from its key log (and the
// ServerHello seen on the wire), then carries on the client's side of the
// connection with this package: crypto/tls's server must read what NewCBC
// seals (TLS 1.0: the implicit IV continuing from the client's Finished,
// and the 1/n−1 split) and NewCBC must open what crypto/tls seals. Go has
// no AES-CBC-SHA384 suites; those are checked against hand-built records.
func TestCBCInteropCryptoTLS(t *testing.T) {
	cert := selfSigned(t)
	for _, tc := range []struct {
		version uint16
		suite   uint16
		hash    crypto.Hash
		keyLen  int
	}{
		{tls.VersionTLS10, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, crypto.SHA1, 16},
		{tls.VersionTLS10, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, crypto.SHA1, 32},
		{tls.VersionTLS11, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, crypto.SHA1, 16},
		{tls.VersionTLS11, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, crypto.SHA1, 32},
		{tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, crypto.SHA1, 16},
		{tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, crypto.SHA1, 32},
		{tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, crypto.SHA256, 16},
	} {
		t.Run(tls.VersionName(tc.version)+"/"+tls.CipherSuiteName(tc.suite), func(t *testing.T) {
			cp, sp := net.Pipe()
			t.Cleanup(func() { cp.Close(); sp.Close() })
			cp.SetDeadline(time.Now().Add(pipeDeadline))
			sp.SetDeadline(time.Now().Add(pipeDeadline))
			tap := &tapConn{Conn: cp}
			var keyLog bytes.Buffer
			server := tls.Server(sp, &tls.Config{
				Certificates: []tls.Certificate{cert},
				MinVersion:   tc.version, MaxVersion: tc.version,
				CipherSuites:           []uint16{tc.suite},
				SessionTicketsDisabled: true,
			})
			client := tls.Client(tap, &tls.Config{
				InsecureSkipVerify: true,
				MinVersion:         tc.version, MaxVersion: tc.version,
				CipherSuites:           []uint16{tc.suite},
				SessionTicketsDisabled: true,
				KeyLogWriter:           &keyLog,
			})
			errc := make(chan error, 1)
			go func() { errc <- server.Handshake() }()
			if err := client.Handshake(); err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if st := client.ConnectionState(); st.Version != tc.version || st.CipherSuite != tc.suite {
				t.Fatalf("negotiated %x %x", st.Version, st.CipherSuite)
			}

			// Keys: CLIENT_RANDOM <client random> <master secret>.
			var clientRandom, master []byte
			sc := bufio.NewScanner(&keyLog)
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) == 3 && f[0] == "CLIENT_RANDOM" {
					clientRandom, _ = hex.DecodeString(f[1])
					master, _ = hex.DecodeString(f[2])
				}
			}
			read, written := tap.streams()
			serverFin, serverRandom := afterCCS(t, read)
			clientFin, _ := afterCCS(t, written)
			if len(master) != 48 || len(clientRandom) != 32 || len(serverRandom) != 32 {
				t.Fatalf("key log %q, server random %x", keyLog.String(), serverRandom)
			}
			macLen := tc.hash.Size()
			kb := testPRF(tc.version, master, "key expansion", append(bytes.Clone(serverRandom), clientRandom...), 2*macLen+2*tc.keyLen+32)
			cMAC, sMAC := kb[:macLen], kb[macLen:2*macLen]
			cKey, sKey := kb[2*macLen:2*macLen+tc.keyLen], kb[2*macLen+tc.keyLen:2*macLen+2*tc.keyLen]
			// TLS 1.0: each side's IV is now the last ciphertext block of
			// its Finished record (the key block's IVs were used for that).
			cIV, sIV := clientFin[len(clientFin)-16:], serverFin[len(serverFin)-16:]
			w, err := NewCBC(tc.version, tc.hash, cMAC, cKey, cIV, nil)
			if err != nil {
				t.Fatal(err)
			}
			r, err := NewCBC(tc.version, tc.hash, sMAC, sKey, sIV, nil)
			if err != nil {
				t.Fatal(err)
			}
			rc := NewConn(tap)
			rc.SetVersion(tc.version)
			rc.setCiphers(r, w)
			rc.in.setSeq(1) // the Finished messages were record 0
			rc.out.setSeq(1)

			msg := make([]byte, 40000)
			for i := range msg {
				msg[i] = byte(i * 7)
			}
			go func() {
				for _, m := range [][]byte{msg[:1], msg[:100], msg} {
					if _, err := rc.Write(m); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			for _, m := range [][]byte{msg[:1], msg[:100], msg} {
				got := make([]byte, len(m))
				if _, err := io.ReadFull(server, got); err != nil {
					t.Fatalf("crypto/tls server read: %v", err)
				}
				if !bytes.Equal(got, m) {
					t.Fatalf("crypto/tls server read other bytes (%d)", len(m))
				}
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}

			go func() {
				_, err := server.Write(msg)
				errc <- err
			}()
			var got []byte
			for len(got) < len(msg) {
				typ, p, err := rc.ReadMessage()
				if err != nil || typ != TypeApplicationData {
					t.Fatalf("ReadMessage after %d bytes: %v %v", len(got), typ, err)
				}
				got = append(got, p...)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, msg) {
				t.Fatal("read other bytes than crypto/tls sent")
			}

			// close_notify both ways ends it cleanly.
			go func() { errc <- rc.SendAlert(AlertCloseNotify) }()
			if _, err := server.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("crypto/tls server after close_notify: %v", err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		})
	}
}
