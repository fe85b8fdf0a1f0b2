package metrics

import (
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestLimitListener: past the cap, an HTTP connection is closed at once;
// once one closes, the next is served.
func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	prom := prometheus.NewRegistry()
	hs := NewHTTPServer(Handler(prom), log.New(io.Discard, "", 0))
	go hs.Serve(LimitListener(inner, 2))
	defer hs.Close()
	addr := inner.Addr().String()

	dial := func() net.Conn {
		t.Helper()
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	healthz := func(c net.Conn) error {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return err
		}
		buf := make([]byte, 512)
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") {
			return errors.New(string(buf[:n]))
		}
		return nil
	}
	a, b := dial(), dial()
	for _, c := range []net.Conn{a, b} { // kept alive: each holds a slot
		if err := healthz(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := healthz(dial()); err == nil {
		t.Fatal("a third connection was served past the cap of 2")
	}
	a.Close()
	var last error
	for range 100 { // the server notices a's close on its next read
		if last = healthz(dial()); last == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if last != nil {
		t.Fatalf("after a slot freed: %v", last)
	}
}

func TestHTTPServerTimeouts(t *testing.T) {
	hs := NewHTTPServer(http.NotFoundHandler(), nil)
	if hs.ReadHeaderTimeout <= 0 || hs.ReadTimeout <= 0 || hs.WriteTimeout <= 0 || hs.IdleTimeout <= 0 || hs.MaxHeaderBytes <= 0 {
		t.Fatalf("a timeout or bound is unset: %+v", hs)
	}
}

func TestRegisterProcess(t *testing.T) {
	prom := prometheus.NewRegistry()
	if err := RegisterProcess(prom); err != nil {
		t.Fatal(err)
	}
	_, body := get(t, Handler(prom), "/metrics")
	for _, want := range []string{"go_goroutines ", "process_open_fds "} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
