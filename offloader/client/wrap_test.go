package client

import (
	"errors"
	"fmt"
	"net"
	"testing"
)

// wrapf must say what fmt.Errorf's %w said, and unwrap the same.
func TestWrapfIsErrorf(t *testing.T) {
	got := wrapf("client: channel to 127.0.0.1:1", net.ErrClosed)
	want := fmt.Errorf("client: channel to %s: %w", "127.0.0.1:1", net.ErrClosed)
	if got.Error() != want.Error() || !errors.Is(got, net.ErrClosed) {
		t.Errorf("wrapf = %q, want %q unwrapping to net.ErrClosed", got, want)
	}
}
