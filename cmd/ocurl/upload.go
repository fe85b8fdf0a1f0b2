package main

import (
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// -T FILE uploads the file with a PUT, its size as Content-Length; -T -
// streams stdin chunked. As curl does, a URL ending in '/' gets the file's
// name appended, and the request asks "Expect: 100-continue" first.

// uploadURL appends the upload's file name to a URL that has none.
func uploadURL(u *url.URL, file string) *url.URL {
	if file == "" || file == "-" || !strings.HasSuffix(u.Path, "/") {
		return u
	}
	c := *u
	c.Path += filepath.Base(file)
	c.RawPath = ""
	return &c
}

func (r *run) uploadBody(file string) (*body, error) {
	if file == "-" {
		return &body{kind: bodyUpload, size: -1, once: true,
			open: func() (io.ReadCloser, error) { return io.NopCloser(r.iv.stdin), nil }}, nil
	}
	fi, err := os.Stat(file)
	if err != nil {
		return nil, fail(exitRead, "Failed to open/read local data from file/application: %v", err)
	}
	if fi.IsDir() {
		return nil, fail(exitRead, "Failed to open/read local data from file/application: %s is a directory", file)
	}
	size := int64(-1)
	if fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return &body{kind: bodyUpload, size: size, once: size < 0, open: func() (io.ReadCloser, error) {
		f, err := os.Open(file)
		if err != nil {
			return nil, fail(exitRead, "Failed to open/read local data from file/application: %v", err)
		}
		if size < 0 {
			return f, nil
		}
		return &fileCloser{exactReader{r: f, n: size, name: file}, f}, nil
	}}, nil
}

type fileCloser struct {
	exactReader
	f *os.File
}

func (f *fileCloser) Close() error { return f.f.Close() }
