package main

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/offloader/server"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
	"go.yaml.in/yaml/v3"
)

// fileConfig is the YAML file as written; docs/OFFLOADER.md and
// offloader.example.yaml document every field. Keys stay strings here (hex,
// decoded by the loader), and so do names of files to read.
type fileConfig struct {
	Listen        string   `yaml:"listen"`
	Plaintext     bool     `yaml:"plaintext"`
	PlaintextUIDs []uint32 `yaml:"plaintext_uids"`
	MetricsListen string   `yaml:"metrics_listen"`

	HTTPTokenFile     string `yaml:"http_token_file"`
	HTTPBasicAuthFile string `yaml:"http_basic_auth_file"`

	TokenKey     string `yaml:"token_key"`
	TokenKeyFile string `yaml:"token_key_file"`

	StartTTL     Duration `yaml:"start_ttl"`
	TokenTTL     Duration `yaml:"token_ttl"`
	FrameTimeout Duration `yaml:"frame_timeout"`
	IdleTimeout  Duration `yaml:"idle_timeout"`
	MaxInFlight  int      `yaml:"max_in_flight"`

	fileServiceLimits `yaml:",inline"`

	Devices []fileDevice `yaml:"devices"`

	Registry fileRegistry `yaml:"registry"`
}

// fileServiceLimits are the resource limits (issue 10), kept apart.
type fileServiceLimits struct {
	MaxConns            int        `yaml:"max_conns"`
	MaxOpeningPerSource int        `yaml:"max_opening_per_source"`
	OpenTimeout         Duration   `yaml:"open_timeout"`
	FlightWait          Duration   `yaml:"flight_wait"`
	MetricsMaxConns     int        `yaml:"metrics_max_conns"`
	HTTPAuthFailures    int        `yaml:"http_auth_failures"`
	HTTPAuthRefill      Duration   `yaml:"http_auth_refill"`
	FrameBudget         int64      `yaml:"frame_budget"`
	MinFrameRate        int        `yaml:"min_frame_rate"`
	DeviceLimits        fileLimits `yaml:"device_limits"`
}

// fileLimits are a device's limits (server.DeviceLimits): in
// device_limits, the defaults; in a device's limits, its own.
type fileLimits struct {
	MaxChannels int     `yaml:"max_channels"`
	MaxInFlight int     `yaml:"max_in_flight"`
	Rate        float64 `yaml:"rate"`
	Burst       int     `yaml:"burst"`
	FrameBytes  int64   `yaml:"frame_bytes"`
}

// limits checks l, naming the field at fault under prefix.
func (l fileLimits) limits(prefix string) (server.DeviceLimits, string, error) {
	for _, f := range []struct {
		name string
		neg  bool
	}{
		{"max_channels", l.MaxChannels < 0},
		{"max_in_flight", l.MaxInFlight < 0},
		{"rate", l.Rate < 0 || l.Rate != l.Rate},
		{"burst", l.Burst < 0},
		{"frame_bytes", l.FrameBytes < 0},
	} {
		if f.neg {
			return server.DeviceLimits{}, prefix + "." + f.name, errors.New("must not be negative")
		}
	}
	return server.DeviceLimits{MaxChannels: l.MaxChannels, MaxInFlight: l.MaxInFlight, Rate: l.Rate, Burst: l.Burst,
		FrameBytes: l.FrameBytes}, "", nil
}

// Daemon defaults of the limits the server leaves unlimited: a device's
// sustained flights per second (a handshake takes one or two), and the
// metrics server's connections.
const (
	defaultDeviceRate       = 200
	defaultMetricsMaxConns  = 64
	defaultHTTPAuthFailures = 5
	defaultHTTPAuthRefill   = 10 * time.Second
)

type fileDevice struct {
	ID           string   `yaml:"id"`
	PSK          string   `yaml:"psk"`
	PSKFile      string   `yaml:"psk_file"`
	RootsFile    string   `yaml:"roots_file"`
	AllowedNames []string `yaml:"allowed_names"`
	MinVersion   string   `yaml:"min_version"`
	MaxVersion   string   `yaml:"max_version"`
	CipherSuites []string `yaml:"cipher_suites"`
	KeyExchanges []string `yaml:"key_exchanges"`

	ClientCertFile string `yaml:"client_cert_file"`
	ClientKeyFile  string `yaml:"client_key_file"`

	Profile  string   `yaml:"profile"`
	Pins     []string `yaml:"pins"`
	CRLsFile string   `yaml:"crls_file"`

	Limits fileLimits `yaml:"limits"`
}

