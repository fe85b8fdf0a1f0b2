package record

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// memConn is a net.Conn that reads a fixed byte string (at most chunk bytes
// per Read when chunk > 0) and records what is written to it.
type memConn struct {
	mu       sync.Mutex
	in       []byte
	chunk    int
	readErr  error // returned once in is used up; io.EOF when nil
	out      bytes.Buffer
	writes   int
	writeErr error // every Write fails with it when set
}

func newMemConn(in []byte) *memConn { return &memConn{in: in} }

func (m *memConn) Read(b []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.in) == 0 {
		if m.readErr != nil {
			return 0, m.readErr
		}
		return 0, io.EOF
	}
	if m.chunk > 0 && len(b) > m.chunk {
		b = b[:m.chunk]
	}
	n := copy(b, m.in)
	m.in = m.in[n:]
	return n, nil
}

func (m *memConn) Write(b []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	if m.writeErr != nil {
		return 0, m.writeErr
	}
	return m.out.Write(b)
}

func (m *memConn) written() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Clone(m.out.Bytes())
}

func (m *memConn) Close() error                     { return nil }
func (m *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (m *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

// loopConn is a net.Conn whose reads return what was written to it, for
// benchmarks that run a writer and a reader in one goroutine.
type loopConn struct {
	memConn
	buf bytes.Buffer
}

func (l *loopConn) Read(b []byte) (int, error)  { return l.buf.Read(b) }
func (l *loopConn) Write(b []byte) (int, error) { return l.buf.Write(b) }

// suite is one AEAD construction under test.
type suite struct {
	name          string
	newCipher     func(key, iv []byte) (Cipher, error)
	keyLen, ivLen int
}

var suites = []suite{
	{"AES-128-GCM", NewAESGCM, 16, 4},
	{"AES-256-GCM", NewAESGCM, 32, 4},
	{"ChaCha20-Poly1305", NewChaCha20Poly1305, 32, 12},
}

// keys returns a deterministic key and IV for seed; different seeds give
// different keys.
func (s suite) keys(seed byte) (key, iv []byte) {
	key = make([]byte, s.keyLen)
	for i := range key {
		key[i] = seed*31 + byte(i)
	}
	iv = make([]byte, s.ivLen)
	for i := range iv {
		iv[i] = seed*17 + 0x80 + byte(i)
	}
	return key, iv
}

func (s suite) cipher(t testing.TB, seed byte) Cipher {
	t.Helper()
	key, iv := s.keys(seed)
	c, err := s.newCipher(key, iv)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// setSeq sets a direction's next sequence number (tests only).
func (h *halfConn) setSeq(seq uint64) {
	h.mu.Lock()
	h.seq = seq
	h.mu.Unlock()
}

func (h *halfConn) getSeq() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seq
}

// setCiphers installs current ciphers directly, as if ChangeCipherSpec had
// happened both ways (tests only); nil leaves a direction unchanged.
func (c *Conn) setCiphers(read, write Cipher) {
	if read != nil {
		c.in.mu.Lock()
		c.in.cipher, c.in.seq = read, 0
		c.in.mu.Unlock()
	}
	if write != nil {
		c.out.mu.Lock()
		c.out.cipher, c.out.seq = write, 0
		c.out.mu.Unlock()
	}
}

// rec builds a plaintext record.
func rec(typ ContentType, vers uint16, body []byte) []byte {
	b := []byte{byte(typ), byte(vers >> 8), byte(vers), byte(len(body) >> 8), byte(len(body))}
	return append(b, body...)
}

// hsMsg builds a handshake message of type typ with a body of n bytes.
func hsMsg(typ byte, n int) []byte {
	m := []byte{typ, byte(n >> 16), byte(n >> 8), byte(n)}
	for i := 0; i < n; i++ {
		m = append(m, byte(i*7+int(typ)))
	}
	return m
}

// sealed returns the bytes a writer Conn produces with write cipher w (nil:
// plaintext) at version 0x0303 when f drives it.
func sealed(t testing.TB, w Cipher, f func(c *Conn) error) []byte {
	t.Helper()
	mc := newMemConn(nil)
	c := NewConn(mc)
	c.SetVersion(0x0303)
	c.setCiphers(nil, w)
	if err := f(c); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	return mc.written()
}

// reader returns a Conn reading in at version 0x0303 (unless vers is 0)
// with read cipher r and write cipher w (either may be nil), and the
// memConn that records what it sends.
func reader(in []byte, vers uint16, r, w Cipher) (*Conn, *memConn) {
	mc := newMemConn(in)
	c := NewConn(mc)
	if vers != 0 {
		c.SetVersion(vers)
	}
	c.setCiphers(r, w)
	return c, mc
}

// wantLocalAlert checks that err is the local alert a and that the Conn sent
// exactly that fatal alert in the clear (the reader has no write cipher).
func wantLocalAlert(t *testing.T, err error, a Alert, mc *memConn) {
	t.Helper()
	var ae *AlertError
	if !errors.As(err, &ae) || ae.Alert != a || ae.Remote || ae.Warning {
		t.Fatalf("err = %v, want local alert %v", err, a)
	}
	if !errors.Is(err, a) {
		t.Fatalf("errors.Is(%v, %v) = false", err, a)
	}
	if mc == nil {
		return
	}
	sent := mc.written()
	if len(sent) != HeaderLen+2 || sent[0] != byte(TypeAlert) || sent[5] != 2 || sent[6] != byte(a) {
		t.Fatalf("sent %x, want one fatal %v alert record", sent, a)
	}
}

// pipePair returns two Conns over net.Pipe that switched to suite s's
// ciphers through a real ChangeCipherSpec exchange: a writes with key seed 1
// and b with seed 2.
func pipePair(t *testing.T, s suite) (a, b *Conn) {
	t.Helper()
	p1, p2 := net.Pipe()
	t.Cleanup(func() { p1.Close(); p2.Close() })
	a, b = NewConn(p1), NewConn(p2)
	a.SetVersion(0x0303)
	b.SetVersion(0x0303)
	a.PrepareWrite(s.cipher(t, 1))
	b.PrepareRead(s.cipher(t, 1))
	b.PrepareWrite(s.cipher(t, 2))
	a.PrepareRead(s.cipher(t, 2))
	for _, dir := range [][2]*Conn{{a, b}, {b, a}} {
		w, r := dir[0], dir[1]
		errc := make(chan error, 1)
		go func() {
			if err := w.WriteChangeCipherSpec(); err != nil {
				errc <- err
				return
			}
			errc <- w.Flush()
		}()
		typ, body, err := r.ReadMessage()
		if err != nil || typ != TypeChangeCipherSpec || !bytes.Equal(body, []byte{1}) {
			t.Fatalf("ReadMessage = %v %x %v, want ChangeCipherSpec", typ, body, err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	return a, b
}
