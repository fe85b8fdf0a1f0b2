package wire

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"testing"
)

// TestReadFrameFunc: frames of growing and shrinking sizes arrive intact
// through the reused buffer, in both modes; the payload handed to f is
// wiped once f returns; f's error comes back as is; a frame sent after a
// plaintext WriteFrame leaves no payload in the writer's buffer.
func TestReadFrameFunc(t *testing.T) {
	for _, plaintext := range []bool{false, true} {
		t.Run(fmt.Sprintf("plaintext=%v", plaintext), func(t *testing.T) {
			client, server := mustOpen(t, plaintext)
			sizes := []int{10, 3000, 40, 20000, 1}
			done := make(chan error, 1)
			go func() {
				for i, n := range sizes {
					if err := server.WriteFrame(bytes.Repeat([]byte{byte('a' + i)}, n)); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			var seen [][]byte
			for i, n := range sizes {
				err := client.ReadFrameFunc(func(p []byte) error {
					if want := bytes.Repeat([]byte{byte('a' + i)}, n); !bytes.Equal(p, want) {
						t.Errorf("frame %d: %d bytes, want %d of %q", i, len(p), n, rune('a'+i))
					}
					seen = append(seen, p)
					return nil
				})
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			for i, p := range seen {
				if bytes.ContainsFunc(p, func(r rune) bool { return r != 0 }) {
					t.Errorf("frame %d's payload not wiped after f returned", i)
				}
			}
			if plaintext && bytes.ContainsFunc(server.outBuf[:cap(server.outBuf)], func(r rune) bool { return r != 0 }) {
				t.Error("plaintext frame left in the writer's buffer")
			}

			mine := errors.New("mine")
			go func() { done <- server.WriteFrame([]byte("x")) }()
			if err := client.ReadFrameFunc(func([]byte) error { return mine }); err != mine {
				t.Fatalf("f's error came back as %v", err)
			}
			<-done
			// The channel still works, through both read methods.
			go func() { done <- server.WriteFrame([]byte("next")) }()
			if p, err := client.ReadFrame(); err != nil || string(p) != "next" {
				t.Fatalf("ReadFrame after ReadFrameFunc: %q %v", p, err)
			}
			<-done
		})
	}
}

// TestReadFrameFuncNoAllocation: in steady state neither direction
// allocates a frame buffer per frame.
func TestReadFrameFuncNoAllocation(t *testing.T) {
	client, server := mustOpen(t, false)
	payload := bytes.Repeat([]byte("p"), 4000)
	errs := make(chan error, 1)
	round := func() {
		go func() { errs <- server.WriteFrame(payload) }()
		if err := client.ReadFrameFunc(func([]byte) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	round() // the buffers are made once
	const n = 50
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		round()
	}
	runtime.ReadMemStats(&after)
	// The goroutine, the AEAD values and the pipe remain, well under a
	// frame buffer (4 KB each way).
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 2000 {
		t.Errorf("%d bytes allocated per frame", per)
	}
}

// TestFlightMarshalTo: MarshalTo encodes exactly what Marshal does, into
// the buffer given when it has room (whatever it held before), and into a
// grown one when it has not.
func TestFlightMarshalTo(t *testing.T) {
	f := &Flight{ID: 7, Token: []byte("tok"), Requests: []Request{
		&AuthRequest{ServerName: "example.com", Transcript: bytes.Repeat([]byte{0x16}, 3000)},
		&KeyGenRequest{},
		&KeyRequest{},
	}}
	want, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte{0xff}, 8000)
	got, err := f.MarshalTo(big)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("MarshalTo into a used buffer: %v, equal %v", err, bytes.Equal(got, want))
	}
	if &got[0] != &big[0] {
		t.Error("MarshalTo did not use the buffer it was given")
	}
	small := make([]byte, 10)
	if got, err := f.MarshalTo(small); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("MarshalTo into a small buffer: %v", err)
	}
	f.Requests = nil
	if _, err := f.MarshalTo(big); err == nil {
		t.Error("MarshalTo accepted a flight Marshal refuses")
	}
}
