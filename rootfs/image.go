package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/minikit/minikit/internal/bundle"
	"github.com/minikit/minikit/internal/verity"
	"github.com/minikit/minikit/rootfs/devmapper"
	"github.com/minikit/minikit/rootfs/loop"
)

// The root image is a read-only SquashFS image of everything but the
// kernel, with a dm-verity hash tree after it (internal/verity says how).
// Stage one of init, in the initramfs, mounts it through a loop device
// and a verity device and switches to it; every block read from it from
// then on is checked against the root hash on the kernel command line,
// and a block that does not match cannot be read.

// VerityDevice is the name of the root's verity device, /dev/mapper/NAME.
const VerityDevice = bundle.RootDeviceName

// rootLoop is the loop device a root image file is attached to: /dev/loop0
// and its neighbours stay free for the specs that name them.
const rootLoop = 255

// ErrVerification says that the root image does not match its root hash:
// it was changed after it was built.
var ErrVerification = errors.New("the root image failed verification: it does not match the root hash it was built with")

// MountedImage is a root image mounted by MountImage.
type MountedImage struct {
	Device   string // what is mounted: the verity device, or the loop device
	DevName  string // its kernel name (dm-0, loop0), as uevents and /sys name it
	Verified bool
}

// MountImage mounts the root image at source, a file (attached to a loop
// device first) or a block device holding the image: it sets up a verity
// device over it when p is not nil, and mounts the SquashFS read-only on
// target. When the image fails its check, the error wraps ErrVerification.
func MountImage(source string, p *verity.Params, target string) (*MountedImage, error) {
	var st unix.Stat_t
	if err := unix.Stat(source, &st); err != nil {
		return nil, fmt.Errorf("root image %s: %w", source, err)
	}
	m := &MountedImage{Device: source}
	dev := fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		lo, err := loop.AttachAt(source, true, rootLoop)
		if err != nil {
			return nil, fmt.Errorf("root image %s: %w", source, err)
		}
		// Held until the mount (or the verity device) holds the loop
		// device; then closing it leaves the device to them.
		defer lo.Close()
		m.Device, dev = lo.Path, lo.Dev()
	}
	m.DevName = devName(dev)
	if p != nil {
		params, err := p.Target(dev)
		if err != nil {
			return nil, err
		}
		d, err := devmapper.Create(VerityDevice, true, []devmapper.Target{{Length: p.Sectors(), Type: "verity", Params: params}})
		if err != nil {
			return nil, fmt.Errorf("root image %s: %w", source, err)
		}
		m.Device, m.DevName, m.Verified = d.Path(), fmt.Sprintf("dm-%d", d.Minor), true
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		return nil, err
	}
	if err := unix.Mount(m.Device, target, "squashfs", unix.MS_RDONLY, ""); err != nil {
		err = fmt.Errorf("mount the root image %s (%s) on %s: %w", source, m.Device, target, err)
		if m.Verified {
			if VerityFailed() {
				err = fmt.Errorf("%w (%v)", ErrVerification, err)
			}
			_ = devmapper.Remove(VerityDevice)
		}
		return nil, err
	}
	return m, nil
}

// devName is the kernel's name of the block device MAJOR:MINOR, as
// /sys/dev/block tells it.
func devName(dev string) string {
	link, err := os.Readlink("/sys/dev/block/" + dev)
	if err != nil {
		return dev
	}
	return filepath.Base(link)
}

// VerityFailed reports whether the root's verity device has found a block
// that does not match its hash.
func VerityFailed() bool {
	status, err := devmapper.Status(VerityDevice)
	if err != nil {
		return false
	}
	// The verity target's status is "V" while every block read matched,
	// "C" once one did not.
	for _, s := range status {
		if s.Type == "verity" && strings.HasPrefix(s.Params, "C") {
			return true
		}
	}
	return false
}

// SwitchRoot makes newroot, a mount point in the initramfs, the root: it
// frees what the initramfs holds, moves newroot onto / and chroots into
// it, as switch_root does. Files in use (a root image a loop device
// holds) stay in memory until let go. The caller then executes the new
// root's init. Mount points below / other than newroot (/proc, /dev, …)
// must be unmounted or moved first.
func SwitchRoot(newroot string) error {
	var rootStat unix.Stat_t
	if err := unix.Lstat("/", &rootStat); err != nil {
		return err
	}
	c := copier{dev: rootStat.Dev, skip: newroot}
	c.removeTree("/")
	return moveRoot(newroot)
}

// moveRoot moves the mount at newroot onto / and chroots into it.
func moveRoot(newroot string) error {
	if err := os.Chdir(newroot); err != nil {
		return err
	}
	if err := unix.Mount(newroot, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move %s to /: %w", newroot, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot into new root: %w", err)
	}
	return os.Chdir("/")
}
