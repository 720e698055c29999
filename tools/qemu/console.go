package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Console is the guest's serial output split into lines. Lines are numbered
// from 0 in the order they arrived; the numbers never change, so callers
// can compare them to check the order of events. It is safe for concurrent
// use by any number of readers.
type Console struct {
	history int // lines kept; 0 keeps all

	mu      sync.Mutex
	lines   []string // lines[i] is line first+i
	first   int
	partial []byte // output after the last newline
	closed  bool
	panic   string // the first line that says the kernel panicked
	// changed is closed and replaced whenever a line arrives or the console
	// closes, waking every waiting reader at once.
	changed chan struct{}
	done    chan struct{} // closed by close
}

// ErrLineDropped is returned by Line for a line that fell out of the
// history that Options.ConsoleHistory allows.
var ErrLineDropped = errors.New("console line no longer kept")

func newConsole(history int) *Console {
	return &Console{history: history, changed: make(chan struct{}), done: make(chan struct{})}
}

// Write takes raw serial output. It never fails, so qemu is never blocked
// by a slow reader.
func (c *Console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	data := p
	added := false
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		c.partial = append(c.partial, data[:i]...)
		c.appendLocked(string(bytes.TrimSuffix(c.partial, []byte("\r"))))
		c.partial = c.partial[:0]
		data = data[i+1:]
		added = true
	}
	c.partial = append(c.partial, data...)
	if added {
		c.wakeLocked()
	}
	return len(p), nil
}

// close ends the console: a last line without a newline still counts.
func (c *Console) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if len(c.partial) > 0 {
		c.appendLocked(string(bytes.TrimSuffix(c.partial, []byte("\r"))))
		c.partial = nil
	}
	c.closed = true
	close(c.done)
	c.wakeLocked()
}

// panicMarker starts the line the kernel prints when it panics.
const panicMarker = "Kernel panic - not syncing"

func (c *Console) appendLocked(line string) {
	if c.panic == "" && strings.Contains(line, panicMarker) {
		c.panic = line
	}
	c.lines = append(c.lines, line)
	if c.history > 0 && len(c.lines) > c.history {
		drop := len(c.lines) - c.history
		c.lines = append(c.lines[:0:0], c.lines[drop:]...)
		c.first += drop
	}
}

func (c *Console) wakeLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Lines returns a copy of the lines kept so far, starting with line
// number First().
func (c *Console) Lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

// First is the number of the oldest line still kept: 0 unless
// Options.ConsoleHistory made the console forget some.
func (c *Console) First() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.first
}

// Len is the number of complete lines seen so far, which is also the number
// the next line will get.
func (c *Console) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.first + len(c.lines)
}

// Line returns line number i, waiting for it to arrive. It returns io.EOF
// when the guest's output ended (qemu exited) before line i, ctx's error
// when ctx ends first, and ErrLineDropped for a line no longer kept.
func (c *Console) Line(ctx context.Context, i int) (string, error) {
	for {
		c.mu.Lock()
		if i < c.first {
			c.mu.Unlock()
			return "", fmt.Errorf("line %d: %w", i, ErrLineDropped)
		}
		if i < c.first+len(c.lines) {
			line := c.lines[i-c.first]
			c.mu.Unlock()
			return line, nil
		}
		closed, changed := c.closed, c.changed
		c.mu.Unlock()
		if closed {
			return "", io.EOF
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// PanicLine is the console line on which the kernel said it panicked, or
// "" when it did not. It is kept even when the history has dropped the
// line.
func (c *Console) PanicLine() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.panic
}

// Closed is closed once the guest's output has ended for good.
func (c *Console) Closed() <-chan struct{} { return c.done }
