package tlsclient

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/record"
)

// recordingConn keeps a copy of every byte read through it.
type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	got bytes.Buffer
}

func (r *recordingConn) Read(b []byte) (int, error) {
	n, err := r.Conn.Read(b)
	r.mu.Lock()
	r.got.Write(b[:n])
	r.mu.Unlock()
	return n, err
}

// Bytes returns a copy of what was read so far.
func (r *recordingConn) Bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.got.Bytes())
}

// captureCryptoTLSFlight records what a crypto/tls server sends our client
// (its first flight, then its alert at our dummy ClientKeyExchange).
func captureCryptoTLSFlight(t testing.TB) []byte {
	scfg := goTLSServerConfig(t)
	cc, sc := net.Pipe()
	go func() {
		defer sc.Close()
		sc.SetDeadline(time.Now().Add(5 * time.Second))
		tls.Server(sc, scfg).Handshake()
	}()
	rc := &recordingConn{Conn: cc}
	c := Client(rc, &Config{Offloader: &scriptOffloader{}, ServerName: testServerName})
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Handshake()
	cc.Close()
	return rc.Bytes()
}

func rec(typ record.ContentType, body []byte) []byte {
	return append([]byte{byte(typ), 3, 3, byte(len(body) >> 8), byte(len(body))}, body...)
}

// FuzzServerFlight feeds arbitrary bytes as everything the server sends:
// the handshake must end with an error, never a panic nor a hang.
func FuzzServerFlight(f *testing.F) {
	f.Add(captureCryptoTLSFlight(f))
	p := &scriptPeer{}
	sh := p.defaultServerHello()
	sh.TicketSupported = true
	var good []byte
	good = append(good, rec(record.TypeHandshake, sh.Marshal())...)
	for _, m := range serverFlight() {
		good = append(good, rec(record.TypeHandshake, m)...)
	}
	f.Add(good)
	ticket := (&handshake.NewSessionTicket{LifetimeHint: 1, Ticket: []byte{1, 2}}).Marshal()
	f.Add(append(append(append([]byte(nil), good...), rec(record.TypeHandshake, ticket)...),
		rec(record.TypeChangeCipherSpec, []byte{1})...))
	// A server that echoed status_request and staples (RFC 6066 §8), and
	// one that staples unasked.
	shStatus := p.defaultServerHello()
	shStatus.OCSPStapling = true
	fl := serverFlight()
	staple := (&handshake.CertificateStatus{OCSPResponse: []byte{0x30, 0x03, 0x0a, 0x01, 0x00}}).Marshal()
	for _, sh := range []*handshake.ServerHello{shStatus, p.defaultServerHello()} {
		var b []byte
		for _, m := range [][]byte{sh.Marshal(), fl[0], staple, fl[1], fl[2]} {
			b = append(b, rec(record.TypeHandshake, m)...)
		}
		f.Add(b)
	}
	f.Add(rec(record.TypeAlert, []byte{2, 40}))
	f.Add(rec(record.TypeHandshake, (&handshake.HelloRequest{}).Marshal()))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, server []byte) {
		cc, sc := net.Pipe()
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); io.Copy(io.Discard, sc) }()
		go func() {
			defer wg.Done()
			sc.Write(server)
			sc.Close()
		}()
		cfg := &Config{Offloader: &scriptOffloader{}, ServerName: testServerName,
			Rand: bytes.NewReader(bytes.Repeat([]byte{0x11}, 1024))}
		c := Client(cc, cfg)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		done := make(chan error, 1)
		go func() { done <- c.Handshake() }()
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("handshake succeeded against arbitrary bytes")
			}
		case <-time.After(20 * time.Second):
			t.Fatal("handshake did not return")
		}
		c.Close()
		wg.Wait()
	})
}
