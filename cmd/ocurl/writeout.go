package main

import (
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// -w/--write-out: after each transfer, the format with curl's variables
// (%{name}), %header{name}, \n \r \t, and %% for a percent sign; @FILE
// reads the format from a file (@- from stdin). %{stdout} and %{stderr}
// switch where the rest goes; %{onerror} prints the rest only for a
// transfer that failed. Beyond curl's variables, the offload's own:
// %{time_offload} (seconds the handshakes waited on the offloader),
// %{offload_round_trips}, %{tls_version}, %{tls_cipher} (OpenSSL's name)
// and %{tls_resumed} (1 for a resumed session, else 0).

// wvar is one variable: its value, as text for -w and as JSON for %{json}.
type wvar struct {
	text string
	json any // nil: JSON null
}

// variables computes every variable of a finished transfer.
func (x *transfer) variables() map[string]wvar {
	v := map[string]wvar{}
	str := func(name, s string) { v[name] = wvar{s, s} }
	strOrNull := func(name, s string) {
		if s == "" {
			v[name] = wvar{"", nil}
		} else {
			str(name, s)
		}
	}
	num := func(name string, n int64) { v[name] = wvar{strconv.FormatInt(n, 10), n} }
	secs := func(name string, d time.Duration) {
		s := fmt.Sprintf("%.6f", d.Seconds())
		v[name] = wvar{s, json.RawMessage(s)}
	}
	code := 0
	var h *head
	if x.final != nil {
		h = x.final
		code = h.status
	}
	v["http_code"] = wvar{fmt.Sprintf("%03d", code), code}
	v["response_code"] = v["http_code"]
	httpVersion := "0"
	if h != nil {
		httpVersion = strings.TrimPrefix(h.proto, "HTTP/")
		str("content_type", h.get("Content-Type"))
		num("num_headers", int64(len(h.fields)))
	} else {
		v["content_type"] = wvar{"", nil}
		num("num_headers", 0)
	}
	if httpVersion == "" {
		httpVersion = "0"
	}
	str("http_version", httpVersion)
	num("http_connect", int64(x.connectStatus))
	errMsg := ""
	if x.err != nil {
		var f *failure
		if errors.As(x.err, &f) {
			errMsg = f.err.Error()
		} else {
			errMsg = x.err.Error()
		}
	}
	strOrNull("errormsg", errMsg)
	num("exitcode", int64(x.exitCode))
	if x.out != nil && x.out.path != "" {
		str("filename_effective", x.out.path)
	} else {
		v["filename_effective"] = wvar{"", nil}
	}
	v["ftp_entry_path"] = wvar{"", nil}
	method := x.method
	str("method", method)
	num("num_connects", int64(x.numConnects))
	num("num_redirects", int64(x.numRedirects))
	num("proxy_ssl_verify_result", 0)
	strOrNull("redirect_url", x.redirectURL)
	strOrNull("referer", x.lastReferer)
	localIP, remoteIP := "", ""
	localPort, remotePort := 0, 0
	if c := x.conn; c != nil {
		localIP, localPort, remoteIP, remotePort = c.localIP, c.localPt, c.remoteIP, c.remotePt
	}
	str("local_ip", localIP)
	num("local_port", int64(localPort))
	str("remote_ip", remoteIP)
	num("remote_port", int64(remotePort))
	scheme := ""
	if x.url != nil {
		scheme = strings.ToUpper(x.url.Scheme)
	}
	str("scheme", scheme)
	num("size_download", atomic.LoadInt64(&x.sizeDownload))
	num("size_header", x.sizeHeader)
	num("size_request", x.sizeRequest+x.sizeRequestBody)
	num("size_upload", atomic.LoadInt64(&x.sizeUpload))
	total := time.Since(x.start)
	speed := func(n int64) int64 {
		if total <= 0 {
			return 0
		}
		return int64(float64(n) / total.Seconds())
	}
	num("speed_download", speed(atomic.LoadInt64(&x.sizeDownload)))
	num("speed_upload", speed(atomic.LoadInt64(&x.sizeUpload)))
	var verify int64
	var certs string
	nCerts := 0
	if x.tls != nil {
		verify = x.tls.verify
		for _, c := range x.tls.peer {
			certs += string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
		}
		nCerts = len(x.tls.peer)
	}
	num("ssl_verify_result", verify)
	str("certs", certs)
	num("num_certs", int64(nCerts))
	secs("time_namelookup", x.acc.namelookup)
	secs("time_connect", x.acc.connect)
	secs("time_appconnect", x.acc.appconn)
	secs("time_pretransfer", x.acc.pretransfer)
	secs("time_starttransfer", x.acc.starttransfer)
	secs("time_redirect", x.redirectTime)
	secs("time_total", total)
	str("url", x.spec.url)
	str("url_effective", effectiveURL(x.url))
	num("urlnum", int64(x.idx))
	// The offload's own.
	secs("time_offload", x.offloadTime)
	num("offload_round_trips", int64(x.roundTrips))
	tlsVersion, cipher, resumed := "", "", int64(0)
	if x.tls != nil {
		tlsVersion, cipher = x.tls.version, x.tls.cipher
		if x.tls.resumed {
			resumed = 1
		}
	}
	str("tls_version", tlsVersion)
	str("tls_cipher", cipher)
	num("tls_resumed", resumed)
	return v
}

// writeOut prints -w's format for a finished transfer.
func (x *transfer) writeOut() error {
	format := x.r.o.writeOut
	if format == "" {
		return nil
	}
	vars := x.variables()
	var w io.Writer = &lockedStdout{x.r}
	var b strings.Builder
	flush := func() error {
		if b.Len() == 0 {
			return nil
		}
		_, err := io.WriteString(w, b.String())
		b.Reset()
		return err
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		switch {
		case c == '%' && i+1 < len(format) && format[i+1] == '%':
			b.WriteByte('%')
			i++
		case c == '%' && strings.HasPrefix(format[i+1:], "{"):
			end := strings.IndexByte(format[i+2:], '}')
			if end < 0 {
				b.WriteString(format[i:])
				i = len(format)
				continue
			}
			name := format[i+2 : i+2+end]
			i += 2 + end
			switch name {
			case "stdout", "stderr":
				if err := flush(); err != nil {
					return fail(exitWrite, "Failure writing --write-out: %v", err)
				}
				if name == "stdout" {
					w = &lockedStdout{x.r}
				} else {
					w = x.r.stderr
				}
			case "onerror":
				if x.err == nil {
					i = len(format)
				}
			case "json":
				b.WriteString(jsonVars(vars))
			case "header_json":
				b.WriteString(headerJSON(x.final))
			default:
				if val, ok := vars[name]; ok {
					b.WriteString(val.text)
				} else {
					fmt.Fprintf(x.r.stderr, "ocurl: unknown --write-out variable: '%s'\n", name)
				}
			}
		case c == '%' && strings.HasPrefix(format[i+1:], "header{"):
			end := strings.IndexByte(format[i+8:], '}')
			if end < 0 {
				b.WriteString(format[i:])
				i = len(format)
				continue
			}
			name := format[i+8 : i+8+end]
			i += 8 + end
			if x.final != nil {
				b.WriteString(strings.Join(x.final.values(name), ", "))
			}
		case c == '\\' && i+1 < len(format) && strings.IndexByte("nrt", format[i+1]) >= 0:
			b.WriteByte(map[byte]byte{'n': '\n', 'r': '\r', 't': '\t'}[format[i+1]])
			i++
		default:
			b.WriteByte(c)
		}
	}
	if err := flush(); err != nil {
		return fail(exitWrite, "Failure writing --write-out: %v", err)
	}
	return nil
}

// jsonVars is %{json}: every variable, by name, then curl_version, as
// curl prints it.
func jsonVars(vars map[string]wvar) string {
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteByte('{')
	for _, k := range names {
		fmt.Fprintf(&b, "%s:%s,", jsonText(k), jsonText(vars[k].json))
	}
	fmt.Fprintf(&b, "%s:%s}", jsonText("curl_version"), jsonText("ocurl/1 (tlsoffload)"))
	return b.String()
}

// headerJSON is %{header_json}: the last response's fields by lower-case
// name, in the order they first came, as curl prints them.
func headerJSON(h *head) string {
	if h == nil {
		return "{}"
	}
	var order []string
	vals := map[string][]string{}
	for _, f := range h.fields {
		k := strings.ToLower(f.name)
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = append(vals[k], f.value)
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range order {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, "%s:%s", jsonText(k), jsonText(vals[k]))
	}
	b.WriteString("\n}")
	return b.String()
}

// jsonText encodes v as JSON without HTML escaping, as curl writes it.
func jsonText(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "null"
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// formatFromFile is a -w @FILE format as curl 7.88 reads it (its
// file2string): a line at a time, at most 255 bytes at once as fgets
// reads them, each piece cut at its first CR, then its LF (and a NUL),
// and the pieces joined. So the file's line ends are not in the format
// (a newline is written \n), and a CR ends the rest of its line.
func formatFromFile(b []byte) string {
	var f strings.Builder
	for len(b) > 0 {
		n := min(len(b), 255)
		if i := strings.IndexByte(string(b[:n]), '\n'); i >= 0 {
			n = i + 1
		}
		piece := string(b[:n])
		b = b[n:]
		if i := strings.IndexAny(piece, "\r\n\x00"); i >= 0 {
			piece = piece[:i]
		}
		f.WriteString(piece)
	}
	return f.String()
}
