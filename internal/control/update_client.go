package control

import (
	"context"
	"io"
	"strconv"
)

// UpdateStatus describes the system's slots.
func (c *Client) UpdateStatus(ctx context.Context) (UpdateStatus, error) {
	var st UpdateStatus
	return st, c.do(ctx, "GET", PathUpdate, &st)
}

// Update sends the bundle read from body, streamed and chunked since its
// length may be unknown (standard input), and asks for a reboot into it
// once it is written when reboot is set.
func (c *Client) Update(ctx context.Context, body io.Reader, reboot bool) (UpdateResult, error) {
	var res UpdateResult
	return res, c.Upload(ctx, PathUpdate+"?reboot="+strconv.FormatBool(reboot), body, &res)
}

// Rollback switches the slot the next boot runs, and reboots at once when
// reboot is set.
func (c *Client) Rollback(ctx context.Context, reboot bool) (UpdateResult, error) {
	var res UpdateResult
	return res, c.do(ctx, "POST", PathRollback+"?reboot="+strconv.FormatBool(reboot), &res)
}
