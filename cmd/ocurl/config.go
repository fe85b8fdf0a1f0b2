package main

import (
	"errors"
	"fmt"
	"strings"
)

// -K FILE reads options from a config file, one per line, as curl reads
// them: '#' starts a comment line; an option is written with or without
// its dashes ("--silent", "silent", "-s"), its value after spaces, '=' or
// ':', in double quotes when it holds spaces (\" \\ \t \n \r \v inside);
// "url = ..." adds a URL. -K - reads stdin. An unknown option is a
// warning, as in curl; a bad value is an error naming the file and line.
// ocurl reads no .curlrc: only the files -K names.

// maxConfigDepth bounds -K files that name -K files.
const maxConfigDepth = 10

func (p *parser) config(name string) error {
	if p.depth >= maxConfigDepth {
		return usagef("-K %s: config files nested more than %d deep", name, maxConfigDepth)
	}
	b, err := p.readArgFile(name, "-K "+name)
	if err != nil {
		return fail(exitRead, "option -K: error encountered when reading a file: %v", err)
	}
	p.depth++
	defer func() { p.depth-- }()
	for i, line := range strings.Split(string(b), "\n") {
		args, err := configLine(line)
		if err != nil {
			return usagef("%s:%d: %v", name, i+1, err)
		}
		if len(args) == 0 {
			continue
		}
		opt := args[0]
		var spec *flagSpec
		if rest, ok := strings.CutPrefix(opt, "--"); ok {
			spec, _ = findLong(rest)
		} else if len(opt) == 2 && opt[0] == '-' {
			spec = findShort(opt[1])
		}
		if spec == nil {
			fmt.Fprintf(p.iv.stderr, "ocurl: %s:%d: warning: '%s' is unknown\n", name, i+1, strings.TrimLeft(opt, "-"))
			continue
		}
		if spec.set == nil {
			args = args[:1] // a switch takes no value
		} else if len(args) < 2 {
			return usagef("%s:%d: option %s: requires parameter", name, i+1, opt)
		}
		if err := p.parse(args); err != nil {
			var f *failure
			if errors.As(err, &f) {
				f.err = fmt.Errorf("%s:%d: %w", name, i+1, f.err)
				return f
			}
			return err
		}
	}
	return nil
}

// configLine splits one config line into the option (with dashes) and its
// value; nothing for a blank or comment line.
func configLine(line string) ([]string, error) {
	line = strings.TrimRight(line, "\r")
	s := strings.TrimLeft(line, " \t")
	if s == "" || s[0] == '#' {
		return nil, nil
	}
	end := strings.IndexAny(s, " \t=:")
	if end < 0 {
		end = len(s)
	}
	opt := s[:end]
	if !strings.HasPrefix(opt, "-") {
		opt = "--" + opt
	}
	rest := strings.TrimLeft(s[end:], " \t")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t")
	}
	if rest == "" {
		return []string{opt}, nil
	}
	if rest[0] != '"' {
		if i := strings.IndexAny(rest, " \t"); i >= 0 {
			rest = rest[:i]
		}
		return []string{opt, rest}, nil
	}
	var b strings.Builder
	for i := 1; i < len(rest); i++ {
		c := rest[i]
		switch {
		case c == '"':
			return []string{opt, b.String()}, nil
		case c == '\\' && i+1 < len(rest):
			i++
			switch rest[i] {
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 'v':
				b.WriteByte('\v')
			default:
				b.WriteByte(rest[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return nil, errors.New("unclosed quote")
}
