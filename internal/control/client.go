package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
)

// ErrNoSocket means the control socket is not there: this is no minikit
// system, or init has not served it yet.
var ErrNoSocket = errors.New("init's control socket is missing")

// APIError is a 4xx or 5xx answer of the API.
type APIError struct {
	Code int   // the HTTP status
	Body Error // what the API said
}

func (e *APIError) Error() string { return e.Body.Error }

// NotFound reports whether err is the API's "no such service" (404).
func NotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Code == 404
}

// Client talks to init's control API over its unix socket, one
// connection a request.
type Client struct {
	Socket string
}

// NewClient returns a client of the API served on socket.
func NewClient(socket string) *Client {
	return &Client{Socket: socket}
}

// Services lists every service.
func (c *Client) Services(ctx context.Context) ([]Service, error) {
	var list []Service
	return list, c.do(ctx, "GET", PathServices, &list)
}

// Service returns one service's state.
func (c *Client) Service(ctx context.Context, name string) (Service, error) {
	var s Service
	return s, c.do(ctx, "GET", PathServices+"/"+escape(name), &s)
}

// Act starts, stops or restarts a service and returns its state after.
func (c *Client) Act(ctx context.Context, name, action string) (Service, error) {
	var s Service
	return s, c.do(ctx, "POST", PathServices+"/"+escape(name)+"/"+escape(action), &s)
}

// Analyze returns the boot timeline.
func (c *Client) Analyze(ctx context.Context) (Analysis, error) {
	var a Analysis
	return a, c.do(ctx, "GET", PathAnalyze, &a)
}

// Metrics returns what the system's metrics are made of.
func (c *Client) Metrics(ctx context.Context) (Metrics, error) {
	var m Metrics
	return m, c.do(ctx, "GET", PathMetrics, &m)
}

// Power asks for "poweroff" or "reboot".
func (c *Client) Power(ctx context.Context, action string) error {
	return c.do(ctx, "POST", "/v1/"+action, nil)
}

// Logs calls fn with the last n lines of name's log (all the ring holds
// when n < 0) and, when follow is set, with every later line until ctx
// ends or fn returns an error.
func (c *Client) Logs(ctx context.Context, name string, n int, follow bool, fn func(LogLine) error) error {
	q := "?lines=" + strconv.Itoa(n)
	if follow {
		q += "&follow=true"
	}
	body, err := c.request(ctx, "GET", "/v1/logs/"+escape(name)+q, nil)
	if err != nil {
		return err
	}
	defer body.Close()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l LogLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("logs of %s: %w", name, err)
		}
		if err := fn(l); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("logs of %s: %w", name, err)
	}
	return nil
}

// Upload POSTs what it reads from body to path, chunked, since its
// length is not known before the end (svcctl reading stdin), and decodes
// the answer into v (nil: drops it). An answer that comes before the
// whole body was sent, a refusal, is returned as the API's error, not as
// the broken pipe the send ends with.
func (c *Client) Upload(ctx context.Context, path string, body io.Reader, v any) error {
	return c.doBody(ctx, "POST", path, body, v)
}

func (c *Client) do(ctx context.Context, method, path string, v any) error {
	return c.doBody(ctx, method, path, nil, v)
}

func (c *Client) doBody(ctx context.Context, method, path string, send io.Reader, v any) error {
	body, err := c.request(ctx, method, path, send)
	if err != nil {
		return err
	}
	defer body.Close()
	if v == nil {
		_, _ = io.Copy(io.Discard, body)
		return nil
	}
	if err := json.NewDecoder(body).Decode(v); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fmt.Errorf("%s %s: bad answer: %w", method, path, err)
	}
	return nil
}

