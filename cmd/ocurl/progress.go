package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The progress meter, curl's: on stderr while a body goes to a file or a
// pipe, updated each second, its last line left when the transfer ends;
// -# draws curl's bar instead; -s and --no-progress-meter turn it off.
// Unlike curl, ocurl shows it only when stderr is a terminal (curl also
// writes it into logs and pipes), and not with -Z (curl draws a combined
// meter there).

// meterInterval is how often the meter is redrawn.
const meterInterval = time.Second

const meterHeader = "  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n" +
	"                                 Dload  Upload   Total   Spent    Left  Speed\n"

// wantMeter reports whether transfers show a meter.
func (r *run) wantMeter(x *transfer) bool {
	o := r.o
	if o.silent || o.noProgress || !r.stderrTTY || (o.parallel && len(o.urls) > 1) {
		return false
	}
	toTerminal := x.out.path == "" && r.stdoutTTY
	return !toTerminal || o.progressBar && x.out.path != ""
}

// meter draws one transfer's progress.
type meter struct {
	x    *transfer
	w    io.Writer
	bar  bool
	cols int

	start   time.Time
	stop    chan struct{}
	done    sync.WaitGroup
	mu      sync.Mutex
	last    [6]sample // the last seconds, for the current speed
	nlast   int
	tick    int
	stopped bool
}

type sample struct {
	at time.Time
	n  int64
}

// startMeter starts the meter of x (nil if there is none).
func (r *run) startMeter(x *transfer) *meter {
	if !r.wantMeter(x) {
		return nil
	}
	m := &meter{x: x, w: r.stderr, bar: r.o.progressBar, start: time.Now(), stop: make(chan struct{})}
	if m.bar {
		m.cols = 79
		if c, err := strconv.Atoi(r.iv.getenv("COLUMNS")); err == nil && c > 20 {
			m.cols = c - 1
		} else if c := terminalWidth(r.iv.stderr); c > 20 {
			m.cols = c - 1
		}
	} else {
		io.WriteString(m.w, meterHeader)
	}
	m.draw(false)
	m.done.Add(1)
	go func() {
		defer m.done.Done()
		t := time.NewTicker(meterInterval)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.draw(false)
			}
		}
	}()
	return m
}

// finish draws the last line and ends it.
func (m *meter) finish() {
	if m == nil {
		return
	}
	close(m.stop)
	m.done.Wait()
	m.draw(true)
	io.WriteString(m.w, "\n")
}

func (m *meter) draw(final bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	x := m.x
	dl := atomic.LoadInt64(&x.sizeDownload)
	ul := atomic.LoadInt64(&x.sizeUpload)
	dlTotal := atomic.LoadInt64(&x.contentLength)
	ulTotal := atomic.LoadInt64(&x.uploadSize)
	if final && dlTotal < 0 {
		dlTotal = dl // a body of unknown length is complete at the end
	}
	now := time.Now()
	m.last[m.nlast%len(m.last)] = sample{now, dl + ul}
	m.nlast++
	m.tick++
	if m.bar {
		m.drawBar(dl+ul, max(dlTotal, 0)+max(ulTotal, 0), dlTotal >= 0 && ulTotal >= 0)
		return
	}
	spent := now.Sub(m.start)
	secs := spent.Seconds()
	dlSpeed, ulSpeed := int64(0), int64(0)
	if secs > 0 {
		dlSpeed, ulSpeed = int64(float64(dl)/secs), int64(float64(ul)/secs)
	}
	// The current speed: over the samples of the last few seconds.
	oldest := m.last[0]
	if m.nlast > len(m.last) {
		oldest = m.last[m.nlast%len(m.last)]
	}
	cur := dlSpeed + ulSpeed
	if d := now.Sub(oldest.at).Seconds(); d > 0 {
		cur = int64(float64(dl+ul-oldest.n) / d)
	}
	pct := func(n, total int64) int64 {
		if total <= 0 {
			return 0
		}
		return n * 100 / total
	}
	total := max(dlTotal, 0) + max(ulTotal, 0)
	known := dlTotal >= 0 || ulTotal > 0
	totalTime, left := "--:--:--", "--:--:--"
	if speed := dlSpeed + ulSpeed; known && speed > 0 && total > 0 {
		est := total / speed
		totalTime = timeStr(est)
		left = timeStr(est - int64(secs))
	}
	fmt.Fprintf(m.w, "\r%3d %s  %3d %s  %3d %s  %s  %s %s %s %s %s",
		pct(dl+ul, total), max5(total), pct(dl, max(dlTotal, 0)), max5(dl), pct(ul, max(ulTotal, 0)), max5(ul),
		max5(dlSpeed), max5(ulSpeed), totalTime, timeStr(int64(secs)), left, max5(cur))
}

// drawBar is -#: a line of '#' and the percentage, or a moving mark when
// the size is unknown.
func (m *meter) drawBar(now, total int64, known bool) {
	width := m.cols - 7
	if known && total > 0 {
		frac := min(float64(now)/float64(total), 1)
		n := int(float64(width) * frac)
		fmt.Fprintf(m.w, "\r%-*s %5.1f%%", width, strings.Repeat("#", n), frac*100)
		return
	}
	pos := m.tick % max(width-5, 1)
	fmt.Fprintf(m.w, "\r%-*s", width+6, strings.Repeat(" ", pos)+"-=O=-")
}

// max5 is curl's five-character size: 12345, 1234k, 12.3M, 1234M, 12.3G...
func max5(n int64) string {
	const k, mb, gb, tb = 1024, 1024 * 1024, 1024 * 1024 * 1024, 1024 * 1024 * 1024 * 1024
	switch {
	case n < 100000:
		return fmt.Sprintf("%5d", n)
	case n < 10000*k:
		return fmt.Sprintf("%4dk", n/k)
	case n < 100*mb:
		return fmt.Sprintf("%2d.%01dM", n/mb, (n%mb)/(mb/10))
	case n < 10000*mb:
		return fmt.Sprintf("%4dM", n/mb)
	case n < 100*gb:
		return fmt.Sprintf("%2d.%01dG", n/gb, (n%gb)/(gb/10))
	case n < 10000*gb:
		return fmt.Sprintf("%4dG", n/gb)
	case n < 10000*tb:
		return fmt.Sprintf("%4dT", n/tb)
	}
	return fmt.Sprintf("%4dP", n/(1024*tb))
}

// timeStr is curl's eight-character time: HH:MM:SS, "DDDd HHh" past 99
// hours, "--:--:--" for none.
func timeStr(s int64) string {
	if s <= 0 {
		return "--:--:--"
	}
	if h := s / 3600; h <= 99 {
		return fmt.Sprintf("%2d:%02d:%02d", h, (s%3600)/60, s%60)
	}
	d := s / 86400
	if d <= 999 {
		return fmt.Sprintf("%3dd %02dh", d, (s%86400)/3600)
	}
	return fmt.Sprintf("%7dd", d)
}
