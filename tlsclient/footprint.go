package tlsclient

import "sync"

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
