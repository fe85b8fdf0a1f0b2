package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// userAgent is what ocurl sends unless -A or -H says otherwise.
const userAgent = "ocurl/1"

// request is one HTTP request as it goes out.
type request struct {
	method string
	url    *url.URL
	target string  // the request-target: origin-form, or absolute-form to a proxy
	fields []field // the header fields in send order; a "" value sends "Name:"
	body   *body   // nil: no body
}

// bodySize is the body's length, -1 if unknown (sent chunked), 0 without one.
func (q *request) bodySize() int64 {
	if q.body == nil {
		return 0
	}
	return q.body.size
}

// head1 is the request's HTTP/1.1 head.
func (q *request) head1() []byte {
	var b bytes.Buffer
	b.WriteString(q.method + " " + q.target + " HTTP/1.1\r\n")
	for _, f := range q.fields {
		if f.value == "" {
			b.WriteString(f.name + ":\r\n")
		} else {
			b.WriteString(f.name + ": " + f.value + "\r\n")
		}
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// body is a request body that can be opened again for a redirect or a
// retry (bodies from stdin are read into memory first, except -T -).
type body struct {
	kind        bodyKind
	contentType string // the built-in Content-Type; "" for none
	size        int64  // -1: unknown, sent chunked
	data        []byte // kind data, or a body read from stdin
	open        func() (io.ReadCloser, error)
	once        bool // a stream that cannot be read twice (-T -)
	opened      bool
}

type bodyKind int

const (
	bodyData   bodyKind = iota // -d family, --json: a POST
	bodyForm                   // -F: a multipart POST
	bodyUpload                 // -T: a PUT
)

// reader opens the body for one sending.
func (b *body) reader() (io.ReadCloser, error) {
	if b.open == nil {
		return io.NopCloser(bytes.NewReader(b.data)), nil
	}
	if b.once && b.opened {
		return nil, fail(exitRewind, "necessary data rewind wasn't possible (the upload came from stdin)")
	}
	b.opened = true
	return b.open()
}

// headerRule is one -H: a field to send, a built-in to remove ("Name:"),
// or a field sent empty ("Name;").
type headerRule struct {
	name, value string
	remove      bool
}

// headerRules reads the -H values.
func headerRules(hs []string) []headerRule {
	var rules []headerRule
	for _, h := range hs {
		colon := strings.IndexByte(h, ':')
		semi := strings.IndexByte(h, ';')
		switch {
		case colon > 0 && (semi < 0 || colon < semi):
			name, value := h[:colon], strings.TrimSpace(h[colon+1:])
			if value == "" {
				rules = append(rules, headerRule{name: strings.TrimSpace(name), remove: true})
			} else {
				rules = append(rules, headerRule{name: strings.TrimSpace(name), value: value})
			}
		case semi > 0 && strings.TrimSpace(h[semi+1:]) == "":
			rules = append(rules, headerRule{name: strings.TrimSpace(h[:semi])})
		}
		// Anything else (no colon, "Name; more") is not a header: curl
		// ignores it too.
	}
	return rules
}

// addHeader reads one -H value; @FILE reads header lines from a file
// (@- from stdin), one per line.
func (p *parser) addHeader(v string) error {
	name, ok := strings.CutPrefix(v, "@")
	if !ok {
		p.o.headers = append(p.o.headers, v)
		return nil
	}
	b, err := p.readArgFile(name, "-H @"+name)
	if errors.Is(err, errTooLarge) {
		return err
	}
	if err != nil {
		// curl 7.88 warns and goes on without the file's headers.
		p.warnf("Failed to open %s!", name)
		return nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) != "" {
			p.o.headers = append(p.o.headers, line)
		}
	}
	return nil
}

// readArgFile reads a file an option names ("-" is stdin).
func (p *parser) readArgFile(name, what string) ([]byte, error) {
	var b []byte
	var err error
	if name == "-" {
		b, err = io.ReadAll(io.LimitReader(p.iv.stdin, maxArgFile+1))
	} else {
		var f *os.File
		if f, err = os.Open(name); err == nil {
			b, err = io.ReadAll(io.LimitReader(f, maxArgFile+1))
			f.Close()
		}
	}
	if err != nil {
		return nil, fail(exitRead, "%s: %v", what, err)
	}
	if len(b) > maxArgFile {
		return nil, fail(exitRead, "%s: %w", what, errTooLarge)
	}
	return b, nil
}

// errTooLarge is a file an option names that is larger than maxArgFile.
var errTooLarge = fmt.Errorf("larger than %d bytes", maxArgFile)

// warnf prints one of curl's "Warning: ..." lines while the arguments are
// read, unless -s came before (curl checks -s at the moment it warns too).
func (p *parser) warnf(format string, args ...any) {
	if !p.o.silent {
		fmt.Fprintf(p.iv.stderr, "Warning: "+format+"\n", args...)
	}
}

// maxArgFile bounds what an option reads into memory from a file or stdin.
const maxArgFile = 1 << 30

// builtin is one of ocurl's own header fields, in curl's order.
type builtin struct {
	name, value string
}

// buildFields lays out the request's header fields as curl does: Host,
// the built-in fields in curl's order, the -H fields in their order, then
// the body's fields. A -H field named like a built-in replaces it (Host
// keeps its place, the others go with the -H fields); "Name:" removes the
// built-in; "Name;" sends the field empty.
func buildFields(host string, early []builtin, rules []headerRule, late []builtin) []field {
	custom := func(name string) (string, bool, bool) { // value, present, removed
		for _, r := range rules {
			if strings.EqualFold(r.name, name) {
				return r.value, true, r.remove
			}
		}
		return "", false, false
	}
	var fields []field
	if v, ok, removed := custom("Host"); ok {
		if !removed {
			fields = append(fields, field{"Host", v})
		}
	} else {
		fields = append(fields, field{"Host", host})
	}
	for _, b := range early {
		if _, ok, _ := custom(b.name); !ok {
			fields = append(fields, field{b.name, b.value})
		}
	}
	for _, r := range rules {
		if r.remove || strings.EqualFold(r.name, "Host") {
			continue
		}
		fields = append(fields, field{r.name, r.value})
	}
	for _, b := range late {
		if _, ok, _ := custom(b.name); !ok {
			fields = append(fields, field{b.name, b.value})
		}
	}
	return fields
}

// hostHeader is the Host value for u: the port only when not the scheme's
// default, as curl sends it.
func hostHeader(u *url.URL) string {
	host := u.Hostname()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := u.Port(); p != "" && p != defaultPort(u.Scheme) {
		return host + ":" + p
	}
	return host
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// bodyFields are the body's own header fields, after the -H fields.
func bodyFields(b *body, expect bool) []builtin {
	if b == nil {
		return nil
	}
	var out []builtin
	if b.size >= 0 {
		out = append(out, builtin{"Content-Length", strconv.FormatInt(b.size, 10)})
	}
	if b.contentType != "" {
		out = append(out, builtin{"Content-Type", b.contentType})
	}
	if expect {
		out = append(out, builtin{"Expect", "100-continue"})
	}
	return out
}
