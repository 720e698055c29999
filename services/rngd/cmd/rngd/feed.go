package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// feedOnce reads n bytes from the hardware RNG at hwrng and credits them
// to the kernel's pool through random (RNDADDENTROPY). A machine without a
// hardware RNG is not an error: there is nothing to do.
func feedOnce(hwrng, random string, n int, log *slog.Logger) error {
	src, err := os.Open(hwrng)
	if err != nil {
		if noDevice(err) {
			log.Info("no hardware RNG; nothing to add", "device", hwrng, "reason", err)
			return nil
		}
		return err
	}
	defer src.Close()
	buf := make([]byte, n)
	if _, err := io.ReadFull(src, buf); err != nil {
		if noDevice(err) {
			log.Info("no hardware RNG; nothing to add", "device", hwrng, "reason", err)
			return nil
		}
		return fmt.Errorf("read %s: %w", hwrng, err)
	}
	dst, err := os.OpenFile(random, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer dst.Close()
	if err := addEntropy(dst, buf); err != nil {
		return fmt.Errorf("add entropy through %s: %w", random, err)
	}
	log.Info("added entropy", "device", hwrng, "bits", len(buf)*8)
	return nil
}

// noDevice is true for the errors of a device node with no device behind
// it (the container always has the node).
func noDevice(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.ENXIO)
}

// addEntropy is the RNDADDENTROPY ioctl: struct rand_pool_info is the
// entropy count in bits, the buffer size in bytes, then the bytes.
func addEntropy(f *os.File, data []byte) error {
	var info bytes.Buffer
	binary.Write(&info, binary.NativeEndian, int32(len(data)*8))
	binary.Write(&info, binary.NativeEndian, int32(len(data)))
	info.Write(data)
	b := info.Bytes()
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.RNDADDENTROPY, uintptr(unsafe.Pointer(&b[0])))
	if errno != 0 {
		return errno
	}
	return nil
}

// haveSource is true when Debian's rngd would find something to read:
// a hardware RNG that answers, or a CPU with RDRAND.
func haveSource(hwrng, cpuinfo string) bool {
	if f, err := os.Open(hwrng); err == nil {
		b := make([]byte, 1)
		_, err := f.Read(b)
		f.Close()
		if err == nil {
			return true
		}
	}
	info, err := os.ReadFile(cpuinfo)
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(info)) {
		if strings.HasPrefix(line, "flags") && strings.Contains(line+" ", " rdrand ") {
			return true
		}
	}
	return false
}
