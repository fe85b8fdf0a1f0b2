package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The cookie engine, as curl's: -b FILE (or -b with no '=') loads a
// Netscape cookie file (or Set-Cookie: lines) and turns the engine on, as
// does -c FILE, which writes every cookie at the end in the format curl
// writes; -b NAME=VALUE strings are sent as they are. Cookies are matched
// by domain (RFC 6265 §5.1.3), path (§5.1.4) and Secure, sent longest path
// first, and written newest first, as curl orders them.

// cookie is one stored cookie.
type cookie struct {
	name, value string
	domain      string // without a leading dot
	tailmatch   bool   // a Domain= cookie: sent to subdomains too
	path        string // as written in the jar; matched as spath()
	secure      bool
	httpOnly    bool
	expires     int64 // Unix seconds; 0 for a session cookie
	created     int64 // order of creation (curl's creationtime)
}

// cookieJar holds the cookies of a run.
type cookieJar struct {
	mu      sync.Mutex
	cookies []*cookie
	seq     int64
	now     func() time.Time
}

// maxCookieFile bounds a cookie file read with -b.
const maxCookieFile = 64 << 20

// newCookieJar starts the engine if the options ask for it.
func (r *run) newCookieJar() error {
	enabled := r.o.cookieJar != ""
	for _, b := range r.o.cookies {
		if !strings.Contains(b, "=") {
			enabled = true
		}
	}
	if !enabled {
		return nil
	}
	r.jar = &cookieJar{now: time.Now}
	for _, b := range r.o.cookies {
		if strings.Contains(b, "=") || b == "" {
			continue
		}
		r.jar.load(b, r.iv.stdin, r.o.junkSession)
	}
	return nil
}

// load reads a cookie file: Netscape lines, or Set-Cookie: header lines.
// A file that cannot be read is ignored, as curl ignores it.
func (j *cookieJar) load(name string, stdin io.Reader, junkSession bool) {
	rd := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return
		}
		defer f.Close()
		rd = f
	}
	j.loadFrom(rd, junkSession)
}

// loadFrom reads cookies from rd.
func (j *cookieJar) loadFrom(rd io.Reader, junkSession bool) {
	sc := bufio.NewScanner(io.LimitReader(rd, maxCookieFile))
	sc.Buffer(make([]byte, 64<<10), maxHeaderLine)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if v, ok := cutPrefixFold(line, "Set-Cookie:"); ok {
			j.setCookie(nil, strings.TrimSpace(v))
			continue
		}
		httpOnly := false
		if rest, ok := strings.CutPrefix(line, "#HttpOnly_"); ok {
			line, httpOnly = rest, true
		}
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) == 6 {
			f = append(f, "") // a cookie with no value
		}
		if len(f) != 7 {
			continue
		}
		exp, err := strconv.ParseInt(f[4], 10, 64)
		if err != nil {
			continue
		}
		if junkSession && exp == 0 {
			continue
		}
		if hasControl(f[5]) || hasControl(f[6]) || f[5] == "" {
			continue
		}
		c := &cookie{name: f[5], value: f[6], domain: strings.ToLower(strings.TrimPrefix(f[0], ".")),
			tailmatch: strings.EqualFold(f[1], "TRUE"), path: f[2], secure: strings.EqualFold(f[3], "TRUE"),
			httpOnly: httpOnly, expires: exp}
		j.mu.Lock()
		j.store(c)
		j.mu.Unlock()
	}
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return "", false
}

// store adds c, replacing a cookie of the same name, domain and path (the
// new one keeps the old one's place in time, as curl's does), or removes
// it when c has expired.
func (j *cookieJar) store(c *cookie) {
	now := j.now().Unix()
	for i, old := range j.cookies {
		if old.name == c.name && old.domain == c.domain && old.spath() == c.spath() {
			if c.expires != 0 && c.expires <= now {
				j.cookies = append(j.cookies[:i], j.cookies[i+1:]...)
				return
			}
			c.created = old.created
			j.cookies[i] = c
			return
		}
	}
	if c.expires != 0 && c.expires <= now {
		return
	}
	j.seq++
	c.created = j.seq
	j.cookies = append(j.cookies, c)
}

