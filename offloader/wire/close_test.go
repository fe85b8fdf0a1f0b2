package wire

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"
)

// A close with a reason, sent either way on a sealed or a plaintext
// channel, reaches the other side as a *CloseError, and the channel is then
// dead both ways for both sides.
func TestChannelCloseWithReason(t *testing.T) {
	for _, plaintext := range []bool{false, true} {
		for _, fromServer := range []bool{true, false} {
			client, server := mustOpen(t, plaintext)
			sender, receiver := client, server
			if fromServer {
				sender, receiver = server, client
			}
			// A frame first, so the close is not the first of its direction.
			go sender.WriteFrame([]byte("answer"))
			if got, err := receiver.ReadFrame(); err != nil || string(got) != "answer" {
				t.Fatalf("plaintext %v: frame before close: %q, %v", plaintext, got, err)
			}
			sent := make(chan error, 1)
			go func() { sent <- sender.CloseWithReason(CloseShuttingDown, "sigterm") }()
			_, err := receiver.ReadFrame()
			var ce *CloseError
			if !errors.As(err, &ce) || ce.Reason != CloseShuttingDown || ce.Detail != "sigterm" {
				t.Fatalf("plaintext %v, from server %v: read %v, want a close: shutting down", plaintext, fromServer, err)
			}
			if !closedFor(err, CloseShuttingDown) || closedFor(err, CloseIdle) {
				t.Fatalf("errors.Is on %v", err)
			}
			var we *Error
			if errors.As(err, &we) {
				t.Fatalf("a close is no *Error: %v", err)
			}
			if got, want := err.Error(), "offloader: channel closed: shutting down: sigterm"; got != want {
				t.Fatalf("message %q, want %q", got, want)
			}
			if err := <-sent; err != nil {
				t.Fatalf("CloseWithReason: %v", err)
			}
			if _, err := receiver.ReadFrame(); !closedFor(err, CloseShuttingDown) {
				t.Fatalf("second read: %v", err)
			}
			if err := receiver.WaitFrame(); !closedFor(err, CloseShuttingDown) {
				t.Fatalf("wait after close: %v", err)
			}
			if err := receiver.WriteFrame([]byte("x")); !closedFor(err, CloseShuttingDown) {
				t.Fatalf("write after the peer's close: %v", err)
			}
			if err := sender.WriteFrame([]byte("x")); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("write after own close: %v", err)
			}
		}
	}
}

// On a PSK channel the close is sealed: its reason and detail are not in
// clear, and a tampered, replayed or relabelled close does not
// authenticate.
func TestChannelCloseIsSealed(t *testing.T) {
	client, server, toClient, toServer, _ := tap(t, false)
	frames := capture(t, server, toServer, "first")
	go server.CloseWithReason(CloseDeviceChanged, "psk changed")
	closeFrame := readRaw(t, toServer)
	if closeFrame[0] != frameClose || len(closeFrame) != headerLen+2+len("psk changed")+tagLen {
		t.Fatalf("close frame %x", closeFrame)
	}
	if bytes.Contains(closeFrame, []byte("psk changed")) {
		t.Fatal("close detail in clear on a PSK channel")
	}

	// Tampered: the tag fails.
	bad := bytes.Clone(closeFrame)
	bad[headerLen] ^= 1
	if got, err := deliver(client, toClient, frames[0]); err != nil || string(got) != "first" {
		t.Fatalf("genuine frame: %v", err)
	}
	_, err := deliver(client, toClient, bad)
	wantAuthFailed(t, "tampered close", nil, err)
	if errors.As(err, new(*CloseError)) {
		t.Fatal("tampered close read as a close")
	}
}

func TestChannelCloseReplayAndRelabel(t *testing.T) {
	// Replayed: a close that was genuine at sequence 1 at sequence 0.
	client, server, toClient, toServer, _ := tap(t, false)
	capture(t, server, toServer, "first")
	go server.CloseWithReason(CloseIdle, "")
	closeFrame := readRaw(t, toServer)
	_, err := deliver(client, toClient, closeFrame)
	wantAuthFailed(t, "close out of sequence", nil, err)

	// Relabelled: a sealed data frame with the close type, and a close
	// with the sealed type (the type is in the AD).
	client, server, toClient, toServer, _ = tap(t, false)
	data := capture(t, server, toServer, "\x01\x00")[0] // a valid close body as data
	data[0] = frameClose
	_, err = deliver(client, toClient, data)
	wantAuthFailed(t, "data relabelled close", nil, err)

	client, server, toClient, toServer, _ = tap(t, false)
	go server.CloseWithReason(CloseIdle, "")
	closeFrame = readRaw(t, toServer)
	closeFrame[0] = frameSealed
	_, err = deliver(client, toClient, closeFrame)
	wantAuthFailed(t, "close relabelled data", nil, err)
}

