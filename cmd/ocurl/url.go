package main

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

// parseURL reads a URL as curl does. A URL without a scheme is http://,
// curl's guess (ocurl does not guess ftp:// and the like: it speaks http
// and https only), so that a command typed for curl does the same thing
// with ocurl; type https:// for TLS. Other schemes exit 1; a URL that does
// not parse, has no host, a bad port or a space exits 3.
func parseURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, fail(exitBadURL, "URL using bad/illegal format or missing URL")
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return nil, fail(exitBadURL, "URL using bad/illegal format or missing URL: %q has white space", s)
	}
	raw := s
	if i := strings.Index(s, "://"); i < 0 || strings.ContainsAny(s[:i], "/?#") {
		if scheme, rest, ok := strings.Cut(s, ":/"); ok && isScheme(scheme) && !strings.HasPrefix(rest, "/") {
			s = scheme + "://" + rest // "http:/host/path", as curl accepts it
		} else if !strings.HasPrefix(s, "/") {
			s = "http://" + s
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fail(exitBadURL, "URL using bad/illegal format or missing URL: %v", unwrapURLError(err))
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch {
	case u.Scheme == "":
		return nil, fail(exitBadURL, "URL using bad/illegal format or missing URL: %q", raw)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fail(exitProtocol, "Protocol %q not supported (ocurl speaks http and https)", u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return nil, fail(exitBadURL, "URL using bad/illegal format or missing URL: no host in %q", raw)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fail(exitBadURL, "URL using bad/illegal format or missing URL: port %q", p)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		u.Host = strings.TrimSuffix(u.Host, ":")
	}
	if h := u.Hostname(); strings.Contains(h, ":") && net.ParseIP(h) == nil {
		return nil, fail(exitBadURL, "URL using bad/illegal format or missing URL: bad IPv6 address %q", h)
	}
	if u.Path == "" && u.Opaque == "" {
		u.Path = "/"
	}
	return u, nil
}

// refuseGlob refuses a URL curl would glob: '[', ']', '{' or '}' after
// the host (an IPv6 address is in brackets), but for "[]", which curl
// sends as it is. curl expands {a,b} and [1-9]
// into several URLs and refuses a pattern it cannot read (3); ocurl does
// no globbing, and sending the characters as typed would fetch something
// else than curl does, silently. So they are refused (3) unless -g, which
// sends them as they are, as curl's -g does.
func refuseGlob(raw string) error {
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 {
		start = i + 3
	}
	if j := strings.IndexAny(raw[start:], "/?#"); j >= 0 {
		start += j
	} else {
		return nil
	}
	rest := raw[start:]
	for k := 0; k < len(rest); k++ {
		switch rest[k] {
		case '[':
			if k+1 < len(rest) && rest[k+1] == ']' {
				k++ // "[]" is no pattern: curl sends it as it is
				continue
			}
		case ']', '{', '}':
		default:
			continue
		}
		return fail(exitBadURL, "URL globbing is not supported: %q in %s", rest[k], rest).
			withHint("ocurl fetches one URL per argument; -g (--globoff) sends [ ] { } as they are, or write them as %%5B %%5D %%7B %%7D")
	}
	return nil
}

// squashDots removes "." and ".." segments from u's path (RFC 3986
// §5.2.4), as curl does unless --path-as-is.
func squashDots(u *url.URL) *url.URL {
	ep := u.EscapedPath()
	norm := removeDotSegments(ep)
	if norm == ep {
		return u
	}
	c := *u
	if p, err := url.PathUnescape(norm); err == nil {
		c.Path, c.RawPath = p, norm
	}
	return &c
}

func removeDotSegments(p string) string {
	var out []string
	segs := strings.Split(p, "/")
	for i, s := range segs {
		switch s {
		case ".":
			if i == len(segs)-1 {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if i == len(segs)-1 {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	r := strings.Join(out, "/")
	if strings.HasPrefix(p, "/") && !strings.HasPrefix(r, "/") {
		r = "/" + r
	}
	return r
}

func isScheme(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// requestTarget is the request-target for u: origin-form, or the
// absolute URL without fragment or user info for a proxy.
func requestTarget(u *url.URL, absolute bool) string {
	if absolute {
		c := *u
		c.User, c.Fragment, c.RawFragment = nil, "", ""
		return c.String()
	}
	t := u.EscapedPath()
	if t == "" {
		t = "/"
	}
	if u.RawQuery != "" || u.ForceQuery {
		t += "?" + u.RawQuery
	}
	return t
}

// effectiveURL is u as %{url_effective} shows it (user info included,
// as curl shows it).
func effectiveURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.String()
}

// sameOrigin reports whether a redirect stays on the host (and port and
// scheme) credentials were given for.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Hostname(), b.Hostname()) && portOf(a) == portOf(b) && a.Scheme == b.Scheme
}
