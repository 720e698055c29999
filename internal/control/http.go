package control

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path"
	"strconv"
	"strings"
	"time"
)

// The API speaks the part of HTTP/1.1 it needs, over a unix socket, by
// hand: requests without bodies, answers with a length or chunked (logs
// that follow), keep-alive. net/http would do it all, but it brings TLS,
// HTTP/2 and x509 with it, which were more than a third of init's binary
// and paid again at every container start (libcontainer runs init's
// binary for each). curl --unix-socket, svcctl and any HTTP/1.1 client
// talk to it as before.

// Bounds of a request.
const (
	maxHeaderBytes = 8 << 10  // request line and headers
	maxBodyBytes   = 64 << 10 // a body is read and ignored up to this size
	bufferedAnswer = 4 << 10  // an answer this long is sent with its length
)

// request is one request, as the handlers see it.
type request struct {
	method   string
	rawPath  string // the path as sent, escaped
	path     string // the path, unescaped
	rawQuery string
	ctx      context.Context
	values   map[string]string // the path's {wildcards}
	close    bool              // the caller asked to close after the answer
	head     bool              // HEAD: the answer of GET, without its body
}

// pathValue is the value of the path's wildcard called name.
func (r *request) pathValue(name string) string { return r.values[name] }

// query is the first value of key in the query string ("" when none, or
// when the query cannot be read).
func (r *request) query(key string) string {
	for _, kv := range strings.Split(r.rawQuery, "&") {
		k, v, _ := strings.Cut(kv, "=")
		k, err1 := unescape(k, true)
		v, err2 := unescape(v, true)
		if err1 == nil && err2 == nil && k == key {
			return v
		}
	}
	return ""
}

// newRequest makes the request for method and target (the request
// line's second word) or says why it cannot.
func newRequest(ctx context.Context, method, target string) (*request, error) {
	if method == "" || strings.ContainsAny(method, " \t/") {
		return nil, fmt.Errorf("bad method %q", method)
	}
	if rest, ok := strings.CutPrefix(target, "http://"); ok {
		// The absolute form: the host is the socket's, whatever it says.
		_, p, found := strings.Cut(rest, "/")
		target = "/" + p
		if !found {
			target = "/"
		}
	}
	raw, query, _ := strings.Cut(target, "?")
	p, err := unescape(raw, false)
	if err != nil {
		return nil, fmt.Errorf("bad path %q", raw)
	}
	return &request{method: method, rawPath: raw, path: p, rawQuery: query, ctx: ctx, head: method == "HEAD"}, nil
}

// unescape decodes %XX escapes, and in a query '+' as a space.
func unescape(s string, query bool) (string, error) {
	if !strings.ContainsAny(s, "%+") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%':
			if i+2 >= len(s) {
				return "", errors.New("bad escape")
			}
			n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", errors.New("bad escape")
			}
			b.WriteByte(byte(n))
			i += 2
		case c == '+' && query:
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// route is one endpoint: a method and a path whose segments in braces
// match any one non-empty segment.
type route struct {
	method   string
	segments []string
	handler  handler
}

// router finds the handler of a request, or fallback.
type router struct {
	routes   []route
	fallback handler
}

func (m *router) handle(method, pattern string, h handler) {
	m.routes = append(m.routes, route{method: method, segments: strings.Split(strings.TrimPrefix(pattern, "/"), "/"), handler: h})
}

func (m *router) serve(w responseWriter, r *request) {
	segments := strings.Split(strings.TrimPrefix(r.rawPath, "/"), "/")
	method := r.method
	if method == "HEAD" {
		method = "GET"
	}
	for _, rt := range m.routes {
		if rt.method != method || len(rt.segments) != len(segments) {
			continue
		}
		values, ok := match(rt.segments, segments)
		if ok {
			r.values = values
			rt.handler(w, r)
			return
		}
	}
	m.fallback(w, r)
}

