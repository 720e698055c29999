package main

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"syscall"
)

// issueFile is what init shows on every console once the system is up,
// as LinuxKit's init does: the init image's /etc/issue, which a spec's
// files can replace or remove.
const issueFile = "/etc/issue"

// maxIssue bounds what is shown: an issue is a greeting, not a log.
const maxIssue = 4 << 10

// showIssue shows the issue file at path through show. A missing file
// shows nothing. Anything but a regular file is not read: a FIFO put
// there would make PID 1 wait for a writer.
func showIssue(path string, show func(string)) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		slog.Warn("no issue shown", "file", path, "err", err)
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		slog.Warn("no issue shown: not a regular file", "file", path)
		return
	}
	data, err := io.ReadAll(io.LimitReader(f, maxIssue))
	if err != nil {
		slog.Warn("no issue shown", "file", path, "err", err)
		return
	}
	if len(data) > 0 {
		show(string(data))
	}
}
