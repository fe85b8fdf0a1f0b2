package record

import (
	"encoding/binary"
	"errors"
	"slices"
	"sync"
)

// outHalf is the write direction: the half-connection state plus the
// records sealed but not yet flushed. Guarded by mu.
type outHalf struct {
	halfConn

	// buf holds sealed records waiting for Flush. It is taken from a
	// process-wide pool (box is its handle) when records are buffered and
	// given back after each flush, so an idle connection holds no out
	// buffer. It holds only what goes on the wire (ciphertext, or
	// handshake messages before ChangeCipherSpec), so it needs no wipe.
	buf   []byte
	box   *[]byte
	alert [2]byte // body of the alert being sent (no allocation per alert)
}

// smallOutBuf is the size of a small pooled out buffer: a handshake
// flight, an alert or a short write fits.
const smallOutBuf = 4 << 10

// The out buffer pools, by size: smallOutBuf, and keepBuf for a Write of
// writeChunkRecords records.
var (
	smallOutPool = sync.Pool{New: func() any {
		b := make([]byte, 0, smallOutBuf)
		return &b
	}}
	largeOutPool = sync.Pool{New: func() any {
		b := make([]byte, 0, keepBuf)
		return &b
	}}
)

// takeBuf makes sure buf can take need more bytes, from a pooled buffer
// when none is held.
func (o *outHalf) takeBuf(need int) {
	if o.box == nil && len(o.buf) == 0 {
		if need <= smallOutBuf {
			o.box = smallOutPool.Get().(*[]byte)
		} else {
			o.box = largeOutPool.Get().(*[]byte)
		}
		o.buf = (*o.box)[:0]
	}
	o.buf = slices.Grow(o.buf, need)
}

// releaseBuf gives the (flushed) out buffer back to its pool.
func (o *outHalf) releaseBuf() {
	if o.box != nil {
		if cap(*o.box) == smallOutBuf {
			smallOutPool.Put(o.box)
		} else {
			largeOutPool.Put(o.box)
		}
	}
	o.buf, o.box = nil, nil
}

var (
	errCloseNotifySent  = errors.New("record: write after close_notify")
	errNoPreparedWrite  = errors.New("record: ChangeCipherSpec without a prepared write cipher")
	errPlaintextAppData = errors.New("record: application data before ChangeCipherSpec")
	errWriteSeqExhaust  = errors.New("record: write sequence number exhausted")
	errBadContentType   = errors.New("record: unknown content type")
)

// ccsBody is the one ChangeCipherSpec message (RFC 5246 §7.1).
var ccsBody = []byte{1}

// writeChunkRecords is how much application data Write seals before
// flushing, in records: it bounds the out buffer on a device however large
// the Write.
const writeChunkRecords = 4

// keepBuf is the size of a large pooled out buffer: a Write's chunk of
// records, plus one for TLS 1.0's 1/n-1 split.
const keepBuf = (writeChunkRecords + 1) * (HeaderLen + MaxCiphertext)

// writeError is a failure of the transport's write side. It is sticky, so it
// reports Timeout() false even when a deadline caused it: a write that timed
// out may have sent part of a record and the stream cannot be resumed.
type writeError struct{ err error }

func (e *writeError) Error() string   { return "record: write: " + e.err.Error() }
func (e *writeError) Unwrap() error   { return e.err }
func (e *writeError) Timeout() bool   { return false }
func (e *writeError) Temporary() bool { return false }

// WriteChangeCipherSpec buffers a ChangeCipherSpec record and switches the
// write side to the prepared cipher (sequence number back to zero).
func (c *Conn) WriteChangeCipherSpec() error {
	o := &c.out
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return o.err
	}
	if o.next == nil {
		return errNoPreparedWrite
	}
	if err := c.writeRecordsLocked(TypeChangeCipherSpec, ccsBody); err != nil {
		return err
	}
	o.changeCipher()
	return nil
}

// WriteRecords buffers data as records of type typ, fragmented at
// MaxPlaintext (or the limit set by SetMaxFragment) and sealed with the
// current write cipher. Nothing reaches the transport until Flush. Sequence
// numbers refuse to wrap. Empty data writes no record (RFC 5246 §6.2.1
// forbids empty handshake, alert and ChangeCipherSpec fragments).
func (c *Conn) WriteRecords(typ ContentType, data []byte) error {
	c.out.mu.Lock()
	defer c.out.mu.Unlock()
	if typ == TypeApplicationData {
		var err error
		if data, err = c.splitAppData(data); err != nil { // TLS 1.0 CBC: 1/n-1
			return err
		}
	}
	return c.writeRecordsLocked(typ, data)
}

