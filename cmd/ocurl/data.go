package main

import (
	"net/url"
	"strings"
)

// The -d family: each value is one part of a POST body, joined with '&'.

type dataKind int

const (
	dataPlain dataKind = iota // -d, --data-ascii: @FILE read without CR and LF
)

// dataArg is one -d value as given.
type dataArg struct {
	kind  dataKind
	value string
}

// addData reads one -d value; @FILE (@- for stdin) is read at once, as
// curl reads it while parsing.
func (p *parser) addData(kind dataKind, v string) error {
	if name, ok := strings.CutPrefix(v, "@"); ok {
		b, err := p.readArgFile(name, "-d @"+name)
		if err != nil {
			return err
		}
		v = strings.NewReplacer("\r", "", "\n", "").Replace(string(b))
	}
	p.o.data = append(p.o.data, dataArg{kind, v})
	return nil
}

// makeBody is the request body the options describe, nil for none.
func (r *run) makeBody(u *url.URL) (*body, error) {
	if len(r.o.data) == 0 {
		return nil, nil
	}
	parts := make([]string, len(r.o.data))
	for i, d := range r.o.data {
		parts[i] = d.value
	}
	data := []byte(strings.Join(parts, "&"))
	return &body{kind: bodyData, contentType: "application/x-www-form-urlencoded", size: int64(len(data)), data: data}, nil
}
