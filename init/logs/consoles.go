package logs

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
)

// Consoles is where init's log and the services' output go: /dev/console
// and every other console the kernel command line names. /dev/console is
// only the last console= given, so a spec that lists
// "console=ttyS0 console=tty0" would otherwise show nothing on the serial
// line (LinuxKit's examples list four).
type Consoles struct {
	mu    sync.Mutex
	out   []io.Writer // out[0] is /dev/console
	extra []*os.File
}

// NewConsoles returns the consoles, with primary (/dev/console) alone
// until AddActive.
func NewConsoles(primary io.Writer) *Consoles { return &Consoles{out: []io.Writer{primary}} }

// Write writes p to every console. Only /dev/console's error counts: an
// extra console that fails (a serial port nobody reads) must not stop
// the log.
func (c *Consoles) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.out[0].Write(p)
	for _, w := range c.out[1:] {
		_, _ = w.Write(p)
	}
	return n, err
}

// AddActive opens the consoles of /sys/class/tty/console/active other than
// the last, which is /dev/console itself. It needs /sys and /dev.
func (c *Consoles) AddActive(sys string) {
	data, err := os.ReadFile(sys + "/class/tty/console/active")
	if err != nil {
		return
	}
	names := activeExtras(string(data))
	for _, name := range names {
		f, err := os.OpenFile("/dev/"+name, os.O_WRONLY|syscall.O_NOCTTY, 0)
		if err != nil {
			slog.Debug("console not opened", "console", name, "err", err)
			continue
		}
		c.mu.Lock()
		c.out = append(c.out, f)
		c.extra = append(c.extra, f)
		c.mu.Unlock()
	}
}

// activeExtras lists the consoles of an "active" file but the last.
func activeExtras(active string) []string {
	names := strings.Fields(active)
	if len(names) < 2 {
		return nil
	}
	return names[:len(names)-1]
}
