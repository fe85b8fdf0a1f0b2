package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// options are ocurl's parsed command line. Options apply to every URL, as
// curl's do; the outputs (-o, -O) and uploads (-T) pair with the URLs in
// order, as in curl.
type options struct {
	urls []*urlSpec

	// What is printed.
	verbose, include, head, silent, showError bool
	fail, failWithBody, failEarly             bool
	progressBar, noProgress                   bool
	dumpHeader                                string
	writeOut                                  string
	createDirs, remoteNameAll, remoteHeader   bool
	outputDir                                 string

	// The request.
	method       string
	headers      []string // -H values in order, @FILE expanded
	data         []dataArg
	forms        []formArg
	get          bool
	user         string
	userAgent    *string // nil: ocurl's own
	referer      string
	autoReferer  bool
	cookies      []string // -b values: NAME=VALUE strings or files
	cookieJar    string
	junkSession  bool
	rangeSpec    string
	continueAt   int64 // -C N; -1 with -C -
	compressed   bool
	location     bool
	trusted      bool
	maxRedirs    int
	postRedirs   [3]bool // --post301, --post302, --post303
	maxFilesize  int64
	expectWait   time.Duration
	keepSession  bool
	oauth2Bearer string
	pathAsIs     bool
	globoff      bool

	// Proxies.
	proxy     *string // nil: from the environment
	proxyUser string
	noproxy   *string // nil: from the environment
	tunnel    bool

	// The connection.
	connectTo      []string
	resolve        []string
	retry          int
	retryDelay     time.Duration
	retryMaxTime   time.Duration
	retryAll       bool
	retryConnRef   bool
	limitRate      int64
	maxTime        time.Duration
	connectTimeout time.Duration
	parallel       bool
	parallelMax    int
	ipVersion      int // 4, 6 or 0 for either

	// TLS.
	insecure     bool
	cacert       string
	capath       string
	ciphers      string
	pinnedPubKey string
	cert, key    string
	minVersion   uint16 // --tlsv1.x (versions.go); 0: TLS 1.2
	maxVersion   uint16 // --tls-max; 0: TLS 1.2
	httpVersion  httpVersion

	// The offloader.
	offloader  string
	deviceID   string
	pskFile    string
	sequential bool

	help, version bool
}

// urlSpec is one URL with the output and upload paired with it.
type urlSpec struct {
	url        string
	output     string // -o; "" for stdout unless remoteName
	remoteName bool   // -O
	outputSet  bool
	upload     string // -T; "" for none
	uploadSet  bool
}

type httpVersion int

const (
	httpDefault httpVersion = iota // HTTP/1.1, h2 not offered
	http11                         // --http1.1
	http2ALPN                      // --http2: offer h2 in ALPN
	http2Prior                     // --http2-prior-knowledge
)

// flagSpec describes one option. A flag without a value is a switch: on
// sets it, and "--no-NAME" turns it off again, as in curl.
type flagSpec struct {
	short byte
	long  string
	arg   string // the value's name in --help; "" for a switch
	help  string // one line for --help; a spec with long "" is a heading
	on    func(o *options, on bool)
	set   func(p *parser, v string) error
}

// parser holds the state of one command line while it is read.
type parser struct {
	o     *options
	iv    *invocation
	depth int // -K nesting
}

// parseArgs reads curl-style arguments: short flags may be combined
// ("-sSf"), a short flag's value may be attached ("-ofile") or follow; long
// flags take "--name value" (and, beyond curl, "--name=value"); "--" ends
// the flags; -K FILE reads more arguments from a config file.
func parseArgs(args []string, iv *invocation) (*options, error) {
	p := &parser{o: &options{maxRedirs: 50, continueAt: 0, expectWait: time.Second, parallelMax: 50}, iv: iv}
	if err := p.parse(args); err != nil {
		return nil, err
	}
	o := p.o
	if o.help || o.version {
		return o, nil
	}
	var urls []*urlSpec
	for _, u := range o.urls {
		if u.url != "" {
			urls = append(urls, u)
		}
	}
	if len(urls) == 0 {
		return nil, usagef("no URL specified")
	}
	o.urls = urls
	return o, checkOptions(o)
}

