package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// run is one invocation's state, shared by its transfers.
type run struct {
	o      *options
	iv     *invocation
	stdout io.Writer
	stderr io.Writer // line-atomic: parallel transfers share it

	pool    connPool
	connSeq atomic.Int64

	tlsMu  sync.Mutex
	tlsS   *tlsSetup
	tlsErr error

	stdoutTTY, stderrTTY bool
	stdoutMu             sync.Mutex

	jar *cookieJar // nil: the cookie engine is off

	dumpOnce sync.Once
	dump     *headerDump
	dumpErr  error
}

func newRun(o *options, iv *invocation) *run {
	r := &run{o: o, iv: iv, stdout: iv.stdout, stderr: &lockedWriter{w: iv.stderr}}
	r.stdoutTTY = isTerminal(iv.stdout)
	r.stderrTTY = isTerminal(iv.stderr)
	return r
}

// lockedWriter makes each Write atomic among goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// tracef prints a -v line not tied to one transfer.
func (r *run) tracef(format string, args ...any) {
	if r.o.verbose {
		fmt.Fprintf(r.stderr, "* "+format+"\n", args...)
	}
}

// traceTLS receives tlsclient's trace lines.
func (r *run) traceTLS(format string, args ...any) { r.tracef(format, args...) }

// warnf prints one of curl's "Warning: ..." lines, unless -s.
func (r *run) warnf(format string, args ...any) {
	if !r.o.silent {
		fmt.Fprintf(r.stderr, "Warning: "+format+"\n", args...)
	}
}

// tlsSetup makes the offloader at the first https URL, once.
func (r *run) tlsSetup() (*tlsSetup, error) {
	r.tlsMu.Lock()
	defer r.tlsMu.Unlock()
	if r.tlsS == nil && r.tlsErr == nil {
		r.tlsS, r.tlsErr = r.newTLSSetup()
		if r.tlsErr == nil && r.o.insecure && !r.o.silent {
			fmt.Fprintf(r.stderr, "ocurl: warning: --insecure: the server's certificate is not verified; anyone on the path can read and change this transfer\n")
		}
	}
	return r.tlsS, r.tlsErr
}

// all runs every URL and returns the exit code: the last transfer's, as
// curl's (with -Z, the last failed URL's in command-line order).
func (r *run) all() int {
	defer func() {
		r.pool.closeAll()
		if r.tlsS != nil {
			r.tlsS.close()
		}
	}()
	if err := r.newCookieJar(); err != nil {
		return r.report(err)
	}
	codes := make([]int, len(r.o.urls))
	if r.o.parallel && len(r.o.urls) > 1 {
		sem := make(chan struct{}, max(1, r.o.parallelMax))
		var wg sync.WaitGroup
		for i, spec := range r.o.urls {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				codes[i] = r.report(r.transfer(i, spec))
			}()
		}
		wg.Wait()
	} else {
		for i, spec := range r.o.urls {
			codes[i] = r.report(r.transfer(i, spec))
			if codes[i] != 0 && r.o.failEarly {
				codes = codes[:i+1]
				break
			}
		}
	}
	code := exitOK
	for _, err := range []error{r.saveCookies(), r.closeHeaderDump()} {
		if err != nil {
			code = r.report(err)
		}
	}
	if r.o.parallel {
		for _, c := range codes {
			if c != 0 {
				code = c
			}
		}
		return code
	}
	if last := codes[len(codes)-1]; last != 0 {
		return last
	}
	return code
}

// report prints a transfer's error as curl does and returns its code.
func (r *run) report(err error) int {
	if err == nil {
		return exitOK
	}
	var f *failure
	if !errors.As(err, &f) {
		f = &failure{code: exitRecv, err: err}
	}
	if !r.o.silent || r.o.showError {
		printFailure(r.stderr, f)
	}
	return f.code
}

