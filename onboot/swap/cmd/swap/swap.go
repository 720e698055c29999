package main

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
)

// unmetError is a condition that does not hold: no swap is made.
type unmetError struct {
	cond     condition
	why      string
	required bool
}

func (e *unmetError) Error() string { return fmt.Sprintf("condition %s: %s", e.cond.text, e.why) }

// system is what the swapper does to the machine; tests fake it.
type system interface {
	IsMountPoint(path string) (bool, error)
	FilesystemSize(path string) (int64, error)
	// MapEncrypted maps file through dm-crypt with a random key and
	// returns the mapped device.
	MapEncrypted(file string) (string, error)
	Swapon(device string) error
}

type swapper struct {
	opts options
	sys  system
	log  *slog.Logger
}

// encryptedName is the dm-crypt mapping of an encrypted swap file, as
// LinuxKit's swap names it.
const encryptedName = "swapfile"

// pageSize is the swap header's page: amd64's.
const pageSize = 4096

func (s *swapper) run() error {
	for _, c := range s.opts.conditions {
		if err := s.check(c); err != nil {
			return err
		}
	}
	created, err := s.ensureFile()
	if err != nil {
		return err
	}
	device := s.opts.path
	if s.opts.encrypt {
		// A new random key at every boot: what the last boot swapped out
		// is unreadable, and the space needs a new header each time.
		if device, err = s.sys.MapEncrypted(s.opts.path); err != nil {
			return err
		}
		s.log.Info("swap file mapped through dm-crypt with a random key", "file", s.opts.path, "device", device)
	}
	if created || s.opts.encrypt || !hasSwapHeader(device) {
		if err := mkswap(device); err != nil {
			return err
		}
		s.log.Info("swap space made", "device", device)
	}
	if err := s.sys.Swapon(device); err != nil {
		return fmt.Errorf("swapon %s: %w", device, err)
	}
	s.log.Info("swap enabled", "device", device, "bytes", s.opts.size)
	return nil
}

func (s *swapper) check(c condition) error {
	switch c.kind {
	case "part":
		ok, err := s.sys.IsMountPoint(c.path)
		if err != nil {
			return err
		}
		if !ok {
			return &unmetError{cond: c, why: c.path + " is not a mount point", required: c.required}
		}
	case "partsize":
		size, err := s.sys.FilesystemSize(c.path)
		if err != nil {
			return err
		}
		if size < c.minSize {
			return &unmetError{cond: c, why: fmt.Sprintf("the filesystem at %s has %d bytes, fewer than %d", c.path, size, c.minSize), required: c.required}
		}
	}
	s.log.Debug("condition holds", "condition", c.text)
	return nil
}

// ensureFile makes the swap file unless one of the right size is there;
// it reports whether it made one.
func (s *swapper) ensureFile() (bool, error) {
	fi, err := os.Stat(s.opts.path)
	switch {
	case err == nil && fi.Mode().IsRegular() && fi.Size() == s.opts.size:
		return false, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return false, err
	case err == nil && !fi.Mode().IsRegular():
		return false, fmt.Errorf("%s is not a regular file", s.opts.path)
	}
	s.log.Info("making the swap file", "path", s.opts.path, "bytes", s.opts.size)
	os.Remove(s.opts.path) // one of another size
	f, err := os.OpenFile(s.opts.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, err
	}
	// Swap may have no holes: allocated blocks (reading as zeros) are
	// fine on ext4; where fallocate is not supported, zeros are written.
	err = allocate(f, s.opts.size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(s.opts.path)
		return false, fmt.Errorf("make %s: %w", s.opts.path, err)
	}
	return true, nil
}

// mkswap writes a version 1 swap header (the kernel's union swap_header)
// on the first page of device, which must hold at least ten pages.
func mkswap(device string) error {
	f, err := os.OpenFile(device, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("size of %s: %w", device, err)
	}
	pages := size / pageSize
	if pages < 10 {
		return fmt.Errorf("%s holds %d bytes: too small for swap", device, size)
	}
	if pages-1 > 1<<32-1 {
		pages = 1 << 32
	}
	page := make([]byte, pageSize)
	info := page[1024:]                                      // after the boot bits
	binary.LittleEndian.PutUint32(info[0:], 1)               // version
	binary.LittleEndian.PutUint32(info[4:], uint32(pages-1)) // last_page
	binary.LittleEndian.PutUint32(info[8:], 0)               // nr_badpages
	if _, err := rand.Read(info[12:28]); err != nil {        // uuid
		return err
	}
	info[12+6] = info[12+6]&0x0f | 0x40 // version 4
	info[12+8] = info[12+8]&0x3f | 0x80 // variant 10
	copy(page[pageSize-10:], "SWAPSPACE2")
	if _, err := f.WriteAt(page, 0); err != nil {
		return fmt.Errorf("write the swap header on %s: %w", device, err)
	}
	return f.Sync()
}

// hasSwapHeader reports whether device starts with a swap header.
func hasSwapHeader(device string) bool {
	f, err := os.Open(device)
	if err != nil {
		return false
	}
	defer f.Close()
	sig := make([]byte, 10)
	if _, err := f.ReadAt(sig, pageSize-10); err != nil {
		return false
	}
	return bytes.Equal(sig, []byte("SWAPSPACE2"))
}

// cryptsetup runs Debian's cryptsetup with its output on stderr.
func cryptsetup(args ...string) error {
	cmd := exec.Command("cryptsetup", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cryptsetup %v: %w", args, err)
	}
	return nil
}
