package wire

import (
	"io"
	"net"
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
	// TODO: fields
}

// ChannelConfig configures one side of a channel.
type ChannelConfig struct {
	DeviceID  string
	PSK       []byte    // MinPSKLen..MaxPSKLen bytes; nil with Plaintext
	Plaintext bool      // ask for (client) the plaintext mode
	Rand      io.Reader // nil: crypto/rand
}

// ClientOpen runs the device's side of the opening on conn. It returns
// StatusAuthFailed (as *Error) when the offloader does not know the device
// or the PSKs differ, whichever side found it.
func ClientOpen(conn net.Conn, cfg ChannelConfig) (*Channel, error) { panic("TODO") }

// ServerOpen runs the offloader's side. lookup returns the PSK of a device
// id (ok false for an unknown device); allowPlaintext says whether this
// transport was declared secure. It returns the authenticated device id.
func ServerOpen(conn net.Conn, lookup func(deviceID string) (psk []byte, ok bool), allowPlaintext bool, rand io.Reader) (*Channel, string, error) {
	panic("TODO")
}

// WriteFrame seals payload (at most MaxFrame bytes) and writes it as one frame.
func (c *Channel) WriteFrame(payload []byte) error { panic("TODO") }

// ReadFrame reads and opens the next frame. A frame that does not
// authenticate fails with StatusAuthFailed and the channel is dead. The
// returned slice is the caller's.
func (c *Channel) ReadFrame() ([]byte, error) { panic("TODO") }

// Close closes the transport and zeroes the channel keys.
func (c *Channel) Close() error { panic("TODO") }
