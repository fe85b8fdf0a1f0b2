package metrics

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// TestRefusedExported: a real server's refused channel openings reach
// /metrics by reason.
func TestRefusedExported(t *testing.T) {
	srv := newServer(t)
	for _, cfg := range []wire.ChannelConfig{
		{DeviceID: testDevice, PSK: bytes.Repeat([]byte{1}, 32)},
		{DeviceID: testDevice, PSK: bytes.Repeat([]byte{2}, 32)},
		{DeviceID: "nobody", PSK: bytes.Repeat([]byte{1}, 32)},
	} {
		c1, c2 := net.Pipe()
		done := make(chan struct{})
		go func() { srv.ServeConn(context.Background(), c2, false); close(done) }()
		if _, err := wire.ClientOpen(c1, cfg); err == nil {
			t.Fatal("opened with a wrong PSK")
		}
		c1.Close()
		<-done
	}
	prom := prometheus.NewRegistry()
	if err := Register(prom, srv); err != nil {
		t.Fatal(err)
	}
	_, body := get(t, Handler(prom), "/metrics")
	for _, want := range []string{
		"# TYPE tlsoffload_refused_total counter",
		`tlsoffload_refused_total{reason="wrong_psk"} 2`,
		`tlsoffload_refused_total{reason="unknown_device"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, body)
		}
	}
}
