package main

import (
	"net/url"
	"slices"
	"strings"
)

// reqState is what carries from one request of a transfer to the next
// (a redirect): the method, the body, and where credentials belong.
type reqState struct {
	u      *url.URL
	method string // the method's semantics: GET, HEAD, POST, PUT
	body   *body  // nil once a redirect dropped it
	origin *url.URL
	prev   *url.URL // the previous URL, for --referer ';auto'
}

// firstRequest is a transfer's first request: HEAD with -I, PUT with -T,
// POST with -d or -F, else GET; -X changes only the method's name.
func (r *run) firstRequest(u *url.URL, spec *urlSpec) (*reqState, error) {
	st := &reqState{u: u, method: "GET", origin: u}
	b, err := r.makeBody(spec)
	if err != nil {
		return nil, err
	}
	st.body = b
	switch {
	case r.o.head:
		st.method = "HEAD"
	case b != nil && b.kind == bodyUpload:
		st.method = "PUT"
	case b != nil:
		st.method = "POST"
	}
	return st, nil
}

// redirected is the request a redirect leads to (RFC 9110 §15.4, as curl
// does it): 307 and 308 keep the method and body; 301 and 302 turn a POST
// into a GET (unless --post301/--post302), 303 turns anything but GET and
// HEAD into a GET (unless --post303). -X keeps its name throughout, as
// curl's does.
func (r *run) redirected(st *reqState, status int, from, to *url.URL) *reqState {
	next := *st
	next.u, next.prev = to, from
	toGET := false
	switch status {
	case 301:
		toGET = st.method == "POST" && !r.o.postRedirs[0]
	case 302:
		toGET = st.method == "POST" && !r.o.postRedirs[1]
	case 303:
		toGET = st.method != "GET" && st.method != "HEAD" && !r.o.postRedirs[2]
	}
	if toGET {
		next.method, next.body = "GET", nil
	}
	return &next
}

// buildRequest lays out the request for st.
func (r *run) buildRequest(x *transfer, st *reqState) (*request, error) {
	o := r.o
	u := st.u
	q := &request{method: st.method, url: u, body: st.body}
	if o.method != "" {
		q.method = o.method
	}
	trusted := o.trusted || sameOrigin(st.origin, u)
	var early []builtin
	proxy, err := r.proxyFor(u)
	if err != nil {
		return nil, err
	}
	if proxy != nil && u.Scheme == "http" && !o.tunnel {
		if auth := proxyAuth(proxy, o.proxyUser); auth != "" {
			early = append(early, builtin{"Proxy-Authorization", auth})
		}
	}
	if trusted {
		if auth := r.authorization(u); auth != "" {
			early = append(early, builtin{"Authorization", auth})
		}
	}
	if rg := r.rangeHeader(x); rg != "" {
		early = append(early, builtin{"Range", rg})
	}
	ua := userAgent
	if o.userAgent != nil {
		ua = *o.userAgent
	}
	if ua != "" {
		early = append(early, builtin{"User-Agent", ua})
	}
	early = append(early, builtin{"Accept", "*/*"})
	if o.compressed {
		early = append(early, builtin{"Accept-Encoding", acceptEncoding})
	}
	x.lastReferer = r.referer(st)
	if x.lastReferer != "" {
		early = append(early, builtin{"Referer", x.lastReferer})
	}
	if proxy != nil && u.Scheme == "http" && !o.tunnel {
		early = append(early, builtin{"Proxy-Connection", "Keep-Alive"})
	}
	if st.body != nil && st.body.size < 0 {
		early = append(early, builtin{"Transfer-Encoding", "chunked"})
	}
	if c := r.cookieHeader(u); c != "" {
		early = append(early, builtin{"Cookie", c})
	}
	rules := headerRules(o.headers)
	if hasJSON(o.data) && !o.get {
		// --json's fields go after the -H ones, unless one names them.
		for _, f := range []headerRule{{name: "Content-Type", value: "application/json"}, {name: "Accept", value: "application/json"}} {
			if !hasRule(rules, f.name) {
				rules = append(rules, f)
			}
		}
	}
	if !trusted {
		// Credentials given for one host are not sent to another (curl
		// 7.58+): custom Authorization and Cookie fields stay behind.
		kept := rules[:0:0]
		for _, h := range rules {
			if !strings.EqualFold(h.name, "Authorization") && !strings.EqualFold(h.name, "Cookie") {
				kept = append(kept, h)
			}
		}
		rules = kept
	}
	q.fields = buildFields(hostHeader(u), early, rules, bodyFields(st.body, r.wantExpect(st.body)))
	return q, nil
}

// wantExpect is curl's rule for Expect: 100-continue: an upload (-T), a
// body of unknown size, or one over 1 MiB.
func (r *run) wantExpect(b *body) bool {
	if b == nil || r.o.httpVersion == http2Prior {
		return false
	}
	return b.kind == bodyUpload || b.size < 0 || b.size > 1<<20
}

// referer is the Referer to send: -e's value, or with ';auto' the
// previous URL of a redirect.
func (r *run) referer(st *reqState) string {
	if r.o.autoReferer && st.prev != nil {
		c := *st.prev
		c.User, c.Fragment = nil, ""
		return c.String()
	}
	return r.o.referer
}

func hasRule(rules []headerRule, name string) bool {
	return slices.ContainsFunc(rules, func(r headerRule) bool { return strings.EqualFold(r.name, name) })
}
