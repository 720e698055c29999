package qemu

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// Disk is a disk image attached to the guest as a virtio block device.
type Disk struct {
	// Path is the image file.
	Path string
	// Size, when positive, is the size in bytes Create gives the file if it
	// does not exist yet.
	Size int64
	// Format is the image format as qemu names it: "raw" (the default),
	// "qcow2", "vpc" (VHD) or "vmdk"; Create makes raw files only.
	Format string
	// ReadOnly attaches the disk read-only: the guest cannot write it.
	ReadOnly bool
}

// format is the disk's format as qemu's -drive takes it.
func (d Disk) format() string {
	if d.Format == "" {
		return "raw"
	}
	return d.Format
}

func (d Disk) validate() error {
	switch d.Format {
	case "", "raw", "qcow2", "vpc", "vmdk":
		return nil
	}
	return fmt.Errorf("disk %s: format %q: want raw, qcow2, vpc or vmdk", d.Path, d.Format)
}

// DiskFormat guesses an image's format from its name: qcow2 for .qcow2,
// vpc for .vhd, vmdk for .vmdk, raw for anything else.
func DiskFormat(path string) string {
	switch {
	case strings.HasSuffix(path, ".qcow2"):
		return "qcow2"
	case strings.HasSuffix(path, ".vhd"):
		return "vpc"
	case strings.HasSuffix(path, ".vmdk"):
		return "vmdk"
	}
	return "raw"
}

// ParseDisk reads the FILE[,size=N] form of minikit run -disk. N is a
// byte count with an optional K, M, G or T suffix (powers of 1024), as in
// "data.img,size=1G".
func ParseDisk(s string) (Disk, error) {
	path, opts, _ := strings.Cut(s, ",")
	d := Disk{Path: path}
	if f := DiskFormat(path); f != "raw" {
		d.Format = f
	}
	if path == "" {
		return d, fmt.Errorf("disk %q: no file name", s)
	}
	if opts == "" {
		return d, nil
	}
	key, value, _ := strings.Cut(opts, "=")
	if key != "size" {
		return d, fmt.Errorf("disk %q: unknown option %q: only size=N is understood", s, key)
	}
	size, err := ParseSize(value)
	if err != nil {
		return d, fmt.Errorf("disk %q: %w", s, err)
	}
	d.Size = size
	return d, nil
}

// ParseSize reads a byte count such as "4096", "512M" or "2G"; suffixes
// are powers of 1024.
func ParseSize(s string) (int64, error) {
	digits, unit := s, int64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			unit = 1 << 10
		case 'm', 'M':
			unit = 1 << 20
		case 'g', 'G':
			unit = 1 << 30
		case 't', 'T':
			unit = 1 << 40
		}
		if unit != 1 {
			digits = s[:n-1]
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: want a positive number with an optional K, M, G or T", s)
	}
	if n > (1<<62)/unit {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return n * unit, nil
}

// Create makes the disk image if it is missing: a sparse file of Size
// bytes, so a large scratch disk costs no space until the guest writes.
// An existing file is left as it is. A missing file with no Size is an
// error, since qemu cannot attach it.
func (d Disk) Create() error {
	_, err := os.Stat(d.Path)
	if err == nil {
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("disk %s: %w", d.Path, err)
	}
	if d.Size <= 0 {
		return fmt.Errorf("disk %s does not exist; give a size (FILE,size=N) to create it", d.Path)
	}
	if d.format() != "raw" {
		return fmt.Errorf("disk %s does not exist, and only raw disks are created: make it with qemu-img create -f %s", d.Path, d.Format)
	}
	// O_EXCL: never truncate a file someone created since the Stat.
	f, err := os.OpenFile(d.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create disk %s: %w", d.Path, err)
	}
	if err := f.Truncate(d.Size); err != nil {
		f.Close()
		os.Remove(d.Path)
		return fmt.Errorf("size disk %s to %d bytes: %w", d.Path, d.Size, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(d.Path)
		return fmt.Errorf("create disk %s: %w", d.Path, err)
	}
	return nil
}
