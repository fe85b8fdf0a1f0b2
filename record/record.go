// Package record implements the TLS record protocol of RFC 5246 §6 (TLS 1.2)
// for a client: framing, per-direction cipher states, sequence numbers,
// handshake-message reassembly, fragmentation and alerts.
//
// CONTRACT: the exported API in this file is relied on by tlsclient and the
// offloader; implementations may change, signatures may not without updating
// every caller.
package record

import (
	"net"
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

// Cipher is the protection of one direction of a connection after
// ChangeCipherSpec. Construct one with NewAESGCM or NewChaCha20Poly1305.
type Cipher interface {
	// Overhead is the number of bytes a sealed record body adds to its plaintext.
	Overhead() int
	// seal appends the sealed body of plaintext to dst; hdr is the 5-byte
	// record header with the plaintext length (the additional data is
	// built from seq and hdr as RFC 5246 §6.2.3.3 says).
	seal(dst []byte, seq uint64, hdr, plaintext []byte) []byte
	// open decrypts body in place and returns the plaintext; hdr is the
	// received header. Every failure is errBadRecordMAC.
	open(seq uint64, hdr, body []byte) ([]byte, error)
}

// NewAESGCM returns the AES-GCM cipher of RFC 5288: key is 16 or 32 bytes,
// fixedIV is the 4-byte salt from the key block, and the 8-byte explicit
// nonce sent in each record is the sequence number.
func NewAESGCM(key, fixedIV []byte) (Cipher, error) { panic("TODO") }

// NewChaCha20Poly1305 returns the ChaCha20-Poly1305 cipher of RFC 7905: key
// is 32 bytes, iv is the 12-byte IV from the key block XORed with the
// sequence number; there is no explicit nonce.
func NewChaCha20Poly1305(key, iv []byte) (Cipher, error) { panic("TODO") }

// Conn is the record layer over a transport. It has one half-connection per
// direction, each with its own lock, sequence number, cipher, and sticky first
// error, so one goroutine may read while another writes.
type Conn struct {
	// TODO: fields
}

// NewConn returns the record layer over c. Records are written with
// version 0x0301 in their header until SetVersion is called (RFC 5246
// Appendix E.1), and records read are accepted with any 0x03xx version until
// then.
func NewConn(c net.Conn) *Conn { panic("TODO") }

// SetVersion fixes the record version of both directions after ServerHello:
// writes use it and reads with any other version fail with protocol_version.
func (c *Conn) SetVersion(v uint16) { panic("TODO") }

// ReadMessage returns the next unit the peer sent:
//   - TypeHandshake: exactly one complete handshake message, header included,
//     reassembled across records (several messages in one record are returned
//     one per call); a message longer than MaxHandshake fails with an alert.
//   - TypeChangeCipherSpec: the 1-byte body; the read cipher prepared with
//     PrepareRead takes effect for the next record. A CCS with nothing
//     prepared, a CCS body other than {1}, or a CCS inside a partial
//     handshake message fails with unexpected_message.
//   - TypeApplicationData: the plaintext of one record (may be empty).
//
// Alerts are consumed here: close_notify returns io.EOF; a fatal alert
// returns *AlertError with Remote set; warning alerts other than
// close_notify and no_renegotiation are ignored (no_renegotiation is
// returned as *AlertError with Warning set). The returned slice is valid
// until the next call. The first error is sticky: every later call returns
// it. A local failure sends the matching alert to the peer before returning
// *AlertError with Remote false.
func (c *Conn) ReadMessage() (ContentType, []byte, error) { panic("TODO") }

// PrepareRead sets the cipher that becomes the read cipher at the peer's
// next ChangeCipherSpec; the read sequence number then restarts at zero.
func (c *Conn) PrepareRead(cipher Cipher) { panic("TODO") }

// PrepareWrite sets the cipher WriteChangeCipherSpec switches to.
func (c *Conn) PrepareWrite(cipher Cipher) { panic("TODO") }

// WriteChangeCipherSpec buffers a ChangeCipherSpec record and switches the
// write side to the prepared cipher (sequence number back to zero).
func (c *Conn) WriteChangeCipherSpec() error { panic("TODO") }

// WriteRecords buffers data as records of type typ, fragmented at
// MaxPlaintext (or the limit set by SetMaxFragment) and sealed with the
// current write cipher. Nothing reaches the transport until Flush. Sequence
// numbers refuse to wrap.
func (c *Conn) WriteRecords(typ ContentType, data []byte) error { panic("TODO") }

// Write seals data as application-data records and sends them at once
// (WriteRecords + Flush under one lock). It returns the bytes of data sent.
func (c *Conn) Write(data []byte) (int, error) { panic("TODO") }

// Flush sends everything buffered by WriteRecords / WriteChangeCipherSpec in
// as few transport writes as possible (one flight, one write).
func (c *Conn) Flush() error { panic("TODO") }

// SendAlert writes a fatal alert (warning for close_notify and
// no_renegotiation) and flushes it. After a fatal alert the write side fails
// every later write with the sticky error.
func (c *Conn) SendAlert(a Alert) error { panic("TODO") }

// SetMaxFragment caps the plaintext of records written and accepted (RFC
// 6066 max_fragment_length); 0 means MaxPlaintext.
func (c *Conn) SetMaxFragment(n int) { panic("TODO") }

// NetConn returns the transport.
func (c *Conn) NetConn() net.Conn { panic("TODO") }
