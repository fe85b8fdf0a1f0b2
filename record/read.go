package record

import (
	"encoding/binary"
	"io"
	"slices"
	"sync"
)

// inHalf is the read direction: the half-connection state, the transport
// bytes read but not yet consumed, and handshake reassembly. Guarded by mu.
type inHalf struct {
	halfConn

	// raw[r:w] holds transport bytes not yet consumed. Without
	// max_fragment_length it is a buffer of the largest record taken from
	// a process-wide pool (readBufPool, box is its pool handle) and given
	// back, wiped, by ReleaseBuffers once nothing is pending, so an idle
	// connection holds no read buffer. Under max_fragment_length it is
	// the connection's own: it starts small (initialReadBuf) and grows only
	// when a record needs it, to the largest record the current limits
	// allow, so a connection that negotiated 512 never holds a 16 KiB
	// buffer. Records are decrypted in place inside it. A timeout leaves a
	// partly read record here, so a later call resumes.
	raw  []byte
	box  *[]byte // raw's pool handle; nil when raw is the connection's own
	r, w int
	hw   int  // high-water mark of w since raw was taken: what a wipe clears
	own  bool // GrowReadBuffer: never take a pooled buffer

	// Handshake reassembly (RFC 5246 §6.2.1: messages may be split across
	// records and several may share one).
	pending []byte // handshake bytes of the current record not yet returned (aliases raw)
	hs      []byte // a message being reassembled across records
	hsDone  bool   // hs was returned; reset it at the next call

	useless int // consecutive records that carried nothing; see maxUselessRecords
}

// maxUselessRecords bounds a run of records that carry nothing (empty
// application data, ignored warning alerts) so a peer cannot keep a reader
// busy forever.
const maxUselessRecords = 16

// keepHandshakeBuf is the largest reassembly buffer kept after a message: a
// certificate chain of 64 KiB is not held for the connection's lifetime.
const keepHandshakeBuf = 4 + MaxPlaintext

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
//
// Two errors are not sticky: the no_renegotiation warning, and a transport
// timeout (a net.Error whose Timeout() is true), after which a call with a
// later deadline resumes where the reading stopped. A transport EOF at a
// record boundary returns io.EOF, inside a record io.ErrUnexpectedEOF.
func (c *Conn) ReadMessage() (ContentType, []byte, error) {
	in := &c.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.err != nil {
		return 0, nil, in.err
	}
	typ, msg, err := c.readMessageLocked()
	if err == nil {
		return typ, msg, nil
	}
	if a, ok := err.(Alert); ok {
		// A local failure: tell the peer (best effort; the write side may
		// already be dead), then fail every later read the same way.
		_ = c.SendAlert(a)
		err = &AlertError{Alert: a}
	} else if ae, ok := err.(*AlertError); ok && ae.Warning {
		return 0, nil, err
	} else if isTimeout(err) {
		return 0, nil, err
	}
	in.err = err
	return 0, nil, err
}

// readMessageLocked returns the next message, or an error: an Alert value
// for a local failure, *AlertError for one the peer sent, io.EOF for
// close_notify, or the transport's error.
func (c *Conn) readMessageLocked() (ContentType, []byte, error) {
	in := &c.in
	if in.hsDone {
		in.hsDone = false
		if cap(in.hs) > keepHandshakeBuf {
			in.hs = nil
		} else {
			in.hs = in.hs[:0]
		}
	}
	for {
		if len(in.pending) > 0 {
			msg, err := in.nextHandshake()
			if err != nil || msg != nil {
				return TypeHandshake, msg, err
			}
		}
		typ, data, err := c.readRecord()
		if err != nil {
			return 0, nil, err
		}
		if len(in.hs) > 0 && typ != TypeHandshake {
			// RFC 5246 §7.1: handshake messages must not straddle a
			// ChangeCipherSpec, nor be interleaved with other content.
			return 0, nil, AlertUnexpectedMessage
		}
		switch typ {
		case TypeHandshake:
			if len(data) == 0 { // RFC 5246 §6.2.1
				return 0, nil, AlertUnexpectedMessage
			}
			in.useless = 0
			in.pending = data
		case TypeChangeCipherSpec:
			if len(data) != 1 || data[0] != 1 || in.next == nil {
				return 0, nil, AlertUnexpectedMessage
			}
			in.useless = 0
			in.changeCipher()
			return TypeChangeCipherSpec, data, nil
		case TypeAlert:
			if len(data) != 2 {
				return 0, nil, AlertDecodeError
			}
			level, desc := data[0], Alert(data[1])
			if desc == AlertCloseNotify {
				return 0, nil, io.EOF
			}
			switch level {
			case alertLevelFatal:
				return 0, nil, &AlertError{Alert: desc, Remote: true}
			case alertLevelWarning:
				in.useless++
				if in.useless > maxUselessRecords {
					return 0, nil, AlertUnexpectedMessage
				}
				if desc == AlertNoRenegotiation {
					return 0, nil, &AlertError{Alert: desc, Remote: true, Warning: true}
				}
			default:
				return 0, nil, AlertIllegalParameter
			}
		case TypeApplicationData:
			if in.cipher == nil {
				// Application data is never sent in the clear: before the
				// peer's ChangeCipherSpec it is out of place.
				return 0, nil, AlertUnexpectedMessage
			}
			if len(data) == 0 {
				in.useless++
				if in.useless > maxUselessRecords {
					return 0, nil, AlertUnexpectedMessage
				}
			} else {
				in.useless = 0
			}
			return TypeApplicationData, data, nil
		}
	}
}

