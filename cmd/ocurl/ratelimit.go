package main

import (
	"io"
	"time"
)

// --limit-rate caps the average speed of each transfer's body, both ways,
// as curl does: after each read it sleeps until the bytes so far are no
// more than the rate allows, reading at most a quarter second's worth at
// a time so the flow stays even.
type rateLimited struct {
	r     io.Reader
	rate  int64 // bytes per second
	start time.Time
	n     int64
}

func newRateLimited(r io.Reader, rate int64) io.Reader {
	if rate <= 0 {
		return r
	}
	return &rateLimited{r: r, rate: rate, start: time.Now()}
}

func (l *rateLimited) Read(p []byte) (int, error) {
	if chunk := max(l.rate/4, 1); int64(len(p)) > chunk {
		p = p[:chunk]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	due := time.Duration(float64(l.n) / float64(l.rate) * float64(time.Second))
	if wait := due - time.Since(l.start); wait > 0 {
		time.Sleep(wait)
	}
	return n, err
}
