package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// byteConn is a net.Conn that reads a fixed input and records writes.
type byteConn struct {
	r *bytes.Reader
	w bytes.Buffer
}

func newByteConn(in []byte) *byteConn                { return &byteConn{r: bytes.NewReader(in)} }
func (c *byteConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *byteConn) Write(p []byte) (int, error)      { return c.w.Write(p) }
func (c *byteConn) Close() error                     { return nil }
func (c *byteConn) LocalAddr() net.Addr              { return &net.UnixAddr{Name: "fuzz", Net: "unix"} }
func (c *byteConn) RemoteAddr() net.Addr             { return &net.UnixAddr{Name: "fuzz", Net: "unix"} }
func (c *byteConn) SetDeadline(time.Time) error      { return nil }
func (c *byteConn) SetReadDeadline(time.Time) error  { return nil }
func (c *byteConn) SetWriteDeadline(time.Time) error { return nil }

// countingRand is a deterministic "random" stream: start, start+1, ...
type countingRand struct{ next byte }

func (r *countingRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.next
		r.next++
	}
	return len(p), nil
}

// recordedClient opens a channel with a server whose randomness is fixed
// and returns every byte the client sent: hello, confirm and the frames
// carrying payloads.
func recordedClient(t testing.TB, plaintext bool, payloads ...[]byte) []byte {
	cc, sc := net.Pipe()
	defer cc.Close()
	var sent bytes.Buffer
	rec := &recordingConn{Conn: cc, w: &sent}
	done := make(chan error, 1)
	go func() {
		c, _, err := ServerOpen(sc, lookupOne("dev-1", testPSK), true, &countingRand{next: 0x80})
		if err == nil {
			for range payloads {
				if _, err = c.ReadFrame(); err != nil {
					break
				}
			}
		}
		done <- err
	}()
	c, err := ClientOpen(rec, ChannelConfig{DeviceID: "dev-1", PSK: testPSK, Plaintext: plaintext, Rand: &countingRand{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range payloads {
		if err := c.WriteFrame(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return sent.Bytes()
}

type recordingConn struct {
	net.Conn
	w io.Writer
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.w.Write(p)
	return c.Conn.Write(p)
}

func FuzzFlightUnmarshal(f *testing.F) {
	for _, fl := range sampleFlights() {
		b, err := fl.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		if len(b) < 4096 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fl Flight
		err := fl.Unmarshal(b)
		if err != nil {
			if !errors.Is(err, StatusMalformed) {
				t.Fatalf("error %v is not StatusMalformed", err)
			}
			return
		}
		// The encoding is canonical: what parses marshals back to itself.
		again, err := fl.Marshal()
		if err != nil {
			t.Fatalf("parsed flight does not marshal: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-marshal differs:\n%x\n%x", again, b)
		}
	})
}

func FuzzFlightResponseUnmarshal(f *testing.F) {
	for _, r := range sampleResponses() {
		b, err := r.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		if len(b) < 8192 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r FlightResponse
		err := r.Unmarshal(b)
		if err != nil {
			if !errors.Is(err, StatusMalformed) {
				t.Fatalf("error %v is not StatusMalformed", err)
			}
			return
		}
		again, err := r.Marshal()
		if err != nil {
			t.Fatalf("parsed response does not marshal: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-marshal differs:\n%x\n%x", again, b)
		}
	})
}

// FuzzServerOpen feeds arbitrary client bytes to the offloader's opening
// (with the randomness the seeds were recorded under, so the seeds open).
func FuzzServerOpen(f *testing.F) {
	flight, err := sampleFlights()[0].Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(recordedClient(f, false, flight))
	f.Add(recordedClient(f, true, flight))
	f.Add(recordedClient(f, false))
	f.Fuzz(func(t *testing.T, in []byte) {
		conn := newByteConn(in)
		c, id, err := ServerOpen(conn, lookupOne("dev-1", testPSK), true, &countingRand{next: 0x80})
		if err != nil {
			if c != nil || id != "" {
				t.Fatal("failed open returned a channel")
			}
			return
		}
		if id != "dev-1" {
			t.Fatalf("opened for %q", id)
		}
		for i := 0; i < 8; i++ {
			if _, err := c.ReadFrame(); err != nil {
				break
			}
		}
		c.Close()
	})
}

// fuzzChannel is an opened channel reading from in, keyed as a server
// whose device used testPSK with all-zero nonces.
func fuzzChannel(in io.Reader, conn net.Conn, plaintext bool) *Channel {
	var th [32]byte
	sch := deriveSchedule(testPSK, make([]byte, NonceLen), make([]byte, NonceLen), th)
	c := &Channel{conn: conn, r: bufio.NewReader(in), plaintext: plaintext}
	c.in.key, c.in.iv = sch.c2sKey, sch.c2sIV
	c.out.key, c.out.iv = sch.s2cKey, sch.s2cIV
	return c
}

// FuzzReadFrame feeds arbitrary bytes to an opened channel (sealed when
// the first byte is even, plaintext otherwise).
func FuzzReadFrame(f *testing.F) {
	// Seeds: real frames sealed by the matching device side.
	var th [32]byte
	sch := deriveSchedule(testPSK, make([]byte, NonceLen), make([]byte, NonceLen), th)
	for _, plaintext := range []bool{false, true} {
		conn := newByteConn(nil)
		dev := &Channel{conn: conn, plaintext: plaintext}
		dev.out.key, dev.out.iv = sch.c2sKey, sch.c2sIV
		for _, fl := range sampleFlights()[:3] {
			b, err := fl.Marshal()
			if err != nil {
				f.Fatal(err)
			}
			if err := dev.WriteFrame(b); err != nil {
				f.Fatal(err)
			}
		}
		dev.WriteFrame(nil)
		if err := dev.writeClose(CloseShuttingDown, "bye"); err != nil {
			f.Fatal(err)
		}
		mode := byte(0)
		if plaintext {
			mode = 1
		}
		f.Add(append([]byte{mode}, conn.w.Bytes()...))
	}
	f.Add([]byte{0, frameAlert, 0, 0, 1, byte(StatusAuthFailed)})
	f.Add([]byte{1, frameClose, 0, 0, 4, 200, 2, 'o', 'k'})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		conn := newByteConn(nil)
		c := fuzzChannel(bytes.NewReader(in[1:]), conn, in[0]&1 == 1)
		for {
			p, err := c.ReadFrame()
			if err != nil {
				break
			}
			if len(p) > MaxFrame {
				t.Fatalf("frame of %d bytes", len(p))
			}
		}
		if _, err := c.ReadFrame(); err == nil {
			t.Fatal("read succeeded after a failure")
		}
	})
}

// The opening is a function of the PSK and both sides' randomness: a
// recorded device replayed against the same server randomness opens again
// and its frames still read (the FuzzServerOpen seeds reach past the
// opening).
func TestRecordedClientReplays(t *testing.T) {
	flight, err := sampleFlights()[0].Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, plaintext := range []bool{false, true} {
		conn := newByteConn(recordedClient(t, plaintext, flight))
		c, id, err := ServerOpen(conn, lookupOne("dev-1", testPSK), true, &countingRand{next: 0x80})
		if err != nil || id != "dev-1" {
			t.Fatalf("plaintext %v: replay: %q, %v", plaintext, id, err)
		}
		got, err := c.ReadFrame()
		if err != nil || !bytes.Equal(got, flight) {
			t.Fatalf("plaintext %v: replayed frame: %v", plaintext, err)
		}
		// Other server randomness: the recorded confirm no longer fits.
		if !plaintext {
			conn := newByteConn(recordedClient(t, plaintext, flight))
			if _, _, err := ServerOpen(conn, lookupOne("dev-1", testPSK), true, &countingRand{next: 0x81}); !errors.Is(err, StatusAuthFailed) {
				t.Fatalf("replay under new server nonce: %v", err)
			}
		}
	}
}

// recordedServer returns the bytes an offloader sent while opening a
// channel with a device whose randomness is fixed.
func recordedServer(t testing.TB, plaintext bool) []byte {
	cc, sc := net.Pipe()
	defer cc.Close()
	var sent bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, _, err := ServerOpen(&recordingConn{Conn: sc, w: &sent}, lookupOne("dev-1", testPSK), true, &countingRand{next: 0x80})
		done <- err
	}()
	if _, err := ClientOpen(cc, ChannelConfig{DeviceID: "dev-1", PSK: testPSK, Plaintext: plaintext, Rand: &countingRand{}}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return sent.Bytes()
}

// FuzzClientOpen feeds arbitrary offloader bytes to the device's opening.
func FuzzClientOpen(f *testing.F) {
	f.Add(byte(0), recordedServer(f, false))
	f.Add(byte(1), recordedServer(f, true))
	f.Add(byte(0), []byte{frameAlert, 0, 0, 1, byte(StatusBadVersion)})
	f.Fuzz(func(t *testing.T, mode byte, in []byte) {
		conn := newByteConn(in)
		c, err := ClientOpen(conn, ChannelConfig{DeviceID: "dev-1", PSK: testPSK, Plaintext: mode&1 == 1, Rand: &countingRand{}})
		if err != nil {
			if c != nil {
				t.Fatal("failed open returned a channel")
			}
			return
		}
		for i := 0; i < 8; i++ {
			if _, err := c.ReadFrame(); err != nil {
				break
			}
		}
		c.Close()
	})
}
