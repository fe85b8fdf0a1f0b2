package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
)

// Access to the HTTP address (metrics_listen): the dashboard shows device
// ids, so /, /api/v1/ and /metrics alike need a credential when the
// config names one, and `offloader check` warns when the address is not
// private to the machine and none is named.
//
//   - http_token_file holds a bearer token (one line, 16 to 1024 printable
//     characters): what a Prometheus scraper sends (authorization:
//     credentials_file).
//   - http_basic_auth_file holds "user:password" on one line: what a
//     browser asks a person for.
//
// With both, either is accepted. /healthz stays open: a load balancer
// probes it, and it says only "ok". Credentials are compared in constant
// time (as SHA-256 digests, so their lengths leak nothing either) and
// never logged.

// httpAuth is the credentials the config names; zero: none.
type httpAuth struct {
	token          []byte
	user, password []byte
}

func (a httpAuth) set() bool { return a.token != nil || a.user != nil }

const (
	minTokenLen = 16
	maxTokenLen = 1024
)

// readToken reads a bearer token file.
func readToken(path string) ([]byte, error) {
	data, err := readSmall(path)
	if err != nil {
		return nil, err
	}
	tok := bytes.TrimSpace(data)
	if len(tok) < minTokenLen || len(tok) > maxTokenLen {
		return nil, fmt.Errorf("%s: want one token of %d to %d characters, got %d", path, minTokenLen, maxTokenLen, len(tok))
	}
	for _, c := range tok {
		if c <= ' ' || c > '~' {
			return nil, fmt.Errorf("%s: the token has a space, a line break or a character outside printable ASCII", path)
		}
	}
	return tok, nil
}

// readBasicAuth reads "user:password" from path.
func readBasicAuth(path string) (user, password []byte, err error) {
	data, err := readSmall(path)
	if err != nil {
		return nil, nil, err
	}
	line := bytes.TrimRight(data, "\r\n")
	if bytes.ContainsAny(line, "\r\n") {
		return nil, nil, fmt.Errorf("%s: want one line \"user:password\", got several", path)
	}
	u, p, ok := bytes.Cut(line, []byte(":"))
	switch {
	case !ok:
		return nil, nil, fmt.Errorf("%s: want \"user:password\", found no colon", path)
	case len(u) == 0:
		return nil, nil, fmt.Errorf("%s: the user name is empty", path)
	case len(p) < 8:
		return nil, nil, fmt.Errorf("%s: the password is shorter than 8 characters", path)
	}
	return u, p, nil
}

func digestEqual(a, b []byte) bool {
	da, db := sha256.Sum256(a), sha256.Sum256(b)
	return subtle.ConstantTimeCompare(da[:], db[:]) == 1
}

// allowed reports whether r carries a credential a accepts.
func (a httpAuth) allowed(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if a.token != nil {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") && digestEqual([]byte(strings.TrimSpace(tok)), a.token) {
			return true
		}
	}
	if a.user != nil {
		if u, p, ok := r.BasicAuth(); ok {
			// Both compared always, so the time says nothing of which failed.
			uok, pok := digestEqual([]byte(u), a.user), digestEqual([]byte(p), a.password)
			return uok && pok
		}
	}
	return false
}

// wrap requires a's credentials on every path but /healthz; with none
// set it returns h.
func (a httpAuth) wrap(h http.Handler) http.Handler {
	if !a.set() {
		return h
	}
	challenge := `Bearer realm="offloader"`
	if a.user != nil {
		challenge = `Basic realm="offloader", charset="UTF-8"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || a.allowed(r) {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", challenge)
		http.Error(w, "offloader: this address needs a credential (see http_token_file, http_basic_auth_file)", http.StatusUnauthorized)
	})
}

// exposureWarning is what check prints, and serve logs, when the HTTP
// address is reachable from other machines and nothing guards it; "" if
// it is private or guarded.
func exposureWarning(c *config) string {
	if c.metricsListen == "" || c.metricsLoopback || c.httpAuth.set() {
		return ""
	}
	return fmt.Sprintf("metrics_listen %q is not a loopback address and neither http_token_file nor http_basic_auth_file is set: whoever reaches it sees device ids on the dashboard and in the API", c.metricsListen)
}
