package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// Backing off a busy offloader (issue 10). The offloader answers a flight
// it will not run now (the device is over its rate, or no flight slot
// came free within its flight_wait; older offloaders also when shutting
// down) with
// StatusRateLimited on every request, before running any of them: nothing
// of the flight was done, no sequential-mode token was spent, nothing was
// signed. So the same flight, token and all, can be sent again unchanged,
// whatever its operations: Start (stateless), the pipelined
// Auth+KeyGen+Key, or one step of the sequential mode. Start and
// KeyExchange do so after a jittered exponential backoff, or after the
// offloader's retry-after hint when that is longer (docs/PROTOCOL.md
// §8.3), never more than Config.BusyBackoffMax, within the caller's
// context and Config.BusyAttempts; Do, the raw protocol call, never
// retries. A flight only partly answered rate limited (which this
// offloader never sends) may have run in part: it is not resent.

// ErrBusy is matched (errors.Is) by the error of a Start or KeyExchange
// whose flight the offloader kept refusing as busy or over the device's
// rate until the Client gave up: a *BusyError. Through tlsclient it is
// wrapped in a *tlsclient.OffloaderError, which errors.Is sees through.
var ErrBusy = errors.New("client: offloader busy or device over its rate")

// BusyError is a flight the offloader answered rate limited Attempts
// times, the last time with Err; the Client gave up because
// Config.BusyAttempts were made or the next wait would pass the caller's
// deadline. errors.Is matches ErrBusy and wire.StatusRateLimited.
type BusyError struct {
	Ops      string // the flight's operations: "start", "auth+keygen+key", …
	Attempts int
	Err      *wire.Error
}

func (e *BusyError) Error() string {
	return "client: offloader busy or device over its rate: " + e.Ops + " refused " + strconv.Itoa(e.Attempts) + " times: " + e.Err.Error()
}

// Unwrap returns ErrBusy and the offloader's last answer.
func (e *BusyError) Unwrap() []error { return []error{ErrBusy, e.Err} }

// Temporary reports true: the same request may succeed later.
func (e *BusyError) Temporary() bool { return true }

// Defaults of the busy backoff.
const (
	defaultBusyAttempts   = 5
	defaultBusyBackoff    = 50 * time.Millisecond
	defaultBusyBackoffMax = time.Second
)

// flight sends f with Do, and sends it again after a backoff while the
// offloader answers it rate limited as a whole.
func (c *Client) flight(ctx context.Context, f *wire.Flight) (*wire.FlightResponse, error) {
	for attempt := 1; ; attempt++ {
		fr, cn, err := c.doHooked(ctx, f)
		if err != nil {
			return nil, err
		}
		we := refusedWhole(fr)
		if we == nil {
			return fr, nil
		}
		c.busy(cn) // the next attempt goes to another replica (failover.go)
		if attempt >= c.cfg.BusyAttempts {
			return nil, &BusyError{Ops: opsOf(f), Attempts: attempt, Err: we}
		}
		d := c.busyWait(attempt, we.RetryAfter)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
			// The answer could not come in time: give up now rather than
			// sleep into the deadline.
			return nil, &BusyError{Ops: opsOf(f), Attempts: attempt, Err: we}
		}
		if we.RetryAfter > 0 {
			c.trace("offloader: %s rate limited (attempt %d of %d, retry after %s), retrying in %s", opsOf(f), attempt, c.cfg.BusyAttempts, we.RetryAfter, roundDuration(d))
		} else {
			c.trace("offloader: %s rate limited (attempt %d of %d), retrying in %s", opsOf(f), attempt, c.cfg.BusyAttempts, roundDuration(d))
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-c.closeCtx.Done():
			t.Stop()
			return nil, errClosed
		}
	}
}

// refusedWhole returns the error of a response that refused every request
// as rate limited, nil for any other: the first request's, with the
// longest retry-after hint of them (the offloader gives them all the same).
func refusedWhole(fr *wire.FlightResponse) *wire.Error {
	if len(fr.Results) == 0 {
		return nil
	}
	we := fr.Results[0].Err
	for _, r := range fr.Results {
		if r.Err == nil || r.Err.Status != wire.StatusRateLimited {
			return nil
		}
		if r.Err.RetryAfter > we.RetryAfter {
			we = &wire.Error{Op: we.Op, Status: we.Status, Detail: we.Detail, RetryAfter: r.Err.RetryAfter}
		}
	}
	return we
}

// busyWait is the wait after the attempt-th refusal, whose retry-after
// hint was hint (0: none): BusyBackoff doubled per attempt up to
// BusyBackoffMax, with equal jitter (half fixed, half random) so devices
// refused together do not come back together; at least the hint, at most
// BusyBackoffMax.
func (c *Client) busyWait(attempt int, hint time.Duration) time.Duration {
	d := c.cfg.BusyBackoff
	for i := 1; i < attempt && d < c.cfg.BusyBackoffMax; i++ {
		d *= 2
	}
	d = min(d, c.cfg.BusyBackoffMax)
	half := d / 2
	return min(max(half+rand.N(d-half+1), hint), c.cfg.BusyBackoffMax)
}