// transfer is one URL's transfer, redirects and retries included.
type transfer struct {
	r     *run
	idx   int
	spec  *urlSpec
	start time.Time

	url          *url.URL // the current (in the end, effective) URL
	t            timing   // of the current request
	acc          timing   // the requests' times added up, as curl adds them
	method       string
	final        *head
	numRedirects int
	numConnects  int
	redirectURL  string
	redirectTime time.Duration
	tls          *tlsInfo
	conn         *conn
	lastReferer  string
	// connectStatus is the proxy's answer to CONNECT (%{http_connect}).
	connectStatus int
	offloadTime   time.Duration
	roundTrips    int

	sizeDownload, sizeUpload, sizeHeader, sizeRequest int64
	// sizeRequestBody is the part of the bodies curl counts in
	// %{size_request} (requestBodyCounted): sizeRequest stays the heads.
	sizeRequestBody int64
	contentLength   int64 // atomic: the meter reads it
	uploadSize      int64 // atomic: the body's size, for the meter
	resumeFrom      int64 // -C

	retry      *retryState // nil without --retry
	out        *output
	keepOutput bool // commit the output even though the transfer failed
	headerOut  *headerDump
	exitCode   int
	err        error
}

func (x *transfer) tracef(format string, args ...any) {
	if x.r.o.verbose {
		fmt.Fprintf(x.r.stderr, "* "+format+"\n", args...)
	}
}

// verbose prints a head or request with a "< " or "> " before each line.
func (x *transfer) verbose(prefix string, block []byte) {
	if !x.r.o.verbose {
		return
	}
	var b strings.Builder
	for len(block) > 0 {
		i := strings.IndexByte(string(block), '\n')
		line := block
		if i >= 0 {
			line, block = block[:i+1], block[i+1:]
		} else {
			block = nil
		}
		b.WriteString(prefix)
		b.Write(line)
		if i < 0 {
			b.WriteString("\n")
		}
	}
	io.WriteString(x.r.stderr, b.String())
}

func (x *transfer) traceHandshake(info *tlsInfo) {
	if !x.r.o.verbose || info == nil {
		return
	}
	resumed := ""
	if info.resumed {
		resumed = " (resumed)"
	}
	x.tracef("SSL connection using %s / %s%s", info.version, info.cipher, resumed)
	x.tracef("offloader: %d round trips, %s waiting; handshake %s", info.roundTrips,
		info.offload.Round(time.Microsecond), info.took.Round(time.Microsecond))
	if info.alpn != "" {
		x.tracef("ALPN: server accepted %s", info.alpn)
	} else {
		x.tracef("ALPN: server did not agree on a protocol. Uses default.")
	}
	if len(info.peer) > 0 {
		leaf := info.peer[0]
		x.tracef("Server certificate:")
		x.tracef(" subject: %s", leaf.Subject)
		x.tracef(" start date: %s", leaf.NotBefore.UTC().Format("Jan _2 15:04:05 2006 GMT"))
		x.tracef(" expire date: %s", leaf.NotAfter.UTC().Format("Jan _2 15:04:05 2006 GMT"))
		x.tracef(" issuer: %s", leaf.Issuer)
		switch {
		case x.r.o.insecure && info.verify != 0:
			x.tracef(" SSL certificate verify result: %d, continuing anyway (--insecure).", info.verify)
		case x.r.o.insecure:
			x.tracef(" SSL certificate verify ok (checked again by ocurl; the offloader did not, --insecure).")
		default:
			x.tracef(" SSL certificate verify ok (by the offloader).")
		}
	}
}

