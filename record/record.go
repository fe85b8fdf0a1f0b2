// Package record implements the TLS record protocol of RFC 5246 §6 (TLS 1.2)
// for a client: framing, per-direction cipher states, sequence numbers,
// handshake-message reassembly, fragmentation and alerts.
//
// Record protection: AES-GCM (RFC 5288), ChaCha20-Poly1305 (RFC 7905), and
// AES-CBC with HMAC for TLS 1.0, 1.1 and 1.2 (RFC 2246, 4346, 5246
// §6.2.3.2), opened in constant time against Lucky13, with TLS 1.0's
// implicit IV and 1/n-1 splitting of application data (cbc.go). Left out:
// compression (always null), renegotiation, and TLS 1.3's record format.
// The plaintext cap of RFC 6066 max_fragment_length is supported through
// SetMaxFragment.
package record

import (
	"errors"
	"math"
	"net"
	"sync"
)

// ContentType is the type byte of a TLS record (RFC 5246 §6.2.1).
type ContentType uint8

const (
	TypeChangeCipherSpec ContentType = 20
	TypeAlert            ContentType = 21
	TypeHandshake        ContentType = 22
	TypeApplicationData  ContentType = 23
)

// Limits of RFC 5246 §6.2.
const (
	HeaderLen     = 5
	MaxPlaintext  = 1 << 14      // TLSPlaintext.length
	MaxCiphertext = 1<<14 + 2048 // TLSCiphertext.length
	MaxHandshake  = 1 << 16      // largest handshake message accepted (certificate chains fit)
)

// The protocol versions the record layer knows (RFC 5246 Appendix E); the
// handshake package names them for everyone else, but imports record.
const (
	versionTLS10 = 0x0301
	versionTLS11 = 0x0302
	versionTLS12 = 0x0303
)

// Cipher is the protection of one direction of a connection after
// ChangeCipherSpec. Construct one with NewAESGCM, NewChaCha20Poly1305 or
// NewCBC. A Cipher keeps scratch space for its nonce and additional data,
// so that sealing and opening allocate nothing; one value therefore serves
// exactly one direction of one connection (the half-connection's lock
// serialises its use).
type Cipher interface {
	// Overhead is the number of bytes a sealed record body adds to its
	// plaintext; for CBC, the most it can add (largest padding), which is
	// what read limits and buffer sizing need.
	Overhead() int
	// seal appends the sealed body of plaintext to dst; hdr is the 5-byte
	// record header with the plaintext length (the additional data is
	// built from seq and hdr as RFC 5246 §6.2.3.3 says).
	seal(dst []byte, seq uint64, hdr, plaintext []byte) []byte
	// open decrypts body in place and returns the plaintext; hdr is the
	// received header. Every failure is errBadRecordMAC.
	open(seq uint64, hdr, body []byte) ([]byte, error)
}

// Conn is the record layer over a transport. It has one half-connection per
// direction, each with its own lock, sequence number, cipher, and sticky first
// error, so one goroutine may read while another writes.
//
// Locking: c.in.mu guards everything about reading (the transport's read
// side, the read buffer, reassembly state); c.out.mu guards everything about
// writing (the out buffer and the transport's write side). A reader that
// fails locally sends its alert by taking c.out.mu while holding c.in.mu;
// nothing takes them in the other order, so the two cannot deadlock. Each
// lock is held across the blocking transport call of its direction, so a
// second reader (or writer) waits for the first.
type Conn struct {
	conn net.Conn // set at construction, never changed

	in  inHalf
	out outHalf
}

// halfConn is the state of one direction that changes at ChangeCipherSpec
// or on failure. Its fields are guarded by mu.
type halfConn struct {
	mu sync.Mutex

	// Fixed after ServerHello (SetVersion, SetMaxFragment).
	version uint16 // 0 until SetVersion
	maxFrag int    // plaintext cap; MaxPlaintext by default

	// Replaced at ChangeCipherSpec.
	cipher Cipher // nil: records are plaintext
	next   Cipher // prepared, becomes cipher at ChangeCipherSpec
	seq    uint64 // of the next record; reset to 0 at ChangeCipherSpec

	err error // the first error: sticky
}

// seqExhausted reports whether the sequence number has no value left. The
// last value, 2^64-1, is never used, so the counter cannot wrap (RFC 5246
// §6.1: a sequence number must not wrap; the connection renegotiates or ends).
func (h *halfConn) seqExhausted() bool { return h.seq == math.MaxUint64 }

// changeCipher makes the prepared cipher current (RFC 5246 §7.1).
func (h *halfConn) changeCipher() {
	h.cipher, h.next, h.seq = h.next, nil, 0
}

// NewConn returns the record layer over c. Records are written with
// version 0x0301 in their header until SetVersion is called (RFC 5246
// Appendix E.1), and records read are accepted with any 0x03xx version until
// then.
func NewConn(c net.Conn) *Conn {
	rc := &Conn{conn: c}
	rc.in.maxFrag = MaxPlaintext
	rc.out.maxFrag = MaxPlaintext
	return rc
}

// SetVersion fixes the record version of both directions after ServerHello:
// writes use it and reads with any other version fail with protocol_version.
func (c *Conn) SetVersion(v uint16) {
	c.in.mu.Lock()
	c.in.version = v
	c.in.mu.Unlock()
	c.out.mu.Lock()
	c.out.version = v
	c.out.mu.Unlock()
}

// PrepareRead sets the cipher that becomes the read cipher at the peer's
// next ChangeCipherSpec; the read sequence number then restarts at zero.
func (c *Conn) PrepareRead(cipher Cipher) {
	c.in.mu.Lock()
	c.in.next = cipher
	c.in.mu.Unlock()
}

// PrepareWrite sets the cipher WriteChangeCipherSpec switches to.
func (c *Conn) PrepareWrite(cipher Cipher) {
	c.out.mu.Lock()
	c.out.next = cipher
	c.out.mu.Unlock()
}

// SetMaxFragment caps the plaintext of records written and accepted (RFC
// 6066 max_fragment_length); 0 means MaxPlaintext. Values outside
// 1..MaxPlaintext also mean MaxPlaintext.
func (c *Conn) SetMaxFragment(n int) {
	if n <= 0 || n > MaxPlaintext {
		n = MaxPlaintext
	}
	c.in.mu.Lock()
	c.in.maxFrag = n
	c.in.mu.Unlock()
	c.out.mu.Lock()
	c.out.maxFrag = n
	c.out.mu.Unlock()
}

// NetConn returns the transport.
func (c *Conn) NetConn() net.Conn { return c.conn }

// isTimeout reports whether err is a transport timeout (a deadline passed).
func isTimeout(err error) bool {
	ne, ok := errors.AsType[net.Error](err)
	return ok && ne.Timeout()
}