// config is a loaded and validated configuration, every value in its
// final type and every file read.
type config struct {
	path string
	opts loadOptions // as loaded: a reload uses them again

	listen        string // "host:port" or "unix:/path"
	plaintext     bool
	plaintextUIDs []uint32 // set, not empty, when plaintext
	metricsListen string
	// metricsLoopback: metricsListen is a unix socket or a loopback
	// address, private to the machine.
	metricsLoopback bool
	httpAuth        httpAuth // for /, the API and /metrics; zero: none

	// warnings are what check prints and serve logs: accepted, but to fix.
	warnings []string

	tokenKey []byte // nil: a random key per process

	startTTL, tokenTTL        time.Duration
	frameTimeout, idleTimeout time.Duration
	maxInFlight               int

	serviceLimits

	devices []server.Device // each one checked (server.Device.Check)

	postgres *pgConfig // registry.postgres; nil: the devices above
}

// serviceLimits are fileServiceLimits loaded.
type serviceLimits struct {
	maxConns, maxOpeningPerSource int
	openTimeout, flightWait       time.Duration
	metricsMaxConns               int
	// Failed HTTP logins one source may make at once, and the time in
	// which it earns one more (httpauth.go's loginThrottle).
	httpAuthFailures int
	httpAuthRefill   time.Duration
	frameBudget      int64
	minFrameRate     int // -1: off
	deviceLimits     server.DeviceLimits
}

// Duration is a config duration written as a Go duration string: "300ms",
// "30s", "5m", "1h30m". Unset (or "0") is zero: the field's default.
//
// yaml.v3 shows an Unmarshaler its value, not its key, so UnmarshalYAML
// keeps a value that is not a duration, and check (called by the loader,
// which knows the field) reports it under the field's name.
type Duration struct {
	D    time.Duration
	text string // as written; "" when unset
	bad  bool   // text is not a duration
}

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: cannot unmarshal %s into a duration", n.Line, n.ShortTag())}}
	}
	if n.Value == "" { // as unset
		*d = Duration{}
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	*d = Duration{D: v, text: n.Value, bad: err != nil}
	return nil
}

// check refuses a value that is not a duration, or a negative one.
func (d Duration) check() error {
	switch {
	case d.bad:
		return fmt.Errorf("%q is not a duration (like \"30s\" or \"5m\")", d.text)
	case d.D < 0:
		return fmt.Errorf("%q is negative", d.text)
	}
	return nil
}

// unknownField rewords yaml's complaint about a key no struct field takes,
// which names our Go types.
var unknownField = regexp.MustCompile(`field (\S+) not found in type \S+`)

// maxConfigFile bounds the files the config names, read whole.
const maxConfigFile = 4 << 20

// configError names the file and the field at fault.
type configError struct {
	path  string
	field string // "" for the file as a whole
	err   error
}

func (e *configError) Error() string {
	if e.field == "" {
		return fmt.Sprintf("offloader: config %s: %v", e.path, e.err)
	}
	return fmt.Sprintf("offloader: config %s: %s: %v", e.path, e.field, e.err)
}

func (e *configError) Unwrap() error { return e.err }

// loadOptions relax loadConfig's checks from the command line.
type loadOptions struct {
	// allowOpenKeyFiles downgrades a key file readable by group or others
	// from an error to a warning (--allow-open-key-files).
	allowOpenKeyFiles bool
}

// loadConfig reads, decodes and validates the file at path, strictly.
func loadConfig(path string) (*config, error) { return loadConfigWith(path, loadOptions{}) }