func (p *parser) parse(args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			for _, u := range args[i+1:] {
				p.addURL(u)
			}
			return nil
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			spec, negated := findLong(name)
			if spec == nil {
				return usagef("option --%s: is unknown", name)
			}
			if spec.set == nil {
				if hasVal {
					return usagef("option --%s: takes no value", name)
				}
				spec.on(p.o, !negated)
				continue
			}
			if negated {
				return usagef("option --%s: is unknown", name)
			}
			if !hasVal {
				if i+1 >= len(args) {
					return usagef("option --%s: requires parameter", name)
				}
				i++
				val = args[i]
			}
			if err := p.apply(spec, "--"+name, val); err != nil {
				return err
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for j := 1; j < len(a); j++ {
				spec := findShort(a[j])
				if spec == nil {
					return usagef("option -%c: is unknown", a[j])
				}
				if spec.set == nil {
					spec.on(p.o, true)
					continue
				}
				var val string
				switch {
				case j+1 < len(a):
					val = a[j+1:]
				case i+1 < len(args):
					i++
					val = args[i]
				default:
					return usagef("option -%c: requires parameter", a[j])
				}
				if err := p.apply(spec, "-"+string(a[j]), val); err != nil {
					return err
				}
				break
			}
		default:
			p.addURL(a)
		}
	}
	return nil
}

func (p *parser) apply(spec *flagSpec, name, val string) error {
	if err := spec.set(p, val); err != nil {
		var f *failure
		if errors.As(err, &f) {
			return f
		}
		return usagef("option %s: %v", name, err)
	}
	return nil
}

// addURL gives u to the first entry without a URL, as curl pairs URLs with
// the -o, -O and -T given before or after them.
func (p *parser) addURL(u string) {
	for _, s := range p.o.urls {
		if s.url == "" {
			s.url = u
			return
		}
	}
	p.o.urls = append(p.o.urls, &urlSpec{url: u})
}

// addOutput gives the next -o or -O to the first entry without an output.
func (o *options) addOutput(file string, remote bool) {
	for _, s := range o.urls {
		if !s.outputSet {
			s.output, s.remoteName, s.outputSet = file, remote, true
			return
		}
	}
	o.urls = append(o.urls, &urlSpec{output: file, remoteName: remote, outputSet: true})
}

// addUpload gives the next -T to the first entry without one.
func (p *parser) addUpload(file string) {
	for _, s := range p.o.urls {
		if !s.uploadSet {
			s.upload, s.uploadSet = file, true
			return
		}
	}
	p.o.urls = append(p.o.urls, &urlSpec{upload: file, uploadSet: true})
}

func usagef(format string, args ...any) *failure {
	return fail(exitUsage, format, args...)
}

func findLong(name string) (spec *flagSpec, negated bool) {
	for i := range flagSpecs {
		if flagSpecs[i].long == name && name != "" {
			return &flagSpecs[i], false
		}
	}
	if rest, ok := strings.CutPrefix(name, "no-"); ok {
		for i := range flagSpecs {
			if flagSpecs[i].long == rest && flagSpecs[i].set == nil && rest != "" {
				return &flagSpecs[i], true
			}
		}
	}
	return nil, false
}

func findShort(c byte) *flagSpec {
	for i := range flagSpecs {
		if flagSpecs[i].short == c && c != 0 {
			return &flagSpecs[i]
		}
	}
	return nil
}

// checkOptions refuses combinations that cannot run.
func checkOptions(o *options) error {
	methods := 0
	for _, used := range []bool{o.head, len(o.data) > 0 && !o.get, len(o.forms) > 0} {
		if used {
			methods++
		}
	}
	for _, u := range o.urls {
		if u.upload != "" && (len(o.forms) > 0 || len(o.data) > 0 && !o.get || o.head) {
			methods = 2
		}
	}
	if methods > 1 {
		return usagef("You can only select one HTTP request method! (-I, -d, -F and -T exclude each other)")
	}
	if o.remoteHeader && (o.include || o.head) {
		return usagef("showing headers and --remote-header-name cannot be combined")
	}
	if err := checkVersions(o); err != nil {
		return err
	}
	if o.offloader != "" && (o.deviceID == "" || o.pskFile == "") {
		return usagef("--offloader needs --device-id and --psk-file")
	}
	if o.offloader == "" && (o.deviceID != "" || o.pskFile != "") {
		return usagef("--device-id and --psk-file go with --offloader")
	}
	return nil
}

