package control

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// UpdateStatus describes the system's slots.
func (c *Client) UpdateStatus(ctx context.Context) (UpdateStatus, error) {
	var st UpdateStatus
	return st, c.do(ctx, http.MethodGet, PathUpdate, &st)
}

// Update sends the bundle read from body, and asks for a reboot into it
// once it is written when reboot is set.
func (c *Client) Update(ctx context.Context, body io.Reader, reboot bool) (UpdateResult, error) {
	return c.post(ctx, PathUpdate+"?reboot="+strconv.FormatBool(reboot), body)
}

// Rollback switches the slot the next boot runs, and reboots at once when
// reboot is set.
func (c *Client) Rollback(ctx context.Context, reboot bool) (UpdateResult, error) {
	return c.post(ctx, PathRollback+"?reboot="+strconv.FormatBool(reboot), nil)
}

// post sends a POST with body (streamed, of unknown length) and reads an
// UpdateResult, or the API's error.
func (c *Client) post(ctx context.Context, path string, body io.Reader) (UpdateResult, error) {
	var res UpdateResult
	if _, err := os.Stat(c.Socket); err != nil {
		return res, fmt.Errorf("%w: %s (is this a minikit system, is the socket bound into this container, and are you root?)", ErrNoSocket, c.Socket)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://init"+path, body)
	if err != nil {
		return res, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.hc.Do(req)
	if err != nil {
		return res, fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 400 {
		ae := &APIError{Code: resp.StatusCode}
		if json.Unmarshal(data, &ae.Body) != nil || ae.Body.Error == "" {
			ae.Body.Error = fmt.Sprintf("POST %s: %s: %s", path, resp.Status, strings.TrimSpace(string(data)))
		}
		return res, ae
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return res, fmt.Errorf("POST %s: bad answer: %w", path, err)
	}
	return res, nil
}
