package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

var testPSK = bytes.Repeat([]byte{0x42}, 32)

func lookupOne(id string, psk []byte) func(string) ([]byte, bool) {
	return func(d string) ([]byte, bool) {
		if d == id {
			return psk, true
		}
		return nil, false
	}
}

type openResult struct {
	c   *Channel
	id  string
	err error
}

// openPair opens a channel over net.Pipe and returns both ends' results.
func openPair(t *testing.T, cfg ChannelConfig, lookup func(string) ([]byte, bool), allowPlaintext bool) (client, server openResult) {
	t.Helper()
	cc, sc := net.Pipe()
	t.Cleanup(func() { cc.Close(); sc.Close() })
	done := make(chan openResult)
	go func() {
		c, id, err := ServerOpen(sc, lookup, allowPlaintext, nil)
		done <- openResult{c, id, err}
	}()
	c, err := ClientOpen(cc, cfg)
	client = openResult{c: c, err: err}
	select {
	case server = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("server side of the opening never returned")
	}
	return client, server
}

func mustOpen(t *testing.T, plaintext bool) (client, server *Channel) {
	t.Helper()
	cfg := ChannelConfig{DeviceID: "dev-1", PSK: testPSK, Plaintext: plaintext}
	cr, sr := openPair(t, cfg, lookupOne("dev-1", testPSK), plaintext)
	if cr.err != nil || sr.err != nil {
		t.Fatalf("open: client %v, server %v", cr.err, sr.err)
	}
	if sr.id != "dev-1" {
		t.Fatalf("server authenticated %q, want dev-1", sr.id)
	}
	t.Cleanup(func() { cr.c.Close(); sr.c.Close() })
	return cr.c, sr.c
}

// exchange sends n frames each way at once: a reader and a writer
// goroutine on each end.
func exchange(t *testing.T, client, server *Channel, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	msg := func(dir string, i int) []byte {
		return bytes.Repeat([]byte(fmt.Sprintf("%s %d;", dir, i)), i%50+1)
	}
	send := func(c *Channel, dir string) {
		defer wg.Done()
		for i := range n {
			if err := c.WriteFrame(msg(dir, i)); err != nil {
				errs <- fmt.Errorf("%s write %d: %w", dir, i, err)
				return
			}
		}
	}
	recv := func(c *Channel, dir string) {
		defer wg.Done()
		for i := range n {
			got, err := c.ReadFrame()
			if err != nil {
				errs <- fmt.Errorf("%s read %d: %w", dir, i, err)
				return
			}
			if !bytes.Equal(got, msg(dir, i)) {
				errs <- fmt.Errorf("%s frame %d: got %q", dir, i, got)
				return
			}
		}
	}
	wg.Add(4)
	go send(client, "c2s")
	go recv(server, "c2s")
	go send(server, "s2c")
	go recv(client, "s2c")
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestChannelPSK(t *testing.T) {
	client, server := mustOpen(t, false)
	exchange(t, client, server, 200)
	// Empty and largest payloads.
	go client.WriteFrame(nil)
	if got, err := server.ReadFrame(); err != nil || len(got) != 0 {
		t.Fatalf("empty frame: %q, %v", got, err)
	}
	big := seq(MaxFrame)
	go client.WriteFrame(big)
	if got, err := server.ReadFrame(); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("largest frame: %d bytes, %v", len(got), err)
	}
	if err := client.WriteFrame(seq(MaxFrame + 1)); !errors.Is(err, StatusMalformed) {
		t.Fatalf("oversized frame: %v", err)
	}
}

func TestChannelPlaintext(t *testing.T) {
	client, server := mustOpen(t, true)
	exchange(t, client, server, 50)
}

// tap opens a channel through the test: toClient is the far end of the
// client's transport and toServer the far end of the server's, so the test
// sees every frame and chooses what each side reads.
func tap(t *testing.T, tamperConfirm bool) (client, server *Channel, toClient, toServer net.Conn, serverErr error) {
	t.Helper()
	cc, toClient := net.Pipe()
	toServer, sc := net.Pipe()
	t.Cleanup(func() { cc.Close(); toClient.Close(); toServer.Close(); sc.Close() })
	sdone := make(chan openResult, 1)
	go func() {
		c, id, err := ServerOpen(sc, lookupOne("dev-1", testPSK), false, nil)
		sdone <- openResult{c, id, err}
	}()
	cdone := make(chan openResult, 1)
	go func() {
		c, err := ClientOpen(cc, ChannelConfig{DeviceID: "dev-1", PSK: testPSK})
		cdone <- openResult{c: c, err: err}
	}()
	relay := func(from, to net.Conn, tamper bool) {
		f := readRaw(t, from)
		if tamper {
			f[len(f)-1] ^= 1
		}
		if _, err := to.Write(f); err != nil {
			t.Fatalf("relay: %v", err)
		}
	}
	relay(toClient, toServer, false) // hello
	relay(toServer, toClient, false) // server hello
	relay(toClient, toServer, tamperConfirm)
	cr := <-cdone
	if cr.err != nil {
		t.Fatalf("client open: %v", cr.err)
	}
	if tamperConfirm {
		alert := readRaw(t, toServer)
		go toClient.Write(alert)
		sr := <-sdone
		return cr.c, nil, toClient, toServer, sr.err
	}
	sr := <-sdone
	if sr.err != nil {
		t.Fatalf("server open: %v", sr.err)
	}
	return cr.c, sr.c, toClient, toServer, nil
}