// transfer runs one URL.
func (r *run) transfer(idx int, spec *urlSpec) (err error) {
	x := &transfer{r: r, idx: idx, spec: spec, start: time.Now(), contentLength: -1}
	defer func() {
		x.err = err
		if f := (*failure)(nil); errors.As(err, &f) {
			x.exitCode = f.code
		} else if err != nil {
			x.exitCode = exitRecv
		}
		if werr := x.writeOut(); werr != nil && err == nil {
			err = werr
		}
	}()
	u, err := parseURL(spec.url)
	if err == nil && !r.o.globoff {
		err = refuseGlob(spec.url)
	}
	if err != nil {
		if u2, e := url.Parse(spec.url); e == nil {
			x.url = u2
		}
		return err
	}
	if r.o.get {
		u = withGetData(u, r.o.data)
	}
	u = uploadURL(u, spec.upload)
	if !r.o.pathAsIs {
		u = squashDots(u)
	}
	x.url = u
	if x.out, err = r.newOutput(x); err != nil {
		return err
	}
	x.resumeFrom = r.resumeOffset(x.out.path)
	x.out.appendMode = x.resumeFrom > 0 && r.o.continueAt != 0
	if x.headerOut, err = r.newHeaderDump(); err != nil {
		return err
	}
	if r.o.retry > 0 {
		x.retry = r.newRetryState()
	}
	m := r.startMeter(x)
	defer m.finish()
	for {
		err = x.attemptWithin(u)
		if err == nil || x.retry == nil {
			break
		}
		reason := x.retryReason(err)
		var rh *retryHTTP
		errors.As(err, &rh)
		wait := x.retryWait(err)
		if reason == "" || (rh == nil && !r.canRetry(x.retry)) {
			break
		}
		if f := (*failure)(nil); errors.As(err, &f) && (!r.o.silent || r.o.showError) {
			printFailure(r.stderr, f)
		}
		if !r.o.silent {
			fmt.Fprintf(r.stderr, "Warning: Problem%s. Will retry in %s seconds. %d retries left.\n",
				reason, strconv.FormatFloat(wait.Seconds(), 'f', -1, 64), x.retry.left)
		}
		x.retry.left--
		time.Sleep(wait)
		if r.o.retryDelay == 0 && hintedWait(err) == 0 {
			x.retry.delay = min(2*x.retry.delay, 10*time.Minute)
		}
		if err := x.restart(); err != nil {
			return err
		}
	}
	if err != nil {
		if x.keepOutput {
			if cerr := x.out.commit(); cerr != nil {
				return cerr
			}
			return err
		}
		x.out.abort()
		return err
	}
	return x.out.commit()
}

// attemptWithin runs one attempt bounded by -m.
func (x *transfer) attemptWithin(u *url.URL) error {
	ctx := context.Background()
	if x.r.o.maxTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, x.r.o.maxTime)
		defer cancel()
	}
	err := x.attempt(ctx, u)
	if err != nil && ctx.Err() != nil {
		err = fail(exitTimeout, "Operation timed out after %d milliseconds with %d bytes received",
			time.Since(x.start).Milliseconds(), atomic.LoadInt64(&x.sizeDownload))
	}
	return err
}

// restart forgets a failed attempt before a retry: what -w reports is
// the last attempt's, and a file written so far is emptied.
func (x *transfer) restart() error {
	x.final, x.numRedirects, x.redirectURL, x.redirectTime = nil, 0, "", 0
	atomic.StoreInt64(&x.sizeDownload, 0)
	atomic.StoreInt64(&x.sizeUpload, 0)
	atomic.StoreInt64(&x.contentLength, -1)
	x.sizeHeader, x.sizeRequest, x.sizeRequestBody = 0, 0, 0
	x.acc, x.connectStatus = timing{}, 0
	x.start = time.Now()
	return x.out.reset()
}

// attempt runs the request and the redirects it leads to.
func (x *transfer) attempt(ctx context.Context, u *url.URL) error {
	r := x.r
	st, err := r.firstRequest(u, x.spec)
	if err != nil {
		return err
	}
	for {
		x.url = u
		x.t = timing{start: time.Now()}
		// As curl's, the body counts are the last request's; the header
		// counts add up over the redirects.
		atomic.StoreInt64(&x.sizeDownload, 0)
		atomic.StoreInt64(&x.sizeUpload, 0)
		req, err := r.buildRequest(x, st)
		if err != nil {
			return err
		}
		ex, err := x.roundTrip(ctx, req)
		x.accumulate()
		if err != nil {
			return err
		}
		final := ex.heads[len(ex.heads)-1]
		x.final = final
		r.jar.update(u, final)
		if loc := final.get("Location"); loc != "" && final.status/100 == 3 {
			next, err := u.Parse(loc)
			if err == nil {
				x.redirectURL = next.String()
			}
			if r.o.location && err == nil {
				if x.numRedirects >= r.o.maxRedirs && r.o.maxRedirs >= 0 {
					ex.done(false)
					return fail(exitTooManyRedirs, "Maximum (%d) redirects followed", r.o.maxRedirs)
				}
				if next.Scheme != "http" && next.Scheme != "https" {
					ex.done(false)
					return fail(exitProtocol, "Protocol %q not supported (redirect to %s)", next.Scheme, next.Redacted())
				}
				if next.Path == "" {
					next.Path = "/"
				}
				if !r.o.pathAsIs {
					next = squashDots(next)
				}
				x.drain(ex)
				x.tracef("Issue another request to this URL: '%s'", next.Redacted())
				st = r.redirected(st, final.status, u, next)
				u = next
				x.numRedirects++
				x.redirectURL = ""
				x.redirectTime = time.Since(x.start)
				continue
			}
		}
		return x.deliver(ctx, req, ex)
	}
}

