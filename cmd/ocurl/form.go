package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// -F and --form-string: a multipart/form-data POST (RFC 7578), laid out as
// curl lays it out. -F name=value sends a field, name=@FILE a file upload
// (filename and Content-Type given; @- is stdin), name=<FILE a field whose
// value is the file's content; ;type=, ;filename= and ;headers= follow.
// --form-string takes the value literally.

// formArg is one -F part.
type formArg struct {
	name        string
	value       []byte // a field's value, or stdin's content
	file        string // a file to read at send time ("" for none)
	upload      bool   // sent as a file upload (filename= and a type)
	stdin       bool   // an upload from stdin: filename "-" and no type, as curl
	filename    string
	contentType string
	headers     []string
}

func (p *parser) addForm(v string, literal bool) error {
	name, rest, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("illegal -F format: %q (want NAME=CONTENT)", v)
	}
	f := formArg{name: name}
	if literal {
		f.value = []byte(rest)
		p.o.forms = append(p.o.forms, f)
		return nil
	}
	content, params := splitFormParams(rest)
	for _, prm := range params {
		k, val, _ := strings.Cut(prm, "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "type":
			f.contentType = val
		case "filename":
			f.filename = unquote(val)
		case "headers":
			f.headers = append(f.headers, unquote(val))
		default:
			// unknown parameters are ignored, as curl warns and goes on
		}
	}
	switch {
	case strings.HasPrefix(content, "@"):
		f.upload = true
		f.file = content[1:]
		if f.filename == "" {
			f.filename = filepath.Base(f.file)
		}
	case strings.HasPrefix(content, "<"):
		f.file = content[1:]
	default:
		f.value = []byte(unquote(content))
	}
	if f.file == "-" {
		b, err := p.readArgFile("-", "-F "+name)
		if err != nil {
			return err
		}
		f.value, f.file = b, ""
		f.stdin = f.upload
	}
	p.o.forms = append(p.o.forms, f)
	return nil
}

// splitFormParams splits "content;type=x;filename=y" at the semicolons
// outside double quotes.
func splitFormParams(s string) (string, []string) {
	var parts []string
	quoted := false
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case '\\':
			if quoted {
				i++
			}
		case ';':
			if !quoted {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	parts = append(parts, s[start:])
	return parts[0], parts[1:]
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(s[1 : len(s)-1])
	}
	return s
}

// contentTypeFor is curl's guess of a file's type from its extension.
func contentTypeFor(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".gif":
		return "image/gif"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".png":
		return "image/png"
	case ".svg":
		return "image/svg+xml"
	case ".txt":
		return "text/plain"
	case ".htm", ".html":
		return "text/html"
	case ".pdf":
		return "application/pdf"
	case ".xml":
		return "application/xml"
	}
	return "application/octet-stream"
}

// formEscapeName escapes a name or filename in a Content-Disposition as
// browsers (and curl) do.
func formEscapeName(s string) string {
	return strings.NewReplacer(`"`, "%22", "\r", "%0D", "\n", "%0A").Replace(s)
}

// formBody lays out the parts; files are read when the body is sent, and
// their sizes make the Content-Length.
func (r *run) formBody() (*body, error) {
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	boundary := strings.Repeat("-", 24) + hex.EncodeToString(rnd[:])
	type piece struct {
		text []byte
		file string
		size int64
	}
	var pieces []piece
	var size int64
	add := func(b []byte) {
		pieces = append(pieces, piece{text: b})
		size += int64(len(b))
	}
	for _, f := range r.o.forms {
		var h bytes.Buffer
		fmt.Fprintf(&h, "--%s\r\nContent-Disposition: form-data; name=\"%s\"", boundary, formEscapeName(f.name))
		if f.upload || f.filename != "" {
			fmt.Fprintf(&h, "; filename=\"%s\"", formEscapeName(f.filename))
		}
		h.WriteString("\r\n")
		ct := f.contentType
		if ct == "" && f.upload && !f.stdin {
			ct = contentTypeFor(f.filename)
		}
		if ct != "" {
			fmt.Fprintf(&h, "Content-Type: %s\r\n", ct)
		}
		for _, x := range f.headers {
			fmt.Fprintf(&h, "%s\r\n", x)
		}
		h.WriteString("\r\n")
		add(h.Bytes())
		if f.file != "" {
			fi, err := os.Stat(f.file)
			if err != nil {
				return nil, fail(exitRead, "Failed to open/read local data from file/application: %v", err)
			}
			if !fi.Mode().IsRegular() {
				return nil, fail(exitRead, "-F %s: %s is not a regular file", f.name, f.file)
			}
			pieces = append(pieces, piece{file: f.file, size: fi.Size()})
			size += fi.Size()
		} else {
			add(f.value)
		}
		add([]byte("\r\n"))
	}
	add([]byte("--" + boundary + "--\r\n"))
	open := func() (io.ReadCloser, error) {
		var readers []io.Reader
		var files []*os.File
		for _, p := range pieces {
			if p.file == "" {
				readers = append(readers, bytes.NewReader(p.text))
				continue
			}
			f, err := os.Open(p.file)
			if err != nil {
				for _, f := range files {
					f.Close()
				}
				return nil, fail(exitRead, "Failed to open/read local data from file/application: %v", err)
			}
			files = append(files, f)
			readers = append(readers, &exactReader{r: f, n: p.size, name: p.file})
		}
		return &multiCloser{Reader: io.MultiReader(readers...), files: files}, nil
	}
	return &body{kind: bodyForm, contentType: "multipart/form-data; boundary=" + boundary, size: size, open: open}, nil
}

type multiCloser struct {
	io.Reader
	files []*os.File
}

func (m *multiCloser) Close() error {
	for _, f := range m.files {
		f.Close()
	}
	return nil
}

// exactReader reads exactly n bytes of a file whose size made the
// Content-Length; a file that shrank or grew since is a read error (26).
type exactReader struct {
	r    io.Reader
	n    int64
	name string
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.n {
		p = p[:e.n]
	}
	n, err := e.r.Read(p)
	e.n -= int64(n)
	if err == io.EOF && e.n > 0 {
		return n, fail(exitRead, "%s changed size while it was being sent", e.name)
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}