// loadConfigWith reads, decodes and validates the file at path. Relative
// paths inside it are taken relative to the file's directory.
func loadConfigWith(path string, opts loadOptions) (*config, error) {
	fail := func(field string, err error) error { return &configError{path: path, field: field, err: err} }
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("offloader: config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return nil, fail("", err)
	}
	if len(data) > maxConfigFile {
		return nil, fail("", fmt.Errorf("larger than %d bytes", maxConfigFile))
	}
	var fc fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fail("", errors.New("empty file"))
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			msg := strings.Join(te.Errors, "; ")
			msg = unknownField.ReplaceAllString(msg, `unknown field "$1"`)
			return nil, fail("", errors.New(msg))
		}
		return nil, fail("", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fail("", errors.New("more than one YAML document"))
	}
	c := &config{path: path, opts: opts}
	dir := filepath.Dir(path)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}

	// listen, plaintext, metrics_listen
	if fc.Listen == "" {
		return nil, fail("listen", errors.New("missing (want \"host:port\" or \"unix:/path\")"))
	}
	if _, err := checkListen(fc.Listen); err != nil {
		return nil, fail("listen", err)
	}
	c.listen = fc.Listen
	if fc.Plaintext && !strings.HasPrefix(fc.Listen, "unix:") {
		return nil, fail("plaintext", fmt.Errorf("only allowed with a unix: listen address (the peer's uid is checked), not %q", fc.Listen))
	}
	if fc.Plaintext && len(fc.PlaintextUIDs) == 0 {
		return nil, fail("plaintext_uids", errors.New("missing: plaintext needs the uids whose processes may claim a device"))
	}
	if !fc.Plaintext && len(fc.PlaintextUIDs) > 0 {
		return nil, fail("plaintext_uids", errors.New("set without plaintext: true"))
	}
	c.plaintext = fc.Plaintext
	c.plaintextUIDs = fc.PlaintextUIDs
	if fc.MetricsListen != "" {
		if c.metricsLoopback, err = checkListen(fc.MetricsListen); err != nil {
			return nil, fail("metrics_listen", err)
		}
		c.metricsListen = fc.MetricsListen
	}

	// http_token_file, http_basic_auth_file
	if fc.HTTPTokenFile != "" {
		if c.httpAuth.token, err = readToken(rel(fc.HTTPTokenFile)); err != nil {
			return nil, fail("http_token_file", err)
		}
	}
	if fc.HTTPBasicAuthFile != "" {
		if c.httpAuth.user, c.httpAuth.password, err = readBasicAuth(rel(fc.HTTPBasicAuthFile)); err != nil {
			return nil, fail("http_basic_auth_file", err)
		}
	}
	if c.httpAuth.set() && c.metricsListen == "" {
		field := "http_token_file"
		if fc.HTTPTokenFile == "" {
			field = "http_basic_auth_file"
		}
		return nil, fail(field, errors.New("set without metrics_listen: there is no HTTP address to protect"))
	}

	// token_key, token_key_file
	switch {
	case fc.TokenKey != "" && fc.TokenKeyFile != "":
		return nil, fail("token_key", errors.New("set token_key or token_key_file, not both"))
	case fc.TokenKey != "":
		if c.tokenKey, err = decodeKey(fc.TokenKey, server.TokenKeyLen, server.TokenKeyLen); err != nil {
			return nil, fail("token_key", err)
		}
	case fc.TokenKeyFile != "":
		if err := opts.checkKeyFile(c, "token_key_file", rel(fc.TokenKeyFile)); err != nil {
			return nil, fail("token_key_file", err)
		}
		if c.tokenKey, err = readKeyFile(rel(fc.TokenKeyFile), server.TokenKeyLen, server.TokenKeyLen); err != nil {
			return nil, fail("token_key_file", err)
		}
	}
	if c.tokenKey != nil && constantKey(c.tokenKey) {
		field := "token_key"
		if fc.TokenKeyFile != "" {
			field = "token_key_file"
		}
		return nil, fail(field, errConstantKey)
	}

	// durations and bounds
	for _, d := range []struct {
		field string
		in    Duration
		out   *time.Duration
	}{
		{"start_ttl", fc.StartTTL, &c.startTTL},
		{"token_ttl", fc.TokenTTL, &c.tokenTTL},
		{"frame_timeout", fc.FrameTimeout, &c.frameTimeout},
		{"idle_timeout", fc.IdleTimeout, &c.idleTimeout},
	} {
		if err := d.in.check(); err != nil {
			return nil, fail(d.field, err)
		}
		*d.out = d.in.D
	}
	if fc.MaxInFlight < 0 {
		return nil, fail("max_in_flight", fmt.Errorf("%d is negative", fc.MaxInFlight))
	}
	c.maxInFlight = fc.MaxInFlight
	if field, err := loadServiceLimits(fc.fileServiceLimits, &c.serviceLimits); err != nil {
		return nil, fail(field, err)
	}

	// registry
	if c.postgres, err = loadRegistry(fc.Registry, rel); err != nil {
		var ce *configError
		errors.As(err, &ce)
		return nil, fail(ce.field, ce.err)
	}

	// devices
	if len(fc.Devices) == 0 && c.postgres == nil {
		return nil, fail("devices", errors.New("none configured (list them, or set registry.postgres)"))
	}
	seen := make(map[string]int)
	for i, fd := range fc.Devices {
		var name string
		field := func(name string) string { return fmt.Sprintf("devices[%d].%s", i, name) }
		d := server.Device{ID: fd.ID, AllowedNames: fd.AllowedNames}
		switch {
		case fd.PSK != "" && fd.PSKFile != "":
			return nil, fail(field("psk"), errors.New("set psk or psk_file, not both"))
		case fd.PSK != "":
			if d.PSK, err = decodeKey(fd.PSK, wire.MinPSKLen, wire.MaxPSKLen); err != nil {
				return nil, fail(field("psk"), err)
			}
		case fd.PSKFile != "":
			if err := opts.checkKeyFile(c, field("psk_file"), rel(fd.PSKFile)); err != nil {
				return nil, fail(field("psk_file"), err)
			}
			if d.PSK, err = readKeyFile(rel(fd.PSKFile), wire.MinPSKLen, wire.MaxPSKLen); err != nil {
				return nil, fail(field("psk_file"), err)
			}
		default:
			return nil, fail(field("psk"), errors.New("missing (set psk or psk_file; `offloader psk` makes one)"))
		}
		pskField := field("psk")
		if fd.PSKFile != "" {
			pskField = field("psk_file")
		}
		if constantKey(d.PSK) {
			return nil, fail(pskField, errConstantKey)
		}
		if len(d.PSK) < minNewPSKLen {
			c.warnings = append(c.warnings, fmt.Sprintf("%s: %d bytes: new PSKs should have at least %d (`offloader psk` makes one)", pskField, len(d.PSK), minNewPSKLen))
		}
		if d.MinVersion, err = parseMinVersion(fd.MinVersion); err != nil {
			return nil, fail(field("min_version"), err)
		}
		if d.MaxVersion, err = parseMaxVersion(fd.MaxVersion); err != nil {
			return nil, fail(field("max_version"), err)
		}
		for j, name := range fd.CipherSuites {
			id, err := parseCipherSuite(name)
			if err != nil {
				return nil, fail(field(fmt.Sprintf("cipher_suites[%d]", j)), err)
			}
			d.CipherSuites = append(d.CipherSuites, id)
		}
		for j, name := range fd.KeyExchanges {
			kx, err := parseKeyExchange(name)
			if err != nil {
				return nil, fail(field(fmt.Sprintf("key_exchanges[%d]", j)), err)
			}
			d.KeyExchanges = append(d.KeyExchanges, kx)
		}
		if fd.RootsFile != "" {
			if d.Roots, err = readRoots(rel(fd.RootsFile)); err != nil {
				return nil, fail(field("roots_file"), err)
			}
		}
		switch {
		case fd.ClientCertFile != "" && fd.ClientKeyFile == "":
			return nil, fail(field("client_key_file"), errors.New("missing (client_cert_file needs its key)"))
		case fd.ClientCertFile == "" && fd.ClientKeyFile != "":
			return nil, fail(field("client_cert_file"), errors.New("missing (client_key_file needs its certificate)"))
		case fd.ClientCertFile != "":
			if d.ClientCertificate, err = readCertChain(rel(fd.ClientCertFile)); err != nil {
				return nil, fail(field("client_cert_file"), err)
			}
			if err := opts.checkKeyFile(c, field("client_key_file"), rel(fd.ClientKeyFile)); err != nil {
				return nil, fail(field("client_key_file"), err)
			}
			if d.ClientKey, err = readPrivateKey(rel(fd.ClientKeyFile)); err != nil {
				return nil, fail(field("client_key_file"), err)
			}
		}
		if err := loadVerification(&d, fd, rel, fail, field); err != nil {
			return nil, err
		}
		if d.Limits, name, err = fd.Limits.limits("limits"); err != nil {
			return nil, fail(field(name), err)
		}
		if err := d.Check(); err != nil {
			name, err := deviceField(fd, rel, err)
			return nil, fail(field(name), err)
		}
		if j, dup := seen[fd.ID]; dup {
			return nil, fail(field("id"), fmt.Errorf("duplicate device id %q (also devices[%d])", fd.ID, j))
		}
		seen[fd.ID] = i
		c.devices = append(c.devices, d)
	}
	return c, nil
}

