// Package boottime is the clock of init's logs and boot timeline: the
// time since the kernel started, which is what a reader of a boot log
// compares lines by.
package boottime

import (
	"time"

	"golang.org/x/sys/unix"
)

// Now is the time since the kernel started (CLOCK_BOOTTIME, which counts
// suspended time too), or 0 if the clock cannot be read.
func Now() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
