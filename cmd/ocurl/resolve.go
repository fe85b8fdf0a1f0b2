package main

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// --resolve HOST:PORT:ADDR[,ADDR...] answers name resolution from the
// command line: '*' as HOST matches any host, a leading '+' is accepted
// (curl's "may time out" entry; ocurl keeps entries for the run anyway),
// and -HOST:PORT removes an earlier entry. Addresses are tried in order.
// --connect-to HOST1:PORT1:HOST2:PORT2 connects elsewhere while the URL's
// name stays in SNI, Host and the certificate check; empty fields match
// any host or port, or keep the URL's.

// resolveEntry is one --resolve.
type resolveEntry struct {
	host, port string
	addrs      []string
	remove     bool
}

func parseResolve(v string) (resolveEntry, error) {
	var e resolveEntry
	s := strings.TrimPrefix(v, "+")
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		e.remove = true
		s = rest
	}
	host, rest, ok := strings.Cut(s, ":")
	if !ok || host == "" {
		return e, errors.New("want [+]HOST:PORT:ADDR[,ADDR...] or -HOST:PORT")
	}
	port, addrs, hasAddrs := strings.Cut(rest, ":")
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return e, fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	e.host, e.port = strings.ToLower(host), port
	if e.remove {
		return e, nil
	}
	if !hasAddrs || addrs == "" {
		return e, errors.New("want [+]HOST:PORT:ADDR[,ADDR...]")
	}
	for _, a := range strings.Split(addrs, ",") {
		a = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(a), "["), "]")
		if net.ParseIP(a) == nil {
			return e, fmt.Errorf("%q is not an IP address", a)
		}
		e.addrs = append(e.addrs, a)
	}
	return e, nil
}

// resolved returns the --resolve addresses for host and port: the last
// entry that matches wins, a removal cancels those before it.
func (r *run) resolved(host, port string) []string {
	var addrs []string
	for _, rv := range r.o.resolve {
		e, err := parseResolve(rv)
		if err != nil || e.port != port || (e.host != "*" && !strings.EqualFold(e.host, host)) {
			continue
		}
		if e.remove {
			addrs = nil
		} else {
			addrs = e.addrs
		}
	}
	return addrs
}

// connectEntry is one --connect-to.
type connectEntry struct{ host1, port1, host2, port2 string }

func parseConnectTo(v string) (connectEntry, error) {
	var e connectEntry
	// HOST1:PORT1:HOST2:PORT2, where a host may be a bracketed IPv6 address.
	fields, err := splitHostPorts(v)
	if err != nil || len(fields) != 4 {
		return e, errors.New("want HOST1:PORT1:HOST2:PORT2 (fields may be empty)")
	}
	for _, p := range []string{fields[1], fields[3]} {
		if p == "" {
			continue
		}
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return e, fmt.Errorf("port %q is not a number from 1 to 65535", p)
		}
	}
	return connectEntry{strings.ToLower(strings.Trim(fields[0], "[]")), fields[1], strings.Trim(fields[2], "[]"), fields[3]}, nil
}

// splitHostPorts splits on ':' outside brackets.
func splitHostPorts(v string) ([]string, error) {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '[':
			depth++
		case ']':
			depth--
		case ':':
			if depth == 0 {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
		if depth < 0 || depth > 1 {
			return nil, errors.New("unbalanced brackets")
		}
	}
	return append(out, v[start:]), nil
}

// connectTo maps host and port through --connect-to: the first entry that
// matches decides.
func (r *run) connectTo(host, port string) (string, string) {
	for _, v := range r.o.connectTo {
		e, err := parseConnectTo(v)
		if err != nil {
			continue
		}
		if (e.host1 == "" || strings.EqualFold(e.host1, strings.Trim(host, "[]"))) && (e.port1 == "" || e.port1 == port) {
			if e.host2 != "" {
				host = e.host2
			}
			if e.port2 != "" {
				port = e.port2
			}
			return host, port
		}
	}
	return host, port
}
