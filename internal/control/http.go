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
// hand: requests with bodies of a length or chunked (streamed to the
// endpoints that take one, body.go), answers with a length or chunked
// (logs that follow), keep-alive, Expect: 100-continue. net/http would do
// it all, but it brings TLS, HTTP/2 and x509 with it, which were more
// than a third of init's binary and paid again at every container start
// (libcontainer runs init's binary for each). curl --unix-socket, svcctl
// and any HTTP/1.1 client talk to it as before.
//
// Any process that may connect to the socket reaches this parser before
// anything checks who it is, so every part of a request is bounded: the
// request line and headers in bytes and lines, a body in bytes unless an
// endpoint streams it (and then only once the caller was authorised),
// chunk size lines and trailers, and each read in time (limits.go).

// Bounds of a request.
const (
	maxHeaderBytes = 8 << 10  // request line and headers
	maxHeaderLines = 64       // headers
	maxBodyBytes   = 64 << 10 // a body an endpoint does not take is skipped up to this size
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
	length   int64             // of the body as announced: 0 none, -1 chunked
	expect   bool              // the caller waits for 100 Continue to send its body
	// body is the request's body, nil when it has none. An endpoint
	// registered with handleBody reads it; it is skipped for any other.
	body *body
	// skipBody reads and drops the body, for an endpoint that takes none.
	skipBody func() error
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
	if !isToken(method) {
		return nil, fmt.Errorf("bad method %q", method)
	}
	if strings.IndexFunc(target, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return nil, fmt.Errorf("bad target %q", target)
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

// isToken reports whether s is an HTTP token, as methods and header
// names are.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
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
	maxBody  int64 // the body it reads, at most; 0 when it takes none
}

// router finds the handler of a request, or fallback.
type router struct {
	routes   []route
	fallback handler
}

func (m *router) handle(method, pattern string, h handler) {
	m.handleBody(method, pattern, 0, h)
}

// handleBody adds an endpoint that reads the request's body, up to max
// bytes, from r.body as it arrives. It reads it before it answers, or
// the connection closes after the answer.
func (m *router) handleBody(method, pattern string, max int64, h handler) {
	m.routes = append(m.routes, route{method: method, segments: strings.Split(strings.TrimPrefix(pattern, "/"), "/"), handler: h, maxBody: max})
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
			if err := r.admitBody(rt.maxBody); err != nil {
				bodyError(w, err)
				return
			}
			rt.handler(w, r)
			return
		}
	}
	m.fallback(w, r)
}

// admitBody readies the request's body for an endpoint that takes max
// bytes of it: it refuses a larger one it announced, and skips one that
// the endpoint does not take. A caller that waits for 100 Continue is
// answered at once, without its body, and the connection closes after.
func (r *request) admitBody(max int64) error {
	b := r.body
	if b == nil {
		return nil
	}
	if max > 0 {
		if r.length > max {
			return errBodyTooLarge
		}
		b.max = max
		return nil
	}
	if r.length > maxBodyBytes {
		return errBodyTooLarge
	}
	if r.expect || r.skipBody == nil {
		return nil
	}
	return r.skipBody()
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
	if b := c.req.body; b != nil && !b.done {
		// The rest of the body would be read as the next request.
		c.close = true
	}
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

// readRequest reads a request line and headers from r; the body, if one
// is announced, is left for the endpoint to read or the server to skip.
// An io.EOF before the request line means the caller hung up between
// requests.
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
	if !ok1 || !ok2 || proto != "HTTP/1.1" && proto != "HTTP/1.0" {
		return nil, &errRequest{400, fmt.Sprintf("not an HTTP/1 request line: %q", first)}
	}
	req, err := newRequest(ctx, method, target)
	if err != nil {
		return nil, &errRequest{400, err.Error()}
	}
	req.close = proto == "HTTP/1.0"
	length, chunked := int64(-1), false
	for n := 0; ; n++ {
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
		if n == maxHeaderLines {
			return nil, &errRequest{431, "the request has too many headers"}
		}
		k, v, ok := strings.Cut(h, ":")
		if !ok || !isToken(k) { // a folded line starts with a space
			return nil, &errRequest{400, fmt.Sprintf("not a header: %q", h)}
		}
		v = strings.Trim(v, " \t")
		switch strings.ToLower(k) {
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
			n, err := strconv.ParseInt(v, 10, 63)
			if err != nil || n < 0 || v[0] == '+' || length >= 0 && n != length {
				// Two lengths that differ leave the body's end in doubt.
				return nil, &errRequest{400, fmt.Sprintf("bad Content-Length %q", v)}
			}
			length = n
		case "transfer-encoding":
			switch {
			case strings.EqualFold(v, "identity"):
			case strings.EqualFold(v, "chunked") && !chunked:
				chunked = true
			default:
				return nil, &errRequest{501, fmt.Sprintf("the API takes bodies chunked or of a length, not %q ones", v)}
			}
		case "expect":
			if !strings.EqualFold(v, "100-continue") {
				return nil, &errRequest{417, fmt.Sprintf("the API meets no expectation but 100-continue, not %q", v)}
			}
			req.expect = true
		}
	}
	switch {
	case chunked && length >= 0:
		// RFC 9112 lets the coding win; a server that no proxy stands
		// before has no need to guess where the body ends.
		return nil, &errRequest{400, "a request with both a Content-Length and a chunked body"}
	case chunked && proto == "HTTP/1.0":
		return nil, &errRequest{400, "a chunked body in an HTTP/1.0 request"}
	case chunked:
		req.length = -1
	case length > 0:
		req.length = length
	}
	if req.length == 0 {
		req.expect = false // nothing to wait for
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
	case 417:
		return "Expectation Failed"
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