// loadVerification fills the device's verification policy: profile
// (certs.ParseProfile: "webpki", the default, or "rfc5280"), pins
// (certs.ParsePin each) and crls_file (certs.LoadCRLFile, read at every
// load, so a reload takes a new CRL).
func loadVerification(d *server.Device, fd fileDevice, rel func(string) string,
	fail func(string, error) error, field func(string) string) error {
	var err error
	if d.Profile, err = certs.ParseProfile(fd.Profile); err != nil {
		return fail(field("profile"), trimCerts(err))
	}
	for i, p := range fd.Pins {
		pin, err := certs.ParsePin(p)
		if err != nil {
			return fail(field(fmt.Sprintf("pins[%d]", i)), trimCerts(err))
		}
		d.Pins = append(d.Pins, pin)
	}
	if fd.CRLsFile != "" {
		if d.CRLs, err = certs.LoadCRLFile(rel(fd.CRLsFile)); err != nil {
			return fail(field("crls_file"), trimCerts(err))
		}
	}
	return nil
}

// trimCerts drops the "certs: " a message of package certs opens with:
// the config error names the field instead.
func trimCerts(err error) error {
	if msg, ok := strings.CutPrefix(err.Error(), "certs: "); ok {
		return errors.New(msg)
	}
	return err
}

