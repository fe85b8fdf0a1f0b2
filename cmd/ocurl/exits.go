package main

import (
	"fmt"
	"strings"
)

// Exit codes: curl's numbers for curl's failures (libcurl's CURLcode), so
// scripts written for curl keep working. exitCodes below is the list
// --help prints; a test checks every constant is in it.
const (
	exitOK            = 0
	exitProtocol      = 1   // unsupported protocol
	exitUsage         = 2   // bad command line
	exitBadURL        = 3   // malformed URL
	exitNotHere       = 4   // an option this configuration cannot honour
	exitProxyResolve  = 5   // could not resolve the proxy
	exitResolve       = 6   // could not resolve the host
	exitConnect       = 7   // could not connect
	exitWeirdReply    = 8   // the server's reply is not HTTP
	exitHTTP2         = 16  // HTTP/2 framing error
	exitPartial       = 18  // the body ended early
	exitHTTPError     = 22  // HTTP status >= 400 with -f
	exitWrite         = 23  // writing the output failed
	exitRead          = 26  // reading a local file failed
	exitTimeout       = 28  // a time limit passed
	exitRange         = 33  // the server cannot resume (-C)
	exitTLS           = 35  // TLS handshake failed (or the offloader did)
	exitTooManyRedirs = 47  // more redirects than --max-redirs
	exitEmptyReply    = 52  // the server closed without a reply
	exitSend          = 55  // sending to the server failed
	exitRecv          = 56  // receiving from the server failed
	exitClientCert    = 58  // --cert/--key unusable
	exitCipher        = 59  // --ciphers names no usable suite
	exitCertificate   = 60  // the server's certificate is not trusted
	exitEncoding      = 61  // bad Content-Encoding data
	exitFileSize      = 63  // --max-filesize exceeded
	exitRewind        = 65  // a body from stdin cannot be sent twice
	exitCACert        = 77  // --cacert/--capath unusable
	exitPinned        = 90  // --pinnedpubkey does not match
	exitHTTP2Stream   = 92  // the server reset the HTTP/2 stream
	exitInterrupted   = 130 // SIGINT (128+2), as a shell reports curl killed by it
	exitTerminated    = 143 // SIGTERM (128+15)
)

var exitCodes = []struct {
	code    int
	meaning string
}{
	{exitOK, "success"},
	{exitProtocol, "unsupported protocol (ocurl speaks http and https)"},
	{exitUsage, "bad command line (unknown option, missing or bad value)"},
	{exitBadURL, "malformed URL, or one curl would glob ([ ] { } after the host; -g sends them)"},
	{exitNotHere, "an option this setup cannot honour: -k, --pinnedpubkey, --cacert, --capath, --cert/--key with --offloader (its device policy decides them), a proxy other than HTTP"},
	{exitProxyResolve, "could not resolve the proxy's host"},
	{exitResolve, "could not resolve the host"},
	{exitConnect, "could not connect to the host or proxy"},
	{exitWeirdReply, "the server's reply is not HTTP"},
	{exitHTTP2, "HTTP/2 error"},
	{exitPartial, "the body ended before its announced length"},
	{exitHTTPError, "HTTP status 400 or more with -f/--fail-with-body"},
	{exitWrite, "writing the output failed (disk full, reader of stdout gone, binary to a terminal refused)"},
	{exitRead, "reading a local file failed (-T, -F, -K; a -d, -H or -w @FILE that cannot be read is a warning, as in curl)"},
	{exitTimeout, "timeout (-m, --connect-timeout)"},
	{exitRange, "the server does not support the byte range asked for (-C)"},
	{exitTLS, "TLS handshake failed, or the offloader is unreachable or refused"},
	{exitTooManyRedirs, "more redirects than --max-redirs"},
	{exitEmptyReply, "the server closed the connection without a reply"},
	{exitSend, "sending to the server failed"},
	{exitRecv, "receiving from the server failed"},
	{exitClientCert, "--cert/--key cannot be used"},
	{exitCipher, "--ciphers names no suite ocurl can offer"},
	{exitCertificate, "the server's certificate is not trusted"},
	{exitEncoding, "the body's Content-Encoding data is corrupt"},
	{exitFileSize, "the body is larger than --max-filesize"},
	{exitRewind, "a body read from stdin (-T -) would have to be sent again (redirect, retry)"},
	{exitCACert, "--cacert cannot be read or holds no certificate"},
	{exitPinned, "the server's public key does not match --pinnedpubkey"},
	{exitHTTP2Stream, "the server reset the HTTP/2 stream (RST_STREAM)"},
	{exitInterrupted, "interrupted (SIGINT); a temporary -o file is removed"},
	{exitTerminated, "terminated (SIGTERM); a temporary -o file is removed"},
}

// failure is an error with the exit code and the hint ocurl prints for it.
type failure struct {
	code int
	err  error
	hint string
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// fail makes a failure with a formatted message.
func fail(code int, format string, args ...any) *failure {
	return &failure{code: code, err: fmt.Errorf(format, args...)}
}

// withHint returns f with a hint.
func (f *failure) withHint(format string, args ...any) *failure {
	f.hint = fmt.Sprintf(format, args...)
	return f
}

func exitCodesHelp() string {
	var b strings.Builder
	for _, e := range exitCodes {
		lines := wrap(e.meaning, 70)
		fmt.Fprintf(&b, "  %3d  %s\n", e.code, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(&b, "       %s\n", l)
		}
	}
	return b.String()
}
