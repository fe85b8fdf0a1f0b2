package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// Fail-over across Config.Addrs (issue 10). The offloader's replicas keep
// no state between flights (a pipelined handshake is one flight; the
// sequential mode's state travels in a token), so any replica can answer
// any flight, and the Client may move between them at will.
//
// Where flights go. One channel at a time takes new flights (the device's
// footprint stays one connection). The first is opened to a random
// address, each later one to the address after the last one opened
// (round-robin), passing over the addresses marked down while any other
// is up; when every address is down they are all tried anyway, the one
// that comes back soonest first, so bookkeeping never refuses a lone
// replica. A channel older than Config.MaxChannelAge takes no new flight:
// the next flight opens one to the next address and the old channel closes
// once its flights are answered, so load returns to a replica that
// restarted.
//
// What marks an address down (for Config.DownFor, jittered): failing to
// connect or to open a channel; a channel that broke (closed, reset,
// timed out) under a flight; and a flight answered busy as a whole
// (StatusRateLimited on every request: the replica has no flight slot
// free, or the device is over its rate there), whose
// channel is then retired as MaxChannelAge would.
//
// What marks it draining instead: the offloader closing the channel with
// reason shutting_down (docs/PROTOCOL.md §6.1). That is no failure: the
// address is passed over for DownFor as if down, but counted apart
// (Stats.Drained, not Down) and traced as draining, and the next channel
// goes to another address at once. A close with another reason (idle,
// device changed) marks nothing: the next channel may go to the same
// address.
//
// What is resent, and where. Only flights nothing answered, and only
// failures that are not the offloader's word:
//   - a dial or channel-opening failure: the next address is tried at
//     once, within the same call (open); nothing was sent;
//   - a channel that broke before the flight's answer came: the flight is
//     sent once more, on a fresh channel to another address when there is
//     one (on the same address only if the broken channel had been opened
//     before this call, as an idle channel the offloader closed may be).
//     The offloader keeps nothing of an unanswered flight, so the device
//     cannot tell the resent one from a first. Once, not once per replica:
//     a flight that kills the process serving it takes down two replicas
//     at most, not the fleet;
//   - a flight answered busy as a whole: nothing of it ran (busy.go); it
//     is resent after the busy backoff, on the channel to the next address;
//   - a flight unanswered when the offloader closed the channel with a
//     reason (a *wire.CloseError): the offloader answers every flight it
//     read before it sends the close, so this one was not read, or was
//     cut unanswered by a device change; it is sent once more on a fresh
//     channel, at once, even with a single address (the close was
//     deliberate, so the next opening may well succeed).
//
// Never resent: any answer the offloader gave (a verdict, a refusal, a
// malformed-request status), a channel-opening refusal (wrong PSK, plaintext
// refused, unknown version: replicas share one registry, the answer would
// be the same), an alert or a frame that did not authenticate on an open
// channel, the caller's context ending, and Close. A sequential-mode step
// carrying a token is resent like any flight, but tokens are bound to the
// channel they were sealed for, so a replica refuses it (StatusBadToken)
// and the handshake fails: the caller starts it over.
//
// Per-device limits (rate, flight share, channels) are each replica's own:
// a device spreading over N replicas may get up to N times its rate.

// errRetired fails a call that found its channel retired before it could
// register on it; doOnce then takes the next channel.
var errRetired = errors.New("client: channel retired")

// do is Do without its checks and hook: one send, and one resend when the
// channel broke under the flight. cn is the channel that answered (or
// failed last).
func (c *Client) do(ctx context.Context, f *wire.Flight) (*wire.FlightResponse, *conn, error) {
	resp, cn, reused, err := c.doOnce(ctx, f)
	if err == nil || cn == nil || !resendable(ctx, err) {
		return resp, cn, err
	}
	// The channel died with the flight unanswered.
	ce, closed := errors.AsType[*wire.CloseError](err)
	switch {
	case closed:
		if ce.Reason == wire.CloseShuttingDown && cn.drained.CompareAndSwap(false, true) {
			c.markDown(cn.idx, errDraining)
		}
	case errors.Is(err, errRetired):
	default:
		c.markDown(cn.idx, err)
		if !reused && len(c.cfg.Addrs) == 1 {
			return nil, cn, err
		}
	}
	c.resends.Add(1)
	c.trace("offloader: channel to %s ended under %s, sending it again", cn.addr, opsOf(f))
	resp, cn, _, err = c.doOnce(ctx, f)
	return resp, cn, err
}