// accumulate adds the request's times to the transfer's: curl reports
// each phase summed over the redirects, at least 1 µs each.
func (x *transfer) accumulate() {
	add := func(acc *time.Duration, d time.Duration) {
		if d > 0 {
			*acc += max(d, time.Microsecond)
		}
	}
	add(&x.acc.namelookup, x.t.namelookup)
	add(&x.acc.connect, x.t.connect)
	add(&x.acc.appconn, x.t.appconn)
	add(&x.acc.pretransfer, x.t.pretransfer)
	add(&x.acc.starttransfer, x.t.starttransfer)
}

// exchange is a response whose body is yet to be read.
type exchange struct {
	heads []*head // the 1xx heads, then the final one
	body  io.Reader
	conn  *conn
	done  func(complete bool) // gives the connection back, or closes it
}

// roundTrip sends req and reads the response heads, on a reused
// connection or a new one. A reused connection the server closed while it
// was idle gets one more try on a new connection, as curl does.
func (x *transfer) roundTrip(ctx context.Context, req *request) (*exchange, error) {
	for try := 0; ; try++ {
		c, err := x.connect(ctx, req.url)
		if err != nil {
			return nil, err
		}
		if !c.reused {
			x.numConnects++
		}
		x.conn, x.tls = c, c.tls
		var ex *exchange
		if c.h2 != nil {
			ex, err = x.exchange2(ctx, c, req)
		} else {
			ex, err = x.exchange1(ctx, c, req)
		}
		if err != nil && c.reused && try == 0 && isStaleConn(err) {
			x.tracef("Connection #%d died, retrying with a new connection", c.id)
			continue
		}
		return ex, err
	}
}