// Bad close frames fail typed: malformed bodies, an oversized frame
// (refused from its header), a close on a plaintext channel with a bad
// reason. A reason this version does not know ends the channel as a close.
func TestChannelCloseMalformed(t *testing.T) {
	cases := []struct {
		name string
		raw  []byte
		want Status // 0: a *CloseError
	}{
		{"reason 0", []byte{frameClose, 0, 0, 2, 0, 0}, StatusMalformed},
		{"empty", []byte{frameClose, 0, 0, 0}, StatusMalformed},
		{"no detail length", []byte{frameClose, 0, 0, 1, 1}, StatusMalformed},
		{"detail past body", []byte{frameClose, 0, 0, 3, 1, 2, 'a'}, StatusMalformed},
		{"trailing byte", []byte{frameClose, 0, 0, 3, 1, 0, 0}, StatusMalformed},
		{"control byte", []byte{frameClose, 0, 0, 3, 1, 1, '\n'}, StatusMalformed},
		{"too long", append([]byte{frameClose, 0, 0, 2 + MaxCloseDetail + 1, 1, MaxCloseDetail + 1}, bytes.Repeat([]byte{'a'}, MaxCloseDetail+1)...), StatusMalformed},
		{"huge", []byte{frameClose, 0xff, 0xff, 0xff}, StatusMalformed},
		{"unknown reason", []byte{frameClose, 0, 0, 4, 200, 2, 'o', 'k'}, 0},
	}
	for _, c := range cases {
		conn := newByteConn(nil)
		ch := fuzzChannel(bytes.NewReader(c.raw), conn, true)
		_, err := ch.ReadFrame()
		if c.want == 0 {
			var ce *CloseError
			if !errors.As(err, &ce) || ce.Reason != 200 || ce.Detail != "ok" || !strings.Contains(err.Error(), "reason(200)") {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if err := ch.WriteFrame([]byte("x")); err == nil {
			t.Errorf("%s: channel writable after a bad close", c.name)
		}
	}
	// The sender checks what it sends.
	client, _ := mustOpen(t, false)
	for _, d := range []string{strings.Repeat("a", MaxCloseDetail+1), "tab\there", "caf\u00e9"} {
		if err := client.writeClose(CloseIdle, d); err == nil {
			t.Errorf("detail %q accepted", d)
		}
	}
	if err := client.writeClose(0, ""); err == nil {
		t.Error("reason 0 accepted")
	}
}

// What a peer that predates close does with it (docs/PROTOCOL.md §5, §6.1):
// an unknown frame type after the opening ends the channel with
// StatusMalformed, read from the header alone, and the channel is dead both
// ways. Type 8 stands for the close frame an older reader does not know.
func TestChannelUnknownFrameTypeEndsChannel(t *testing.T) {
	for _, plaintext := range []bool{false, true} {
		conn := newByteConn(nil)
		// The header announces a payload that never comes: it is not read.
		ch := fuzzChannel(bytes.NewReader([]byte{8, 0, 0, 18}), conn, plaintext)
		_, err := ch.ReadFrame()
		var we *Error
		if !errors.As(err, &we) || we.Status != StatusMalformed || !strings.Contains(we.Detail, "unexpected frame type 8") {
			t.Fatalf("plaintext %v: %v", plaintext, err)
		}
		if _, err := ch.ReadFrame(); !errors.Is(err, StatusMalformed) {
			t.Fatalf("read after: %v", err)
		}
		if err := ch.WriteFrame([]byte("x")); !errors.Is(err, StatusMalformed) {
			t.Fatalf("write after: %v", err)
		}
	}
}

// The close body's bytes, pinned (docs/PROTOCOL.md §6.1).
func TestGoldenClose(t *testing.T) {
	for _, c := range []struct {
		reason CloseReason
		detail string
		hex    string
	}{
		{CloseShuttingDown, "", "0100"},
		{CloseIdle, "", "0200"},
		{CloseDeviceChanged, "psk changed", "030b70736b206368616e676564"},
		{CloseChannelAge, "", "0400"},
	} {
		b, err := marshalClose(c.reason, c.detail)
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, "close "+c.reason.String(), c.hex, b)
		ce, bad := parseClose(b)
		if bad != nil || ce.Reason != c.reason || ce.Detail != c.detail {
			t.Fatalf("%x parsed as %v, %v", b, ce, bad)
		}
	}
}

// closedFor reports whether err is the peer's close with reason r.
func closedFor(err error, r CloseReason) bool {
	ce, ok := errors.AsType[*CloseError](err)
	return ok && ce.Reason == r
}