// request sends a request, with send as its body when not nil, and
// returns the body of a 2xx answer, or the API's error.
func (c *Client) request(ctx context.Context, method, path string, send io.Reader) (io.ReadCloser, error) {
	if _, err := os.Stat(c.Socket); err != nil {
		return nil, fmt.Errorf("%w: %s (is this a minikit system, is the socket bound into this container, and are you root?)", ErrNoSocket, c.Socket)
	}
	fail := func(err error) (io.ReadCloser, error) {
		if ctx.Err() != nil {
			err = ctx.Err() // the connection was closed because of it
		}
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.Socket)
	if err != nil {
		return fail(err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	closeConn := func() error {
		stop()
		return conn.Close()
	}
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: init\r\nConnection: close\r\n", method, path)
	if send != nil {
		head += "Transfer-Encoding: chunked\r\n"
	}
	if _, err := io.WriteString(conn, head+"\r\n"); err != nil {
		closeConn()
		return fail(err)
	}
	// The body is sent while the answer is awaited: the server may
	// answer before it read it all (a refusal), and closes then.
	sent := make(chan error, 1)
	var local atomic.Pointer[localError]
	if send != nil {
		go func() { sent <- sendChunked(conn, send, &local) }()
	} else {
		sent <- nil
	}
	resp, err := readResponse(bufio.NewReader(conn))
	if err != nil {
		closeConn()
		if le := local.Load(); le != nil {
			err = le
		}
		return fail(err)
	}
	if resp.code < 400 {
		// A success comes once the server read the whole body (an
		// endpoint that takes one reads it before it answers), so the
		// send is over, or about to be.
		if err := <-sent; err != nil {
			closeConn()
			return fail(err)
		}
	}
	body := &responseBody{Reader: resp.body, close: closeConn}
	if resp.code < 400 {
		return body, nil
	}
	data, _ := io.ReadAll(io.LimitReader(body, 1<<20))
	body.Close()
	if le := local.Load(); le != nil {
		return fail(le) // the server's answer is to a body cut short
	}
	ae := &APIError{Code: resp.code}
	if json.Unmarshal(data, &ae.Body) != nil || ae.Body.Error == "" {
		ae.Body.Error = fmt.Sprintf("%s %s: %s: %s", method, path, resp.status, strings.TrimSpace(string(data)))
	}
	return nil, ae
}

// localError is a failure to read the body to send, rather than to send
// it.
type localError struct{ err error }

func (e *localError) Error() string { return "reading what to send: " + e.err.Error() }
func (e *localError) Unwrap() error { return e.err }

// sendChunked sends what it reads from r as a chunked body, a chunk for
// each read. When reading r fails, it ends the connection's sending side
// without the last chunk, so that the server sees a body cut short
// rather than waiting for more.
func sendChunked(conn net.Conn, r io.Reader, local *atomic.Pointer[localError]) error {
	w := bufio.NewWriterSize(conn, 64<<10)
	buf := make([]byte, 32<<10)
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			fmt.Fprintf(w, "%x\r\n", n)
			w.Write(buf[:n])
			if _, err := w.WriteString("\r\n"); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			w.WriteString("0\r\n\r\n")
			return w.Flush()
		}
		if rerr != nil {
			// Said before the server can answer the body cut short.
			le := &localError{rerr}
			local.Store(le)
			if err := w.Flush(); err != nil {
				return err
			}
			if cw, ok := conn.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
			return le
		}
	}
}

// responseBody is an answer's body, whose Close closes its connection.
type responseBody struct {
	io.Reader
	close func() error
}

func (b *responseBody) Close() error { return b.close() }

// response is an answer as the client read it.
type response struct {
	code   int
	status string // "404 Not Found"
	body   io.Reader
}

// readResponse reads an answer's status line and headers from r; its
// body is read from r as its headers say: chunked, of a length, or up to
// the end of the connection.
func readResponse(r *bufio.Reader) (*response, error) {
	line := func() (string, error) {
		s, err := r.ReadString('\n')
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		return strings.TrimRight(s, "\r\n"), nil
	}
	first, err := line()
	if err != nil {
		return nil, err
	}
	proto, status, _ := strings.Cut(first, " ")
	codeText, _, _ := strings.Cut(status, " ")
	code, err := strconv.Atoi(codeText)
	if !strings.HasPrefix(proto, "HTTP/1.") || err != nil {
		return nil, fmt.Errorf("not an HTTP/1 answer: %q", first)
	}
	resp := &response{code: code, status: status, body: r}
	for {
		h, err := line()
		if err != nil {
			return nil, err
		}
		if h == "" {
			return resp, nil
		}
		k, v, _ := strings.Cut(h, ":")
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "content-length":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("bad Content-Length %q", v)
			}
			resp.body = io.LimitReader(r, n)
		case "transfer-encoding":
			if strings.EqualFold(v, "chunked") {
				resp.body = &chunkedReader{r: r}
			}
		}
	}
}

// chunkedReader reads a chunked body.
type chunkedReader struct {
	r    *bufio.Reader
	left int64 // of the current chunk
	done bool
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.done {
		return 0, io.EOF
	}
	if c.left == 0 {
		size, err := c.r.ReadString('\n')
		if err != nil {
			return 0, unexpected(err)
		}
		size, _, _ = strings.Cut(strings.TrimRight(size, "\r\n"), ";")
		n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad chunk size %q", size)
		}
		if n == 0 {
			c.done = true
			return 0, io.EOF
		}
		c.left = n
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left == 0 && err == nil {
		// The CRLF after the chunk's data.
		if _, err := c.r.Discard(2); err != nil {
			return n, unexpected(err)
		}
	}
	return n, unexpected(err)
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// escape escapes a path segment: everything but unreserved characters.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
