package tlsclient

import (
	"bytes"
	"testing"
)

// TestIdleConnHoldsNoBuffer: once the handshake is over, and again once a
// Read has drained a record (read in pieces smaller than the record), the
// connection holds no record-layer buffer; in between, the record being
// read stays buffered and is returned whole.
func TestIdleConnHoldsNoBuffer(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789"), 1000)
	proceed := make(chan struct{})
	c, done := runScript(t, nil, func(p *scriptPeer) error {
		if err := p.fullHandshake(); err != nil {
			return err
		}
		<-proceed // nothing follows the handshake until the check is done
		_, err := p.rc.Write(payload)
		return err
	})
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	if n := c.rc.HeldBuffers(); n != 0 {
		t.Errorf("%d bytes of buffer held after the handshake", n)
	}
	close(proceed)
	var got []byte
	buf := make([]byte, 1000)
	for len(got) < len(payload) {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
		if len(got) < len(payload) && c.rc.HeldBuffers() == 0 {
			t.Fatal("record buffer released with data pending")
		}
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("payload differs")
	}
	if n := c.rc.HeldBuffers(); n != 0 {
		t.Errorf("%d bytes of buffer held after the record was drained", n)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