// loadServiceLimits checks the resource limits into out, returning the
// field at fault.
func loadServiceLimits(fl fileServiceLimits, out *serviceLimits) (string, error) {
	for _, n := range []struct {
		field string
		v     int
		out   *int
	}{
		{"max_conns", fl.MaxConns, &out.maxConns},
		{"max_opening_per_source", fl.MaxOpeningPerSource, &out.maxOpeningPerSource},
		{"metrics_max_conns", fl.MetricsMaxConns, &out.metricsMaxConns},
		{"http_auth_failures", fl.HTTPAuthFailures, &out.httpAuthFailures},
	} {
		if n.v < 0 {
			return n.field, fmt.Errorf("%d is negative", n.v)
		}
		*n.out = n.v
	}
	if fl.FrameBudget < 0 {
		return "frame_budget", fmt.Errorf("%d is negative", fl.FrameBudget)
	}
	out.frameBudget = fl.FrameBudget
	if fl.MinFrameRate < -1 {
		return "min_frame_rate", fmt.Errorf("%d: want bytes a second, or -1 for none", fl.MinFrameRate)
	}
	out.minFrameRate = fl.MinFrameRate
	if out.metricsMaxConns == 0 {
		out.metricsMaxConns = defaultMetricsMaxConns
	}
	if out.httpAuthFailures == 0 {
		out.httpAuthFailures = defaultHTTPAuthFailures
	}
	for _, d := range []struct {
		field string
		in    Duration
		out   *time.Duration
	}{
		{"open_timeout", fl.OpenTimeout, &out.openTimeout},
		{"flight_wait", fl.FlightWait, &out.flightWait},
		{"http_auth_refill", fl.HTTPAuthRefill, &out.httpAuthRefill},
	} {
		if err := d.in.check(); err != nil {
			return d.field, err
		}
		*d.out = d.in.D
	}
	if out.httpAuthRefill == 0 {
		out.httpAuthRefill = defaultHTTPAuthRefill
	}
	dl, field, err := fl.DeviceLimits.limits("device_limits")
	if err != nil {
		return field, err
	}
	if dl.Rate == 0 {
		dl.Rate = defaultDeviceRate
	}
	out.deviceLimits = dl
	return "", nil
}

