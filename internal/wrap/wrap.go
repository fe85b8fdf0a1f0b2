// Package wrap is fmt.Errorf("%s: %w", msg, err) for the device packages
// (tlsclient, offloader/client, offloader/wire), which format their errors
// without fmt: fmt's reflection-based printing is some 160 KB of a
// linux/arm device program. One type for the three packages, not one
// each, is another kilobyte or so.
package wrap

// Error is msg + ": " + the error it wraps, as fmt.Errorf("%s: %w") makes
// it; errors.Is and errors.As see the wrapped error through Unwrap.
type Error struct {
	msg string
	err error
}

func (e *Error) Error() string { return e.msg + ": " + e.err.Error() }
func (e *Error) Unwrap() error { return e.err }

// New wraps err, which must not be nil, under msg.
func New(msg string, err error) error { return &Error{msg: msg, err: err} }
