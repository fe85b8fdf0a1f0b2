package main

import (
	"errors"
	"net/url"
	"strings"
)

// The -d family and --json: each value is one part of a POST body, the
// parts joined with '&' (two --json parts in a row are joined as they
// are), as curl builds it. -G sends the same text as the URL's query
// instead.

type dataKind int

const (
	dataPlain     dataKind = iota // -d, --data-ascii: @FILE read without CR and LF
	dataBinary                    // --data-binary: @FILE read as it is
	dataRaw                       // --data-raw: no @ at all
	dataURLEncode                 // --data-urlencode
	dataJSON                      // --json: as --data-binary, plus JSON's headers
)

// dataArg is one -d value, its file already read.
type dataArg struct {
	kind  dataKind
	value string
}

// addData reads one value; @FILE (@- for stdin) is read at once, as curl
// reads it while parsing. A file that cannot be read is curl's warning and
// an empty part, not an error.
func (p *parser) addData(kind dataKind, v string) error {
	switch kind {
	case dataPlain, dataBinary, dataJSON:
		if name, ok := strings.CutPrefix(v, "@"); ok {
			b, err := p.readDataFile(name, name)
			if err != nil {
				return err
			}
			v = string(b)
			if kind == dataPlain {
				v = strings.NewReplacer("\r", "", "\n", "").Replace(v)
			}
		}
	case dataURLEncode:
		enc, err := p.urlEncodeArg(v)
		if err != nil {
			return err
		}
		v = enc
	}
	p.o.data = append(p.o.data, dataArg{kind, v})
	return nil
}

// urlEncodeArg reads --data-urlencode's forms: "content", "=content",
// "name=content", "@file" and "name@file"; the content is encoded.
func (p *parser) urlEncodeArg(v string) (string, error) {
	eq := strings.IndexByte(v, '=')
	at := strings.IndexByte(v, '@')
	switch {
	case eq >= 0 && (at < 0 || eq < at):
		name := v[:eq]
		if name == "" {
			return formEscape(v[eq+1:]), nil
		}
		return name + "=" + formEscape(v[eq+1:]), nil
	case at >= 0:
		b, err := p.readDataFile(v[at+1:], v)
		if err != nil {
			return "", err
		}
		if b == nil {
			return "", nil // unreadable: an empty part, without the name (curl's)
		}
		if at == 0 {
			return formEscape(string(b)), nil
		}
		return v[:at] + "=" + formEscape(string(b)), nil
	}
	return formEscape(v), nil
}

// readDataFile reads a -d family @FILE. One that cannot be read is, as in
// curl 7.88, a warning (unless -s) and no data: the request goes out with
// an empty part (nil, where a file read and empty is a non-nil empty
// slice). Only a file too large to hold is an error (26).
func (p *parser) readDataFile(name, arg string) ([]byte, error) {
	b, err := p.readArgFile(name, "@"+name)
	if errors.Is(err, errTooLarge) {
		return nil, err
	}
	if err != nil {
		p.warnf("Couldn't read data from file %q, this makes an empty POST.", arg)
		return nil, nil
	}
	if b == nil {
		b = []byte{} // read, and empty: nil means unreadable
	}
	return b, nil
}

// formEscape encodes as curl's --data-urlencode: unreserved characters
// (RFC 3986 §2.3) as they are, a space as '+', the rest as %XX.
func formEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// dataText joins the data parts.
func dataText(parts []dataArg) string {
	var b strings.Builder
	for i, d := range parts {
		if i > 0 && !(d.kind == dataJSON && parts[i-1].kind == dataJSON) {
			b.WriteByte('&')
		}
		b.WriteString(d.value)
	}
	return b.String()
}

func hasJSON(parts []dataArg) bool {
	for _, d := range parts {
		if d.kind == dataJSON {
			return true
		}
	}
	return false
}

// withGetData is u with -G's data appended to its query.
func withGetData(u *url.URL, parts []dataArg) *url.URL {
	if len(parts) == 0 {
		return u
	}
	c := *u
	if c.RawQuery != "" {
		c.RawQuery += "&" + dataText(parts)
	} else {
		c.RawQuery = dataText(parts)
	}
	return &c
}

// makeBody is the request body the options describe, nil for none.
func (r *run) makeBody(spec *urlSpec) (*body, error) {
	if spec.upload != "" {
		return r.uploadBody(spec.upload)
	}
	if len(r.o.forms) > 0 {
		return r.formBody()
	}
	if len(r.o.data) == 0 || r.o.get {
		return nil, nil
	}
	data := []byte(dataText(r.o.data))
	ct := "application/x-www-form-urlencoded"
	if hasJSON(r.o.data) {
		ct = "" // --json's Content-Type goes with the -H fields
	}
	return &body{kind: bodyData, contentType: ct, size: int64(len(data)), data: data}, nil
}
