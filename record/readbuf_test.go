package record

import (
	"bytes"
	"testing"
)

// TestReadBufferSizedToMaxFragment: with max_fragment_length 512 the read
// buffer never grows past its first size however much is read, and without
// it one pooled buffer of the largest record serves every read.
func TestReadBufferSizedToMaxFragment(t *testing.T) {
	s := suites[2]
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10/16) // 64 KiB

	for _, tc := range []struct {
		maxFrag int
		wantCap int
	}{
		{512, initialReadBuf},
		{0, readBufSize},
	} {
		in := sealed(t, s.cipher(t, 1), func(c *Conn) error {
			c.SetMaxFragment(tc.maxFrag)
			_, err := c.Write(data)
			return err
		})
		r, _ := reader(in, 0x0303, s.cipher(t, 1), nil)
		r.SetMaxFragment(tc.maxFrag)
		var got []byte
		caps := map[int]bool{}
		for len(got) < len(data) {
			typ, m, err := r.ReadMessage()
			if err != nil || typ != TypeApplicationData {
				t.Fatalf("maxFrag %d: read %v %v", tc.maxFrag, typ, err)
			}
			if tc.maxFrag != 0 && len(m) > tc.maxFrag {
				t.Fatalf("record of %d bytes under a %d cap", len(m), tc.maxFrag)
			}
			got = append(got, m...)
			caps[cap(r.in.raw)] = true
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("maxFrag %d: data differs", tc.maxFrag)
		}
		if len(caps) != 1 || !caps[tc.wantCap] {
			t.Errorf("maxFrag %d: read buffer capacities %v, want only %d", tc.maxFrag, caps, tc.wantCap)
		}
	}
}

// TestReadBufferGrowsKeepingBytes: under max_fragment_length a record
// larger than the buffer arriving in pieces, behind unconsumed bytes, is
// read whole after the buffer grows to the record limit.
func TestReadBufferGrowsKeepingBytes(t *testing.T) {
	small := rec(TypeHandshake, 0x0303, hsMsg(1, 100))
	big := rec(TypeHandshake, 0x0303, hsMsg(2, 3000))
	r, mc := reader(append(small, big...), 0x0303, nil, nil)
	r.SetMaxFragment(4096)
	mc.chunk = 700
	for i, want := range [][]byte{hsMsg(1, 100), hsMsg(2, 3000)} {
		typ, m, err := r.ReadMessage()
		if err != nil || typ != TypeHandshake || !bytes.Equal(m, want) {
			t.Fatalf("message %d: %v %v", i, typ, err)
		}
	}
	if c := cap(r.in.raw); c != HeaderLen+4096 {
		t.Errorf("buffer %d bytes, want the plaintext record limit %d", c, HeaderLen+4096)
	}
}

