package tlsclient

import (
	"errors"
	"slices"
	"strconv"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/record"
)

// The max_fragment_length extension (RFC 6066 §4) for devices with little
// memory. With Config.MaxFragmentLength set, the ClientHello offers the
// code for it; a server that echoes the same code has agreed, and from the
// ServerHello on ("once a maximum fragment length other than 2^14 has been
// successfully negotiated, the client and server MUST immediately begin
// fragmenting messages (including handshake messages)") both directions
// carry at most that much plaintext per record: record.Conn.SetMaxFragment
// caps what is written and refuses (record_overflow) what is larger, and
// the record layer's read buffer, the connection's own from the first read
// (record.Conn.GrowReadBuffer), only grows to the largest record allowed.
// A server that does not echo it keeps 2^14 both ways, unless
// Config.RequireMaxFragmentLength refuses it.

// maxFragmentLengths are the accepted lengths, that of code c at c-1:
// 2^(8+code). An array, not a map: no init code, no map in a device
// program for four numbers.
var maxFragmentLengths = [...]int{512, 1024, 2048, 4096}

// maxFragmentCode checks Config.MaxFragmentLength and returns its code
// (0 when it is off).
func (c *Config) maxFragmentCode() (uint8, error) {
	if c.MaxFragmentLength == 0 {
		if c.RequireMaxFragmentLength {
			return 0, errors.New("tlsclient: Config.RequireMaxFragmentLength needs Config.MaxFragmentLength")
		}
		return 0, nil
	}
	i := slices.Index(maxFragmentLengths[:], c.MaxFragmentLength)
	if i < 0 {
		return 0, errors.New("tlsclient: Config.MaxFragmentLength " + strconv.Itoa(int(c.MaxFragmentLength)) + " not supported: use 512, 1024, 2048 or 4096 (RFC 6066 §4)")
	}
	return uint8(i + 1), nil
}

// MaxFragmentLengthError is a server that did not accept the
// max_fragment_length the Config requires (Config.RequireMaxFragmentLength).
// The handshake_failure alert sent for it is reached with errors.Is /
// errors.As through Unwrap.
type MaxFragmentLengthError struct {
	Length int // the length offered
	Alert  *record.AlertError
}

func (e *MaxFragmentLengthError) Error() string {
	return "tlsclient: server did not accept max_fragment_length " + strconv.Itoa(int(e.Length))
}

func (e *MaxFragmentLengthError) Unwrap() error {
	if e.Alert == nil {
		return nil
	}
	return e.Alert
}

// offerMaxFragment sets the extension in the ClientHello.
func (hs *clientHandshakeState) offerMaxFragment(hello *handshake.ClientHello) error {
	code, err := hs.config.maxFragmentCode()
	if err != nil {
		return err
	}
	hello.MaxFragmentLength = code
	if code != 0 {
		// Read even the ServerHello flight without the pooled 16 KiB
		// buffer: a server that accepts already sends it in small records.
		hs.c.rc.GrowReadBuffer()
	}
	return nil
}

// checkMaxFragment runs after processServerHello, which applied an echoed
// code to the record layer: it refuses a server that ignored the extension
// when the Config requires it.
func (hs *clientHandshakeState) checkMaxFragment() error {
	if hs.hello.MaxFragmentLength == 0 {
		return nil
	}
	if hs.serverHello.MaxFragmentLength == hs.hello.MaxFragmentLength {
		if hs.config.Trace != nil {
			hs.config.trace("tls: max_fragment_length %d negotiated", 256<<hs.hello.MaxFragmentLength)
		}
		return nil
	}
	if hs.config.RequireMaxFragmentLength {
		hs.c.rc.SendAlert(record.AlertHandshakeFailure)
		return &MaxFragmentLengthError{Length: 256 << hs.hello.MaxFragmentLength,
			Alert: &record.AlertError{Alert: record.AlertHandshakeFailure}}
	}
	hs.config.trace("tls: server ignored max_fragment_length; records of up to 16384 bytes")
	return nil
}