// match matches a route's segments against a request's escaped ones, and
// returns the wildcards' values, unescaped.
func match(pattern, segments []string) (map[string]string, bool) {
	values := map[string]string{}
	for i, p := range pattern {
		if name, ok := strings.CutPrefix(p, "{"); ok {
			v, err := unescape(segments[i], false)
			if err != nil || v == "" {
				return nil, false
			}
			values[strings.TrimSuffix(name, "}")] = v
			continue
		}
		if p != segments[i] {
			return nil, false
		}
	}
	return values, true
}

// handler answers a request.
type handler func(w responseWriter, r *request)

// responseWriter is where a handler writes its answer: headers, then the
// status, then the body.
type responseWriter interface {
	io.Writer
	// setHeader sets a header of the answer, before writeHeader.
	setHeader(key, value string)
	// writeHeader sends the status and the headers; Write calls it with
	// 200 when the handler did not.
	writeHeader(code int)
	// flush sends what was written so far.
	flush() error
	// setWriteDeadline bounds the writes from now on.
	setWriteDeadline(t time.Time) error
}

// connResponse writes an answer on a connection: with Content-Length
// when the handler ends before it wrote bufferedAnswer bytes and did not
// flush, chunked otherwise.
type connResponse struct {
	conn    net.Conn
	w       *bufio.Writer
	req     *request
	headers []string // "Key: value"
	code    int      // 0 until writeHeader
	sent    bool     // the status line and headers are out: chunked
	body    bytes.Buffer
	headLen int  // what a HEAD's body would have been
	close   bool // close the connection after the answer
	err     error
}

func (c *connResponse) setHeader(key, value string) {
	if strings.EqualFold(key, "Connection") && strings.EqualFold(value, "close") {
		c.close = true // even once the answer has begun: it ends the connection
	}
	if c.code != 0 {
		return
	}
	prefix := key + ":"
	for i, h := range c.headers {
		if strings.HasPrefix(h, prefix) {
			c.headers[i] = prefix + " " + value
			return
		}
	}
	c.headers = append(c.headers, prefix+" "+value)
}

func (c *connResponse) writeHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
}

func (c *connResponse) Write(p []byte) (int, error) {
	c.writeHeader(200)
	if c.err != nil {
		return 0, c.err
	}
	if c.req.head {
		c.headLen += len(p) // for its Content-Length
		return len(p), nil
	}
	if !c.sent {
		c.body.Write(p)
		if c.body.Len() >= bufferedAnswer {
			c.sendHead(-1)
			c.chunk(c.body.Bytes())
			c.body.Reset()
		}
		return len(p), c.err
	}
	c.chunk(p)
	return len(p), c.err
}

func (c *connResponse) flush() error {
	c.writeHeader(200)
	if !c.sent {
		c.sendHead(-1)
		if c.body.Len() > 0 {
			c.chunk(c.body.Bytes())
			c.body.Reset()
		}
	}
	if c.err == nil {
		c.err = c.w.Flush()
	}
	return c.err
}

func (c *connResponse) setWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

