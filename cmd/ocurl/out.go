package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync"
)

// output is where one transfer's body (and with -i its heads) goes:
// stdout, or a file opened at the first byte (outputFile: no partial
// regular file on failure, devices and FIFOs written in place).
type output struct {
	r      *run
	x      *transfer
	path   string // "" for stdout
	dash   bool   // -o - : stdout on purpose (binary to a terminal allowed)
	file   *outputFile
	opened bool
	err    error // the first write error
	name   string

	appendMode bool // -C: append to the file in place
}

func (r *run) newOutput(x *transfer) (*output, error) {
	o := &output{r: r, x: x}
	spec := x.spec
	switch {
	case spec.outputSet && !spec.remoteName && spec.output == "-":
		o.dash = true
	case spec.outputSet && !spec.remoteName:
		o.path = spec.output
	case spec.remoteName || (r.o.remoteNameAll && !spec.outputSet):
		name, err := remoteName(x.url)
		if err != nil {
			return nil, err
		}
		o.path = name
	}
	if o.path != "" && r.o.outputDir != "" {
		o.path = strings.TrimSuffix(r.o.outputDir, "/") + "/" + o.path // prepended even to an absolute name, as curl does
	}
	o.name = o.path
	return o, nil
}

// useHeaderName applies -J: the Content-Disposition filename of the final
// response, without any directory part, replaces -O's name; an existing
// file is not overwritten (exit 23), as curl refuses to.
func (o *output) useHeaderName(h *head) error {
	if !o.r.o.remoteHeader || !o.x.spec.remoteName && !o.r.o.remoteNameAll {
		return nil
	}
	name := dispositionName(h.get("Content-Disposition"))
	if name == "" {
		return nil
	}
	if o.r.o.outputDir != "" {
		name = strings.TrimSuffix(o.r.o.outputDir, "/") + "/" + name
	}
	if _, err := os.Lstat(name); err == nil {
		o.err = fail(exitWrite, "Refusing to overwrite %s: File exists", name)
		return o.err
	}
	o.path, o.name = name, name
	return nil
}

// dispositionName is the filename parameter of a Content-Disposition
// (quoted or not), reduced to its last path element; "" if none.
func dispositionName(cd string) string {
	for _, p := range strings.Split(cd, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "filename") {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' {
			if end := strings.IndexByte(v[1:], '"'); end >= 0 {
				v = v[1 : 1+end]
			}
		}
		if i := strings.LastIndexAny(v, "/\\"); i >= 0 {
			v = v[i+1:]
		}
		if v == "." || v == ".." {
			return ""
		}
		return v
	}
	return ""
}

func (o *output) open() error {
	if o.opened {
		return o.err
	}
	o.opened = true
	if o.path == "" {
		return nil
	}
	if o.r.o.createDirs {
		if err := createDirs(o.path); err != nil {
			o.err = fail(exitWrite, "Failed to create the directories for %s: %v", o.path, err)
			return o.err
		}
	}
	var f *outputFile
	var err error
	if o.appendMode {
		var af *os.File
		if af, err = os.OpenFile(o.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666); err == nil {
			f = &outputFile{File: af}
		}
	} else {
		f, err = openOutput(o.path)
	}
	if err != nil {
		o.err = fail(exitWrite, "Failed to open the file %s: %v", o.path, err)
		return o.err
	}
	o.file = f
	return nil
}

func (o *output) write(p []byte) error {
	if err := o.open(); err != nil {
		return err
	}
	var err error
	if o.file != nil {
		_, err = o.file.Write(p)
	} else {
		o.r.stdoutMu.Lock()
		_, err = o.r.stdout.Write(p)
		o.r.stdoutMu.Unlock()
	}
	if err != nil {
		o.err = fail(exitWrite, "Failure writing output to destination: %v", err)
		return o.err
	}
	return nil
}

// writeHead writes a response head (-i, -I); a failure shows at the body
// or the commit.
func (o *output) writeHead(raw []byte) {
	if o.err == nil {
		o.write(raw)
	}
}

// writeBody writes part of the body. Binary data (a NUL byte) is not
// written to a terminal unless asked for with -o -, as curl refuses it.
func (o *output) writeBody(p []byte) error {
	if o.err != nil {
		return o.err
	}
	if o.path == "" && !o.dash && o.r.stdoutTTY && bytes.IndexByte(p, 0) >= 0 {
		o.err = fail(exitWrite, "Binary output can mess up your terminal; nothing more is written").
			withHint(`use "--output -" to write it to the terminal anyway, or "--output FILE" to save it to a file`)
		return o.err
	}
	return o.write(p)
}

// reset empties what a failed attempt wrote to a file before a retry;
// stdout cannot be taken back.
func (o *output) reset() error {
	o.err = nil
	if o.file == nil || o.file.final == "" {
		return nil
	}
	if _, err := o.file.Seek(0, io.SeekStart); err != nil {
		return fail(exitWrite, "Failed to truncate the output for a retry: %v", err)
	}
	if err := o.file.Truncate(0); err != nil {
		return fail(exitWrite, "Failed to truncate the output for a retry: %v", err)
	}
	return nil
}

// commit ends a transfer that succeeded: the file is made whole (an empty
// body still makes an empty file).
func (o *output) commit() error {
	if err := o.open(); err != nil {
		if o.file != nil {
			o.file.Abort()
		}
		return err
	}
	if o.file == nil {
		return nil
	}
	if o.err != nil {
		o.file.Abort()
		return o.err
	}
	if err := o.file.Commit(); err != nil {
		return fail(exitWrite, "Failure writing output to destination: %v", err)
	}
	return nil
}

// abort ends a transfer that failed: a temporary file goes.
func (o *output) abort() {
	if o.file != nil {
		o.file.Abort()
		o.file = nil
	}
}

// headerDump is -D: the response heads, as received, to a file or stdout.
type headerDump struct {
	mu  sync.Mutex
	w   io.Writer
	f   *os.File
	err error
}

// newHeaderDump opens -D's file once per run; every transfer appends.
func (r *run) newHeaderDump() (*headerDump, error) {
	r.dumpOnce.Do(func() {
		switch r.o.dumpHeader {
		case "":
			r.dump = &headerDump{}
		case "-":
			r.dump = &headerDump{w: &lockedStdout{r}}
		default:
			if r.o.createDirs {
				createDirs(r.o.dumpHeader)
			}
			f, err := os.OpenFile(r.o.dumpHeader, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
			if err != nil {
				r.dumpErr = fail(exitWrite, "Failed to open %s: %v", r.o.dumpHeader, err)
				return
			}
			r.dump = &headerDump{w: f, f: f}
		}
	})
	return r.dump, r.dumpErr
}

func (h *headerDump) write(p []byte) {
	if h == nil || h.w == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == nil {
		_, h.err = h.w.Write(p)
	}
}

func (r *run) closeHeaderDump() error {
	if r.dump != nil && r.dump.f != nil {
		err := r.dump.f.Close()
		if r.dump.err != nil {
			err = r.dump.err
		}
		if err != nil {
			return fail(exitWrite, "Failure writing headers to %s: %v", r.o.dumpHeader, err)
		}
	}
	return nil
}

type lockedStdout struct{ r *run }

func (l *lockedStdout) Write(p []byte) (int, error) {
	l.r.stdoutMu.Lock()
	defer l.r.stdoutMu.Unlock()
	return l.r.stdout.Write(p)
}
