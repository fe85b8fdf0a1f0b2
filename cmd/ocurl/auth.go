package main

import (
	"encoding/base64"
	"net/url"
	"strings"
)

// Basic authentication (RFC 7617): -u USER:PASSWORD, or the URL's user
// info when there is no -u, as curl does. A -u without a colon is a user
// with an empty password (curl would prompt for one; ocurl does not
// prompt). Credentials go only to the host they were given for, unless
// --location-trusted (build.go). --oauth2-bearer sends a bearer token
// instead.

func (r *run) authorization(u *url.URL) string {
	if r.o.oauth2Bearer != "" {
		return "Bearer " + r.o.oauth2Bearer
	}
	if r.o.user != "" {
		return basicAuth(r.o.user)
	}
	if u.User != nil {
		pw, _ := u.User.Password()
		return basicAuth(u.User.Username() + ":" + pw)
	}
	return ""
}

func basicAuth(userpass string) string {
	if !strings.Contains(userpass, ":") {
		userpass += ":"
	}
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(userpass))
}