// parseSeconds reads a time as curl does: a non-negative number of seconds,
// fractions allowed; 0 means no limit. Beyond curl, a Go duration
// ("1500ms") is accepted. NaN, infinities and negative numbers are refused
// (curl 7.88 takes NaN as no limit; ocurl says it is not a number).
func parseSeconds(v string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		switch {
		case math.IsNaN(f) || math.IsInf(f, 0):
			return 0, fmt.Errorf("expected a proper numerical parameter (%q is not a number of seconds)", v)
		case f < 0:
			return 0, errors.New("expected a positive numerical parameter")
		case f > 1e9:
			return 0, errors.New("too large number")
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("expected a proper numerical parameter (%q is not a number of seconds)", v)
	}
	return d, nil
}

// parseCount reads a non-negative integer.
func parseCount(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errors.New("expected a proper numerical parameter")
	}
	if n < 0 {
		return 0, errors.New("expected a positive numerical parameter")
	}
	return n, nil
}

// parseSize reads a size as curl does: a number with an optional k, M, G
// or T suffix (powers of 1024).
func parseSize(v string) (int64, error) {
	mult := int64(1)
	if n := len(v); n > 0 {
		switch v[n-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		case 't', 'T':
			mult = 1 << 40
		}
		if mult != 1 {
			v = v[:n-1]
		}
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errors.New("expected a proper numerical parameter")
	}
	if f < 0 {
		return 0, errors.New("expected a positive numerical parameter")
	}
	if f*float64(mult) > float64(math.MaxInt64/2) {
		return 0, errors.New("too large number")
	}
	return int64(f * float64(mult)), nil
}

func sw(f func(o *options, on bool)) func(o *options, on bool) { return f }

// flagSpecs is every option ocurl knows, in the order --help lists them.
// It is set in init: -K's handler looks options up in it.
var flagSpecs []flagSpec

func init() { flagSpecs = flagTable() }

