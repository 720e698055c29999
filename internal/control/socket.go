package control

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"
)

// listenControl creates the control socket at path, and its directory.
func listenControl(path string) (*net.UnixListener, os.FileInfo, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, fmt.Errorf("control socket: %w", err)
	}
	_ = os.Remove(path)
	// Not umask: it is the process's, and containers being created at the
	// same moment would get directories without search permission. Until
	// the chmod, the socket has the usual umask's 0755: connecting needs
	// write permission, so only root can already.
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	fail := func(err error) (*net.UnixListener, os.FileInfo, error) {
		l.Close()
		return nil, nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return fail(err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fail(err)
	}
	return l, fi, nil
}

// socketKeeper listens again when the control socket is gone from its
// path (its directory removed, say), so that the API does not become
// unreachable until the next boot.
type socketKeeper struct {
	path   string
	every  time.Duration
	serve  func(net.Listener) // serves on a new listener until it is closed
	stop   chan struct{}
	goSafe func(what string, fn func())
}

// keep serves on l, whose socket is fi, and replaces it whenever the
// socket at k.path is no longer fi; it returns when k.stop is closed.
func (k *socketKeeper) keep(l *net.UnixListener, fi os.FileInfo) {
	k.serveOn(l)
	tick := time.NewTicker(k.every)
	defer tick.Stop()
	for {
		select {
		case <-k.stop:
			return
		case <-tick.C:
		}
		if now, err := os.Lstat(k.path); err == nil && os.SameFile(now, fi) {
			continue
		}
		nl, nfi, err := listenControl(k.path)
		if err != nil {
			slog.Error("control socket gone and not made again", "path", k.path, "err", err)
			continue
		}
		slog.Warn("control socket was removed; listening again", "path", k.path)
		// The old socket's path is the new one's now: closing it must
		// not unlink that.
		l.SetUnlinkOnClose(false)
		l.Close()
		l, fi = nl, nfi
		k.serveOn(l)
	}
}

// serveOn serves on l in a goroutine of its own, until l is closed.
func (k *socketKeeper) serveOn(l net.Listener) {
	k.goSafe("control API", func() { k.serve(l) })
}

// serveErr tells whether err, from serving a listener, is worth a word:
// a listener closed by the keeper or at shutdown is not.
func serveErr(err error) bool {
	return err != nil && !errors.Is(err, net.ErrClosed)
}
