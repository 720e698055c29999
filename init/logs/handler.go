package logs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/minikit/minikit/init/boottime"
)

// consoleHandler writes records as "[   1.234] message key=value …", the
// shape of the kernel's own log, so both read alike on a serial console,
// and keeps them in own, init's log, kept like a service's (a ring, and a
// file once /var/log can be written). It writes each record with one
// call to out, which on a real system is init's lane of the console
// queue: a console that takes nothing never holds up a log call.
type consoleHandler struct {
	out   io.Writer
	own   *Sink
	level slog.Leveler
	attrs []slog.Attr
	clock func() time.Duration
}

func newConsoleHandler(out io.Writer, own *Sink, level slog.Leveler) *consoleHandler {
	return &consoleHandler{out: out, own: own, level: level, clock: boottime.Now}
}

func (h *consoleHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *consoleHandler) Handle(_ context.Context, r slog.Record) error {
	var b bytes.Buffer
	boot := h.clock()
	fmt.Fprintf(&b, "[%9.3f] ", boot.Seconds())
	stampLen := b.Len()
	if r.Level >= slog.LevelWarn {
		b.WriteString(r.Level.String())
		b.WriteByte(' ')
	}
	b.WriteString(r.Message)
	write := func(a slog.Attr) bool {
		if a.Equal(slog.Attr{}) {
			return true
		}
		v := a.Value.Resolve().String()
		if strings.ContainsAny(v, " \t\"=") || v == "" {
			v = fmt.Sprintf("%q", v)
		}
		fmt.Fprintf(&b, " %s=%s", a.Key, v)
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	h.own.write(time.Now(), boot, []string{b.String()[stampLen:]})
	b.WriteByte('\n')
	_, err := h.out.Write(b.Bytes())
	return err
}

func (h *consoleHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = append(append([]slog.Attr{}, h.attrs...), attrs...)
	return &h2
}

func (h *consoleHandler) WithGroup(string) slog.Handler { return h }