func flagTable() []flagSpec {
	return []flagSpec{
		{help: "Output"},
		{'o', "output", "FILE", "write the body to FILE (pairs with URLs in order; no partial file on failure)", nil,
			func(p *parser, v string) error { p.o.addOutput(v, false); return nil }},
		{'O', "remote-name", "", "write the body to a file named as the URL's last path segment (pairs with URLs in order)",
			sw(func(o *options, on bool) { o.addOutput("", true) }), nil},
		{0, "remote-name-all", "", "-O for every URL without -o",
			sw(func(o *options, on bool) { o.remoteNameAll = on }), nil},
		{'J', "remote-header-name", "", "with -O, name the file from Content-Disposition (never overwriting a file)",
			sw(func(o *options, on bool) { o.remoteHeader = on }), nil},
		{0, "output-dir", "DIR", "put -o and -O files in DIR", nil,
			func(p *parser, v string) error { p.o.outputDir = v; return nil }},
		{0, "create-dirs", "", "create the directories -o, -O and -D name",
			sw(func(o *options, on bool) { o.createDirs = on }), nil},
		{'D', "dump-header", "FILE", "write the response heads, as received, to FILE ('-': stdout)", nil,
			func(p *parser, v string) error { p.o.dumpHeader = v; return nil }},
		{'v', "verbose", "", "show the connection, the handshake, each offloader call and the headers on stderr",
			sw(func(o *options, on bool) { o.verbose = on }), nil},
		{'i', "include", "", "include the response headers in the output",
			sw(func(o *options, on bool) { o.include = on }), nil},
		{'I', "head", "", "send a HEAD request and print the headers",
			sw(func(o *options, on bool) { o.head = on }), nil},
		{'#', "progress-bar", "", "show a bar of '#' instead of the progress meter",
			sw(func(o *options, on bool) { o.progressBar = on }), nil},
		{0, "no-progress-meter", "", "no progress meter (errors still shown)",
			sw(func(o *options, on bool) { o.noProgress = on }), nil},
		{'s', "silent", "", "no progress meter, no error messages",
			sw(func(o *options, on bool) { o.silent = on }), nil},
		{'S', "show-error", "", "with -s, still print error messages",
			sw(func(o *options, on bool) { o.showError = on }), nil},
		{'f', "fail", "", "exit 22 on an HTTP status of 400 or more, write no body",
			sw(func(o *options, on bool) { o.fail = on }), nil},
		{0, "fail-with-body", "", "as -f, but write the body too",
			sw(func(o *options, on bool) { o.failWithBody = on }), nil},
		{'w', "write-out", "FORMAT", "print FORMAT after each transfer: %{http_code}, %{time_total}, %{json}... and the offload's %{time_offload}, %{offload_round_trips}, %{tls_version}, %{tls_cipher}, %{tls_resumed}; @FILE reads it", nil,
			func(p *parser, v string) error {
				if name, ok := strings.CutPrefix(v, "@"); ok {
					b, err := p.readArgFile(name, "-w @"+name)
					if errors.Is(err, errTooLarge) {
						return err
					}
					if err != nil {
						// curl 7.88 warns and writes nothing.
						p.warnf("Failed to read %s", name)
					}
					v = formatFromFile(b)
				}
				p.o.writeOut = v
				return nil
			}},
		{help: "General"},
		{0, "fail-early", "", "with several URLs, stop at the first that fails",
			sw(func(o *options, on bool) { o.failEarly = on }), nil},
		{'h', "help", "", "this text",
			sw(func(o *options, on bool) { o.help = on }), nil},
		{'V', "version", "", "print the version, protocols and TLS features",
			sw(func(o *options, on bool) { o.version = on }), nil},

		{'K', "config", "FILE", "read options from FILE ('-': stdin), curl's config format (no .curlrc is read)", nil,
			func(p *parser, v string) error { return p.config(v) }},
		{0, "url", "URL", "a URL to fetch (as if given as an argument)", nil,
			func(p *parser, v string) error { p.addURL(v); return nil }},
		{'q', "disable", "", "accepted for curl's sake: ocurl reads no .curlrc anyway",
			sw(func(o *options, on bool) {}), nil},

		{help: "Requests"},
		{'X', "request", "METHOD", "use METHOD (it is kept across redirects)", nil,
			func(p *parser, v string) error { p.o.method = v; return nil }},
		{'H', "header", "LINE", "add a request header; 'Name:' removes one, 'Name;' sends it empty; @FILE reads lines", nil,
			func(p *parser, v string) error { return p.addHeader(v) }},
		{'d', "data", "DATA", "send DATA in a POST (form-encoded; several joined with &); @FILE reads a file without CR/LF, @- stdin", nil,
			func(p *parser, v string) error { return p.addData(dataPlain, v) }},
		{0, "data-ascii", "DATA", "as -d", nil,
			func(p *parser, v string) error { return p.addData(dataPlain, v) }},
		{0, "data-binary", "DATA", "as -d, but @FILE is sent as it is", nil,
			func(p *parser, v string) error { return p.addData(dataBinary, v) }},
		{0, "data-raw", "DATA", "as -d, with no @FILE", nil,
			func(p *parser, v string) error { return p.addData(dataRaw, v) }},
		{0, "data-urlencode", "DATA", "as -d, URL-encoded: CONTENT, =CONTENT, NAME=CONTENT, @FILE or NAME@FILE", nil,
			func(p *parser, v string) error { return p.addData(dataURLEncode, v) }},
		{0, "json", "DATA", "send JSON (as --data-binary) with Content-Type and Accept application/json", nil,
			func(p *parser, v string) error { return p.addData(dataJSON, v) }},
		{'u', "user", "USER:PASSWORD", "Basic authentication (sent only to the URL's host unless --location-trusted)", nil,
			func(p *parser, v string) error { p.o.user = v; return nil }},
		{0, "oauth2-bearer", "TOKEN", "send Authorization: Bearer TOKEN", nil,
			func(p *parser, v string) error { p.o.oauth2Bearer = v; return nil }},
		{'A', "user-agent", "NAME", "send User-Agent: NAME (\"\" sends none)", nil,
			func(p *parser, v string) error { p.o.userAgent = &v; return nil }},
		{'e', "referer", "URL", "send Referer: URL; 'URL;auto' (or ';auto') also sets it on redirects", nil,
			func(p *parser, v string) error {
				if ref, ok := strings.CutSuffix(v, ";auto"); ok {
					p.o.referer, p.o.autoReferer = ref, true
				} else {
					p.o.referer = v
				}
				return nil
			}},
		{'b', "cookie", "DATA|FILE", "send NAME=VALUE cookies; a FILE (no '=') loads Netscape cookies and starts the cookie engine", nil,
			func(p *parser, v string) error { p.o.cookies = append(p.o.cookies, v); return nil }},
		{'c', "cookie-jar", "FILE", "write all cookies to FILE at the end, as curl writes them ('-': stdout)", nil,
			func(p *parser, v string) error { p.o.cookieJar = v; return nil }},
		{'j', "junk-session-cookies", "", "load no session cookies from -b's file",
			sw(func(o *options, on bool) { o.junkSession = on }), nil},
		{'r', "range", "RANGE", "ask for bytes RANGE (e.g. 0-499, 500-, -100)", nil,
			func(p *parser, v string) error { p.o.rangeSpec = v; return nil }},
		{'C', "continue-at", "OFFSET", "resume at OFFSET; '-' resumes after what the -o file holds (the server must answer 206, else 33)", nil,
			func(p *parser, v string) (err error) { p.o.continueAt, err = parseContinueAt(v); return }},
		{0, "compressed", "", "ask for gzip, deflate or br and decode the body",
			sw(func(o *options, on bool) { o.compressed = on }), nil},
		{0, "max-filesize", "BYTES", "refuse a body larger than BYTES (k, M, G suffixes); exit 63", nil,
			func(p *parser, v string) (err error) { p.o.maxFilesize, err = parseSize(v); return }},
		{'L', "location", "", "follow redirects (301, 302, 303, 307, 308)",
			sw(func(o *options, on bool) { o.location = on }), nil},
		{0, "location-trusted", "", "as -L, and send credentials (-u, Authorization, Cookie) to other hosts too",
			sw(func(o *options, on bool) { o.location, o.trusted = on, on }), nil},
		{0, "max-redirs", "N", "follow at most N redirects (default 50; -1: no limit); more exit 47", nil,
			func(p *parser, v string) error {
				if v == "-1" {
					p.o.maxRedirs = -1
					return nil
				}
				n, err := parseCount(v)
				p.o.maxRedirs = n
				return err
			}},
		{0, "post301", "", "keep a POST a POST after a 301",
			sw(func(o *options, on bool) { o.postRedirs[0] = on }), nil},
		{0, "post302", "", "keep a POST a POST after a 302",
			sw(func(o *options, on bool) { o.postRedirs[1] = on }), nil},
		{0, "post303", "", "keep the method after a 303",
			sw(func(o *options, on bool) { o.postRedirs[2] = on }), nil},
		{0, "path-as-is", "", "send the path as given: no squashing of /./ and /../ (which ocurl does, as curl)",
			sw(func(o *options, on bool) { o.pathAsIs = on }), nil},
		{'g', "globoff", "", "send [ ] { } in a URL as they are (ocurl does no URL globbing; without -g such a URL is refused, 3)",
			sw(func(o *options, on bool) { o.globoff = on }), nil},
		{'G', "get", "", "send the -d data as the URL's query in a GET",
			sw(func(o *options, on bool) { o.get = on }), nil},
		{'F', "form", "NAME=CONTENT", "multipart form field; NAME=@FILE uploads a file, NAME=<FILE sends its content; ;type= ;filename= ;headers=", nil,
			func(p *parser, v string) error { return p.addForm(v, false) }},
		{0, "form-string", "NAME=STRING", "multipart form field taken literally (no @, < or ;)", nil,
			func(p *parser, v string) error { return p.addForm(v, true) }},
		{'T', "upload-file", "FILE", "PUT FILE (- for stdin, sent chunked); pairs with URLs in order; a URL ending in / gets FILE's name", nil,
			func(p *parser, v string) error { p.addUpload(v); return nil }},
		{0, "expect100-timeout", "SECONDS", "how long to wait for 100 Continue before sending a body anyway (default 1)", nil,
			func(p *parser, v string) (err error) { p.o.expectWait, err = parseSeconds(v); return }},

		{help: "Proxies"},
		{'x', "proxy", "[http://][USER:PASSWORD@]HOST[:PORT]", "use this HTTP proxy (port 1080 by default; \"\" for none): CONNECT for https, absolute URLs for http; without it http_proxy, https_proxy, all_proxy", nil,
			func(p *parser, v string) error { p.o.proxy = &v; return nil }},
		{'U', "proxy-user", "USER:PASSWORD", "Basic authentication to the proxy", nil,
			func(p *parser, v string) error { p.o.proxyUser = v; return nil }},
		{0, "noproxy", "LIST", "hosts to reach without the proxy: names (and their subdomains), IPs, CIDR ranges, * for all; without it no_proxy", nil,
			func(p *parser, v string) error { p.o.noproxy = &v; return nil }},
		{'p', "proxytunnel", "", "tunnel http URLs through the proxy with CONNECT too",
			sw(func(o *options, on bool) { o.tunnel = on }), nil},

		{help: "Connection"},
		{'m', "max-time", "SECONDS", "bound each whole transfer (0: no limit; fractions allowed)", nil,
			func(p *parser, v string) (err error) { p.o.maxTime, err = parseSeconds(v); return }},
		{0, "connect-timeout", "SECONDS", "bound connecting, TLS handshake included (0: no limit)", nil,
			func(p *parser, v string) (err error) { p.o.connectTimeout, err = parseSeconds(v); return }},
		{0, "resolve", "[+]HOST:PORT:ADDR[,ADDR]", "resolve HOST (or * for any) for PORT to these addresses, tried in turn; -HOST:PORT drops an entry", nil,
			func(p *parser, v string) error {
				if _, err := parseResolve(v); err != nil {
					return err
				}
				p.o.resolve = append(p.o.resolve, v)
				return nil
			}},
		{0, "connect-to", "HOST1:PORT1:HOST2:PORT2", "connect to HOST2:PORT2 for HOST1:PORT1 (the URL's name stays in SNI, Host and the certificate check); empty fields match any or keep", nil,
			func(p *parser, v string) error {
				if _, err := parseConnectTo(v); err != nil {
					return err
				}
				p.o.connectTo = append(p.o.connectTo, v)
				return nil
			}},
		{'4', "ipv4", "", "resolve names to IPv4 addresses only",
			sw(func(o *options, on bool) { o.ipVersion = 4 }), nil},
		{'6', "ipv6", "", "resolve names to IPv6 addresses only",
			sw(func(o *options, on bool) { o.ipVersion = 6 }), nil},
		{0, "retry", "N", "retry a transient failure (timeout, unresolved name, HTTP 408/429/500/502/503/504) N times", nil,
			func(p *parser, v string) (err error) { p.o.retry, err = parseCount(v); return }},
		{0, "retry-delay", "SECONDS", "wait this long between retries (default: Retry-After, or 1 s doubling up to 10 min)", nil,
			func(p *parser, v string) (err error) { p.o.retryDelay, err = parseSeconds(v); return }},
		{0, "retry-max-time", "SECONDS", "decide no retry once this long has passed since the first attempt (0: no limit)", nil,
			func(p *parser, v string) (err error) { p.o.retryMaxTime, err = parseSeconds(v); return }},
		{0, "retry-all-errors", "", "with --retry, retry on any error",
			sw(func(o *options, on bool) { o.retryAll = on }), nil},
		{0, "retry-connrefused", "", "with --retry, retry a refused connection too",
			sw(func(o *options, on bool) { o.retryConnRef = on }), nil},
		{0, "limit-rate", "SPEED", "cap each transfer at SPEED bytes per second (k, M, G suffixes), both ways", nil,
			func(p *parser, v string) (err error) { p.o.limitRate, err = parseSize(v); return }},
		{'Z', "parallel", "", "run the URLs at the same time",
			sw(func(o *options, on bool) { o.parallel = on }), nil},
		{0, "parallel-max", "N", "at most N transfers at once with -Z (default 50, at most 300)", nil,
			func(p *parser, v string) error {
				n, err := parseCount(v)
				if err == nil && (n < 1 || n > 300) {
					n = 50 // as curl, out of range means the default
				}
				p.o.parallelMax = n
				return err
			}},

		{help: "TLS"},
		{'k', "insecure", "", "do not verify the server's certificate (embedded offloader; a warning says so)",
			sw(func(o *options, on bool) { o.insecure = on }), nil},
		{0, "cacert", "FILE", "trust only the roots in FILE (embedded offloader)", nil,
			func(p *parser, v string) error { p.o.cacert = v; return nil }},
		{0, "capath", "DIR", "trust the roots in the PEM files of DIR too (embedded offloader)", nil,
			func(p *parser, v string) error { p.o.capath = v; return nil }},
		{0, "pinnedpubkey", "sha256//HASH[;...]|FILE", "the server's public key must be one of these (checked by the embedded offloader); 90 if not", nil,
			func(p *parser, v string) error { p.o.pinnedPubKey = v; return nil }},
		{0, "ciphers", "LIST", "offer only these TLS 1.2-and-below suites (OpenSSL names, ':'-separated); 59 if none is known", nil,
			func(p *parser, v string) error { p.o.ciphers = v; return nil }},
		{'E', "cert", "FILE", "client certificate (PEM, leaf first; the key may follow); the key stays in the embedded offloader", nil,
			func(p *parser, v string) error { p.o.cert = v; return nil }},
		{0, "key", "FILE", "the client certificate's private key (PEM, not encrypted)", nil,
			func(p *parser, v string) error { p.o.key = v; return nil }},
		{0, "cert-type", "PEM", "PEM only", nil,
			func(p *parser, v string) error { return pemOnly(v) }},
		{0, "key-type", "PEM", "PEM only", nil,
			func(p *parser, v string) error { return pemOnly(v) }},
		{'1', "tlsv1", "", "allow TLS 1.0 and up (as --tlsv1.0)",
			sw(func(o *options, on bool) { o.minVersion = tls10 }), nil},
		{0, "tlsv1.0", "", "allow TLS 1.0 and up (deprecated, RFC 8996; the offloader's policy must allow it)",
			sw(func(o *options, on bool) { o.minVersion = tls10 }), nil},
		{0, "tlsv1.1", "", "allow TLS 1.1 and up",
			sw(func(o *options, on bool) { o.minVersion = tls11 }), nil},
		{0, "tlsv1.2", "", "TLS 1.2 only (the default)",
			sw(func(o *options, on bool) { o.minVersion = tls12 }), nil},
		{0, "tls-max", "VERSION", "highest version: 1.0, 1.1, 1.2 or default (1.2)", nil,
			func(p *parser, v string) (err error) { p.o.maxVersion, err = parseTLSMax(v); return }},
		{0, "http1.1", "", "HTTP/1.1 only (the default): offer only http/1.1 in ALPN",
			sw(func(o *options, on bool) { o.httpVersion = http11 }), nil},
		{0, "http2", "", "offer h2 and http/1.1 in ALPN; HTTP/2 if the server picks it (https; http:// stays HTTP/1.1, no h2c upgrade)",
			sw(func(o *options, on bool) { o.httpVersion = http2ALPN }), nil},
		{0, "http2-prior-knowledge", "", "HTTP/2 without asking: at once over http://, h2 in ALPN over https://",
			sw(func(o *options, on bool) { o.httpVersion = http2Prior }), nil},

		{help: "Offloader"},
		{0, "offloader", "ADDR", "use a running offloader (host:port or unix:/path); several comma-separated are replicas: ocurl starts at a random one and fails over to the others", nil,
			func(p *parser, v string) error { p.o.offloader = v; return nil }},
		{0, "device-id", "ID", "this device's id on that offloader", nil,
			func(p *parser, v string) error { p.o.deviceID = v; return nil }},
		{0, "psk-file", "FILE", "this device's pre-shared key (hex)", nil,
			func(p *parser, v string) error { p.o.pskFile = v; return nil }},
		{0, "sequential", "", "send the offloader operations one at a time (the patent's sequence)",
			sw(func(o *options, on bool) { o.sequential = on }), nil},
	}
}

func pemOnly(v string) error {
	if !strings.EqualFold(v, "PEM") {
		return fmt.Errorf("%q: only PEM is supported", v)
	}
	return nil
}
