package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// --retry N retries a transfer that failed for a reason curl calls
// transient: a timeout (28), a name that did not resolve (6, 5), an HTTP
// 408, 429, 500, 502, 503 or 504 answer; a refused connection too with
// --retry-connrefused, and anything with --retry-all-errors. ocurl also
// retries an offloader that stayed busy (the device over its rate, or no
// flight slot), as curl retries a 429. The wait is --retry-delay, or a
// Retry-After the server sent, or the offloader's retry-after hint, or
// curl's backoff (1 s,
// doubling, at most 10 min); no retry is decided once --retry-max-time
// has passed since the first attempt. As in curl, each failed attempt's
// error is printed before the warning, the body of a retried answer is
// written (a file is emptied again before the next attempt; stdout keeps
// it) unless -f, and the warning counts the retry about to be made among
// those left.

// retryStatuses are the HTTP answers curl retries.
var retryStatuses = map[int]bool{408: true, 429: true, 500: true, 502: true, 503: true, 504: true}

// retryHTTP is an answer that is being retried; with -f it carries the
// failure (22) it also is.
type retryHTTP struct {
	status     int
	retryAfter time.Duration // from Retry-After; 0 if none
	f          *failure
}

func (e *retryHTTP) Error() string {
	if e.f != nil {
		return e.f.Error()
	}
	return fmt.Sprintf("HTTP error %d", e.status)
}

func (e *retryHTTP) Unwrap() error {
	if e.f != nil {
		return e.f
	}
	return nil
}

// retryState counts the retries of one transfer.
type retryState struct {
	left  int
	delay time.Duration // the next backoff delay
	start time.Time
}

func (r *run) newRetryState() *retryState {
	return &retryState{left: r.o.retry, delay: time.Second, start: time.Now()}
}

// canRetry reports whether another attempt may be made: one is left, and
// --retry-max-time has not passed yet since the first attempt began. As in
// curl, the wait before the attempt does not count: a retry decided in
// time is made even if it starts, or runs, past the limit.
func (r *run) canRetry(rs *retryState) bool {
	if rs.left <= 0 {
		return false
	}
	if m := r.o.retryMaxTime; m > 0 && time.Since(rs.start) >= m {
		return false
	}
	return true
}

// retryAnswer decides, before a body is written, whether an HTTP answer is
// retried.
func (x *transfer) retryAnswer(h *head) *retryHTTP {
	if x.retry == nil || !retryStatuses[h.status] {
		return nil
	}
	e := &retryHTTP{status: h.status}
	if ra := strings.TrimSpace(h.get("Retry-After")); ra != "" && (h.status == 429 || h.status == 503) {
		if n, err := strconv.Atoi(ra); err == nil && n >= 0 {
			e.retryAfter = time.Duration(n) * time.Second
		} else if t, err := time.Parse(time.RFC1123, ra); err == nil {
			e.retryAfter = max(time.Until(t), 0)
		}
	}
	if !x.r.canRetry(x.retry) {
		return nil
	}
	return e
}

// retryWait is how long to wait before the next attempt after err.
func (x *transfer) retryWait(err error) time.Duration {
	if x.r.o.retryDelay > 0 {
		return x.r.o.retryDelay
	}
	if d := hintedWait(err); d > 0 {
		return d
	}
	return x.retry.delay
}

// hintedWait is the wait the other side asked for with err: an HTTP
// Retry-After, or the offloader's retry-after hint; 0 for none.
func hintedWait(err error) time.Duration {
	var rh *retryHTTP
	if errors.As(err, &rh) {
		return rh.retryAfter
	}
	if we := (*wire.Error)(nil); errors.As(err, &we) && we.Status == wire.StatusRateLimited {
		return we.RetryAfter
	}
	return 0
}

// retryReason says why err is worth another attempt, "" if it is not.
func (x *transfer) retryReason(err error) string {
	var rh *retryHTTP
	if errors.As(err, &rh) {
		return " : HTTP error"
	}
	var f *failure
	code := exitRecv
	if errors.As(err, &f) {
		code = f.code
	}
	switch {
	case code == exitTimeout:
		return " : timeout"
	case errors.Is(err, wire.StatusRateLimited):
		return " : offloader busy"
	case code == exitResolve || code == exitProxyResolve:
		return " : timeout" // curl counts a name that did not resolve as one
	case code == exitConnect && x.r.o.retryConnRef && errors.Is(err, syscall.ECONNREFUSED):
		return " : connection refused"
	case x.r.o.retryAll && code != exitUsage:
		return " (retrying all errors)"
	}
	return ""
}
