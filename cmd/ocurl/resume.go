package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// -r asks for a byte range; -C N (or -C -, the size of the -o file)
// resumes a download: "Range: bytes=N-", the body appended to the file,
// and a server that does not answer 206 from N is an error (33), as in
// curl. A 416 on resume means the file is complete already: nothing is
// written, no error.

// resumeOffset is where -C starts for this transfer.
func (r *run) resumeOffset(path string) int64 {
	switch {
	case r.o.continueAt > 0:
		return r.o.continueAt
	case r.o.continueAt < 0 && path != "":
		if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
			return fi.Size()
		}
	}
	return 0
}

func (r *run) rangeHeader(x *transfer) string {
	switch {
	case r.o.rangeSpec != "":
		return "bytes=" + r.o.rangeSpec
	case x.resumeFrom > 0:
		return fmt.Sprintf("bytes=%d-", x.resumeFrom)
	}
	return ""
}

// checkResume refuses an answer that does not continue where -C asked;
// skip reports a 416 (nothing left to fetch).
func checkResume(from int64, h *head) (skip bool, err error) {
	if from <= 0 {
		return false, nil
	}
	switch h.status {
	case 416:
		return true, nil
	case 206:
		cr := h.get("Content-Range")
		rest, ok := strings.CutPrefix(strings.TrimSpace(cr), "bytes ")
		start, _, _ := strings.Cut(rest, "-")
		if n, err := strconv.ParseInt(strings.TrimSpace(start), 10, 64); ok && err == nil && n == from {
			return false, nil
		}
	}
	if h.status >= 300 {
		return false, nil // an error status is reported as such (-f), not as a range problem
	}
	return false, fail(exitRange, "HTTP server doesn't seem to support byte ranges. Cannot resume.")
}

// parseContinueAt reads -C: a byte offset, or '-' for the output file's size.
func parseContinueAt(v string) (int64, error) {
	if v == "-" {
		return -1, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("expected a proper numerical parameter")
	}
	return n, nil
}