// update stores the cookies a response sets.
func (j *cookieJar) update(u *url.URL, h *head) {
	if j == nil {
		return
	}
	for _, v := range h.values("Set-Cookie") {
		j.setCookie(u, v)
	}
}

// setCookie parses one Set-Cookie value (RFC 6265 §5.2) for a response
// from u (nil: from a file, no origin checks).
func (j *cookieJar) setCookie(u *url.URL, v string) {
	parts := strings.Split(v, ";")
	name, value, ok := strings.Cut(parts[0], "=")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if !ok || name == "" || len(v) > maxHeaderLine || hasControl(name) || hasControl(value) {
		return // control characters (a tab would break the jar's lines) are refused, as curl refuses them
	}
	c := &cookie{name: name, value: strings.Trim(value, `"`)}
	domainAttr, havePath := "", false
	now := j.now()
	maxAge := false
	for _, a := range parts[1:] {
		k, val, _ := strings.Cut(a, "=")
		k, val = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(val)
		switch k {
		case "domain":
			if hasControl(val) {
				return
			}
			domainAttr = strings.ToLower(strings.TrimPrefix(val, "."))
		case "path":
			if strings.HasPrefix(val, "/") && !hasControl(val) {
				c.path, havePath = val, true
			}
		case "secure":
			c.secure = true
		case "httponly":
			c.httpOnly = true
		case "max-age":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				continue
			}
			maxAge = true
			if n <= 0 {
				c.expires = 1 // expired: removes the cookie
			} else {
				c.expires = now.Unix() + n
			}
		case "expires":
			if maxAge {
				continue
			}
			if t, err := http.ParseTime(val); err == nil {
				c.expires = max(t.Unix(), 1)
			} else if t, err := time.Parse("Mon, 02-Jan-2006 15:04:05 MST", val); err == nil {
				c.expires = max(t.Unix(), 1)
			}
		}
	}
	if u != nil {
		host := strings.ToLower(u.Hostname())
		if c.secure && u.Scheme != "https" && !isLocalhost(host) {
			return // a Secure cookie from an insecure origin
		}
		switch {
		case domainAttr == "" || domainAttr == host:
			c.domain, c.tailmatch = host, domainAttr != ""
		case strings.HasSuffix(host, "."+domainAttr) && strings.Contains(domainAttr, ".") && net.ParseIP(host) == nil:
			c.domain, c.tailmatch = domainAttr, true
		default:
			return // a domain the host is not in
		}
		if !havePath {
			c.path = defaultCookiePath(u.EscapedPath())
		}
	} else {
		c.domain, c.tailmatch = domainAttr, domainAttr != ""
		if !havePath {
			c.path = "/"
		}
	}
	switch {
	case strings.HasPrefix(c.name, "__Secure-") && !c.secure,
		strings.HasPrefix(c.name, "__Host-") && (!c.secure || c.tailmatch || c.path != "/"):
		return // RFC 6265bis §4.1.3
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.store(c)
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

func isLocalhost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// defaultCookiePath is the path of a cookie set without one, as curl
// keeps it: the request's path up to and including its last '/' (RFC 6265
// §5.1.4's default-path and a slash; spath drops the slash to match).
func defaultCookiePath(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i+1]
}

// spath is the path the cookie is matched and replaced by, as
// curl's sanitize_cookie_path makes it: no surrounding quotes, "/" if it
// does not start with one, no trailing slash.
func (c *cookie) spath() string {
	p := strings.Trim(c.path, `"`)
	if !strings.HasPrefix(p, "/") {
		return "/"
	}
	if len(p) > 1 && strings.HasSuffix(p, "/") {
		p = p[:len(p)-1]
	}
	return p
}

func pathMatch(cookiePath, reqPath string) bool {
	if reqPath == "" {
		reqPath = "/"
	}
	switch {
	case cookiePath == reqPath:
		return true
	case !strings.HasPrefix(reqPath, cookiePath):
		return false
	}
	return strings.HasSuffix(cookiePath, "/") || reqPath[len(cookiePath)] == '/'
}