// nextHandshake takes handshake bytes from in.pending. It returns a complete
// message, or nil when pending is used up and the message needs more
// records. Every message's length is checked against MaxHandshake before
// any byte of its body is buffered.
func (in *inHalf) nextHandshake() ([]byte, error) {
	const hdrLen = 4 // msg_type(1) || length(3), RFC 5246 §7.4
	p := in.pending
	if len(in.hs) == 0 && len(p) >= hdrLen {
		n := int(p[1])<<16 | int(p[2])<<8 | int(p[3])
		if n > MaxHandshake {
			return nil, AlertDecodeError
		}
		if len(p) >= hdrLen+n {
			// The common case: the whole message is in this record.
			in.pending = p[hdrLen+n:]
			return p[: hdrLen+n : hdrLen+n], nil
		}
	}
	if len(in.hs) < hdrLen {
		k := min(hdrLen-len(in.hs), len(p))
		in.hs = append(in.hs, p[:k]...)
		p = p[k:]
		if len(in.hs) < hdrLen {
			in.pending = nil
			return nil, nil
		}
	}
	n := int(in.hs[1])<<16 | int(in.hs[2])<<8 | int(in.hs[3])
	if n > MaxHandshake {
		return nil, AlertDecodeError
	}
	in.hs = slices.Grow(in.hs, hdrLen+n-len(in.hs))
	k := min(hdrLen+n-len(in.hs), len(p))
	in.hs = append(in.hs, p[:k]...)
	in.pending = p[k:]
	if len(in.hs) < hdrLen+n {
		return nil, nil
	}
	in.hsDone = true
	return in.hs, nil
}

// readRecord reads one record and returns its type and plaintext, which
// aliases the read buffer. Every limit of the header is checked before the
// body is read.
func (c *Conn) readRecord() (ContentType, []byte, error) {
	in := &c.in
	if err := c.fill(HeaderLen); err != nil {
		return 0, nil, err
	}
	hdr := in.raw[in.r : in.r+HeaderLen]
	typ := ContentType(hdr[0])
	switch typ {
	case TypeChangeCipherSpec, TypeAlert, TypeHandshake, TypeApplicationData:
	default:
		return 0, nil, AlertUnexpectedMessage
	}
	vers := binary.BigEndian.Uint16(hdr[1:])
	if in.version != 0 && vers != in.version || in.version == 0 && vers>>8 != 3 {
		return 0, nil, AlertProtocolVersion
	}
	n := int(binary.BigEndian.Uint16(hdr[3:]))
	limit := in.maxFrag
	if in.cipher != nil {
		limit += in.cipher.Overhead()
	}
	if n > MaxCiphertext || n > limit {
		return 0, nil, AlertRecordOverflow
	}
	if err := c.fill(HeaderLen + n); err != nil {
		return 0, nil, err
	}
	hdr = in.raw[in.r : in.r+HeaderLen] // fill may have moved the bytes
	body := in.raw[in.r+HeaderLen : in.r+HeaderLen+n]
	in.r += HeaderLen + n
	if in.seqExhausted() {
		return 0, nil, AlertInternalError
	}
	seq := in.seq
	in.seq++
	if in.cipher == nil {
		return typ, body, nil
	}
	pt, err := in.cipher.open(seq, hdr, body)
	if err != nil {
		return 0, nil, AlertBadRecordMAC
	}
	if len(pt) > in.maxFrag {
		return 0, nil, AlertRecordOverflow
	}
	return typ, pt, nil
}

