package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// options are ocurl's parsed command line.
type options struct {
	url string

	verbose, include, head, silent, showError, fail bool
	output                                          string
	headers                                         []string
	method                                          string
	data                                            []string
	resolve                                         []string
	connectTimeout, maxTime                         time.Duration

	cacert     string
	offloader  string
	deviceID   string
	pskFile    string
	sequential bool
	http2      bool
	help       bool

	minVersion, maxVersion uint16 // --tlsv1.x, --tls-max (versions.go); 0: TLS 1.2
}

// usageError is a command line ocurl cannot run; it exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// flagSpec describes one option: its names and whether it takes a value.
type flagSpec struct {
	short byte
	long  string
	value bool
	set   func(o *options, v string) error
}

var flagSpecs = []flagSpec{
	{'v', "verbose", false, func(o *options, _ string) error { o.verbose = true; return nil }},
	{'i', "include", false, func(o *options, _ string) error { o.include = true; return nil }},
	{'I', "head", false, func(o *options, _ string) error { o.head = true; return nil }},
	{'s', "silent", false, func(o *options, _ string) error { o.silent = true; return nil }},
	{'S', "show-error", false, func(o *options, _ string) error { o.showError = true; return nil }},
	{'f', "fail", false, func(o *options, _ string) error { o.fail = true; return nil }},
	{'h', "help", false, func(o *options, _ string) error { o.help = true; return nil }},
	{'o', "output", true, func(o *options, v string) error { o.output = v; return nil }},
	{'H', "header", true, func(o *options, v string) error {
		if !strings.Contains(v, ":") {
			return fmt.Errorf("header %q has no colon (want \"Name: value\")", v)
		}
		o.headers = append(o.headers, v)
		return nil
	}},
	{'X', "request", true, func(o *options, v string) error { o.method = v; return nil }},
	{'d', "data", true, func(o *options, v string) error { o.data = append(o.data, v); return nil }},
	{'m', "max-time", true, func(o *options, v string) (err error) { o.maxTime, err = parseSeconds("max-time", v); return }},
	{0, "connect-timeout", true, func(o *options, v string) (err error) {
		o.connectTimeout, err = parseSeconds("connect-timeout", v)
		return
	}},
	{0, "resolve", true, func(o *options, v string) error {
		if _, _, _, err := parseResolve(v); err != nil {
			return err
		}
		o.resolve = append(o.resolve, v)
		return nil
	}},
	{0, "cacert", true, func(o *options, v string) error { o.cacert = v; return nil }},
	{0, "offloader", true, func(o *options, v string) error { o.offloader = v; return nil }},
	{0, "device-id", true, func(o *options, v string) error { o.deviceID = v; return nil }},
	{0, "psk-file", true, func(o *options, v string) error { o.pskFile = v; return nil }},
	{0, "sequential", false, func(o *options, _ string) error { o.sequential = true; return nil }},
	{0, "http2", false, func(o *options, _ string) error { o.http2 = true; return nil }},
	{'1', "tlsv1", false, func(o *options, _ string) error { o.minVersion = tls10; return nil }},
	{0, "tlsv1.0", false, func(o *options, _ string) error { o.minVersion = tls10; return nil }},
	{0, "tlsv1.1", false, func(o *options, _ string) error { o.minVersion = tls11; return nil }},
	{0, "tlsv1.2", false, func(o *options, _ string) error { o.minVersion = tls12; return nil }},
	{0, "tls-max", true, func(o *options, v string) (err error) { o.maxVersion, err = parseTLSMax(v); return }},
}

// parseArgs reads curl-style arguments: short flags may be combined
// ("-sSf"), a short flag's value may be attached ("-ofile") or follow, long
// flags take "--name value" or "--name=value", and "--" ends the flags.
func parseArgs(args []string) (*options, error) {
	o := &options{}
	var urls []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			urls = append(urls, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			spec := findLong(name)
			if spec == nil {
				return nil, &usageError{fmt.Sprintf("option --%s: is unknown", name)}
			}
			if spec.value && !hasVal {
				if i+1 >= len(args) {
					return nil, &usageError{fmt.Sprintf("option --%s: requires a value", name)}
				}
				i++
				val = args[i]
			} else if !spec.value && hasVal {
				return nil, &usageError{fmt.Sprintf("option --%s: takes no value", name)}
			}
			if err := spec.set(o, val); err != nil {
				return nil, &usageError{fmt.Sprintf("option --%s: %v", name, err)}
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for j := 1; j < len(a); j++ {
				spec := findShort(a[j])
				if spec == nil {
					return nil, &usageError{fmt.Sprintf("option -%c: is unknown", a[j])}
				}
				val := ""
				if spec.value {
					if j+1 < len(a) {
						val = a[j+1:]
					} else if i+1 < len(args) {
						i++
						val = args[i]
					} else {
						return nil, &usageError{fmt.Sprintf("option -%c: requires a value", a[j])}
					}
					j = len(a)
				}
				if err := spec.set(o, val); err != nil {
					return nil, &usageError{fmt.Sprintf("option -%c: %v", spec.short, err)}
				}
			}
		default:
			urls = append(urls, a)
		}
	}
	if o.help {
		return o, nil
	}
	switch len(urls) {
	case 0:
		return nil, &usageError{"no URL specified"}
	case 1:
		o.url = urls[0]
	default:
		return nil, &usageError{"only one URL at a time"}
	}
	if err := checkVersions(o); err != nil {
		return nil, err
	}
	if o.offloader != "" && (o.deviceID == "" || o.pskFile == "") {
		return nil, &usageError{"--offloader needs --device-id and --psk-file"}
	}
	if o.offloader == "" && (o.deviceID != "" || o.pskFile != "") {
		return nil, &usageError{"--device-id and --psk-file go with --offloader"}
	}
	return o, nil
}

