// Command kmsg copies the kernel's log (/dev/kmsg) to its standard
// error, from the oldest record the kernel still holds and then as
// records come, as LinuxKit's kmsg package does: one line per record,
// "(SEQUENCE) - TIME: MESSAGE". minikit's init keeps that output as the
// service's log (svcctl logs kmsg, /var/log/kmsg.log).
//
// usage: kmsg
package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	// Stopped by its supervisor: a normal end, not a failure.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT)
	go func() { <-sigs; os.Exit(0) }()
	f, err := os.Open("/dev/kmsg")
	if err != nil {
		log.Error("kmsg: "+err.Error()+" (the image's device and CAP_SYSLOG are needed)", "err", err)
		os.Exit(1)
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		log.Error("kmsg: "+err.Error(), "err", err)
		os.Exit(1)
	}
	booted := time.Now().Add(-time.Duration(ts.Nano()))
	if err := copyRecords(f, os.Stderr, booted); err != nil {
		log.Error("kmsg: "+err.Error(), "err", err)
		os.Exit(1)
	}
}

// format is LinuxKit's line for a record.
func format(r record, booted time.Time) string {
	return fmt.Sprintf("(%d) - %s: %s\n", r.Seq, booted.Add(r.SinceBoot).UTC().Format(time.RFC3339Nano), r.Message)
}