// readRaw reads one frame, header included, off a transport.
func readRaw(t *testing.T, c net.Conn) []byte {
	t.Helper()
	hdr := make([]byte, 4)
	if _, err := io.ReadFull(c, hdr); err != nil {
		t.Fatalf("reading frame header: %v", err)
	}
	n := int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
	body := make([]byte, n)
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatalf("reading frame: %v", err)
	}
	return append(hdr, body...)
}

// capture has c write each payload and returns the frames as sent.
func capture(t *testing.T, c *Channel, far net.Conn, payloads ...string) [][]byte {
	t.Helper()
	var frames [][]byte
	for _, p := range payloads {
		go c.WriteFrame([]byte(p))
		frames = append(frames, readRaw(t, far))
	}
	return frames
}

// deliver writes raw bytes to far and returns what c's ReadFrame makes of
// them.
func deliver(c *Channel, far net.Conn, raw []byte) ([]byte, error) {
	go far.Write(raw)
	return c.ReadFrame()
}

func wantAuthFailed(t *testing.T, what string, got []byte, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Status != StatusAuthFailed {
		t.Fatalf("%s: got %q, %v; want StatusAuthFailed", what, got, err)
	}
}

func TestChannelRefusesTamperedFrame(t *testing.T) {
	client, server, toClient, toServer, _ := tap(t, false)
	f := capture(t, client, toClient, "hello")[0]
	bad := bytes.Clone(f)
	bad[6] ^= 1
	got, err := deliver(server, toServer, bad)
	wantAuthFailed(t, "tampered frame", got, err)
	// The channel is dead: the genuine frame no longer opens, and writes fail.
	go toServer.Write(f)
	_, err = server.ReadFrame()
	wantAuthFailed(t, "read after failure", nil, err)
	if err := server.WriteFrame([]byte("x")); !errors.Is(err, StatusAuthFailed) {
		t.Fatalf("write after failure: %v", err)
	}
}

func TestChannelRefusesTamperedTag(t *testing.T) {
	client, server, toClient, toServer, _ := tap(t, false)
	f := capture(t, client, toClient, "hello")[0]
	f[len(f)-1] ^= 1
	got, err := deliver(server, toServer, f)
	wantAuthFailed(t, "tampered tag", got, err)
}

func TestChannelRefusesReplay(t *testing.T) {
	client, server, toClient, toServer, _ := tap(t, false)
	f := capture(t, client, toClient, "once")[0]
	if got, err := deliver(server, toServer, f); err != nil || string(got) != "once" {
		t.Fatalf("first delivery: %q, %v", got, err)
	}
	got, err := deliver(server, toServer, f)
	wantAuthFailed(t, "replayed frame", got, err)
}

func TestChannelRefusesReorder(t *testing.T) {
	client, server, toClient, toServer, _ := tap(t, false)
	fs := capture(t, client, toClient, "first", "second")
	got, err := deliver(server, toServer, fs[1])
	wantAuthFailed(t, "second frame first", got, err)
}

func TestChannelRefusesReflection(t *testing.T) {
	client, server, toClient, toServer, _ := tap(t, false)
	// A device frame sent back to the device.
	f := capture(t, client, toClient, "to the offloader")[0]
	got, err := deliver(client, toClient, f)
	wantAuthFailed(t, "device frame reflected to the device", got, err)
	// An offloader frame sent back to the offloader.
	g := capture(t, server, toServer, "to the device")[0]
	got, err = deliver(server, toServer, g)
	wantAuthFailed(t, "offloader frame reflected to the offloader", got, err)
}

func TestChannelRefusesPlainFrameOnSealedChannel(t *testing.T) {
	_, server, _, toServer, _ := tap(t, false)
	got, err := deliver(server, toServer, []byte{framePlain, 0, 0, 2, 'h', 'i'})
	if err == nil {
		t.Fatalf("plain frame accepted on a sealed channel: %q", got)
	}
}

// The client confirm is checked by the server; the client hears of a bad
// one as an alert on its first read.
func TestChannelServerRefusesBadClientConfirm(t *testing.T) {
	client, _, _, _, serverErr := tap(t, true)
	if !errors.Is(serverErr, StatusAuthFailed) {
		t.Fatalf("server: %v, want StatusAuthFailed", serverErr)
	}
	_, err := client.ReadFrame()
	wantAuthFailed(t, "client read after refusal", nil, err)
}

