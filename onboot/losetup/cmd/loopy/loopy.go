package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"golang.org/x/sys/unix"
)

// missingError is a device or file that is not there (exit status 2).
type missingError struct{ what string }

func (e *missingError) Error() string { return e.what }

// attach makes opts.file (creating it if asked) the backing file of the
// loop device opts.device.
func attach(opts options, log *slog.Logger) error {
	if err := checkDevice(opts.device); err != nil {
		return err
	}
	if err := ensureFile(opts, log); err != nil {
		return err
	}
	log.Info("attaching", "file", opts.file, "device", opts.device)
	return configure(opts.device, opts.file)
}

// checkDevice makes sure device is a block device.
func checkDevice(device string) error {
	fi, err := os.Stat(device)
	if err != nil || fi.Mode().Type() != fs.ModeDevice {
		return &missingError{fmt.Sprintf("loop device %s does not exist: is /dev bound, and the loop module loaded?", device)}
	}
	return nil
}

// ensureFile makes sure the backing file is there, creating it if asked.
func ensureFile(opts options, log *slog.Logger) error {
	if _, err := os.Stat(opts.file); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if !opts.create {
		return &missingError{fmt.Sprintf("%s not found: give --create, or make it first", opts.file)}
	}
	log.Info("creating the backing file", "file", opts.file, "MiB", opts.sizeMiB)
	return createFile(opts.file, opts.sizeMiB<<20)
}

// createFile makes a file of size bytes, allocated (so that a full disk
// shows now and not at the first write through the loop device) and
// reading as zeros.
func createFile(name string, size int64) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = unix.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, unix.EOPNOTSUPP) {
		err = writeZeros(f, size)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("create %s: %w", name, err)
	}
	return nil
}

func writeZeros(f *os.File, size int64) error {
	buf := make([]byte, 1<<20)
	for size > 0 {
		n := min(size, int64(len(buf)))
		if _, err := f.Write(buf[:n]); err != nil {
			return err
		}
		size -= n
	}
	return nil
}

// configure attaches file to device with LOOP_CONFIGURE, naming the file
// in the device's status, where losetup and /sys/block/loopN/loop show it.
func configure(device, file string) error {
	back, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer back.Close()
	loop, err := os.OpenFile(device, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer loop.Close()
	cfg := unix.LoopConfig{Fd: uint32(back.Fd())}
	copy(cfg.Info.File_name[:len(cfg.Info.File_name)-1], file)
	if err := unix.IoctlLoopConfigure(int(loop.Fd()), &cfg); err != nil {
		if errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("%s is in use already", device)
		}
		return fmt.Errorf("attach %s to %s: %w", file, device, err)
	}
	return nil
}
