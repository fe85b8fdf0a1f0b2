package testserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Raw is an HTTP/1.1 server for tests that need exact bytes both ways,
// which Server's net/http cannot give: it records each request as it
// arrived (the head byte for byte, in the client's order and case) and
// answers with exactly the bytes a handler returns (malformed responses,
// folded lines, trailers, a 100 Continue or none, an early answer). It
// speaks plain TCP on 127.0.0.1.
type Raw struct {
	// Addr is 127.0.0.1:PORT; URL is http://Addr.
	Addr, URL string

	handle func(*RawRequest) RawReply
	ln     net.Listener
	wg     sync.WaitGroup

	mu     sync.Mutex
	reqs   []*RawRequest
	nconns int
	conns  map[net.Conn]struct{}
	closed bool
}

// RawRequest is one request as it arrived.
type RawRequest struct {
	// Head is the request line and the header lines with their line ends,
	// the blank line included.
	Head string
	// Body is the body (Content-Length, or chunked and decoded).
	Body []byte
	// Conn numbers the connection it came on, from 0.
	Conn int
	// Method and Target are from the request line.
	Method, Target string
}

// Header returns the first header field named name (any case), trimmed.
func (q *RawRequest) Header(name string) string {
	lines := strings.Split(q.Head, "\r\n")
	for _, line := range lines[1:] {
		n, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(n, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// RawReply is what Raw sends for one request.
type RawReply struct {
	// Continue100 sends "HTTP/1.1 100 Continue" before reading a body the
	// request announced with "Expect: 100-continue".
	Continue100 bool
	// Data is the response, byte for byte.
	Data string
	// Close closes the connection after Data.
	Close bool
	// Early answers before reading the body, then closes.
	Early bool
}

// Reply is a 200 response with a Content-Length body.
func Reply(body string) RawReply {
	return RawReply{Data: "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body}
}

// maxRawHead and maxRawBody bound what Raw reads of one request.
const (
	maxRawHead = 1 << 20
	maxRawBody = 64 << 20
)

// StartRaw starts a Raw server for the test, calling handle for each
// request (from the connection's goroutine), and stops it at t.Cleanup.
func StartRaw(t testing.TB, handle func(*RawRequest) RawReply) *Raw {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	s := &Raw{Addr: ln.Addr().String(), handle: handle, ln: ln, conns: make(map[net.Conn]struct{})}
	s.URL = "http://" + s.Addr
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

// Requests returns the requests so far, oldest first.
func (s *Raw) Requests() []*RawRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*RawRequest(nil), s.reqs...)
}

// Last returns the latest request (nil if none).
func (s *Raw) Last() *RawRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) == 0 {
		return nil
	}
	return s.reqs[len(s.reqs)-1]
}

// Connections counts the connections accepted so far.
func (s *Raw) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nconns
}

// Close stops the server, closes every connection and waits for them.
func (s *Raw) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

func (s *Raw) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		id := s.nconns
		s.nconns++
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.serveConn(c, id)
		}()
	}
}

func (s *Raw) record(q *RawRequest) {
	s.mu.Lock()
	s.reqs = append(s.reqs, q)
	s.mu.Unlock()
}

func (s *Raw) serveConn(c net.Conn, id int) {
	br := bufio.NewReader(c)
	for {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		head, err := readRawHead(br)
		if err != nil {
			return
		}
		q := &RawRequest{Head: head, Conn: id}
		first, _, _ := strings.Cut(head, "\r\n")
		if parts := strings.Fields(first); len(parts) >= 2 {
			q.Method, q.Target = parts[0], parts[1]
		}
		reply := s.handle(q)
		if reply.Early {
			s.record(q)
			io.WriteString(c, reply.Data)
			if cw, ok := c.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			io.Copy(io.Discard, br) // what the client still sends, so the close is no reset
			return
		}
		if reply.Continue100 && strings.EqualFold(q.Header("Expect"), "100-continue") {
			io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n")
		}
		if q.Body, err = readRawBody(br, q); err != nil {
			return
		}
		s.record(q)
		if _, err := io.WriteString(c, reply.Data); err != nil || reply.Close {
			return
		}
	}
}

// readRawHead reads up to the blank line (CRLF or bare LF).
func readRawHead(br *bufio.Reader) (string, error) {
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		head.WriteString(line)
		if err != nil {
			return "", err
		}
		if head.Len() > maxRawHead {
			return "", errors.New("testserver: request head too large")
		}
		if line == "\r\n" || line == "\n" {
			return head.String(), nil
		}
	}
}

// readRawBody reads a Content-Length or chunked body (trailers dropped).
func readRawBody(br *bufio.Reader, q *RawRequest) ([]byte, error) {
	if v := q.Header("Content-Length"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > maxRawBody {
			return nil, fmt.Errorf("testserver: Content-Length %q", v)
		}
		b := make([]byte, n)
		_, err = io.ReadFull(br, b)
		return b, err
	}
	if !strings.EqualFold(q.Header("Transfer-Encoding"), "chunked") {
		return nil, nil
	}
	var body []byte
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, _, _ := strings.Cut(strings.TrimSpace(line), ";")
		n, err := strconv.ParseInt(size, 16, 64)
		if err != nil || n < 0 || int64(len(body))+n > maxRawBody {
			return nil, fmt.Errorf("testserver: chunk size %q", line)
		}
		if n == 0 {
			for { // trailers, up to the blank line
				t, err := br.ReadString('\n')
				if err != nil {
					return nil, err
				}
				if t == "\r\n" || t == "\n" {
					return body, nil
				}
			}
		}
		chunk := make([]byte, n)
		if _, err := io.ReadFull(br, chunk); err != nil {
			return nil, err
		}
		body = append(body, chunk...)
		if crlf, err := br.ReadString('\n'); err != nil || strings.TrimSpace(crlf) != "" {
			return nil, fmt.Errorf("testserver: no CRLF after a chunk")
		}
	}
}
