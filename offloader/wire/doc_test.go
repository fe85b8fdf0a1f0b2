package wire

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

var printVector = flag.Bool("print-vector", false, "print the test vector block of docs/PROTOCOL.md as the code computes it")

const protocolDoc = "../../docs/PROTOCOL.md"

// The inputs of the documented vector.
var (
	vecPSK        = seqFrom(0x00, 32)
	vecDeviceID   = "device-0001"
	vecClientRand = byte(0xa0) // client nonce a0 a1 ... bf
	vecServerRand = byte(0xc0) // server nonce c0 c1 ... df
)

func seqFrom(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

func vecFlight() *Flight {
	return &Flight{
		ID:          1,
		HandshakeID: [16]byte(seqFrom(0x10, 16)),
		Requests: []Request{&StartRequest{
			ServerName:          "example.com",
			Versions:            []uint16{0x0303},
			CipherSuites:        []uint16{0xc02f},
			Groups:              []uint16{0x001d},
			SignatureAlgorithms: []uint16{0x0804},
		}},
	}
}

func vecResponse() *FlightResponse {
	return &FlightResponse{
		ID: 1,
		Results: []Result{{Body: &StartResponse{
			Versions:            []uint16{0x0303},
			CipherSuites:        []uint16{0xc02f},
			Groups:              []uint16{0x001d},
			SignatureAlgorithms: []uint16{0x0804},
			TTL:                 300 * time.Second,
		}}},
	}
}

type kv struct {
	name  string
	value []byte
}

// computeVector runs a real opening over net.Pipe with the vector's inputs,
// sends the flight and its response, and returns every value the document
// lists, in its order.
func computeVector(t *testing.T) []kv {
	t.Helper()
	cc, sc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	var fromClient, fromServer bytes.Buffer
	type res struct {
		c   *Channel
		err error
	}
	done := make(chan res, 1)
	go func() {
		c, _, err := ServerOpen(&recordingConn{Conn: sc, w: &fromServer}, lookupOne(vecDeviceID, vecPSK), false, &countingRand{next: vecServerRand})
		done <- res{c, err}
	}()
	client, err := ClientOpen(&recordingConn{Conn: cc, w: &fromClient}, ChannelConfig{DeviceID: vecDeviceID, PSK: vecPSK, Rand: &countingRand{next: vecClientRand}})
	if err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	server := r.c
	hdr := fromClient.Bytes()[:headerLen]
	helloLen := headerLen + (int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3]))
	serverHello := bytes.Clone(fromServer.Bytes())

	flight, err := vecFlight().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	response, err := vecResponse().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	go client.WriteFrame(flight)
	if got, err := server.ReadFrame(); err != nil || !bytes.Equal(got, flight) {
		t.Fatalf("flight through the channel: %v", err)
	}
	go server.WriteFrame(response)
	if got, err := client.ReadFrame(); err != nil || !bytes.Equal(got, response) {
		t.Fatalf("response through the channel: %v", err)
	}
	// The offloader then closes the channel: shutting down (s2c, sequence 1).
	closeBody, err := marshalClose(CloseShuttingDown, "")
	if err != nil {
		t.Fatal(err)
	}
	sentBefore := fromServer.Len()
	go server.CloseWithReason(CloseShuttingDown, "")
	if _, err := client.ReadFrame(); !closedFor(err, CloseShuttingDown) {
		t.Fatalf("close through the channel: %v", err)
	}
	sealedClose := bytes.Clone(fromServer.Bytes()[sentBefore:])

	sent := fromClient.Bytes()
	clientHello := sent[:helloLen]
	// The client's writes after its hello: confirm (4+32), then the sealed flight.
	confirm := sent[helloLen : helloLen+headerLen+confirmLen]
	sealedFlight := sent[helloLen+headerLen+confirmLen:]
	sealedResponse := fromServer.Bytes()[len(serverHello):sentBefore]

	th := transcriptHash(clientHello, serverHello[:len(serverHello)-confirmLen])
	sch := deriveSchedule(vecPSK, seqFrom(vecClientRand, NonceLen), seqFrom(vecServerRand, NonceLen), th)
	return []kv{
		{"psk", vecPSK},
		{"device_id", []byte(vecDeviceID)},
		{"client_nonce", seqFrom(vecClientRand, NonceLen)},
		{"server_nonce", seqFrom(vecServerRand, NonceLen)},
		{"client_hello_frame", clientHello},
		{"server_hello_frame", serverHello},
		{"th", sch.th[:]},
		{"prk", sch.prk},
		{"c2s_key", sch.c2sKey[:]},
		{"s2c_key", sch.s2cKey[:]},
		{"c2s_iv", sch.c2sIV[:]},
		{"s2c_iv", sch.s2cIV[:]},
		{"client_confirm_key", sch.clientConfirmKey[:]},
		{"server_confirm_key", sch.serverConfirmKey[:]},
		{"server_confirm", sch.serverConfirm[:]},
		{"client_confirm", sch.clientConfirm[:]},
		{"confirm_frame", confirm},
		{"flight", flight},
		{"sealed_flight_frame", sealedFlight},
		{"flight_response", response},
		{"sealed_response_frame", sealedResponse},
		{"close", closeBody},
		{"sealed_close_frame", sealedClose},
	}
}

