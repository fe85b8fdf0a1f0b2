package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// rawServer is a TCP server that answers HTTP/1.1 requests with exactly
// the bytes a test gives, so tests see what ocurl sends and control every
// byte it receives.
type rawServer struct {
	addr string
	l    net.Listener

	mu    sync.Mutex
	reqs  []*rawRequest
	conns int
}

// rawRequest is one request as received.
type rawRequest struct {
	head   string // request line and header lines, CRLF-terminated, blank line included
	body   []byte
	conn   int // which connection (0-based)
	method string
	target string
}

func (q *rawRequest) header(name string) string {
	for _, line := range strings.Split(q.head, "\r\n")[1:] {
		n, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(n, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// rawReply is what the server sends for one request.
type rawReply struct {
	continue100 bool   // send "100 Continue" before reading the body
	data        string // the response bytes
	close       bool   // close the connection after it
	early       bool   // answer before reading the body, then close
}

// newRawServer starts a server; handle is called for each request.
func newRawServer(t *testing.T, handle func(q *rawRequest) rawReply) *rawServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{addr: l.Addr().String(), l: l}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			id := s.conns
			s.conns++
			s.mu.Unlock()
			wg.Go(func() { s.serve(c, id, handle) })
		}
	})
	t.Cleanup(func() { l.Close() })
	return s
}

func (s *rawServer) serve(c net.Conn, id int, handle func(q *rawRequest) rawReply) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		var head strings.Builder
		for {
			line, err := br.ReadString('\n')
			head.WriteString(line)
			if err != nil {
				return
			}
			if line == "\r\n" || line == "\n" {
				break
			}
		}
		q := &rawRequest{head: head.String(), conn: id}
		first, _, _ := strings.Cut(q.head, "\r\n")
		parts := strings.Fields(first)
		if len(parts) >= 2 {
			q.method, q.target = parts[0], parts[1]
		}
		reply := handle(q)
		if reply.early {
			s.mu.Lock()
			s.reqs = append(s.reqs, q)
			s.mu.Unlock()
			io.WriteString(c, reply.data)
			return
		}
		if reply.continue100 && strings.EqualFold(q.header("Expect"), "100-continue") {
			io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n")
		}
		if n, err := strconv.Atoi(q.header("Content-Length")); err == nil {
			q.body = make([]byte, n)
			if _, err := io.ReadFull(br, q.body); err != nil {
				return
			}
		} else if strings.EqualFold(q.header("Transfer-Encoding"), "chunked") {
			b, err := io.ReadAll(&chunkedReader{br: br})
			if err != nil {
				return
			}
			q.body = b
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, q)
		s.mu.Unlock()
		if _, err := io.WriteString(c, reply.data); err != nil || reply.close {
			return
		}
	}
}

func (s *rawServer) requests() []*rawRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*rawRequest(nil), s.reqs...)
}

func (s *rawServer) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// reply is a 200 response with a Content-Length body.
func reply(body string) rawReply {
	return rawReply{data: "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body}
}

// ocurlIn runs ocurl with stdin and an environment of its own.
func ocurlIn(stdin string, env map[string]string, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	iv := &invocation{stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr,
		getenv: func(k string) string { return env[k] }}
	code := iv.main(args)
	return code, stdout.String(), stderr.String()
}

// writeFile writes a file in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
