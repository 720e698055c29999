package main

import (
	"bytes"
	"cmp"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/minikit/minikit/onboot/internal/disk"
	"golang.org/x/sys/unix"
)

// formatter formats disks; its paths are fields so tests can point them
// at files.
type formatter struct {
	sys, dev, mountinfo string
	fsType, label       string
	table               disk.Partitioning
	log                 *slog.Logger
	// rereadPartitions tells the kernel a disk's table changed; nil means
	// the BLKRRPART ioctl.
	rereadPartitions func(*os.File) error
	// mkfs makes the filesystem; nil means running mkfs.TYPE.
	mkfs func(fsType, label, device string) error
	// waitFor is how long to wait for a device node: the disk named, the
	// partition made; 0 means disk.DeviceWait.
	waitFor time.Duration
}

// formatFirstEmpty formats the first disk that is neither mounted nor
// holds a partition table or filesystem. No such disk is an error, as in
// LinuxKit: the spec asked for a disk to be prepared. Unless a disk's
// first partition holds the filesystem this would have made (its type,
// and its label when one is asked for): that is the disk an earlier boot
// prepared, and onboot runs at every boot.
func (f *formatter) formatFirstEmpty() error {
	devs, err := disk.List(f.sys)
	if err != nil {
		return err
	}
	mounted, err := disk.Mounted(f.mountinfo)
	if err != nil {
		return err
	}
	for _, d := range devs {
		if d.Partition || d.Size == 0 || mounted[d.Dev] {
			continue
		}
		empty, err := f.isEmpty(d.Name)
		if err != nil {
			f.log.Warn("cannot read disk; skipped", "disk", d.Path(), "err", err)
			continue
		}
		if !empty {
			f.log.Info("disk holds data; skipped", "disk", d.Path())
			continue
		}
		return f.format(d.Name, d.Size)
	}
	if part, ok := f.preparedEarlier(devs); ok {
		f.log.Info("no empty disk; "+part+" holds the filesystem format makes, from an earlier boot", "partition", part, "type", f.fsType, "label", f.label)
		return nil
	}
	if f.label != "" {
		return fmt.Errorf("no empty disk found, nor a %s filesystem labelled %q on a disk's first partition", f.fsType, f.label)
	}
	return fmt.Errorf("no empty disk found, nor a %s filesystem on a disk's first partition", f.fsType)
}

// preparedEarlier finds a first partition that holds a filesystem of the
// type asked for, with the label asked for, and returns its path.
func (f *formatter) preparedEarlier(devs []disk.Device) (string, bool) {
	for _, d := range devs {
		if !d.Partition || d.Number != 1 {
			continue
		}
		p := filepath.Join(f.dev, d.Name)
		fs, ok, _ := disk.ProbePath(p) // unreadable: not the one
		// Probe names every ext2/3/4 filesystem ext4, as mount takes it.
		sameType := fs.Type == f.fsType || fs.Type == "ext4" && strings.HasPrefix(f.fsType, "ext")
		if ok && sameType && (f.label == "" || fs.Label == f.label) {
			return p, true
		}
	}
	return "", false
}

// formatDevice formats the named disk if it is empty, or with force.
func (f *formatter) formatDevice(device string, force bool) error {
	name := filepath.Base(device)
	if err := disk.WaitFor(filepath.Join(f.dev, name), cmp.Or(f.waitFor, disk.DeviceWait)); err != nil {
		return err
	}
	empty, err := f.isEmpty(name)
	if err != nil {
		return err
	}
	if !empty && !force {
		f.log.Info("disk already holds a partition table or filesystem; left as it is (-force formats it)", "disk", device)
		return nil
	}
	fi, err := os.Stat(filepath.Join(f.dev, name))
	if err != nil {
		return err
	}
	size := fi.Size()
	if fi.Mode()&os.ModeDevice != 0 {
		size = sizeOf(filepath.Join(f.dev, name))
	}
	return f.format(name, size)
}

func (f *formatter) isEmpty(name string) (bool, error) {
	dev, err := os.Open(filepath.Join(f.dev, name))
	if err != nil {
		return false, err
	}
	defer dev.Close()
	return disk.Empty(dev), nil
}

// format partitions the disk and makes the filesystem on its partition.
func (f *formatter) format(name string, size int64) error {
	path := filepath.Join(f.dev, name)
	table := cmp.Or(f.table, disk.DOS)
	f.log.Info("creating partition", "disk", path, "table", table)
	dev, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer dev.Close()
	if err := table.Write(dev, size); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := dev.Sync(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	reread := f.rereadPartitions
	if reread == nil {
		reread = func(d *os.File) error { return unix.IoctlSetInt(int(d.Fd()), unix.BLKRRPART, 0) }
	}
	if err := reread(dev); err != nil {
		return fmt.Errorf("%s: re-read partition table: %w", path, err)
	}
	part := filepath.Join(f.dev, disk.PartitionName(name, 1))
	if err := f.waitForNode(part); err != nil {
		return err
	}
	mkfs := f.mkfs
	if mkfs == nil {
		mkfs = runMkfs
	}
	if err := mkfs(f.fsType, f.label, part); err != nil {
		return err
	}
	f.log.Info("partition formatted", "partition", part, "type", f.fsType, "label", f.label)
	return nil
}

// waitForNode waits for devtmpfs to make the partition's node.
func (f *formatter) waitForNode(p string) error {
	return disk.WaitFor(p, cmp.Or(f.waitFor, disk.DeviceWait))
}

// runMkfs runs mkfs.TYPE, forcing it over whatever signature is left.
func runMkfs(fsType, label, device string) error {
	args := []string{"-F"} // ext2/3/4
	if fsType == "xfs" || fsType == "btrfs" {
		args = []string{"-f"}
	}
	if label != "" {
		args = append(args, "-L", label)
	}
	args = append(args, device)
	cmd := exec.Command("mkfs."+fsType, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("mkfs.%s %s: %w: %s", fsType, strings.Join(args, " "), err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

// sizeOf is a block device's size in bytes (BLKGETSIZE64), 0 if unknown.
func sizeOf(p string) int64 {
	d, err := os.Open(p)
	if err != nil {
		return 0
	}
	defer d.Close()
	size, err := unix.IoctlGetUint64(int(d.Fd()), unix.BLKGETSIZE64)
	if err != nil {
		return 0
	}
	return int64(size)
}
