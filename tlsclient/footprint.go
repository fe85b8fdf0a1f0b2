package tlsclient

import (
	"sync"

	"golang.org/x/crypto/cryptobyte"
)

// The device's footprint: what a handshake allocates and what a connection
// keeps once it is idle (issue 4). The record layer gives its buffers back
// when idle (record.Conn.ReleaseBuffers); here the handshake's own
// transient buffers are pooled and what the connection keeps is shared
// where it is the same bytes.

// rawPool holds the buffers that collect the raw transcript for the
// offloader's Auth (ClientHello through ServerHelloDone). They hold only
// messages that crossed the wire in the clear, so they need no wipe.
var rawPool = sync.Pool{New: func() any {
	b := make([]byte, 0, rawBufSize)
	return &b
}}

// rawBufSize fits the transcript of a handshake with a chain of a few
// certificates; a larger one grows (and is not kept).
const rawBufSize = 8 << 10

// appendRaw appends msg to the raw transcript, taking a pooled buffer first.
func (hs *clientHandshakeState) appendRaw(msg []byte) {
	if hs.rawBox == nil {
		hs.rawBox = rawPool.Get().(*[]byte)
		hs.raw = (*hs.rawBox)[:0]
	}
	hs.raw = append(hs.raw, msg...)
}

// releaseRaw gives the raw transcript's buffer back once the handshake no
// longer needs it (the offloader's flight was encoded from it).
func (hs *clientHandshakeState) releaseRaw() {
	if hs.rawBox != nil {
		rawPool.Put(hs.rawBox)
	}
	hs.raw, hs.rawBox = nil, nil
}

// helloExtensionTypes lists the extension types of an encoded ClientHello
// (RFC 5246 §7.4.1.2), read from the bytes sent rather than by encoding
// every extension a second time. ok is false for bytes that are not a
// whole ClientHello.
func helloExtensionTypes(msg []byte) (types []uint16, ok bool) {
	s := cryptobyte.String(msg)
	var typ uint8
	var body, sid, suites, comp, exts cryptobyte.String
	if !s.ReadUint8(&typ) || !s.ReadUint24LengthPrefixed(&body) || !s.Empty() ||
		!body.Skip(2+32) || !body.ReadUint8LengthPrefixed(&sid) ||
		!body.ReadUint16LengthPrefixed(&suites) || !body.ReadUint8LengthPrefixed(&comp) {
		return nil, false
	}
	if body.Empty() {
		return nil, true // no extensions block
	}
	if !body.ReadUint16LengthPrefixed(&exts) || !body.Empty() {
		return nil, false
	}
	for !exts.Empty() {
		var t uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&t) || !exts.ReadUint16LengthPrefixed(&data) {
			return nil, false
		}
		types = append(types, t)
	}
	return types, true
}