// checkListen accepts "unix:/path" or "host:port" and reports whether the
// address is a path an operator may declare secure (a unix socket or a
// loopback address).
func checkListen(addr string) (loopback bool, err error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if path == "" {
			return false, errors.New("unix: needs a socket path")
		}
		return true, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("%q: want \"host:port\" or \"unix:/path\"", addr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return false, fmt.Errorf("%q: bad port %q", addr, port)
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

// minNewPSKLen is the PSK length new devices should have: shorter ones
// (down to wire.MinPSKLen) load with a warning.
const minNewPSKLen = 32

var errConstantKey = errors.New("every byte is the same: not a key (`offloader psk` makes one)")

// constantKey reports whether every byte of k is the same (all zero, or a
// placeholder such as 4242…).
func constantKey(k []byte) bool {
	for _, b := range k {
		if b != k[0] {
			return false
		}
	}
	return true
}

// checkKeyFile refuses (or, with allowOpenKeyFiles, warns about) a key file
// that others may read or write, or that a group may when it is not the
// offloader's own group (a file root:tlsoffload 0440, or a Kubernetes
// Secret under fsGroup, is fine).
func (o loadOptions) checkKeyFile(c *config, field, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return nil // reading it says why
	}
	perm := fi.Mode().Perm()
	open := perm&0o007 != 0
	if perm&0o070 != 0 && !ownGroup(fi) {
		open = true
	}
	if open {
		msg := fmt.Sprintf("%s: mode %04o lets others at a key: chmod 600 it", path, perm)
		if !o.allowOpenKeyFiles {
			return errors.New(msg + " (or pass --allow-open-key-files to only warn)")
		}
		c.warnings = append(c.warnings, field+": "+msg)
	}
	return nil
}

// decodeKey decodes hex (surrounding whitespace ignored) of lo..hi bytes.
// Errors never quote the value: it is a secret.
func decodeKey(s string, lo, hi int) ([]byte, error) {
	s = strings.TrimSpace(s)
	want := fmt.Sprintf("%d hex characters (%d bytes)", 2*lo, lo)
	if lo != hi {
		want = fmt.Sprintf("%d..%d hex characters (%d..%d bytes)", 2*lo, 2*hi, lo, hi)
	}
	b, err := hex.DecodeString(s)
	if err != nil && !errors.Is(err, hex.ErrLength) {
		return nil, fmt.Errorf("must be %s: not hex", want)
	}
	if err != nil || len(b) < lo || len(b) > hi {
		return nil, fmt.Errorf("must be %s, got %d characters", want, len(s))
	}
	return b, nil
}

func readKeyFile(path string, lo, hi int) ([]byte, error) {
	data, err := readSmall(path)
	if err != nil {
		return nil, err
	}
	b, err := decodeKey(string(data), lo, hi)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

func readRoots(path string) (*x509.CertPool, error) {
	data, err := readSmall(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", path)
	}
	return pool, nil
}

func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxConfigFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxConfigFile)
	}
	return data, nil
}

// deviceField words a device entry's refusal (server.Device.Check, the one
// place entries are validated) as the YAML field at fault.
func deviceField(fd fileDevice, rel func(string) string, err error) (string, error) {
	var de *server.DeviceError
	if !errors.As(err, &de) {
		return "", err
	}
	switch de.Field {
	case "ID":
		return "id", de.Err
	case "PSK":
		if fd.PSK == "" {
			return "psk_file", de.Err
		}
		return "psk", de.Err
	case "MinVersion":
		return "min_version", de.Err
	case "MaxVersion":
		return "max_version", de.Err
	case "CipherSuites":
		return fmt.Sprintf("cipher_suites[%d]", de.Index), de.Err
	case "KeyExchanges":
		return fmt.Sprintf("key_exchanges[%d]", de.Index), de.Err
	case "AllowedNames":
		return fmt.Sprintf("allowed_names[%d]", de.Index), de.Err
	case "ClientCertificate":
		return "client_cert_file", fmt.Errorf("%s: %w", rel(fd.ClientCertFile), de.Err)
	case "ClientKey":
		return "client_key_file", fmt.Errorf("%s: %w (certificate %s)", rel(fd.ClientKeyFile), de.Err, rel(fd.ClientCertFile))
	case "Profile":
		return "profile", de.Err
	case "Pins":
		return "pins", de.Err
	case "CRLs":
		return "crls_file", fmt.Errorf("%s: %w", rel(fd.CRLsFile), de.Err)
	}
	return "", err
}
