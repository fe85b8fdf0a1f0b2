package main

import (
	"fmt"
	"runtime"
	"strings"
)

// helpText is --help: every option (from flagSpecs, so none is missed),
// the rules ocurl decided, what it does not do, and every exit code.
func helpText() string {
	var b strings.Builder
	b.WriteString(`Usage: ocurl [options] URL...

Fetch URLs like curl, with TLS done by tlsoffload: the public-key work of
each handshake runs on an offloader. With no --offloader, an embedded
offloader runs in this process and trusts the system roots (or --cacert).
`)
	for _, f := range flagSpecs {
		if f.long == "" {
			fmt.Fprintf(&b, "\n%s:\n", f.help)
			continue
		}
		names := "    "
		if f.short != 0 {
			names = "-" + string(f.short) + ", "
		}
		names += "--" + f.long
		if f.arg != "" {
			names += " " + f.arg
		}
		lines := wrap(f.help, 78-helpColumn)
		if len(names) > helpColumn-3 {
			fmt.Fprintf(&b, "  %s\n", names)
		} else {
			fmt.Fprintf(&b, "  %-*s %s\n", helpColumn-3, names, lines[0])
			lines = lines[1:]
		}
		for _, l := range lines {
			fmt.Fprintf(&b, "%*s%s\n", helpColumn, "", l)
		}
	}
	b.WriteString(helpRules)
	b.WriteString("\nExit codes (curl's numbers):\n")
	b.WriteString(exitCodesHelp())
	return b.String()
}

// helpColumn is where the descriptions start.
const helpColumn = 30

// wrap breaks s into lines of at most width characters.
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}

const helpRules = `
Rules:
  A URL without a scheme is http://, curl's guess, so that commands typed
  for curl do the same; type https:// for TLS. ocurl speaks http and https.
  Options apply to every URL; -o/-O and -T pair with the URLs in order;
  the exit code is the last URL's (with -Z, the last failed URL's).
  A switch can be turned off with --no-NAME; --name=value works too.
  Errors print as "ocurl: (N) message", N the exit code, often with a hint.
  HTTP/1.1 unless --http2 (curl offers h2 by default).
  -o never leaves a partial regular file: a failed transfer leaves the old
  file or none (curl leaves what it received).
  The progress meter shows only when stderr is a terminal (curl also
  writes it into pipes and files), and not with -Z.
  -u USER without a password sends an empty one (curl would prompt).
  Times take fractions of a second everywhere (--retry-delay too); a time
  that is not a number (-m NaN, inf) is a usage error (curl 7.88 takes
  NaN as no limit).
  As in curl, a -d, --json, -H or -w @FILE that cannot be read is a
  warning (an empty part, no headers, no format), and a --capath that
  cannot be read adds no root (a warning, then 60 if nothing else trusts
  the server); -T, -F and -K files that cannot be read are errors (26).
  -k, --pinnedpubkey, --cacert, --capath and --cert/--key configure the
  embedded offloader; with --offloader the device's policy on that
  offloader decides them and ocurl refuses them (4): the protocol cannot
  ask it for others yet.
  --retry also retries an offloader that stayed busy (as a 429), waiting
  for the wait the offloader asks for unless --retry-delay.

Not supported (curl has them): other protocols (ftp, file, ...), HTTP/3,
  HTTP/1.0 (-0), TLS 1.3, .curlrc (only -K), URL globbing ({a,b}, [1-9]:
  such a URL is refused, 3, unless -g sends it as typed), --next,
  authentication other than Basic and Bearer, HTTPS and SOCKS proxies,
  encrypted keys and --cert-type other than PEM, zstd, --trace and
  --trace-ascii (use -v), --stderr, --raw, -R, -z, --unix-socket,
  --interface.
`

// versionText is -V: ocurl's version, protocols and TLS features.
func versionText() string {
	return fmt.Sprintf(`ocurl 1 (tlsoffload, %s) TLS by tlsclient with an offloader
Protocols: http https
Features: HTTP2 IPv6 Largefile SSL
TLS: TLS 1.2 (default), TLS 1.1 and 1.0 on request (--tlsv1.x); ECDHE (X25519, P-256,
  P-384) and RSA key exchange; AES-GCM, ChaCha20-Poly1305, AES-CBC; extended master
  secret; resumption by session id and ticket (no offloader call); ALPN h2, http/1.1;
  client certificates held by the offloader; SNI
TLS suites (OpenSSL names): %s
Offloader: embedded in ocurl (default), or remote over a PSK channel (--offloader);
  pipelined (1 round trip per full handshake) or --sequential
`, runtime.Version(), strings.Join(cipherNames(), " "))
}