func findLong(name string) *flagSpec {
	for i := range flagSpecs {
		if flagSpecs[i].long == name {
			return &flagSpecs[i]
		}
	}
	return nil
}

func findShort(c byte) *flagSpec {
	for i := range flagSpecs {
		if flagSpecs[i].short == c && c != 0 {
			return &flagSpecs[i]
		}
	}
	return nil
}

// parseSeconds reads a timeout as curl does (seconds, fractions allowed) or
// as a Go duration ("1500ms").
func parseSeconds(name, v string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f <= 0 || f > 1e6 {
			return 0, fmt.Errorf("%q is not a positive number of seconds", v)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a number of seconds nor a duration", v)
	}
	return d, nil
}

// parseResolve splits curl's HOST:PORT:ADDR (ADDR may be a bracketed IPv6).
func parseResolve(v string) (host, port, addr string, err error) {
	host, rest, ok := strings.Cut(v, ":")
	if !ok {
		return "", "", "", errors.New("want HOST:PORT:ADDR")
	}
	port, addr, ok = strings.Cut(rest, ":")
	if !ok || host == "" || addr == "" {
		return "", "", "", errors.New("want HOST:PORT:ADDR")
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", "", "", fmt.Errorf("port %q is not a number", port)
	}
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	return strings.ToLower(host), port, addr, nil
}

const usageText = `Usage: ocurl [options] URL

Fetch URL over HTTP/1.1 with TLS done by tlsoffload: the public-key work of
each handshake runs on an offloader. With no --offloader, an embedded
offloader runs in this process and trusts the system roots (or --cacert).

Options:
  -v, --verbose             trace the handshake and each offloader call on stderr
  -i, --include             include the response headers in the output
  -I, --head                send a HEAD request and print the headers
  -o, --output FILE         write the body to FILE (no partial file on failure)
  -s, --silent              print no error messages
  -S, --show-error          with -s, still print error messages
  -f, --fail                exit 22 on an HTTP status of 400 or more, print no body
  -H, --header "N: V"       add a request header (repeatable)
  -X, --request METHOD      use METHOD
  -d, --data DATA           send DATA as a form POST (@FILE reads a file)
      --resolve H:P:ADDR    connect to ADDR for host H port P
      --connect-timeout S   bound connect + TLS handshake (seconds, or 1500ms)
  -m, --max-time S          bound the whole transfer
      --cacert FILE         trust only the roots in FILE (embedded offloader)
      --offloader ADDR      use a running offloader (host:port or unix:/path)
      --device-id ID        this device's id on that offloader
      --psk-file FILE       this device's pre-shared key (hex)
      --sequential          send the offloader operations one at a time
  -1, --tlsv1               allow TLS 1.0 and up (as --tlsv1.0)
      --tlsv1.0             allow TLS 1.0 and up (deprecated, RFC 8996; the
                            offloader's device policy must allow it too)
      --tlsv1.1             allow TLS 1.1 and up
      --tlsv1.2             TLS 1.2 only (the default)
      --tls-max VERSION     highest version: 1.0, 1.1, 1.2 or default (1.2)
      --http2               offer h2 and http/1.1 in ALPN; use HTTP/2 if the
                            server picks it (https only; HTTP/1.1 by default)
  -h, --help                this text

Exit codes: 0 ok, 2 usage, 3 bad URL, 6 could not resolve host, 7 could not
connect, 22 HTTP error with -f, 23 write error, 26 read error (-d @FILE),
28 timeout, 35 TLS handshake failed, 56 failure receiving data,
60 server certificate not trusted.
`
