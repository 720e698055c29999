package main

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

// initLogName is the name of init's own log, beside the services' logs:
// `svcctl logs init`, /var/log/init.log.
const initLogName = "init"

// initLog is init's own log, kept like a service's (a ring, and a file
// once /var/log can be written). It is a package variable because records
// are logged before anything else of init exists; every consoleHandler
// writes to it.
var initLog = newLogSink(initLogName)

// consoleHandler writes records as "[   1.234] message key=value …", the
// shape of the kernel's own log, so both read alike on a serial console,
// and keeps them in init's log. It writes each record with one call to
// out, which on a real system is init's lane of the console queue: a
// console that takes nothing never holds up a log call.
type consoleHandler struct {
	out   io.Writer
	level slog.Leveler
	attrs []slog.Attr
	clock func() time.Duration
}

func newConsoleHandler(out io.Writer, level slog.Leveler) *consoleHandler {
	return &consoleHandler{out: out, level: level, clock: boottime.Now}
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
	initLog.write(time.Now(), boot, []string{b.String()[stampLen:]})
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