// initialReadBuf is the first size of a max_fragment_length connection's
// own read buffer: enough for a record of a max_fragment_length 512
// connection (RFC 6066 §4) with any AEAD overhead.
const initialReadBuf = 1024

// readBufSize holds any record the protocol allows, header included.
const readBufSize = HeaderLen + MaxCiphertext

// readBufPool holds read buffers of readBufSize that no connection is
// using. A buffer is wiped before it goes back, so no plaintext of one
// connection is ever in reach of another.
var readBufPool = sync.Pool{New: func() any {
	b := make([]byte, readBufSize)
	return &b
}}

// HeldBuffers returns the bytes of buffer the connection holds now (read
// buffer, reassembly buffer, unflushed out buffer): 0 for an idle
// connection that released them. For tests and footprint checks.
func (c *Conn) HeldBuffers() int {
	c.in.mu.Lock()
	n := cap(c.in.raw) + cap(c.in.hs)
	c.in.mu.Unlock()
	c.out.mu.Lock()
	n += cap(c.out.buf)
	c.out.mu.Unlock()
	return n
}

// ReleaseBuffers gives the read buffer back to a process-wide pool when it
// holds no unconsumed transport bytes and no partial handshake message,
// so an idle connection holds no buffer (the next read takes one again).
// The caller promises it no longer uses the slice the last ReadMessage
// returned. The write side needs no call: its buffer goes back after each
// flush.
func (c *Conn) ReleaseBuffers() {
	in := &c.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.err == nil && (in.r != in.w || len(in.pending) > 0 || len(in.hs) > 0 && !in.hsDone) {
		return // a record or a message is under way
	}
	in.hs, in.hsDone, in.pending = nil, false, nil
	in.r, in.w = 0, 0
	if in.box != nil {
		clear(in.raw[:in.hw])
		readBufPool.Put(in.box)
		in.raw, in.box, in.hw = nil, nil, 0
	}
}

// GrowReadBuffer makes the read buffer the connection's own from the first
// read on: it starts at initialReadBuf bytes and grows only when a record
// needs it, instead of being a pooled buffer of the largest record. A
// client offering max_fragment_length (RFC 6066 §4) calls it before its
// ClientHello, so the ServerHello flight, which a server that accepts
// already sends in small records, is read without the large buffer.
func (c *Conn) GrowReadBuffer() {
	c.in.mu.Lock()
	c.in.own = true
	c.in.mu.Unlock()
}

// maxEmptyReads bounds a run of transport reads that return no byte and no
// error (io.Reader discourages them; io.ErrNoProgress is the answer).
const maxEmptyReads = 100

// fill reads from the transport until raw holds at least n unconsumed bytes
// (n <= HeaderLen+MaxCiphertext, and within the record limit readRecord
// checked). Bytes already read stay in raw whatever the error, so a
// timed-out call can be repeated.
func (c *Conn) fill(n int) error {
	in := &c.in
	if in.raw == nil {
		if in.maxFrag < MaxPlaintext || in.own {
			in.raw = make([]byte, initialReadBuf)
		} else {
			in.box = readBufPool.Get().(*[]byte)
			in.raw, in.hw = *in.box, 0
		}
	}
	if in.w-in.r >= n {
		return nil
	}
	if in.r == in.w {
		in.r, in.w = 0, 0
	} else if len(in.raw)-in.r < n {
		in.w = copy(in.raw, in.raw[in.r:in.w])
		in.r = 0
	}
	if n > len(in.raw) {
		// Grow once to the largest record now allowed, not just to n, so
		// a run of growing records does not reallocate each time.
		limit := in.maxFrag
		if in.cipher != nil {
			limit += in.cipher.Overhead()
		}
		size := max(n, HeaderLen+min(limit, MaxCiphertext))
		raw := make([]byte, size)
		in.w = copy(raw, in.raw[in.r:in.w])
		in.r = 0
		if in.box != nil { // cannot happen: a pooled buffer holds any record
			clear(in.raw[:in.hw])
			readBufPool.Put(in.box)
			in.box = nil
		}
		in.raw = raw
	}
	for stalls := 0; in.w-in.r < n; {
		m, err := c.conn.Read(in.raw[in.w:])
		in.w += m
		in.hw = max(in.hw, in.w)
		if in.w-in.r >= n {
			return nil
		}
		if err == io.EOF {
			if in.w == in.r {
				return io.EOF
			}
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
		if m > 0 {
			stalls = 0
		} else if stalls++; stalls >= maxEmptyReads {
			return io.ErrNoProgress
		}
	}
	return nil
}
