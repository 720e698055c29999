package observer

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// confine gives up every privilege the observer does not need. It is the
// one process of the system that talks to the network on init's behalf
// (TLS to collectors, HTTP to anyone who scrapes), and it runs as root,
// which the control API asks of a reader: so it keeps uid 0 but no
// capability other than CAP_NET_BIND_SERVICE (a metrics listener on a
// port below 1024), none in its bounding set, and no_new_privs, so that
// nothing it could execute gets any back.
//
// Capabilities and no_new_privs belong to each thread, and the Go
// runtime has several by now: AllThreadsSyscall applies each change to
// all of them (it needs a binary without cgo, as svcctl's is).
func confine() error {
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); e != 0 {
		return fmt.Errorf("no_new_privs: %w", e)
	}
	last := lastCap()
	for c := 0; c <= last; c++ {
		if c == unix.CAP_NET_BIND_SERVICE {
			continue
		}
		if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0); e != 0 && e != unix.EINVAL {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, e)
		}
	}
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0); e != 0 && e != unix.EINVAL {
		return fmt.Errorf("clear the ambient capabilities: %w", e)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	keep := uint32(1) << unix.CAP_NET_BIND_SERVICE
	data[0].Effective, data[0].Permitted = keep, keep
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("capset: %w", e)
	}
	return nil
}

// lastCap is the running kernel's highest capability.
func lastCap() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if n, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && perr == nil {
		return n
	}
	return unix.CAP_LAST_CAP
}
