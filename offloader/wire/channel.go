package wire

import (
	"bufio"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"io"
	"math"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/tlsoffload/tlsoffload/internal/cryptobyte"
	"github.com/tlsoffload/tlsoffload/internal/hmac"
	"github.com/tlsoffload/tlsoffload/internal/wrap"
	"golang.org/x/crypto/chacha20poly1305"
)

// Channel is an opened device↔offloader channel over a transport: every
// frame after the opening handshake is AEAD-sealed (ChaCha20-Poly1305) with
// per-direction keys derived by HKDF-SHA256 from the device's PSK and both
// sides' fresh 32-byte nonces, and a per-direction sequence number as the
// nonce (no replay, no reordering, no reflection). In plaintext mode
// (a path declared secure) frames are only length-prefixed.
//
// Opening (docs/PROTOCOL.md has the bytes):
//
//	device → offloader  ClientHello{version, mode, device id, client nonce}
//	offloader → device  ServerHello{version, server nonce, server confirm}
//	device → offloader  ClientConfirm{client confirm}
//
// The confirms are HMAC-SHA256 over the hash of both hellos under keys from
// the same schedule; each side checks the other's in constant time before it
// sends or serves a request. An unknown device id is answered exactly like a
// wrong PSK (the server confirms under a random key), so the channel is no
// device-id oracle. A failure the server detects is sent as a plaintext
// alert frame carrying a Status (StatusAuthFailed, StatusPlaintextRefused,
// StatusBadVersion) before it closes.
//
// ReadFrame and WriteFrame may be used by one reader and one writer
// goroutine at once.
type Channel struct {
	conn      net.Conn
	plaintext bool

	// Locking: in is the reader's half (ReadFrame, WaitFrame) and out the
	// writer's (WriteFrame); each has its own mutex, key, nonce base,
	// sequence number and sticky error, so one reader and one writer never
	// wait on each other. The first protocol failure in either direction
	// (a frame that does not authenticate, an alert, garbage) is also
	// stored in dead, which ends both directions. Close takes both mutexes
	// after closing the transport (which unblocks a reader or writer stuck
	// in I/O) and zeroes the keys.
	in    halfConn
	r     *bufio.Reader // guarded by in.mu
	inBuf []byte        // ReadFrameFunc's reused frame buffer, wiped after each use; guarded by in.mu
	out   halfConn
	// outBuf is WriteFrame's reused frame buffer (guarded by out.mu): a
	// sealed frame needs no wipe, a plaintext one is wiped after writing.
	outBuf []byte

	dead      atomic.Pointer[Error]
	closedBy  atomic.Pointer[CloseError] // the peer's close frame (close.go); ends both directions too
	closeOnce sync.Once
	closeErr  error
}

// ChannelConfig configures one side of a channel.
type ChannelConfig struct {
	DeviceID  string
	PSK       []byte    // MinPSKLen..MaxPSKLen bytes; nil with Plaintext
	Plaintext bool      // ask for (client) the plaintext mode
	Rand      io.Reader // nil: crypto/rand
}

// Frame types (docs/PROTOCOL.md, "Frames").
const (
	frameHello       uint8 = 1
	frameServerHello uint8 = 2
	frameConfirm     uint8 = 3
	frameSealed      uint8 = 4
	framePlain       uint8 = 5
	frameAlert       uint8 = 6
	frameClose       uint8 = 7 // after the opening; sealed on a PSK channel (close.go)
)

// Modes asked for in the ClientHello.
const (
	modePSK       uint8 = 0
	modePlaintext uint8 = 1
)

const (
	headerLen = 4 // u8 type | u24 length
	tagLen    = chacha20poly1305.Overhead
	// maxHelloLen bounds a hello of any version, so a peer speaking
	// another version is still read far enough to be answered.
	maxHelloLen    = 1024
	serverHelloLen = 1 + NonceLen + confirmLen
)

// halfConn is one direction of an opened channel.
type halfConn struct {
	mu  sync.Mutex
	key [keyLen]byte
	iv  [ivLen]byte
	seq uint64
	err error // sticky
}