func TestChannelWrongPSK(t *testing.T) {
	cfg := ChannelConfig{DeviceID: "dev-1", PSK: bytes.Repeat([]byte{0x43}, 32)}
	cr, sr := openPair(t, cfg, lookupOne("dev-1", testPSK), false)
	for side, err := range map[string]error{"client": cr.err, "server": sr.err} {
		var e *Error
		if !errors.As(err, &e) || e.Status != StatusAuthFailed {
			t.Errorf("%s: %v, want StatusAuthFailed", side, err)
		}
	}
}

// An unknown device sees exactly what a device with a wrong PSK sees.
func TestChannelUnknownDeviceLooksLikeWrongPSK(t *testing.T) {
	wrong, wsr := openPair(t, ChannelConfig{DeviceID: "dev-1", PSK: bytes.Repeat([]byte{0x43}, 32)}, lookupOne("dev-1", testPSK), false)
	unknown, sr := openPair(t, ChannelConfig{DeviceID: "dev-2", PSK: testPSK}, lookupOne("dev-1", testPSK), false)
	// Only the offloader's own error (for its log) tells them apart.
	if sr.err == nil || wsr.err == nil || !strings.Contains(sr.err.Error(), "unknown device") || !strings.Contains(wsr.err.Error(), "wrong psk") {
		t.Errorf("server errors: unknown device %q, wrong psk %q", sr.err, wsr.err)
	}
	if !errors.Is(unknown.err, StatusAuthFailed) || !errors.Is(sr.err, StatusAuthFailed) {
		t.Fatalf("unknown device: client %v, server %v", unknown.err, sr.err)
	}
	if unknown.err.Error() != wrong.err.Error() {
		t.Fatalf("unknown device: %q; wrong psk: %q", unknown.err, wrong.err)
	}
	// Also in plaintext mode the device must be known.
	_, sr = openPair(t, ChannelConfig{DeviceID: "dev-2", Plaintext: true}, lookupOne("dev-1", testPSK), true)
	if !errors.Is(sr.err, StatusAuthFailed) {
		t.Fatalf("unknown device in plaintext: %v", sr.err)
	}
}

func TestChannelPlaintextRefused(t *testing.T) {
	cr, sr := openPair(t, ChannelConfig{DeviceID: "dev-1", Plaintext: true}, lookupOne("dev-1", testPSK), false)
	if !errors.Is(cr.err, StatusPlaintextRefused) || !errors.Is(sr.err, StatusPlaintextRefused) {
		t.Fatalf("client %v, server %v; want StatusPlaintextRefused", cr.err, sr.err)
	}
}

// serverAnswer sends raw bytes to ServerOpen and returns its error and the
// alert it sent.
func serverAnswer(t *testing.T, raw []byte) (error, []byte) {
	t.Helper()
	cc, sc := net.Pipe()
	defer cc.Close()
	done := make(chan error, 1)
	go func() {
		_, _, err := ServerOpen(sc, lookupOne("dev-1", testPSK), true, nil)
		done <- err
	}()
	go cc.Write(raw)
	reply, _ := io.ReadAll(cc)
	return <-done, reply
}