func (c *Conn) writeRecordsLocked(typ ContentType, data []byte) error {
	o := &c.out
	if o.err != nil {
		return o.err
	}
	switch typ {
	case TypeChangeCipherSpec, TypeAlert, TypeHandshake:
	case TypeApplicationData:
		if o.cipher == nil {
			return errPlaintextAppData
		}
	default:
		return errBadContentType
	}
	overhead := 0
	if o.cipher != nil {
		overhead = o.cipher.Overhead()
	}
	vers := o.version
	if vers == 0 {
		vers = versionTLS10 // RFC 5246 Appendix E.1: the ClientHello record
	}
	nrec := (len(data) + o.maxFrag - 1) / o.maxFrag
	o.takeBuf(len(data) + nrec*(HeaderLen+overhead))
	for len(data) > 0 {
		if o.seqExhausted() {
			o.err = errWriteSeqExhaust
			return o.err
		}
		frag := data[:min(len(data), o.maxFrag)]
		data = data[len(frag):]
		start := len(o.buf)
		o.buf = append(o.buf, byte(typ))
		o.buf = binary.BigEndian.AppendUint16(o.buf, vers)
		o.buf = binary.BigEndian.AppendUint16(o.buf, uint16(len(frag)))
		if o.cipher != nil {
			// The header carries the plaintext length while sealing (it is
			// part of the additional data), then the body's length.
			o.buf = o.cipher.seal(o.buf, o.seq, o.buf[start:start+HeaderLen], frag)
			binary.BigEndian.PutUint16(o.buf[start+3:], uint16(len(o.buf)-start-HeaderLen))
		} else {
			o.buf = append(o.buf, frag...)
		}
		o.seq++
	}
	return nil
}

// Write seals data as application-data records and sends them at once
// (WriteRecords + Flush under one lock). It returns the bytes of data sent.
// Data larger than a few records is sent in several transport writes, so the
// out buffer stays small; n counts the data whose records were all written.
func (c *Conn) Write(data []byte) (int, error) {
	o := &c.out
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return 0, o.err
	}
	if o.cipher == nil {
		return 0, errPlaintextAppData
	}
	chunk := writeChunkRecords * o.maxFrag
	n := 0
	for n < len(data) {
		m := min(chunk, len(data)-n)
		p := data[n : n+m]
		if n == 0 {
			var err error
			if p, err = c.splitAppData(p); err != nil { // TLS 1.0 CBC: 1/n-1
				return n, err
			}
		}
		if err := c.writeRecordsLocked(TypeApplicationData, p); err != nil {
			return n, err
		}
		if err := c.flushLocked(); err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}

// Flush sends everything buffered by WriteRecords / WriteChangeCipherSpec in
// as few transport writes as possible (one flight, one write).
func (c *Conn) Flush() error {
	c.out.mu.Lock()
	defer c.out.mu.Unlock()
	return c.flushLocked()
}

func (c *Conn) flushLocked() error {
	o := &c.out
	if o.err != nil {
		return o.err
	}
	if len(o.buf) == 0 {
		return nil
	}
	_, err := c.conn.Write(o.buf)
	o.releaseBuf()
	if err != nil {
		o.err = &writeError{err}
		return o.err
	}
	return nil
}

// SendAlert writes a fatal alert (warning for close_notify and
// no_renegotiation) and flushes it. After a fatal alert the write side fails
// every later write with the sticky error; after close_notify every later
// write fails too.
func (c *Conn) SendAlert(a Alert) error {
	o := &c.out
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return o.err
	}
	level := byte(alertLevelFatal)
	if a == AlertCloseNotify || a == AlertNoRenegotiation {
		level = alertLevelWarning
	}
	o.alert = [2]byte{level, byte(a)}
	if err := c.writeRecordsLocked(TypeAlert, o.alert[:]); err != nil {
		return err
	}
	if err := c.flushLocked(); err != nil {
		return err
	}
	switch {
	case level == alertLevelFatal:
		o.err = &AlertError{Alert: a}
	case a == AlertCloseNotify:
		o.err = errCloseNotifySent
	}
	return nil
}
