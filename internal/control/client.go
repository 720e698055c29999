package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
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
	return errors.As(err, &ae) && ae.Code == http.StatusNotFound
}

// Client talks to init's control API over its unix socket.
type Client struct {
	Socket string
	hc     *http.Client
}

// NewClient returns a client of the API served on socket.
func NewClient(socket string) *Client {
	return &Client{
		Socket: socket,
		hc: &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", socket)
			},
		}},
	}
}

// Services lists every service.
func (c *Client) Services(ctx context.Context) ([]Service, error) {
	var list []Service
	return list, c.do(ctx, http.MethodGet, PathServices, &list)
}

// Service returns one service's state.
func (c *Client) Service(ctx context.Context, name string) (Service, error) {
	var s Service
	return s, c.do(ctx, http.MethodGet, PathServices+"/"+url.PathEscape(name), &s)
}

// Act starts, stops or restarts a service and returns its state after.
func (c *Client) Act(ctx context.Context, name, action string) (Service, error) {
	var s Service
	return s, c.do(ctx, http.MethodPost, PathServices+"/"+url.PathEscape(name)+"/"+url.PathEscape(action), &s)
}

// Analyze returns the boot timeline.
func (c *Client) Analyze(ctx context.Context) (Analysis, error) {
	var a Analysis
	return a, c.do(ctx, http.MethodGet, PathAnalyze, &a)
}

// Metrics copies the system's metrics, in Prometheus' text format, to w.
func (c *Client) Metrics(ctx context.Context, w io.Writer) error {
	resp, err := c.request(ctx, http.MethodGet, PathMetrics)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("GET %s: %w", PathMetrics, err)
	}
	return nil
}

// Power asks for "poweroff" or "reboot".
func (c *Client) Power(ctx context.Context, action string) error {
	return c.do(ctx, http.MethodPost, "/v1/"+action, nil)
}

// Logs calls fn with the last n lines of name's log (all the ring holds
// when n < 0) and, when follow is set, with every later line until ctx
// ends or fn returns an error.
func (c *Client) Logs(ctx context.Context, name string, n int, follow bool, fn func(LogLine) error) error {
	q := url.Values{"lines": {strconv.Itoa(n)}}
	if follow {
		q.Set("follow", "true")
	}
	resp, err := c.request(ctx, http.MethodGet, "/v1/logs/"+url.PathEscape(name)+"?"+q.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
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

func (c *Client) do(ctx context.Context, method, path string, v any) error {
	resp, err := c.request(ctx, method, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if v == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("%s %s: bad answer: %w", method, path, err)
	}
	return nil
}

// request sends a request and returns a 2xx answer, or the API's error.
func (c *Client) request(ctx context.Context, method, path string) (*http.Response, error) {
	if _, err := os.Stat(c.Socket); err != nil {
		return nil, fmt.Errorf("%w: %s (is this a minikit system, is the socket bound into this container, and are you root?)", ErrNoSocket, c.Socket)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://init"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode < 400 {
		return resp, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	ae := &APIError{Code: resp.StatusCode}
	if json.Unmarshal(body, &ae.Body) != nil || ae.Body.Error == "" {
		ae.Body.Error = fmt.Sprintf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil, ae
}
