package rootfs

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minikit/minikit/internal/verity"
)

// A disk image (raw, qcow2, ISO) carries the root image beside the
// kernel rather than inside the initrd: on a partition of its own, or as
// a file on the ISO 9660 filesystem. The first stage finds it by what the
// disks hold, not by their names, which differ between virtio, SATA, NVMe
// and a CD-ROM: every block device that holds a SquashFS image, or an ISO
// 9660 filesystem with the image as ISOImagePath, is tried in turn, and
// the root hash decides which one is the root. An image that does not
// match it is another system's (the other slot of an A/B disk, a disk
// someone attached) and is passed over; if nothing matches, and one of
// them failed verification, that is the error.

// ISOImagePath is where an ISO carries the root image.
const ISOImagePath = "boot/root.img"

// isoMount is where the first stage mounts an ISO to reach its image; the
// mount is detached once the image is attached, and the ISO's pages stay
// in use through the loop device.
const isoMount = "/.iso"

// FindOptions say how FindImage waits for the disk.
type FindOptions struct {
	// Timeout bounds the wait for a disk that holds the image.
	Timeout time.Duration
	// Poll is called before each scan: load the drivers of the devices
	// that appeared since the last one.
	Poll func()
	// SysBlock is /sys/class/block; Dev is /dev.
	SysBlock, Dev string
}

// FindImage waits for a block device holding the root image that p
// checks (any SquashFS image when p is nil) and mounts it on target.
func FindImage(p *verity.Params, target string, opts FindOptions) (*MountedImage, error) {
	if opts.SysBlock == "" {
		opts.SysBlock = "/sys/class/block"
	}
	if opts.Dev == "" {
		opts.Dev = "/dev"
	}
	deadline := time.Now().Add(opts.Timeout)
	tried := map[string]bool{}
	var failed error
	for {
		if opts.Poll != nil {
			opts.Poll()
		}
		for _, name := range blockDevices(opts.SysBlock) {
			if tried[name] {
				continue
			}
			kind := probeImage(filepath.Join(opts.Dev, name))
			if kind == notAnImage {
				// A disk whose partitions are not scanned yet reads as
				// nothing: look again later, but not at the same size.
				if size(opts.SysBlock, name) > 0 {
					tried[name] = true
				}
				continue
			}
			tried[name] = true
			m, err := mountCandidate(kind, filepath.Join(opts.Dev, name), p, target)
			if err == nil {
				return m, nil
			}
			slog.Info("no root image on "+name+": "+err.Error(), "device", name)
			switch {
			case errors.Is(err, ErrVerification):
				failed = err
			case errors.Is(err, errOtherImage) && failed == nil:
				failed = fmt.Errorf("%w (no disk holds an image whose hash tree matches it)", ErrVerification)
			}
		}
		if time.Now().After(deadline) {
			if failed != nil {
				return nil, failed
			}
			return nil, fmt.Errorf("no disk holds the root image (waited %s): is the disk attached, and its driver in kernel.modules or kernel.coldplug?", opts.Timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type imageKind int

const (
	notAnImage imageKind = iota
	squashfsImage
	isoImage
)

var (
	squashfsMagic = []byte("hsqs")
	isoMagic      = []byte("CD001") // at 32769: the primary volume descriptor
)

// probeImage says what the block device at path starts with.
func probeImage(path string) imageKind {
	f, err := os.Open(path)
	if err != nil {
		return notAnImage
	}
	defer f.Close()
	buf := make([]byte, 32774)
	n, _ := f.ReadAt(buf, 0)
	buf = buf[:n]
	switch {
	case bytes.HasPrefix(buf, squashfsMagic):
		return squashfsImage
	case len(buf) >= 32774 && bytes.Equal(buf[32769:32774], isoMagic):
		return isoImage
	}
	return notAnImage
}

// mountCandidate mounts the root image on the device at path, if it holds
// the one p checks.
func mountCandidate(kind imageKind, path string, p *verity.Params, target string) (*MountedImage, error) {
	if kind == squashfsImage {
		if err := checkTop(path, p); err != nil {
			return nil, err
		}
		return MountImage(path, p, target)
	}
	if err := os.MkdirAll(isoMount, 0o755); err != nil {
		return nil, err
	}
	if err := unix.Mount(path, isoMount, "iso9660", unix.MS_RDONLY, ""); err != nil {
		return nil, fmt.Errorf("mount ISO 9660 (is isofs loaded?): %w", err)
	}
	m, err := MountImage(filepath.Join(isoMount, ISOImagePath), p, target)
	// The loop device holds the image file open: the ISO stays mounted
	// underneath, out of sight.
	_ = unix.Unmount(isoMount, unix.MNT_DETACH)
	return m, err
}

// checkTop reads the top block of the hash tree of the image on the
// device at path: an image whose top does not hash to the root hash is
// not the one p checks (another slot's, or a tampered one), and is passed
// over without a verity device, which would report it as corrupt on the
// console. A boot that finds no image that matches says that the root
// failed verification.
func checkTop(path string, p *verity.Params) error {
	if p == nil {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	top := make([]byte, verity.BlockSize)
	if _, err := f.ReadAt(top, p.TopOffset()); err != nil || !p.TopMatches(top) {
		return errOtherImage
	}
	return nil
}

// errOtherImage says that an image's hash tree is not the one the root
// hash names: it is another system's, or it was changed.
var errOtherImage = errors.New("it holds another image: the top of its hash tree does not match the root hash")

// blockDevices lists the block devices the kernel knows, whole disks
// before their partitions, in a stable order.
func blockDevices(sysBlock string) []string {
	entries, err := os.ReadDir(sysBlock)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

// size is a block device's size in sectors, 0 when unknown.
func size(sysBlock, name string) int64 {
	var n int64
	data, err := os.ReadFile(filepath.Join(sysBlock, name, "size"))
	if err != nil {
		return 0
	}
	_, _ = fmt.Sscan(string(data), &n)
	return n
}