// resendable reports whether err is a channel that died under the flight,
// not an answer of the offloader, the caller's context, or Close.
func resendable(ctx context.Context, err error) bool {
	_, answered := errors.AsType[*wire.Error](err)
	return ctx.Err() == nil && !answered && !errors.Is(err, errClosed)
}

// busy notes that the replica behind cn answered a flight busy: with
// another address to go to, it is marked down and its channel retired.
func (c *Client) busy(cn *conn) {
	if cn == nil || len(c.cfg.Addrs) == 1 {
		return
	}
	c.markDown(cn.idx, nil)
	c.retire(cn)
}

// dialOrder is the order open tries the addresses in: from c.next round
// the list, those up first, then those down, the soonest back first.
func (c *Client) dialOrder(now time.Time) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.cfg.Addrs)
	up := make([]int, 0, n)
	var down []int
	for k := range n {
		i := (c.next + k) % n
		if now.Before(c.down[i]) {
			down = append(down, i)
		} else {
			up = append(up, i)
		}
	}
	// The soonest back first, ties in rotation order: an insertion sort
	// over a handful of addresses (slices.SortStableFunc would link a
	// stable sort of its own, some 3 KB, into every device program).
	for k := 1; k < len(down); k++ {
		for j := k; j > 0 && c.down[down[j]].Before(c.down[down[j-1]]); j-- {
			down[j-1], down[j] = down[j], down[j-1]
		}
	}
	return append(up, down...)
}

// opened moves the rotation past address i, which a channel was just
// opened to, and clears its mark.
func (c *Client) opened(i int) {
	c.mu.Lock()
	c.next = (i + 1) % len(c.cfg.Addrs)
	c.down[i] = time.Time{}
	c.mu.Unlock()
}

// errDraining is markDown's why for a replica that closed its channel
// because it is shutting down: passed over like one down, counted apart
// (Stats.Drained), no failure.
var errDraining = errors.New("client: offloader shutting down")

// markDown passes address i over for DownFor, jittered. why (nil for a
// busy answer, errDraining for a drained one) is counted and traced.
func (c *Client) markDown(i int, why error) {
	d := jitter(c.cfg.DownFor)
	c.mu.Lock()
	c.down[i] = time.Now().Add(d)
	c.mu.Unlock()
	format := "offloader: %s busy, passed over for %s"
	switch why {
	case nil:
		c.busies.Add(1)
	case errDraining:
		c.drains.Add(1)
		format = "offloader: %s draining (shutting down), passed over for %s"
	default:
		c.downs.Add(1)
		c.trace("offloader: %s down for %s: %v", c.cfg.Addrs[i], roundDuration(d), why)
		return
	}
	c.trace(format, c.cfg.Addrs[i], roundDuration(d))
}

// retire stops cn taking new flights; it closes once the flights on it
// are answered (now, if none is). Close closes it too.
func (c *Client) retire(cn *conn) {
	c.mu.Lock()
	if c.cur == cn {
		c.cur = nil
	}
	for old := range c.retired {
		if !old.alive() {
			delete(c.retired, old)
		}
	}
	if !c.closed {
		c.retired[cn] = struct{}{}
	}
	c.mu.Unlock()
	cn.retire()
}

// retire marks cn retired and closes it if no call is pending.
func (cn *conn) retire() {
	cn.mu.Lock()
	if cn.err != nil || cn.retired {
		cn.mu.Unlock()
		return
	}
	cn.retired = true
	idle := len(cn.pending) == 0
	cn.mu.Unlock()
	if idle {
		cn.fail(errRetired)
	}
}

// jitter returns a duration between half of d and d, so that devices that
// lost a replica together do not all return to it together.
func jitter(d time.Duration) time.Duration {
	half := d / 2
	return half + rand.N(d-half+1)
}