// nonce is the record nonce: iv XOR the big-endian sequence number,
// right-aligned.
func (h *halfConn) nonce() [ivLen]byte {
	n := h.iv
	for i := 0; i < 8; i++ {
		n[ivLen-1-i] ^= byte(h.seq >> (8 * i))
	}
	return n
}

func (h *halfConn) wipe() {
	clear(h.key[:])
	clear(h.iv[:])
}

var errClosed = wrapf("wire", net.ErrClosed)

// ClientOpen runs the device's side of the opening on conn. It returns
// StatusAuthFailed (as *Error) when the offloader does not know the device
// or the PSKs differ, whichever side found it. An alert from the offloader
// comes back as *Error with its status. On any error conn is closed.
func ClientOpen(conn net.Conn, cfg ChannelConfig) (*Channel, error) {
	c, err := clientOpen(conn, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

func clientOpen(conn net.Conn, cfg ChannelConfig) (*Channel, error) {
	if len(cfg.DeviceID) == 0 || len(cfg.DeviceID) > MaxDeviceID {
		return nil, errors.New("wire: device id must be 1 to 64 bytes")
	}
	mode := modePSK
	if cfg.Plaintext {
		mode = modePlaintext
	} else if len(cfg.PSK) < MinPSKLen || len(cfg.PSK) > MaxPSKLen {
		return nil, errors.New("wire: psk must be 16 to 64 bytes")
	}
	var clientNonce [NonceLen]byte
	if _, err := io.ReadFull(randOrDefault(cfg.Rand), clientNonce[:]); err != nil {
		return nil, wrapf("wire: reading random nonce", err)
	}

	b := cryptobyte.NewBuilder(make([]byte, 0, headerLen+3+len(cfg.DeviceID)+NonceLen))
	b.AddUint8(frameHello)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint8(Version)
		b.AddUint8(mode)
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(cfg.DeviceID)) })
		b.AddBytes(clientNonce[:])
	})
	hello, err := b.Bytes()
	if err != nil {
		return nil, wrapf("wire: encoding hello", err)
	}
	if _, err := conn.Write(hello); err != nil {
		return nil, wrapf("wire: writing hello", err)
	}

	r := bufio.NewReader(conn)
	typ, payload, _, err := readFrame(r, func(t uint8) int {
		switch t {
		case frameServerHello:
			return maxHelloLen
		case frameAlert:
			return 1
		}
		return -1
	})
	if err != nil {
		return nil, wrapIO("reading server hello", err)
	}
	if typ == frameAlert {
		return nil, alertError(payload)
	}
	s := cryptobyte.String(payload)
	var version uint8
	var serverNonce, serverConfirm []byte
	if !s.ReadUint8(&version) {
		return nil, malformed(0, "empty server hello")
	}
	if version != Version {
		return nil, &Error{Status: StatusBadVersion, Detail: "offloader speaks version " + strconv.Itoa(int(version))}
	}
	if !s.ReadBytes(&serverNonce, NonceLen) || !s.ReadBytes(&serverConfirm, confirmLen) || !s.Empty() {
		return nil, malformed(0, "bad server hello")
	}

	c := &Channel{conn: conn, r: r, plaintext: cfg.Plaintext}
	if cfg.Plaintext {
		if subtle.ConstantTimeCompare(serverConfirm, make([]byte, confirmLen)) != 1 {
			return nil, malformed(0, "confirm in a plaintext server hello")
		}
		return c, nil
	}

	serverHello := appendHeader(nil, frameServerHello, len(payload))
	serverHello = append(serverHello, payload[:1+NonceLen]...)
	sch := deriveSchedule(cfg.PSK, clientNonce[:], serverNonce, transcriptHash(hello, serverHello))
	defer sch.wipe()
	if !hmac.Equal(serverConfirm, sch.serverConfirm[:]) {
		writeAlert(conn, StatusAuthFailed)
		return nil, &Error{Status: StatusAuthFailed, Detail: "offloader confirm did not verify"}
	}
	confirm := appendHeader(make([]byte, 0, headerLen+confirmLen), frameConfirm, confirmLen)
	confirm = append(confirm, sch.clientConfirm[:]...)
	if _, err := conn.Write(confirm); err != nil {
		return nil, wrapf("wire: writing confirm", err)
	}
	c.out.key, c.out.iv = sch.c2sKey, sch.c2sIV
	c.in.key, c.in.iv = sch.s2cKey, sch.s2cIV
	return c, nil
}