// header is the Cookie value for a request to u: the matching cookies in
// curl's order (longest path, longest domain, longest name, newest).
func (j *cookieJar) header(u *url.URL) string {
	if j == nil {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	now := j.now().Unix()
	j.mu.Lock()
	var match []*cookie
	for _, c := range j.cookies {
		if c.expires != 0 && c.expires <= now {
			continue
		}
		if c.secure && u.Scheme != "https" && !isLocalhost(host) {
			continue
		}
		if !(host == c.domain || c.tailmatch && strings.HasSuffix(host, "."+c.domain)) {
			continue
		}
		if !pathMatch(c.spath(), u.EscapedPath()) {
			continue
		}
		match = append(match, c)
	}
	j.mu.Unlock()
	sort.SliceStable(match, func(a, b int) bool {
		ca, cb := match[a], match[b]
		if len(ca.path) != len(cb.path) {
			return len(ca.path) > len(cb.path) // the path as kept, trailing slash and all (curl's cookie_sort)
		}
		if len(ca.domain) != len(cb.domain) {
			return len(ca.domain) > len(cb.domain)
		}
		if len(ca.name) != len(cb.name) {
			return len(ca.name) > len(cb.name)
		}
		return ca.created > cb.created
	})
	parts := make([]string, len(match))
	for i, c := range match {
		parts[i] = c.name + "=" + c.value
	}
	return strings.Join(parts, "; ")
}

// netscape writes the jar as curl writes it: its three comment lines, a
// blank line, then one line per cookie, newest first.
func (j *cookieJar) netscape() []byte {
	j.mu.Lock()
	cs := append([]*cookie(nil), j.cookies...)
	j.mu.Unlock()
	sort.SliceStable(cs, func(a, b int) bool { return cs[a].created > cs[b].created })
	var b bytes.Buffer
	b.WriteString("# Netscape HTTP Cookie File\n# https://curl.se/docs/http-cookies.html\n# This file was generated by libcurl! Edit at your own risk.\n\n")
	now := j.now().Unix()
	for _, c := range cs {
		if c.expires != 0 && c.expires <= now {
			continue
		}
		domain := c.domain
		if c.tailmatch {
			domain = "." + domain
		}
		if c.httpOnly {
			domain = "#HttpOnly_" + domain
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", domain, upperBool(c.tailmatch), c.path, upperBool(c.secure), c.expires, c.name, c.value)
	}
	return b.Bytes()
}

func upperBool(v bool) string {
	if v {
		return "TRUE"
	}
	return "FALSE"
}

// cookieHeader is the Cookie field for u: the engine's cookies, then the
// -b NAME=VALUE strings, as curl joins them.
func (r *run) cookieHeader(u *url.URL) string {
	var parts, strs []string
	if c := r.jar.header(u); c != "" {
		parts = append(parts, c)
	}
	for _, b := range r.o.cookies {
		if strings.Contains(b, "=") {
			strs = append(strs, b)
		}
	}
	if len(strs) > 0 {
		parts = append(parts, strings.Join(strs, ";")) // curl joins -b strings with a bare ';'
	}
	return strings.Join(parts, "; ")
}

// saveCookies writes -c's file at the end of the run (- is stdout). A
// regular file is replaced whole.
func (r *run) saveCookies() error {
	if r.jar == nil || r.o.cookieJar == "" {
		return nil
	}
	data := r.jar.netscape()
	if r.o.cookieJar == "-" {
		r.stdoutMu.Lock()
		defer r.stdoutMu.Unlock()
		if _, err := r.stdout.Write(data); err != nil {
			return fail(exitWrite, "Failed to save cookies in -: %v", err)
		}
		return nil
	}
	f, err := openOutput(r.o.cookieJar)
	if err == nil {
		if _, err = f.Write(data); err != nil {
			f.Abort()
		} else {
			err = f.Commit()
		}
	}
	if err != nil {
		return fail(exitWrite, "Failed to save cookies in %s: %v", r.o.cookieJar, err)
	}
	return nil
}
