package wire

import (
	"errors"
	"strconv"

	"github.com/tlsoffload/tlsoffload/internal/cryptobyte"
)

// Closing a channel with a reason (docs/PROTOCOL.md §6.1). A side that
// ends a channel on purpose (the offloader shutting down, an idle channel,
// a device whose registry entry changed) first sends a close frame saying
// why, so the peer can tell a deliberate end from a crash: a device then
// goes to another replica without counting a failure. The frame is sealed
// like any frame after the opening (its own sequence number, the header as
// associated data), so on a PSK channel only the peer can send it; on a
// plaintext channel it is plain. Whoever reads it gets a *CloseError and
// the channel is dead, as after an alert.

// CloseReason says why a peer closed a channel.
type CloseReason uint8

const (
	// CloseShuttingDown: the offloader is stopping (SIGTERM). Flights it
	// had read were answered; nothing else of the channel ran. The device
	// should open its next channel to another replica, and count no
	// failure.
	CloseShuttingDown CloseReason = 1
	// CloseIdle: the channel was silent for the offloader's idle timeout.
	CloseIdle CloseReason = 2
	// CloseDeviceChanged: the device's registry entry was removed or
	// revoked, or its PSK changed; a new channel sees the new entry (or is
	// refused).
	CloseDeviceChanged CloseReason = 3
	// CloseChannelAge: the channel lived as long as its sender keeps one.
	// Reserved: neither the offloader nor offloader/client sends it yet.
	CloseChannelAge CloseReason = 4
)

var closeWords = [...]string{
	CloseShuttingDown:  "shutting down",
	CloseIdle:          "idle",
	CloseDeviceChanged: "device changed",
	CloseChannelAge:    "channel age",
}

// String returns the reason in words; a reason this version does not know
// is "reason(N)".
func (r CloseReason) String() string {
	if r != 0 && int(r) < len(closeWords) {
		return closeWords[r]
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

// MaxCloseDetail bounds the detail of a close frame: printable ASCII
// (0x20..0x7e), never a secret.
const MaxCloseDetail = 64

// CloseError is a close frame the peer sent: the channel is dead. Any
// flight sent on it that was not answered did not run (an offloader sends
// close only once the flights it read are answered) and may be sent again
// on another channel. errors.AsType[*CloseError] finds it; check Reason.
type CloseError struct {
	Reason CloseReason
	Detail string
}

// Error returns "offloader: channel closed: ", the reason in words and
// the detail if any.
func (e *CloseError) Error() string {
	msg := "offloader: channel closed: " + e.Reason.String()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// closeBodyMax is the largest close frame payload in clear:
// reason u8 | detail <u8>.
const closeBodyMax = 2 + MaxCloseDetail

// marshalClose is the close body: reason u8 | detail <u8>.
func marshalClose(reason CloseReason, detail string) ([]byte, error) {
	if reason == 0 {
		return nil, errors.New("wire: close reason 0")
	}
	if !closeDetailOK(detail) {
		return nil, errors.New("wire: close detail must be at most " + strconv.Itoa(MaxCloseDetail) + " bytes of printable ASCII")
	}
	b := make([]byte, 0, 2+len(detail))
	b = append(b, byte(reason), byte(len(detail)))
	return append(b, detail...), nil
}

// parseClose parses a close body. A reason this version does not know is
// kept (a later version may add reasons; the channel ends all the same).
func parseClose(body []byte) (*CloseError, *Error) {
	s := cryptobyte.String(body)
	var reason uint8
	var detail cryptobyte.String
	if !s.ReadUint8(&reason) || !s.ReadUint8LengthPrefixed(&detail) || !s.Empty() {
		return nil, malformed(0, "bad close frame")
	}
	if reason == 0 {
		return nil, malformed(0, "close frame with reason 0")
	}
	if !closeDetailOK(string(detail)) {
		return nil, malformed(0, "bad close frame detail")
	}
	return &CloseError{Reason: CloseReason(reason), Detail: string(detail)}, nil
}

func closeDetailOK(d string) bool {
	if len(d) > MaxCloseDetail {
		return false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < 0x20 || d[i] > 0x7e {
			return false
		}
	}
	return true
}

// CloseWithReason sends a close frame carrying reason and detail (at most
// MaxCloseDetail bytes of printable ASCII; "" for none), sealed on a PSK
// channel, then closes the channel as Close does. The peer's next read
// fails with a *CloseError. The close frame is not sent when the channel
// already failed (the peer could not read it); the caller bounds the write
// with the transport's write deadline. It returns the write's error, or
// Close's.
func (c *Channel) CloseWithReason(reason CloseReason, detail string) error {
	err := c.writeClose(reason, detail)
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	return err
}

func (c *Channel) writeClose(reason CloseReason, detail string) error {
	body, err := marshalClose(reason, detail)
	if err != nil {
		return err
	}
	c.out.mu.Lock()
	defer c.out.mu.Unlock()
	frame, err := c.frameLocked(nil, frameClose, frameClose, body)
	if err != nil {
		return err
	}
	// Whatever happens, this side writes nothing more.
	c.out.err = errClosed
	if _, err := c.conn.Write(frame); err != nil {
		return wrapIO("writing close", err)
	}
	return nil
}

// readClose parses a close frame's body (opened, on a PSK channel, by
// readFrameLocked), read under c.in.mu, and ends the channel with what it
// says.
func (c *Channel) readClose(body []byte) error {
	ce, bad := parseClose(body)
	if bad != nil {
		return c.failRead(bad)
	}
	c.closedBy.CompareAndSwap(nil, ce)
	c.in.err = ce
	return ce
}

// deadErr is the error that ended both directions: a protocol failure
// (*Error) or the peer's close (*CloseError); nil while the channel lives.
func (c *Channel) deadErr() error {
	if e := c.dead.Load(); e != nil {
		return e
	}
	if ce := c.closedBy.Load(); ce != nil {
		return ce
	}
	return nil
}

// SendClose is CloseWithReason without closing the transport: it sends
// the close frame, after which the channel writes nothing more, and leaves
// closing to the caller (who may first shut the transport's sending side
// and read what the peer still sends, so that the close is not lost to a
// reset). Call Close afterwards.
func (c *Channel) SendClose(reason CloseReason, detail string) error {
	return c.writeClose(reason, detail)
}