// ServerOpen runs the offloader's side. lookup returns the PSK of a device
// id (ok false for an unknown device); allowPlaintext says whether this
// transport was declared secure. It returns the authenticated device id.
// A plaintext channel is opened only for a device lookup knows. Every
// failure it detects is answered with an alert frame; on any error conn is
// closed. The *Error returned says more (for the offloader's log) than the
// alert sent: an unknown device and a wrong PSK differ only here.
func ServerOpen(conn net.Conn, lookup func(deviceID string) (psk []byte, ok bool), allowPlaintext bool, rand io.Reader) (*Channel, string, error) {
	c, id, err := serverOpen(conn, lookup, allowPlaintext, randOrDefault(rand))
	if err != nil {
		if ref, ok := errors.AsType[*refusal](err); ok {
			writeAlert(conn, ref.e.Status)
			err = ref.e
		}
		conn.Close()
		return nil, "", err
	}
	return c, id, nil
}

// refusal is a failure the server answers with an alert.
type refusal struct{ e *Error }

func (r *refusal) Error() string { return r.e.Error() }

func refuse(st Status, detail string) error {
	return &refusal{&Error{Status: st, Detail: detail}}
}

func serverOpen(conn net.Conn, lookup func(string) ([]byte, bool), allowPlaintext bool, rnd io.Reader) (*Channel, string, error) {
	r := bufio.NewReader(conn)
	_, payload, _, err := readFrame(r, func(t uint8) int {
		if t == frameHello {
			return maxHelloLen
		}
		return -1
	})
	if err != nil {
		if e, ok := errors.AsType[*Error](err); ok {
			return nil, "", refuse(e.Status, "hello: "+e.Detail)
		}
		return nil, "", wrapIO("reading hello", err)
	}
	s := cryptobyte.String(payload)
	var version, mode uint8
	var id cryptobyte.String
	var clientNonce []byte
	if !s.ReadUint8(&version) {
		return nil, "", refuse(StatusMalformed, "empty hello")
	}
	if version != Version {
		return nil, "", refuse(StatusBadVersion, "device speaks version "+strconv.Itoa(int(version)))
	}
	if !s.ReadUint8(&mode) || !s.ReadUint8LengthPrefixed(&id) || !s.ReadBytes(&clientNonce, NonceLen) || !s.Empty() {
		return nil, "", refuse(StatusMalformed, "bad hello")
	}
	if len(id) == 0 || len(id) > MaxDeviceID {
		return nil, "", refuse(StatusMalformed, "bad device id length")
	}
	if mode != modePSK && mode != modePlaintext {
		return nil, "", refuse(StatusMalformed, "unknown mode")
	}
	deviceID := string(id)
	var serverNonce [NonceLen]byte
	if _, err := io.ReadFull(rnd, serverNonce[:]); err != nil {
		return nil, "", refuse(StatusInternal, "reading random nonce")
	}
	serverHello := appendHeader(make([]byte, 0, headerLen+serverHelloLen), frameServerHello, serverHelloLen)
	serverHello = append(serverHello, Version)
	serverHello = append(serverHello, serverNonce[:]...)

	if mode == modePlaintext {
		if !allowPlaintext {
			return nil, "", refuse(StatusPlaintextRefused, "")
		}
		if _, ok := lookup(deviceID); !ok {
			return nil, "", refuse(StatusAuthFailed, "unknown device")
		}
		serverHello = append(serverHello, make([]byte, confirmLen)...)
		if _, err := conn.Write(serverHello); err != nil {
			return nil, "", wrapf("wire: writing server hello", err)
		}
		return &Channel{conn: conn, r: r, plaintext: true}, deviceID, nil
	}

	// An unknown device (or one with an unusable PSK) gets a random PSK:
	// the same work, the same bytes on the wire, the same failure as a
	// wrong PSK.
	psk, known := lookup(deviceID)
	if !known || len(psk) < MinPSKLen || len(psk) > MaxPSKLen {
		known = false
		psk = make([]byte, 32)
		if _, err := io.ReadFull(rnd, psk); err != nil {
			return nil, "", refuse(StatusInternal, "reading random key")
		}
	}
	hello := appendHeader(make([]byte, 0, headerLen+len(payload)), frameHello, len(payload))
	hello = append(hello, payload...)
	sch := deriveSchedule(psk, clientNonce, serverNonce[:], transcriptHash(hello, serverHello))
	defer sch.wipe()
	serverHello = append(serverHello, sch.serverConfirm[:]...)
	if _, err := conn.Write(serverHello); err != nil {
		return nil, "", wrapf("wire: writing server hello", err)
	}

	typ, payload, _, err := readFrame(r, func(t uint8) int {
		switch t {
		case frameConfirm:
			return confirmLen
		case frameAlert:
			return 1
		}
		return -1
	})
	if err != nil {
		if e, ok := errors.AsType[*Error](err); ok {
			return nil, "", refuse(e.Status, "confirm: "+e.Detail)
		}
		return nil, "", wrapIO("reading confirm", err)
	}
	detail := "wrong psk"
	if !known {
		detail = "unknown device"
	}
	if typ == frameAlert {
		// The device refused our confirm: for the log, say why.
		e := alertError(payload)
		if e.Status == StatusAuthFailed {
			e.Detail = detail
		}
		return nil, "", e
	}
	if subtle.ConstantTimeCompare(payload, sch.clientConfirm[:]) != 1 || !known {
		return nil, "", refuse(StatusAuthFailed, detail)
	}
	c := &Channel{conn: conn, r: r}
	c.in.key, c.in.iv = sch.c2sKey, sch.c2sIV
	c.out.key, c.out.iv = sch.s2cKey, sch.s2cIV
	return c, deviceID, nil
}

