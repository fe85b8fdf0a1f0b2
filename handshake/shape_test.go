package handshake

import (
	"bytes"
	"fmt"
	"testing"
)

func TestClientHelloExtensionOrder(t *testing.T) {
	h := &ClientHello{
		Version:              VersionTLS12,
		Random:               bytes.Repeat([]byte{1}, 32),
		CipherSuites:         []uint16{TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
		ServerName:           "example.com",
		SupportedGroups:      []uint16{0x0a0a, GroupX25519},
		PointFormats:         []uint8{0},
		SignatureAlgorithms:  []uint16{SigRSAPKCS1SHA256},
		ALPNProtocols:        []string{"h2"},
		ExtendedMasterSecret: true,
		SecureRenegotiation:  true,
		TicketSupported:      true,
		Extra:                []Extension{{Type: 0x1a1a}, {Type: ExtSCT}, {Type: 21, Data: make([]byte, 5)}},
	}
	def := h.ExtensionTypes()
	want := fmt.Sprint([]uint16{ExtServerName, ExtSupportedGroups, ExtECPointFormats, ExtSignatureAlgorithms, ExtALPN,
		ExtExtendedMasterSecret, ExtRenegotiationInfo, ExtSessionTicket, 0x1a1a, ExtSCT, 21})
	if fmt.Sprint(def) != want {
		t.Fatalf("default order %v, want %v", def, want)
	}

	// A full order is followed exactly; types not sent are ignored.
	order := []uint16{0x1a1a, ExtSessionTicket, ExtServerName, ExtRenegotiationInfo, 0x9999, ExtSCT, ExtALPN,
		ExtSignatureAlgorithms, ExtExtendedMasterSecret, ExtECPointFormats, ExtSupportedGroups, 21}
	h.ExtensionOrder = order
	msg, err := h.MarshalChecked()
	if err != nil {
		t.Fatal(err)
	}
	var sent []uint16
	for _, typ := range order {
		if typ != 0x9999 {
			sent = append(sent, typ)
		}
	}
	if got := wireExtensions(t, msg); fmt.Sprint(got) != fmt.Sprint(sent) {
		t.Errorf("wire order %v, want %v", got, sent)
	}
	if got := h.ExtensionTypes(); fmt.Sprint(got) != fmt.Sprint(sent) {
		t.Errorf("ExtensionTypes %v, want %v", got, sent)
	}
	// The reordered hello parses to the same fields.
	var back ClientHello
	if err := back.Unmarshal(msg); err != nil {
		t.Fatal(err)
	}
	if back.ServerName != h.ServerName || fmt.Sprint(back.SupportedGroups) != fmt.Sprint(h.SupportedGroups) ||
		!back.TicketSupported || !back.ExtendedMasterSecret || len(back.Extra) != 3 || back.ExtensionOrder != nil {
		t.Errorf("reparsed %+v", back)
	}

	// A partial order puts the listed types first, the rest after in the
	// default order.
	h.ExtensionOrder = []uint16{21, ExtALPN}
	got := wireExtensions(t, h.Marshal())
	want = fmt.Sprint([]uint16{21, ExtALPN, ExtServerName, ExtSupportedGroups, ExtECPointFormats, ExtSignatureAlgorithms,
		ExtExtendedMasterSecret, ExtRenegotiationInfo, ExtSessionTicket, 0x1a1a, ExtSCT})
	if fmt.Sprint(got) != want {
		t.Errorf("partial order %v, want %v", got, want)
	}

	// Ordering never hides a duplicate.
	h.Extra = append(h.Extra, Extension{Type: ExtALPN})
	if _, err := h.MarshalChecked(); err == nil {
		t.Error("a duplicate extension marshalled")
	}
}
