package qemu

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// Bus is how a disk is attached, which decides the guest's name for it
// and the driver it needs.
type Bus string

// The buses a disk is attached on.
const (
	// BusVirtio is a virtio block device: /dev/vdX, driver virtio_blk.
	BusVirtio Bus = "virtio"
	// BusSCSI is a disk on a virtio SCSI controller: /dev/sdX, drivers
	// virtio_scsi and sd_mod.
	BusSCSI Bus = "scsi"
	// BusSATA is a disk on the machine's AHCI controller, as LinuxKit's
	// qemu runner attaches disks: /dev/sdX, drivers ahci and sd_mod.
	BusSATA Bus = "sata"
)

// ParseBus reads a bus name: virtio, scsi, or sata (also ahci and ide,
// which q35 attaches to the same controller).
func ParseBus(s string) (Bus, error) {
	switch s {
	case "", "virtio":
		return BusVirtio, nil
	case "scsi":
		return BusSCSI, nil
	case "sata", "ahci", "ide":
		return BusSATA, nil
	}
	return "", fmt.Errorf("bus %q: want virtio, scsi or sata", s)
}

// Disk is a disk image attached to the guest.
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
	// Bus is how the disk is attached; empty means BusVirtio.
	Bus Bus
}

// format is the disk's format as qemu's -drive takes it.
func (d Disk) format() string {
	if d.Format == "" {
		return "raw"
	}
	return d.Format
}

func (d Disk) validate() error {
	if _, err := ParseBus(string(d.Bus)); err != nil {
		return fmt.Errorf("disk %s: %w", d.Path, err)
	}
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

// ParseDisk reads minikit run -disk's value, which is also LinuxKit's:
// [file=]FILE[,size=N][,format=F][,bus=B]. N is a size with a K, M, G or
// T suffix (powers of 1024), as in "data.img,size=1G"; a bare number is
// GiB, as LinuxKit reads it. F is qemu's format name (raw, qcow2, vpc or
// vhd, vmdk), guessed from FILE's extension when not given. B is virtio
// (the default: /dev/vdX), scsi or sata (/dev/sdX).
func ParseDisk(s string) (Disk, error) {
	var d Disk
	for i, part := range strings.Split(s, ",") {
		key, value, hasValue := strings.Cut(part, "=")
		if !hasValue {
			if i > 0 {
				return d, fmt.Errorf("disk %q: %q is not KEY=VALUE", s, part)
			}
			key, value = "file", part
		}
		switch key {
		case "file":
			d.Path = value
		case "size":
			size, err := parseDiskSize(value)
			if err != nil {
				return d, fmt.Errorf("disk %q: %w", s, err)
			}
			d.Size = size
		case "format":
			d.Format = value
			if value == "vhd" {
				d.Format = "vpc"
			}
		case "bus":
			bus, err := ParseBus(value)
			if err != nil {
				return d, fmt.Errorf("disk %q: %w", s, err)
			}
			d.Bus = bus
		default:
			return d, fmt.Errorf("disk %q: unknown option %q: want file, size, format or bus", s, key)
		}
	}
	if d.Path == "" {
		return d, fmt.Errorf("disk %q: no file name (FILE or file=FILE)", s)
	}
	if f := DiskFormat(d.Path); d.Format == "" && f != "raw" {
		d.Format = f
	}
	if d.Format == "raw" {
		d.Format = ""
	}
	return d, d.validate()
}

// parseDiskSize reads a disk's size: a bare number is GiB, as LinuxKit
// reads it, else as ParseSize.
func parseDiskSize(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n <= 0 || n > 1<<32 {
			return 0, fmt.Errorf("size %q: want a positive number of GiB, or a number with K, M, G or T", s)
		}
		return n << 30, nil
	}
	return ParseSize(s)
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