// Plaintext reports whether the channel was opened in plaintext mode.
func (c *Channel) Plaintext() bool { return c.plaintext }

// WriteFrame seals payload (at most MaxFrame bytes) and writes it as one
// frame, in one write on the transport.
func (c *Channel) WriteFrame(payload []byte) error {
	if len(payload) > MaxFrame {
		return malformed(0, "frame payload too large")
	}
	c.out.mu.Lock()
	defer c.out.mu.Unlock()
	frame, err := c.frameLocked(c.outBuf[:0], framePlain, frameSealed, payload)
	if err != nil {
		return err
	}
	if c.plaintext {
		defer clear(frame)
	}
	if cap(frame) <= keepFrameBuf {
		c.outBuf = frame[:0]
	}
	if _, err := c.conn.Write(frame); err != nil {
		c.out.err = wrapf("wire: writing frame", err)
		return c.out.err
	}
	return nil
}

// frameLocked appends to dst the next frame carrying body, under c.out.mu:
// of type plainTyp on a plaintext channel, else of type sealedTyp, sealed
// under the next sequence number with its header as additional data. It
// fails with the writer's sticky error, or the one that ended the channel.
func (c *Channel) frameLocked(dst []byte, plainTyp, sealedTyp uint8, body []byte) ([]byte, error) {
	if c.out.err != nil {
		return nil, c.out.err
	}
	if err := c.deadErr(); err != nil {
		return nil, err
	}
	if c.plaintext {
		return append(appendHeader(dst, plainTyp, len(body)), body...), nil
	}
	if c.out.seq == math.MaxUint64 {
		c.out.err = errors.New("wire: sequence number exhausted")
		return nil, c.out.err
	}
	aead, err := chacha20poly1305.New(c.out.key[:])
	if err != nil {
		return nil, wrapf("wire", err)
	}
	frame := appendHeader(slices.Grow(dst, headerLen+len(body)+tagLen), sealedTyp, len(body)+tagLen)
	var hdr [headerLen]byte
	copy(hdr[:], frame)
	nonce := c.out.nonce()
	frame = aead.Seal(frame, nonce[:], body, hdr[:])
	c.out.seq++
	return frame, nil
}

