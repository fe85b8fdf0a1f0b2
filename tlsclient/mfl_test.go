package tlsclient_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/record"
	. "github.com/tlsoffload/tlsoffload/tlsclient"
)

// recordRelay is a TCP relay between a client and a server that parses
// every record header going either way and keeps the record lengths, so a
// test can check on the wire what max_fragment_length promised.
type recordRelay struct {
	addr string

	mu      sync.Mutex
	lengths [2][]int // [0] client to server, [1] server to client
	errs    []error
}

func newRecordRelay(t *testing.T, target string) *recordRelay {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recordRelay{addr: l.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			wg.Add(2)
			go func() { defer wg.Done(); r.pump(0, s, c) }()
			go func() { defer wg.Done(); r.pump(1, c, s) }()
		}
	}()
	return r
}

// pump copies src to dst, parsing records as they pass.
func (r *recordRelay) pump(dir int, dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	var pending []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			pending = append(pending, buf[:n]...)
			for len(pending) >= 5 {
				l := int(pending[3])<<8 | int(pending[4])
				if len(pending) < 5+l {
					break
				}
				r.mu.Lock()
				r.lengths[dir] = append(r.lengths[dir], l)
				r.mu.Unlock()
				pending = pending[5+l:]
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if len(pending) > 0 && err == io.EOF {
				r.mu.Lock()
				r.errs = append(r.errs, fmt.Errorf("direction %d: %d bytes of a partial record at EOF", dir, len(pending)))
				r.mu.Unlock()
			}
			return
		}
	}
}

// largest returns the largest record length each way, leaving out the
// ClientHello (sent before anything is negotiated), and the counts.
func (r *recordRelay) largest() (c2s, s2c, nc2s, ns2c int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, l := range r.lengths[0] {
		if i > 0 {
			c2s = max(c2s, l)
		}
	}
	for _, l := range r.lengths[1] {
		s2c = max(s2c, l)
	}
	return c2s, s2c, len(r.lengths[0]), len(r.lengths[1])
}

// aeadOverhead is the largest record expansion of the suites offered:
// AES-GCM's 8-byte explicit nonce and 16-byte tag.
const aeadOverhead = 24

// TestMaxFragmentLengthOpenSSL: with MaxFragmentLength 512 a handshake and
// a 1 MiB transfer each way against OpenSSL s_server (-rev echoes every
// line reversed) put no record above 512 bytes of plaintext on the wire,
// in either direction. The control run without the extension does see
// larger records, so the check can fail.
func TestMaxFragmentLengthOpenSSL(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mfl     int
		limited bool
		resume  bool
	}{
		{"512", 512, true, false},
		{"512 resumed", 512, true, true},
		{"control", 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := startOpenSSLServer(t, "", "-rev")
			relay := newRecordRelay(t, addr)
			cfg, _ := getRealEnv(t).config(t)
			cfg.Trace = nil
			cfg.MaxFragmentLength = tc.mfl
			// An AEAD suite, so the overhead on the wire is aeadOverhead.
			cfg.CipherSuites = []uint16{handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}
			cfg.RequireMaxFragmentLength = tc.mfl != 0
			if tc.resume {
				// A full handshake straight to the server, then the
				// resumed one through the relay: the length holds for the
				// session (RFC 6066 §4).
				cfg.SessionCache = NewLRUSessionCache(1)
				c := dialClient(t, addr, cfg)
				if err := c.Handshake(); err != nil {
					t.Fatal(err)
				}
				c.Close()
			}
			c := dialClient(t, relay.addr, cfg)
			c.SetDeadline(time.Now().Add(30 * time.Second))
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			if c.ConnectionState().DidResume != tc.resume {
				t.Fatalf("DidResume = %v", c.ConnectionState().DidResume)
			}
			transferReversed(t, c, 1<<20)
			c.Close()

			c2s, s2c, n1, n2 := relay.largest()
			t.Logf("largest record: client→server %d (%d records), server→client %d (%d records)", c2s, n1, s2c, n2)
			limit := 512 + aeadOverhead
			if tc.limited {
				if c2s > limit || s2c > limit {
					t.Errorf("a record above %d bytes on the wire: client→server %d, server→client %d", limit, c2s, s2c)
				}
				if n1 < (1<<20)/512 || n2 < (1<<20)/512 {
					t.Errorf("too few records (%d, %d) for 1 MiB each way", n1, n2)
				}
			} else if c2s <= limit || s2c <= limit {
				t.Errorf("control run saw no record above %d (client→server %d, server→client %d): the check cannot fail", limit, c2s, s2c)
			}
			relay.mu.Lock()
			defer relay.mu.Unlock()
			for _, err := range relay.errs {
				t.Error(err)
			}
		})
	}
}

// transferReversed writes n bytes of lines to s_server -rev and checks each
// line comes back reversed.
func transferReversed(t *testing.T, c *Conn, n int) {
	t.Helper()
	const lineLen = 1024 // 1023 characters and the newline
	var out bytes.Buffer
	for i := 0; out.Len() < n; i++ {
		line := fmt.Sprintf("%07d:", i) + strings.Repeat(string(rune('a'+i%26)), lineLen-9-8) + fmt.Sprintf(":%07d", i)
		out.WriteString(line + "\n")
	}
	sent := out.Bytes()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(sent)
		errc <- err
	}()
	br := bufio.NewReaderSize(c, 4096)
	for i, rest := 0, sent; len(rest) > 0; i++ {
		k := bytes.IndexByte(rest, '\n')
		want := rest[:k]
		rest = rest[k+1:]
		got, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		got = strings.TrimRight(got, "\r\n")
		if !isReverse(got, string(want)) {
			t.Fatalf("line %d came back as %.40q...", i, got)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func isReverse(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		if a[i] != b[len(b)-1-i] {
			return false
		}
	}
	return true
}

// TestMaxFragmentLengthIgnored: crypto/tls ignores the extension, so the
// handshake goes on with 2^14-byte records, unless the Config requires it.
func TestMaxFragmentLengthIgnored(t *testing.T) {
	e := getRealEnv(t)
	serverErr := make(chan error, 2)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				tc := tls.Server(c, tlsServerConfig(e.ecdsa))
				err := tc.Handshake()
				serverErr <- err
				if err == nil {
					echo(tc)
				}
			}()
		}
	}()

	cfg, _ := e.config(t)
	cfg.MaxFragmentLength = 1024
	c := dialClient(t, l.Addr().String(), cfg)
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	echoBothWays(t, c) // 16 000-byte records both ways: accepted
	if err := <-serverErr; err != nil {
		t.Fatal(err)
	}

	cfg.RequireMaxFragmentLength = true
	c = dialClient(t, l.Addr().String(), cfg)
	err = c.Handshake()
	var me *MaxFragmentLengthError
	if !errors.As(err, &me) || me.Length != 1024 {
		t.Fatalf("err = %v, want *MaxFragmentLengthError for 1024", err)
	}
	if !errors.Is(err, record.AlertHandshakeFailure) {
		t.Errorf("err %v does not carry handshake_failure", err)
	}
	if serr := <-serverErr; serr == nil || !strings.Contains(serr.Error(), "handshake failure") {
		t.Errorf("server saw %v, want the handshake_failure alert", serr)
	}
}
