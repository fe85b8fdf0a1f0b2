package tlsclient

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

// The package formats without fmt; its helpers must say what fmt said.
func TestHex16IsFmt(t *testing.T) {
	for _, v := range []uint16{0, 5, 0x35, 0x0a0a, 0xc02f, 0xffff} {
		if got, want := hex16(v), fmt.Sprintf("%#04x", v); got != want {
			t.Errorf("hex16(%d) = %q, fmt says %q", v, got, want)
		}
	}
}

func TestWrapfIsErrorf(t *testing.T) {
	got := wrapf("tlsclient: reading Finished", io.ErrUnexpectedEOF)
	want := fmt.Errorf("tlsclient: reading %s: %w", "Finished", io.ErrUnexpectedEOF)
	if got.Error() != want.Error() || !errors.Is(got, io.ErrUnexpectedEOF) {
		t.Errorf("wrapf = %q (unwraps to EOF: %v), want %q", got, errors.Is(got, io.ErrUnexpectedEOF), want)
	}
}
