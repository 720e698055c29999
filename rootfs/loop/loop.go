// Package loop attaches a file to a loop block device, as losetup does,
// with the kernel's ioctls (LOOP_CTL_GET_FREE, LOOP_CONFIGURE) through
// golang.org/x/sys/unix.
package loop

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

const (
	controlPath = "/dev/loop-control"
	loopMajor   = 7
	// Another process may take the free device we were given before we
	// configure it: ask again, a few times.
	attempts = 8
)

// Device is a loop device bound to a file. It stays bound while Device is
// open or while anything else (a mount, a device-mapper table) holds it,
// and detaches itself once the last holder lets go.
type Device struct {
	Path         string
	Major, Minor uint32
	f            *os.File
}

// Close lets go of the device: once nothing else holds it, the kernel
// detaches it from its file.
func (d *Device) Close() error { return d.f.Close() }

// Dev is the device's number as a device-mapper table names it.
func (d *Device) Dev() string { return fmt.Sprintf("%d:%d", d.Major, d.Minor) }

// Attach binds the file at path to a free loop device, read-only when
// readOnly.
func Attach(path string, readOnly bool) (*Device, error) {
	return AttachAt(path, readOnly, -1)
}

// AttachAt is Attach on the loop device numbered n when it is free (and
// made when it does not exist yet), on any free one otherwise; a negative
// n means any. The root image takes a number far from the ones users
// count from 0 (LinuxKit's specs name /dev/loop0 for their own files).
func AttachAt(path string, readOnly bool, n int) (*Device, error) {
	mode := os.O_RDWR
	flags := uint32(unix.LO_FLAGS_AUTOCLEAR)
	if readOnly {
		mode = os.O_RDONLY
		flags |= unix.LO_FLAGS_READ_ONLY
	}
	backing, err := os.OpenFile(path, mode, 0)
	if err != nil {
		return nil, fmt.Errorf("loop: %w", err)
	}
	defer backing.Close() // the device holds the file from LOOP_CONFIGURE on
	ctl, err := os.OpenFile(controlPath, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("loop: %w (is the loop module loaded?)", err)
	}
	defer ctl.Close()
	var lastErr error
	for i := range attempts {
		if i > 0 || n < 0 {
			var err error
			if n, err = unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE); err != nil {
				return nil, fmt.Errorf("loop: find a free device: %w", err)
			}
		} else if err := unix.IoctlSetInt(int(ctl.Fd()), unix.LOOP_CTL_ADD, n); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("loop: make loop%d: %w", n, err)
		}
		dev, err := open(n, mode)
		if err != nil {
			return nil, err
		}
		cfg := unix.LoopConfig{Fd: uint32(backing.Fd())}
		cfg.Info.Flags = flags
		copy(cfg.Info.File_name[:], path)
		err = unix.IoctlLoopConfigure(int(dev.Fd()), &cfg)
		if err == nil {
			return &Device{Path: dev.Name(), Major: loopMajor, Minor: uint32(n), f: dev}, nil
		}
		dev.Close()
		if !errors.Is(err, unix.EBUSY) {
			return nil, fmt.Errorf("loop: bind %s to %s: %w", path, dev.Name(), err)
		}
		lastErr = err
	}
	return nil, fmt.Errorf("loop: bind %s: every free device was taken first: %w", path, lastErr)
}

// open opens /dev/loopN, making its node when devtmpfs has not (yet).
func open(n, mode int) (*os.File, error) {
	path := "/dev/loop" + strconv.Itoa(n)
	f, err := os.OpenFile(path, mode, 0)
	if errors.Is(err, os.ErrNotExist) {
		if err := unix.Mknod(path, unix.S_IFBLK|0o600, int(unix.Mkdev(loopMajor, uint32(n)))); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("loop: make %s: %w", path, err)
		}
		f, err = os.OpenFile(path, mode, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("loop: %w", err)
	}
	return f, nil
}