func TestServerOpenRefusals(t *testing.T) {
	nonce := make([]byte, NonceLen)
	hello := func(version, mode byte, id string, tail []byte) []byte {
		p := append([]byte{version, mode, byte(len(id))}, id...)
		p = append(p, tail...)
		return append([]byte{frameHello, 0, byte(len(p) >> 8), byte(len(p))}, p...)
	}
	cases := []struct {
		name string
		raw  []byte
		want Status
	}{
		{"version 2", hello(2, 0, "dev-1", nonce), StatusBadVersion},
		{"version 0 longer hello", hello(0, 0, "dev-1", make([]byte, 500)), StatusBadVersion},
		{"short nonce", hello(1, 0, "dev-1", nonce[:31]), StatusMalformed},
		{"trailing byte", hello(1, 0, "dev-1", append(nonce, 0)), StatusMalformed},
		{"empty device id", hello(1, 0, "", nonce), StatusMalformed},
		{"long device id", hello(1, 0, string(seq(MaxDeviceID+1)), nonce), StatusMalformed},
		{"unknown mode", hello(1, 2, "dev-1", nonce), StatusMalformed},
		{"not a hello", []byte{frameSealed, 0, 0, 1, 0}, StatusMalformed},
		{"huge hello", []byte{frameHello, 0xff, 0xff, 0xff}, StatusMalformed},
		{"empty hello", []byte{frameHello, 0, 0, 0}, StatusMalformed},
	}
	for _, c := range cases {
		err, reply := serverAnswer(t, c.raw)
		var e *Error
		if !errors.As(err, &e) || e.Status != c.want {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		if want := []byte{frameAlert, 0, 0, 1, byte(c.want)}; !bytes.Equal(reply, want) {
			t.Errorf("%s: server sent %x, want alert %x", c.name, reply, want)
		}
	}
}

// A client facing an offloader of another version hears StatusBadVersion.
func TestClientOpenBadServerVersion(t *testing.T) {
	cc, sc := net.Pipe()
	defer sc.Close()
	go func() {
		readRaw(t, sc)
		p := append([]byte{2}, make([]byte, 2*NonceLen)...)
		sc.Write(append([]byte{frameServerHello, 0, 0, byte(len(p))}, p...))
	}()
	_, err := ClientOpen(cc, ChannelConfig{DeviceID: "dev-1", PSK: testPSK})
	if !errors.Is(err, StatusBadVersion) {
		t.Fatalf("err = %v, want StatusBadVersion", err)
	}
}

func TestClientOpenConfig(t *testing.T) {
	for _, cfg := range []ChannelConfig{
		{DeviceID: "", PSK: testPSK},
		{DeviceID: string(seq(MaxDeviceID + 1)), PSK: testPSK},
		{DeviceID: "d", PSK: seq(MinPSKLen - 1)},
		{DeviceID: "d", PSK: seq(MaxPSKLen + 1)},
	} {
		cc, sc := net.Pipe()
		if _, err := ClientOpen(cc, cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
		sc.Close()
	}
}

func TestChannelClose(t *testing.T) {
	client, server := mustOpen(t, false)
	if client.out.key == ([keyLen]byte{}) {
		t.Fatal("no key before Close")
	}
	readDone := make(chan error)
	go func() {
		_, err := server.ReadFrame()
		readDone <- err
	}()
	client.Close()
	server.Close()
	if err := <-readDone; err == nil {
		t.Fatal("blocked read survived Close")
	}
	for _, h := range []*halfConn{&client.in, &client.out, &server.in, &server.out} {
		if h.key != ([keyLen]byte{}) || h.iv != ([ivLen]byte{}) {
			t.Fatal("key not zeroed by Close")
		}
	}
	if err := client.WriteFrame([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
	if _, err := client.ReadFrame(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after Close: %v", err)
	}
}

// A timeout before the first byte of a frame leaves the channel usable.
func TestChannelIdleTimeoutIsNotFatal(t *testing.T) {
	client, server := mustOpen(t, false)
	server.conn.SetReadDeadline(time.Now().Add(time.Millisecond))
	if err := server.WaitFrame(); err == nil {
		t.Fatal("WaitFrame did not time out")
	}
	if _, err := server.ReadFrame(); err == nil {
		t.Fatal("ReadFrame did not time out")
	}
	server.conn.SetReadDeadline(time.Time{})
	go client.WriteFrame([]byte("later"))
	if err := server.WaitFrame(); err != nil {
		t.Fatalf("WaitFrame: %v", err)
	}
	if got, err := server.ReadFrame(); err != nil || string(got) != "later" {
		t.Fatalf("after idle timeout: %q, %v", got, err)
	}
}

func TestNonceIsIVXorSeq(t *testing.T) {
	h := halfConn{iv: [ivLen]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, seq: 0x0102}
	want := [ivLen]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 ^ 1, 11 ^ 2}
	if got := h.nonce(); got != want {
		t.Fatalf("nonce = %x, want %x", got, want)
	}
}

// Buffered says whether a next frame's bytes were already read.
func TestChannelBuffered(t *testing.T) {
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	type opened struct {
		ch  *Channel
		err error
	}
	srv := make(chan opened, 1)
	go func() {
		ch, _, err := ServerOpen(c2, func(string) ([]byte, bool) { return bytes.Repeat([]byte{7}, 32), true }, false, nil)
		srv <- opened{ch, err}
	}()
	cl, err := ClientOpen(c1, ChannelConfig{DeviceID: "d", PSK: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	o := <-srv
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.ch.Buffered() {
		t.Fatal("buffered before any frame")
	}
	go func() {
		cl.WriteFrame([]byte("one"))
		cl.WriteFrame([]byte("two"))
	}()
	if b, err := o.ch.ReadFrame(); err != nil || string(b) != "one" {
		t.Fatalf("%q, %v", b, err)
	}
	if err := o.ch.WaitFrame(); err != nil {
		t.Fatal(err)
	}
	if !o.ch.Buffered() {
		t.Fatal("a waiting frame is not reported")
	}
	if b, err := o.ch.ReadFrame(); err != nil || string(b) != "two" {
		t.Fatalf("%q, %v", b, err)
	}
	if o.ch.Buffered() {
		t.Fatal("buffered after the last frame")
	}
}
