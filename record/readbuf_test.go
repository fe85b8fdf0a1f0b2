package record

import (
	"bytes"
	"testing"
)

// TestReadBufferSizedToMaxFragment: with max_fragment_length 512 the read
// buffer never grows past its first size however much is read, and without
// it the buffer grows on demand to the largest record (and once only).
func TestReadBufferSizedToMaxFragment(t *testing.T) {
	s := suites[2]
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10/16) // 64 KiB

	for _, tc := range []struct {
		maxFrag int
		wantCap int
	}{
		{512, initialReadBuf},
		{0, HeaderLen + MaxPlaintext + s.cipher(t, 1).Overhead()},
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

// TestReadBufferGrowsKeepingBytes: a record larger than the buffer arriving
// in pieces, behind unconsumed bytes, is read whole after the buffer grows.
func TestReadBufferGrowsKeepingBytes(t *testing.T) {
	small := rec(TypeHandshake, 0x0303, hsMsg(1, 100))
	big := rec(TypeHandshake, 0x0303, hsMsg(2, 5000))
	r, mc := reader(append(small, big...), 0x0303, nil, nil)
	mc.chunk = 700
	for i, want := range [][]byte{hsMsg(1, 100), hsMsg(2, 5000)} {
		typ, m, err := r.ReadMessage()
		if err != nil || typ != TypeHandshake || !bytes.Equal(m, want) {
			t.Fatalf("message %d: %v %v", i, typ, err)
		}
	}
	if c := cap(r.in.raw); c != HeaderLen+MaxPlaintext {
		t.Errorf("buffer %d bytes, want the plaintext record limit %d", c, HeaderLen+MaxPlaintext)
	}
}
