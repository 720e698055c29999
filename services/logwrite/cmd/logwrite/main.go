// Command logwrite stands in for LinuxKit's logwrite package, which wrote
// the logs memlogd collected to /var/log/NAME.log and rotated them.
// minikit's init does that for every container itself: each one's output
// goes to /var/log/NAME.log, rotated at 1 MiB with three old files kept,
// and to svcctl logs NAME. So this writes nothing: it says so once and
// waits to be stopped, so that a LinuxKit spec that lists it keeps its
// logs and its supervisor sees a running service. Its options are read,
// to catch a typing mistake, and otherwise ignored.
//
// usage: logwrite [-socket S] [-log-dir D] [-max-log-files N] [-max-log-size BYTES]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	flag.String("socket", "/var/run/memlogdq.sock", "memlogd's socket (ignored: minikit has no memlogd)")
	logDir := flag.String("log-dir", "/var/log", "where logs go (ignored: init writes /var/log/NAME.log)")
	flag.Int("max-log-files", 10, "rotated files kept (ignored: init keeps three)")
	flag.Int("max-log-size", 1<<20, "bytes before a log is rotated (ignored: init rotates at 1 MiB)")
	flag.Parse()
	fmt.Fprintln(os.Stderr, note(*logDir))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	<-ctx.Done()
}

// note is what logwrite says when it starts.
func note(logDir string) string {
	s := "logwrite: nothing to do: minikit's init already writes every container's output to /var/log/NAME.log " +
		"(rotated at 1 MiB, three old files kept) and keeps it for svcctl logs NAME"
	if logDir != "/var/log" {
		s += "; -log-dir " + logDir + " is not used"
	}
	return s
}