// sendHead writes the status line and headers: with a Content-Length of
// length, or chunked when length < 0.
func (c *connResponse) sendHead(length int) {
	c.sent = true
	fmt.Fprintf(c.w, "HTTP/1.1 %d %s\r\n", c.code, statusText(c.code))
	for _, h := range c.headers {
		c.w.WriteString(h + "\r\n")
	}
	if length >= 0 {
		fmt.Fprintf(c.w, "Content-Length: %d\r\n", length)
	} else if !c.req.head {
		c.w.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if c.close && !c.hasHeader("Connection") {
		c.w.WriteString("Connection: close\r\n")
	}
	c.w.WriteString("\r\n")
}

func (c *connResponse) hasHeader(key string) bool {
	for _, h := range c.headers {
		if strings.HasPrefix(h, key+":") {
			return true
		}
	}
	return false
}

func (c *connResponse) chunk(p []byte) {
	if len(p) == 0 || c.err != nil {
		return
	}
	fmt.Fprintf(c.w, "%x\r\n", len(p))
	c.w.Write(p)
	_, c.err = c.w.WriteString("\r\n")
}

// finish ends the answer; the connection can take another request when
// it returns nil and the answer did not ask to close.
func (c *connResponse) finish() error {
	c.writeHeader(200)
	if !c.sent && c.req.head {
		c.sendHead(c.headLen)
	} else if !c.sent {
		c.sendHead(c.body.Len())
		c.w.Write(c.body.Bytes())
	} else if !c.req.head && c.err == nil {
		c.w.WriteString("0\r\n\r\n")
	}
	if c.err == nil {
		c.err = c.w.Flush()
	}
	return c.err
}

// errRequest is a request the server cannot take: it answers code and
// closes the connection.
type errRequest struct {
	code int
	msg  string
}

func (e *errRequest) Error() string { return e.msg }

// readRequest reads a request line and headers from r, and the body if
// one is announced (which no endpoint reads). An io.EOF before the
// request line means the caller hung up between requests.
func readRequest(ctx context.Context, r *bufio.Reader) (*request, error) {
	budget := maxHeaderBytes
	line := func() (string, error) {
		var b []byte
		for {
			frag, err := r.ReadSlice('\n')
			b = append(b, frag...)
			if len(b) > budget {
				return "", &errRequest{431, "the request's headers are too long"}
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil {
				if len(b) > 0 && err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return "", err
			}
			budget -= len(b)
			return strings.TrimRight(string(b), "\r\n"), nil
		}
	}
	first, err := line()
	for err == nil && first == "" { // blank lines before a request are allowed
		first, err = line()
	}
	if err != nil {
		return nil, err
	}
	method, rest, ok1 := strings.Cut(first, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !strings.HasPrefix(proto, "HTTP/1.") {
		return nil, &errRequest{400, fmt.Sprintf("not an HTTP/1 request line: %q", first)}
	}
	req, err := newRequest(ctx, method, target)
	if err != nil {
		return nil, &errRequest{400, err.Error()}
	}
	req.close = proto == "HTTP/1.0"
	length := 0
	for {
		h, err := line()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if h == "" {
			break
		}
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			return nil, &errRequest{400, fmt.Sprintf("not a header: %q", h)}
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "connection":
			for _, t := range strings.Split(v, ",") {
				switch strings.ToLower(strings.TrimSpace(t)) {
				case "close":
					req.close = true
				case "keep-alive":
					req.close = false
				}
			}
		case "content-length":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, &errRequest{400, fmt.Sprintf("bad Content-Length %q", v)}
			}
			length = n
		case "transfer-encoding":
			if !strings.EqualFold(v, "identity") {
				return nil, &errRequest{501, "the API takes no request bodies, let alone " + v + " ones"}
			}
		case "expect":
			// Nothing here reads a body, so none is asked for: the
			// answer comes at once, and the connection closes after it.
			req.close = true
		}
	}
	if length > maxBodyBytes {
		return nil, &errRequest{413, "the API takes no request bodies"}
	}
	if length > 0 {
		if req.close {
			return req, nil // the body is left unread; the connection closes after
		}
		if _, err := io.CopyN(io.Discard, r, int64(length)); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// cleanPath reports whether p is a path in its clean form: no dot
// segments, no doubled or trailing slashes.
func cleanPath(p string) bool {
	return strings.HasPrefix(p, "/") && path.Clean(p) == p
}

// statusText is the reason phrase of the codes the API answers with.
func statusText(code int) string {
	switch code {
	case 200:
		return "OK"
	case 202:
		return "Accepted"
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 409:
		return "Conflict"
	case 413:
		return "Request Entity Too Large"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 503:
		return "Service Unavailable"
	}
	return "Status " + strconv.Itoa(code)
}