// TestReleaseBuffers: the pooled read buffer is given back, wiped, only
// when nothing is pending (not inside a record, not between two messages
// of one record, not inside a reassembled message), and reading resumes
// afterwards; the out buffer is given back after every flush.
func TestReleaseBuffers(t *testing.T) {
	two := append(hsMsg(1, 10), hsMsg(2, 20)...)
	split := hsMsg(3, 300)
	var in []byte
	in = append(in, rec(TypeHandshake, 0x0303, two)...)
	in = append(in, rec(TypeHandshake, 0x0303, split[:100])...)
	in = append(in, rec(TypeHandshake, 0x0303, split[100:])...)
	in = append(in, rec(TypeHandshake, 0x0303, hsMsg(4, 40))...)
	r, mc := reader(in, 0x0303, nil, nil)
	mc.chunk = HeaderLen + len(two) // the first read ends with the first record

	read := func(want []byte) {
		t.Helper()
		typ, m, err := r.ReadMessage()
		if err != nil || typ != TypeHandshake || !bytes.Equal(m, want) {
			t.Fatalf("read %v %x %v, want %x", typ, m, err, want)
		}
	}
	read(hsMsg(1, 10))
	r.ReleaseBuffers() // the second message of the record is pending
	if r.in.raw == nil {
		t.Fatal("buffer released with a message pending in it")
	}
	read(hsMsg(2, 20))
	held := r.in.raw
	r.ReleaseBuffers()
	if r.in.raw != nil || r.in.box != nil {
		t.Fatal("idle buffer not released")
	}
	if bytes.Contains(held[:cap(held)], hsMsg(2, 20)) {
		t.Fatal("released buffer not wiped")
	}
	mc.chunk = HeaderLen + 100 // each read ends with the record it began
	// The first half of message 3 is read into the reassembly buffer
	// while the call waits for the rest; a timeout in between would leave
	// it pending. Simulate the state: read half, check, then finish.
	r.in.mu.Lock()
	typ, data, err := r.readRecord()
	if err != nil || typ != TypeHandshake {
		t.Fatal(typ, err)
	}
	r.in.pending = data
	if msg, err := r.in.nextHandshake(); msg != nil || err != nil {
		t.Fatal("half a message returned", err)
	}
	r.in.mu.Unlock()
	r.ReleaseBuffers()
	if len(r.in.hs) != 100 {
		t.Fatalf("partial message dropped by a release: %d bytes kept", len(r.in.hs))
	}
	read(split)
	r.ReleaseBuffers()
	read(hsMsg(4, 40))
	r.ReleaseBuffers()
	if r.in.raw != nil || r.in.hs != nil || r.HeldBuffers() != 0 {
		t.Fatal("buffers held after the last message")
	}

	w, _ := reader(nil, 0x0303, nil, nil)
	if err := w.WriteRecords(TypeHandshake, hsMsg(1, 100)); err != nil {
		t.Fatal(err)
	}
	if w.out.box == nil || w.HeldBuffers() == 0 {
		t.Fatal("no pooled out buffer while records wait")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if w.out.buf != nil || w.out.box != nil {
		t.Fatal("out buffer held after a flush")
	}
}

// TestGrowReadBuffer: a connection that asked for its own read buffer
// reads small records without ever taking a pooled one, and grows only
// when a larger record arrives (a server that ignored max_fragment_length).
func TestGrowReadBuffer(t *testing.T) {
	small := rec(TypeHandshake, 0x0303, hsMsg(1, 400))
	big := rec(TypeHandshake, 0x0303, hsMsg(2, 9000))
	r, _ := reader(append(small, big...), 0x0303, nil, nil)
	r.GrowReadBuffer()
	if typ, m, err := r.ReadMessage(); err != nil || typ != TypeHandshake || !bytes.Equal(m, hsMsg(1, 400)) {
		t.Fatalf("small record: %v %v", typ, err)
	}
	if r.in.box != nil || cap(r.in.raw) != initialReadBuf {
		t.Fatalf("small record read into a %d-byte buffer (pooled %v)", cap(r.in.raw), r.in.box != nil)
	}
	r.ReleaseBuffers()
	if typ, m, err := r.ReadMessage(); err != nil || typ != TypeHandshake || !bytes.Equal(m, hsMsg(2, 9000)) {
		t.Fatalf("large record: %v %v", typ, err)
	}
	if r.in.box != nil || cap(r.in.raw) != HeaderLen+MaxPlaintext {
		t.Errorf("large record: buffer %d bytes (pooled %v), want its own of %d", cap(r.in.raw), r.in.box != nil, HeaderLen+MaxPlaintext)
	}
}

// TestSteadyStateAllocatesNothing: writing and reading full records, with
// the buffers given back to their pools between records (the idle
// connection's state), allocates nothing per record once warm.
func TestSteadyStateAllocatesNothing(t *testing.T) {
	for _, s := range []suite{suites[0], suites[2]} {
		lc := &loopConn{}
		w, r := NewConn(lc), NewConn(lc)
		w.SetVersion(0x0303)
		r.SetVersion(0x0303)
		w.setCiphers(nil, s.cipher(t, 1))
		r.setCiphers(s.cipher(t, 1), nil)
		data := make([]byte, MaxPlaintext)
		lc.buf.Grow(2 * (HeaderLen + MaxCiphertext))
		round := func() {
			if _, err := w.Write(data); err != nil {
				t.Fatal(err)
			}
			if _, p, err := r.ReadMessage(); err != nil || len(p) != MaxPlaintext {
				t.Fatal(err)
			}
			r.ReleaseBuffers()
			if r.HeldBuffers() != 0 || w.HeldBuffers() != 0 {
				t.Fatal("buffers held between records")
			}
		}
		round()
		if n := testing.AllocsPerRun(20, round); n != 0 && !raceEnabled {
			t.Errorf("%s: %.1f allocations per record", s.name, n)
		}
	}
}