// WaitFrame blocks until the first byte of the next frame has arrived (or
// the transport fails), consuming nothing. A server uses it to switch from
// an idle deadline to a per-frame deadline before ReadFrame; a timeout here
// does not break the channel.
func (c *Channel) WaitFrame() error {
	c.in.mu.Lock()
	defer c.in.mu.Unlock()
	if c.in.err != nil {
		return c.in.err
	}
	if _, err := c.r.Peek(1); err != nil {
		return wrapIO("waiting for frame", err)
	}
	return nil
}

// Buffered reports whether bytes of a next frame have already been read
// from the transport, so ReadFrame would not wait for the peer. A server
// uses it to decide whether another frame is waiting while it serves one.
func (c *Channel) Buffered() bool {
	c.in.mu.Lock()
	defer c.in.mu.Unlock()
	return c.r.Buffered() > 0
}

// ReadFrame reads and opens the next frame. A frame that does not
// authenticate fails with StatusAuthFailed and the channel is dead. An
// alert frame from the peer comes back as *Error with its status. A
// transport error before the first byte of a frame (an idle timeout) leaves
// the channel usable; any later failure is final. The returned slice is the
// caller's.
func (c *Channel) ReadFrame() ([]byte, error) {
	c.in.mu.Lock()
	defer c.in.mu.Unlock()
	return c.readFrameLocked(nil)
}

// keepFrameBuf is the largest frame buffer a Channel keeps for reuse.
const keepFrameBuf = 64 << 10

// ReadFrameFunc is ReadFrame without an allocation per frame: the frame is
// read into a buffer the Channel reuses, and f gets the payload, which is
// valid only until f returns; the buffer is then wiped (a response
// carries key material). f must not call the Channel's read methods. f's
// error is returned as is.
func (c *Channel) ReadFrameFunc(f func(payload []byte) error) error {
	c.in.mu.Lock()
	defer c.in.mu.Unlock()
	payload, err := c.readFrameLocked(c.inBuf[:0])
	if err != nil {
		return err
	}
	defer func() {
		clear(payload[:cap(payload)])
		if cap(payload) <= keepFrameBuf {
			c.inBuf = payload[:0]
		}
	}()
	return f(payload)
}

// readFrameLocked reads and opens the next frame into buf (nil: a new
// buffer). c.in.mu is held.
func (c *Channel) readFrameLocked(buf []byte) ([]byte, error) {
	if c.in.err != nil {
		return nil, c.in.err
	}
	if err := c.deadErr(); err != nil {
		return nil, err
	}
	typ, payload, consumed, err := readFrameInto(c.r, buf, func(t uint8) int {
		switch t {
		case frameSealed:
			if !c.plaintext {
				return MaxFrame + tagLen
			}
		case framePlain:
			if c.plaintext {
				return MaxFrame
			}
		case frameAlert:
			return 1
		case frameClose:
			if c.plaintext {
				return closeBodyMax
			}
			return closeBodyMax + tagLen
		}
		return -1
	})
	if err != nil {
		if e, ok := errors.AsType[*Error](err); ok {
			return nil, c.failRead(e)
		}
		err = wrapIO("reading frame", err)
		if consumed {
			c.in.err = err
		}
		return nil, err
	}
	switch {
	case typ == frameAlert:
		return nil, c.failRead(alertError(payload))
	case c.plaintext && typ == frameClose:
		return nil, c.readClose(payload)
	case c.plaintext:
		return payload, nil
	}
	// A sealed frame, or a sealed close (close.go): the type is in the AD.
	if c.in.seq == math.MaxUint64 {
		return nil, c.failRead(&Error{Status: StatusAuthFailed, Detail: "sequence number exhausted"})
	}
	aead, err := chacha20poly1305.New(c.in.key[:])
	if err != nil {
		return nil, wrapf("wire", err)
	}
	hdr := appendHeader(make([]byte, 0, headerLen), typ, len(payload))
	nonce := c.in.nonce()
	plain, err := aead.Open(payload[:0], nonce[:], payload, hdr)
	if err != nil {
		return nil, c.failRead(&Error{Status: StatusAuthFailed, Detail: "frame did not authenticate"})
	}
	c.in.seq++
	if typ == frameClose {
		return nil, c.readClose(plain)
	}
	return plain, nil
}

