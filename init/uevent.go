package main

import (
	"bytes"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// ueventSource yields the kernel's device events one at a time, each as
// its KEY=VALUE pairs (ACTION, DEVPATH, SUBSYSTEM, MODALIAS, …).
type ueventSource interface {
	next() (map[string]string, error)
	// queued returns the events queued now, without waiting for more.
	// lost says that a burst overflowed the queue and some were dropped:
	// what they told of must be found another way.
	queued() (events []map[string]string, lost bool, err error)
}

// uevents reads the kernel's uevent broadcast (NETLINK_KOBJECT_UEVENT,
// group 1). The format is a header line and NUL-separated pairs, simple
// enough that no library is worth its weight here.
type uevents struct {
	fd  int
	buf []byte
}

func openUevents() (*uevents, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, fmt.Errorf("uevent socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind uevent socket: %w", err)
	}
	// Room for the burst of events a driver's probe causes while nobody
	// reads (the coldplug scan runs between open and the first read).
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
	// One event is at most the kernel's UEVENT_BUFFER_SIZE (2 KiB) of
	// variables and its ACTION@DEVPATH header.
	return &uevents{fd: fd, buf: make([]byte, 8<<10)}, nil
}

func (u *uevents) next() (map[string]string, error) {
	for {
		ev, err := u.recv(0)
		if errors.Is(err, unix.ENOBUFS) {
			// Events were lost in a burst; the next ones still come.
			continue
		}
		if ev != nil || err != nil {
			return ev, err
		}
	}
}

// maxQueued bounds one read of the queue: a source that never stops
// sending cannot hold its reader, which counts the rest as lost.
const maxQueued = 4096

func (u *uevents) queued() (events []map[string]string, lost bool, err error) {
	for range maxQueued {
		ev, err := u.recv(unix.MSG_DONTWAIT)
		switch {
		case errors.Is(err, unix.EAGAIN):
			return events, lost, nil
		case errors.Is(err, unix.ENOBUFS):
			lost = true
		case err != nil:
			return events, lost, err
		case ev != nil:
			events = append(events, ev)
		}
	}
	return events, true, nil
}

// recv reads one message; it returns no event and no error for one that
// is not the kernel's.
func (u *uevents) recv(flags int) (map[string]string, error) {
	for {
		n, from, err := unix.Recvfrom(u.fd, u.buf, flags)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		// Only the kernel (port 0) speaks for devices: any root process
		// could send to this group.
		if nl, ok := from.(*unix.SockaddrNetlink); !ok || nl.Pid != 0 {
			return nil, nil
		}
		return parseUevent(u.buf[:n]), nil
	}
}

// parseUevent reads one kernel uevent: "ACTION@DEVPATH\0KEY=VALUE\0…".
// It returns nil for what is not one (udev's own "libudev" messages).
func parseUevent(msg []byte) map[string]string {
	fields := bytes.Split(msg, []byte{0})
	if len(fields) < 2 || !bytes.Contains(fields[0], []byte("@")) {
		return nil
	}
	ev := map[string]string{}
	for _, f := range fields[1:] {
		if k, v, ok := bytes.Cut(f, []byte("=")); ok && len(k) > 0 {
			ev[string(k)] = string(v)
		}
	}
	return ev
}
