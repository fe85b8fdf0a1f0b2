package wire

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

// wrapf must say what fmt.Errorf's %w said, and unwrap the same.
func TestWrapfIsErrorf(t *testing.T) {
	got := wrapIO("reading frame", io.ErrUnexpectedEOF)
	want := fmt.Errorf("wire: %s: %w", "reading frame", io.ErrUnexpectedEOF)
	if got.Error() != want.Error() || !errors.Is(got, io.ErrUnexpectedEOF) {
		t.Errorf("wrapIO = %q, want %q unwrapping to io.ErrUnexpectedEOF", got, want)
	}
	var e *Error
	inner := &Error{Status: StatusAuthFailed}
	if !errors.As(wrapf("wire", inner), &e) || e != inner {
		t.Errorf("errors.As through wrapf did not find the *Error")
	}
}
