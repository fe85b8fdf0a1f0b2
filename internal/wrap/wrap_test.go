package wrap

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

// New must say what fmt.Errorf's %w said, and unwrap the same.
func TestNewIsErrorf(t *testing.T) {
	got := New("pkg: reading frame", io.ErrUnexpectedEOF)
	want := fmt.Errorf("%s: %w", "pkg: reading frame", io.ErrUnexpectedEOF)
	if got.Error() != want.Error() || !errors.Is(got, io.ErrUnexpectedEOF) {
		t.Errorf("New = %q, want %q unwrapping to io.ErrUnexpectedEOF", got, want)
	}
	inner := &testError{}
	if e, ok := errors.AsType[*testError](New("outer", New("inner", inner))); !ok || e != inner {
		t.Error("errors.AsType through two wraps did not find the wrapped error")
	}
}

type testError struct{}

func (*testError) Error() string { return "test error" }