// failRead makes e the reader's sticky error and kills the channel.
func (c *Channel) failRead(e *Error) *Error {
	c.in.err = e
	c.dead.CompareAndSwap(nil, e)
	return e
}

// Close closes the transport and zeroes the channel keys. Later calls
// return the first call's result.
func (c *Channel) Close() error {
	c.closeOnce.Do(func() {
		c.closeErr = c.conn.Close()
		c.in.mu.Lock()
		c.in.wipe()
		c.in.err = errClosed
		c.in.mu.Unlock()
		c.out.mu.Lock()
		c.out.wipe()
		c.out.err = errClosed
		c.out.mu.Unlock()
	})
	return c.closeErr
}

// ---- frame helpers ----

func appendHeader(b []byte, typ uint8, n int) []byte {
	return append(b, typ, byte(n>>16), byte(n>>8), byte(n))
}

// readFrame reads one frame whose type limit allows: limit returns the
// largest payload of a type, or -1 for a type not expected here. Both are
// checked before the payload is read. consumed reports whether any byte was
// read. A defect is a *Error with StatusMalformed; anything else is the
// transport's error.
func readFrame(r io.Reader, limit func(typ uint8) int) (typ uint8, payload []byte, consumed bool, err error) {
	return readFrameInto(r, nil, limit)
}

// readFrameInto is readFrame reading the payload into buf's space when it
// has room (buf is used from its start).
func readFrameInto(r io.Reader, buf []byte, limit func(typ uint8) int) (typ uint8, payload []byte, consumed bool, err error) {
	var hdr [headerLen]byte
	n, err := io.ReadFull(r, hdr[:])
	if err != nil {
		return 0, nil, n > 0, err
	}
	s := cryptobyte.String(hdr[:])
	var length uint32
	s.ReadUint8(&typ)
	s.ReadUint24(&length)
	max := limit(typ)
	if max < 0 {
		return 0, nil, true, malformed(0, "unexpected frame type "+strconv.Itoa(int(typ)))
	}
	if int(length) > max {
		return 0, nil, true, malformed(0, "frame too long")
	}
	payload, err = readPayload(r, int(length), buf)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, true, err
	}
	return typ, payload, true, nil
}

// readPayload reads n bytes into buf's space (nil: a new buffer), growing
// it as they arrive, so a peer that announces a large frame and sends
// nothing costs little memory.
func readPayload(r io.Reader, n int, buf []byte) ([]byte, error) {
	const chunk = 16 << 10
	if cap(buf) < min(n, chunk) {
		buf = make([]byte, 0, min(n, chunk))
	}
	buf = buf[:0]
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(n-len(buf), len(buf)))
		}
		m, err := io.ReadFull(r, buf[len(buf):min(n, cap(buf))])
		buf = buf[:len(buf)+m]
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

func writeAlert(conn net.Conn, st Status) {
	conn.Write([]byte{frameAlert, 0, 0, 1, byte(st)})
}

// alertError is the error an alert frame carries.
func alertError(payload []byte) *Error {
	if len(payload) != 1 {
		return malformed(0, "bad alert")
	}
	st := Status(payload[0])
	if st == StatusOK || !st.known() {
		return malformed(0, "alert with unknown status "+strconv.Itoa(int(st)))
	}
	return &Error{Status: st}
}

func wrapIO(what string, err error) error { return wrapf("wire: "+what, err) }

// wrapf wraps err, which must not be nil, under msg: msg + ": " + err,
// as fmt.Errorf("%s: %w") would make it (internal/wrap: the device
// packages format without fmt).
func wrapf(msg string, err error) error { return wrap.New(msg, err) }

func randOrDefault(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}
