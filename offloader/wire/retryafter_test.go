package wire

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// rateLimitedBytes is a one-result response, rate limited, whose detail
// is detail: what a server writes, built by hand.
func rateLimitedBytes(detail string) []byte {
	b := []byte{KindFlightResponse, 0, 0, 0, 1, 0, 0, 1, byte(OpStart), byte(StatusRateLimited), 0, 0, byte(len(detail))}
	b = append(b, detail...)
	return append(b, 0, 0, 0)
}

func TestRetryAfterParse(t *testing.T) {
	good := map[string]struct {
		d      time.Duration
		detail string
	}{
		"":                               {0, ""},
		"busy":                           {0, "busy"},
		"retry after 1ms":                {time.Millisecond, ""},
		"retry after 250ms":              {250 * time.Millisecond, ""},
		"retry after 60000ms":            {MaxRetryAfter, ""},
		"retry after 7ms; shutting down": {7 * time.Millisecond, "shutting down"},
		"retry after 7ms; retry after 9": {7 * time.Millisecond, "retry after 9"},
	}
	for text, want := range good {
		var r FlightResponse
		if err := r.Unmarshal(rateLimitedBytes(text)); err != nil {
			t.Errorf("%q: %v", text, err)
			continue
		}
		e := r.Results[0].Err
		if e.RetryAfter != want.d || e.Detail != want.detail {
			t.Errorf("%q: hint %v detail %q, want %v %q", text, e.RetryAfter, e.Detail, want.d, want.detail)
		}
	}
	for _, text := range []string{
		"retry after ", "retry after ms", "retry after 0ms", "retry after 05ms", "retry after 60001ms",
		"retry after 999999999999ms", "retry after 5", "retry after 5s", "retry after -5ms", "retry after 5ms;",
		"retry after 5ms; ", "retry after 5msx", "retry after 5 ms", "retry after +5ms",
	} {
		if err := new(FlightResponse).Unmarshal(rateLimitedBytes(text)); !errors.Is(err, StatusMalformed) {
			t.Errorf("%q: err = %v, want malformed", text, err)
		}
	}
	// Only a rate-limited result carries a hint: elsewhere it is detail.
	b := rateLimitedBytes("retry after 5ms")
	b[9] = byte(StatusInternal)
	var r FlightResponse
	if err := r.Unmarshal(b); err != nil || r.Results[0].Err.RetryAfter != 0 || r.Results[0].Err.Detail != "retry after 5ms" {
		t.Errorf("internal error with hint-like detail: %v %+v", err, r.Results)
	}
}

// A device that predates the hint reads a result as a status, a reason, a
// UTF-8 detail of at most MaxDetail bytes and an empty body (docs/PROTOCOL.md
// §8); a result with a hint is one such result, its detail the hint's text,
// which its error message shows.
func TestRetryAfterOldReader(t *testing.T) {
	r := &FlightResponse{ID: 1, Results: []Result{{Err: &Error{Op: OpAuth, Status: StatusRateLimited, RetryAfter: 1200 * time.Millisecond}}}}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := cryptobyte.String(b)
	var kind, n, op, status, reason uint8
	var id uint32
	var token, detail, body cryptobyte.String
	if !s.ReadUint8(&kind) || !s.ReadUint32(&id) || !s.ReadUint16LengthPrefixed(&token) || !s.ReadUint8(&n) ||
		!s.ReadUint8(&op) || !s.ReadUint8(&status) || !s.ReadUint8(&reason) ||
		!s.ReadUint16LengthPrefixed(&detail) || !s.ReadUint24LengthPrefixed(&body) || !s.Empty() {
		t.Fatalf("not a version-1 response: %x", b)
	}
	if n != 1 || Op(op) != OpAuth || Status(status) != StatusRateLimited || reason != 0 || !body.Empty() || len(detail) > MaxDetail {
		t.Fatalf("not a plain rate-limited result: %x", b)
	}
	if string(detail) != "retry after 1200ms" {
		t.Errorf("detail %q", detail)
	}
	old := &Error{Op: OpAuth, Status: StatusRateLimited, Detail: string(detail)}
	if got, want := old.Error(), r.Results[0].Err.Error(); got != want {
		t.Errorf("an old device says %q, a new one %q", got, want)
	}
}