// parseDocVector reads the ```test-vector block of docs/PROTOCOL.md: lines
// "name: hex", a value continued on following indented lines.
func parseDocVector(t *testing.T) map[string][]byte {
	t.Helper()
	f, err := os.Open(protocolDoc)
	if err != nil {
		t.Fatalf("the protocol document: %v", err)
	}
	defer f.Close()
	out := map[string][]byte{}
	var hexOf = map[string]*strings.Builder{}
	var order []string
	in, last := false, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && strings.TrimSpace(line) == "```test-vector":
			in = true
		case in && strings.TrimSpace(line) == "```":
			in = false
		case in && strings.TrimSpace(line) == "":
		case in && (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")):
			if last == "" {
				t.Fatalf("continuation line without a name: %q", line)
			}
			hexOf[last].WriteString(strings.Join(strings.Fields(line), ""))
		case in:
			name, val, ok := strings.Cut(line, ":")
			if !ok {
				t.Fatalf("vector line without a name: %q", line)
			}
			last = strings.TrimSpace(name)
			if _, dup := hexOf[last]; dup {
				t.Fatalf("vector value %s twice", last)
			}
			hexOf[last] = &strings.Builder{}
			hexOf[last].WriteString(strings.Join(strings.Fields(val), ""))
			order = append(order, last)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, name := range order {
		b, err := hex.DecodeString(hexOf[name].String())
		if err != nil {
			t.Fatalf("vector value %s: %v", name, err)
		}
		out[name] = b
	}
	return out
}

func formatVector(v []kv) string {
	var sb strings.Builder
	sb.WriteString("```test-vector\n")
	for _, e := range v {
		h := hex.EncodeToString(e.value)
		const width = 64
		if len(h) <= width {
			fmt.Fprintf(&sb, "%s: %s\n", e.name, h)
			continue
		}
		fmt.Fprintf(&sb, "%s:\n", e.name)
		for len(h) > 0 {
			n := min(width, len(h))
			fmt.Fprintf(&sb, "    %s\n", h[:n])
			h = h[n:]
		}
	}
	sb.WriteString("```\n")
	return sb.String()
}

// TestProtocolDocVector keeps docs/PROTOCOL.md honest: every value of its
// test vector is recomputed by a real opening and exchange.
func TestProtocolDocVector(t *testing.T) {
	want := computeVector(t)
	if *printVector {
		fmt.Print(formatVector(want))
	}
	doc := parseDocVector(t)
	if len(doc) != len(want) {
		t.Errorf("document lists %d values, the code computes %d", len(doc), len(want))
	}
	for _, e := range want {
		got, ok := doc[e.name]
		if !ok {
			t.Errorf("document lacks %s", e.name)
			continue
		}
		if !bytes.Equal(got, e.value) {
			t.Errorf("%s: document says\n%x\ncode computes\n%x", e.name, got, e.value)
		}
	}
	// The documented flight and response parse to the documented messages.
	var fl Flight
	if err := fl.Unmarshal(doc["flight"]); err != nil || fl.Requests[0].(*StartRequest).ServerName != "example.com" {
		t.Errorf("documented flight: %v", err)
	}
	var resp FlightResponse
	if err := resp.Unmarshal(doc["flight_response"]); err != nil || resp.Results[0].Body.(*StartResponse).TTL != 300*time.Second {
		t.Errorf("documented response: %v", err)
	}
}
