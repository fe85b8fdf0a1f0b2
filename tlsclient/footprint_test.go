package tlsclient

import (
	"bytes"
	"slices"
	"testing"

	"github.com/tlsoffload/tlsoffload/handshake"
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

// TestHelloExtensionTypes: the types read back from an encoded ClientHello
// are those ExtensionTypes lists, in order, with GREASE, padding-free and
// extension-less hellos alike; truncated bytes are refused.
func TestHelloExtensionTypes(t *testing.T) {
	full := &handshake.ClientHello{Version: 0x0303, Random: make([]byte, 32), SessionID: []byte{1, 2},
		CipherSuites: []uint16{0xc02f, 0x0a0a}, CompressionMethods: []uint8{0}, ServerName: "example.com",
		SupportedGroups: []uint16{29, 23}, PointFormats: []uint8{0}, SignatureAlgorithms: []uint16{0x0804},
		ALPNProtocols: []string{"h2"}, ExtendedMasterSecret: true, SecureRenegotiation: true,
		RenegotiationInfo: []byte{}, TicketSupported: true}
	bare := &handshake.ClientHello{Version: 0x0301, Random: make([]byte, 32),
		CipherSuites: []uint16{0x002f}, CompressionMethods: []uint8{0}}
	for name, h := range map[string]*handshake.ClientHello{"full": full, "bare": bare} {
		msg, err := h.MarshalChecked()
		if err != nil {
			t.Fatal(name, err)
		}
		got, ok := helloExtensionTypes(msg)
		if want := h.ExtensionTypes(); !ok || !slices.Equal(got, want) {
			t.Errorf("%s: got %v %v, want %v", name, got, ok, want)
		}
		for n := range len(msg) {
			if _, ok := helloExtensionTypes(msg[:n]); ok && n > 0 {
				if name == "bare" && n == len(msg) {
					continue
				}
				t.Errorf("%s: %d of %d bytes accepted", name, n, len(msg))
				break
			}
		}
	}
}