// isStaleConn reports an error of a kept-alive connection the server had
// closed: nothing of a response was read.
func isStaleConn(err error) bool {
	return err == errEmptyReply || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// requestBodyCounted reports whether curl 7.88 counts an HTTP/1.1
// request's body in %{size_request}: it sends a -d/--json body of less
// than 64 KiB in one piece with the head (no Expect: 100-continue), and
// counts that piece; a larger, chunked, -F or -T body goes on its own.
func requestBodyCounted(b *body, expect bool) bool {
	return b.kind == bodyData && b.size >= 0 && b.size < 64<<10 && !expect
}

// exchange1 sends req over HTTP/1.1 and reads the heads.
func (x *transfer) exchange1(ctx context.Context, c *conn, req *request) (*exchange, error) {
	req.target = requestTarget(req.url, c.proxied)
	headBytes := req.head1()
	x.verbose("> ", headBytes)
	x.sizeRequest += int64(len(headBytes))
	x.method = req.method

	// The transfer's deadline (-m) closes the connection under any read
	// or write still waiting.
	stop := context.AfterFunc(ctx, c.abort)
	var rd io.ReadCloser
	if req.body != nil {
		var err error
		if rd, err = req.body.reader(); err != nil {
			stop()
			c.close()
			return nil, err
		}
		atomic.StoreInt64(&x.uploadSize, req.body.size)
	}
	x.t.pretransfer = x.t.since()
	if _, err := c.nc.Write(headBytes); err != nil {
		stop()
		c.close()
		if rd != nil {
			rd.Close()
		}
		if c.reused {
			return nil, err // a stale connection: roundTrip tries a new one
		}
		return nil, fail(exitSend, "Failed sending data to the peer: %v", err)
	}

	var sendErr chan error
	send := func() {
		sendErr = make(chan error, 1)
		go func() { sendErr <- x.sendBody(c.nc, rd, req.body.size) }()
	}
	expect := false
	for _, f := range req.fields {
		if strings.EqualFold(f.name, "Expect") && strings.EqualFold(f.value, "100-continue") {
			expect = true
		}
	}
	if rd != nil && requestBodyCounted(req.body, expect) {
		x.sizeRequestBody += req.body.size
	}
	type headResult struct {
		h   *head
		err error
	}
	var h *head
	var err error
	switch {
	case rd != nil && expect:
		ch := make(chan headResult, 1)
		go func() { h, err := readHead(c.br); ch <- headResult{h, err} }()
		timer := time.NewTimer(x.r.o.expectWait)
		var hr headResult
		select {
		case <-timer.C:
			x.tracef("Done waiting for 100-continue")
			send()
			hr = <-ch
		case hr = <-ch:
			timer.Stop()
			if hr.h != nil && hr.h.status == 100 {
				send()
			}
		}
		h, err = hr.h, hr.err
	case rd != nil:
		send()
		h, err = readHead(c.br)
	default:
		h, err = readHead(c.br)
	}
	var heads []*head
	for {
		if err != nil {
			break
		}
		if len(heads) == 0 {
			x.t.starttransfer = x.t.since()
		}
		heads = append(heads, h)
		x.gotHead(h)
		if h.status/100 != 1 || h.status == 101 {
			break
		}
		h, err = readHead(c.br)
	}
	if err != nil {
		stop()
		c.close()
		if sendErr != nil {
			if serr := <-sendErr; serr != nil {
				return nil, serr
			}
		} else if rd != nil {
			rd.Close()
		}
		if c.reused && len(heads) == 0 && isStaleConn(err) {
			return nil, err
		}
		return nil, x.recvFailure(ctx, err)
	}
	final := heads[len(heads)-1]
	bodySent := sendErr != nil
	if rd != nil && !bodySent {
		rd.Close() // the server answered before asking for the body
	}
	fr, err := framingOf(req.method, final)
	if err != nil {
		stop()
		c.close()
		return nil, fail(err.(*headError).code, "%v", err)
	}
	atomic.StoreInt64(&x.contentLength, fr.length)
	var body io.Reader
	switch {
	case fr.none:
		body = eofReader{}
	case fr.chunked:
		body = &chunkedReader{br: c.br}
	case fr.length >= 0:
		body = &lengthReader{r: c.br, n: fr.length}
	default:
		body = c.br
	}
	reusable := !fr.toClose && final.proto == "HTTP/1.1" && (rd == nil || bodySent) && final.status != 101 &&
		!hasToken(final.values("Connection"), "close") && final.status/100 != 1
	ex := &exchange{heads: heads, body: body, conn: c}
	ex.done = func(complete bool) {
		stop()
		if sendErr != nil {
			// The server answered; the sender is done or about to be,
			// unless the server answered without reading the body.
			grace := time.NewTimer(50 * time.Millisecond)
			select {
			case err := <-sendErr:
				sendErr = nil
				if err != nil {
					complete = false
				}
			case <-grace.C:
				complete = false // still sending: the server did not read it all
			}
			grace.Stop()
		}
		if complete && reusable && ctx.Err() == nil {
			x.tracef("Connection #%d to host %s left intact", c.id, req.url.Hostname())
			x.r.pool.put(c)
			return
		}
		x.tracef("Closing connection %d", c.id)
		c.close()
	}
	return ex, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

func hasToken(values []string, token string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// sendBody writes the request body, chunked when its size is unknown.
func (x *transfer) sendBody(w io.Writer, rd io.ReadCloser, size int64) error {
	defer rd.Close()
	rd = readCloser{newRateLimited(rd, x.r.o.limitRate), rd}
	counted := &countWriter{w: w, n: &x.sizeUpload}
	var dst io.Writer = counted
	var cw chunkedWriter
	if size < 0 {
		cw = chunkedWriter{w: counted}
		dst = cw
	}
	buf := make([]byte, 32<<10)
	for {
		n, rerr := rd.Read(buf)
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return fail(exitSend, "Failed sending data to the peer: %v", err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fail(exitRead, "Failed reading the upload: %v", rerr)
		}
	}
	if size < 0 {
		if err := cw.close(); err != nil {
			return fail(exitSend, "Failed sending data to the peer: %v", err)
		}
	}
	return nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

type countWriter struct {
	w io.Writer
	n *int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	atomic.AddInt64(c.n, int64(n))
	return n, err
}

// gotHead shows a response head as it arrived: -v, -D, and -i (or -I)
// in the output.
func (x *transfer) gotHead(h *head) {
	x.sizeHeader += int64(len(h.raw))
	x.verbose("< ", h.raw)
	x.headerOut.write(h.raw)
	if x.r.o.include || x.r.o.head {
		x.out.writeHead(h.raw)
	}
}

// recvFailure maps an error reading a response to curl's exit codes.
func (x *transfer) recvFailure(ctx context.Context, err error) error {
	var he *headError
	var pe *partialError
	var f *failure
	switch {
	case errors.As(err, &f):
		return f
	case ctx.Err() != nil:
		return fail(exitTimeout, "Operation timed out after %d milliseconds with %d bytes received",
			time.Since(x.start).Milliseconds(), atomic.LoadInt64(&x.sizeDownload))
	case errors.As(err, &pe):
		return fail(exitPartial, "%v", pe)
	case errors.As(err, &he):
		return fail(he.code, "%v", he)
	case isTimeout(err):
		return fail(exitTimeout, "Operation timed out: %v", err)
	}
	return fail(exitRecv, "Failure when receiving data from the peer: %v", err)
}

// drain reads a redirect's body away so its connection can be reused;
// a large one closes the connection instead.
func (x *transfer) drain(ex *exchange) {
	n, err := io.Copy(io.Discard, io.LimitReader(ex.body, 64<<10))
	atomic.AddInt64(&x.sizeDownload, n)
	var probe [1]byte
	if err == nil {
		_, err = ex.body.Read(probe[:])
	}
	ex.done(err == io.EOF)
}

// deliver handles the final response: -f, -C's check, and the body.
func (x *transfer) deliver(ctx context.Context, req *request, ex *exchange) error {
	o := x.r.o
	final := ex.heads[len(ex.heads)-1]
	rh := x.retryAnswer(final) // non-nil: another attempt follows
	if final.status >= 400 && (o.fail || o.failWithBody) {
		f := fail(exitHTTPError, "The requested URL returned error: %d", final.status)
		if o.failWithBody {
			if err := x.copyBody(ctx, ex, final); err != nil {
				return err
			}
			x.keepOutput = rh == nil // the body is the point of --fail-with-body: it stays, as curl leaves it
		} else {
			ex.done(false)
		}
		if rh != nil {
			rh.f = f
			return rh
		}
		return f
	}
	if rh != nil {
		if err := x.copyBody(ctx, ex, final); err != nil {
			return err
		}
		return rh
	}
	if o.head {
		ex.done(true)
		return nil
	}
	skip, err := checkResume(x.resumeFrom, final)
	if err != nil {
		ex.done(false)
		return err
	}
	if skip {
		x.tracef("The file is complete already: nothing to resume")
		x.drain(ex)
		return nil
	}
	if err := x.out.useHeaderName(final); err != nil {
		ex.done(false)
		return err
	}
	if o.maxFilesize > 0 && x.contentLength > o.maxFilesize {
		ex.done(false)
		return fail(exitFileSize, "Maximum file size exceeded (%d > --max-filesize %d)", x.contentLength, o.maxFilesize)
	}
	return x.copyBody(ctx, ex, final)
}

// copyBody writes the response body to the output.
func (x *transfer) copyBody(ctx context.Context, ex *exchange, final *head) error {
	counted := &countReader{r: newRateLimited(ex.body, x.r.o.limitRate), n: &x.sizeDownload}
	var src io.Reader = counted
	if x.r.o.compressed {
		var err error
		if src, err = decodeBody(src, final); err != nil {
			ex.done(false)
			return err
		}
	}
	buf := make([]byte, 32<<10)
	for {
		n, rerr := src.Read(buf)
		if max := x.r.o.maxFilesize; max > 0 && atomic.LoadInt64(&x.sizeDownload) > max {
			ex.done(false)
			return fail(exitFileSize, "Maximum file size exceeded (--max-filesize %d)", max)
		}
		if n > 0 {
			if err := x.out.writeBody(buf[:n]); err != nil {
				ex.done(false)
				return err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			ex.done(false)
			return x.recvFailure(ctx, rerr)
		}
	}
	ex.done(true)
	x.tracef("Received %d bytes of headers and %d bytes of body, sent %d bytes, in %.6f s",
		x.sizeHeader, atomic.LoadInt64(&x.sizeDownload), x.sizeRequest+atomic.LoadInt64(&x.sizeUpload), time.Since(x.start).Seconds())
	return nil
}

type countReader struct {
	r io.Reader
	n *int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	atomic.AddInt64(c.n, int64(n))
	return n, err
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
