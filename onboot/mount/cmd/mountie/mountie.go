package main

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/minikit/minikit/onboot/internal/disk"
	"golang.org/x/sys/unix"
)

// mounter finds and mounts disks; its paths and the mount call are fields
// so that tests can use files.
type mounter struct {
	sys, dev, mountinfo string
	log                 *slog.Logger
	mount               func(source, target, fsType string) error // nil: mount(2)
	waitFor             time.Duration                             // for a named device; 0: disk.DeviceWait
}

// find picks the device to mount: the one named, the one with the label
// or UUID, or the first with a filesystem that is not mounted yet.
func (m *mounter) find(device, label, uuid string) (string, disk.Filesystem, error) {
	if device != "" {
		if err := disk.WaitFor(device, cmp.Or(m.waitFor, disk.DeviceWait)); err != nil {
			return "", disk.Filesystem{}, err
		}
		fs, ok, err := disk.ProbePath(device)
		if err != nil {
			return "", fs, err
		}
		if !ok {
			return "", fs, fmt.Errorf("%s holds no filesystem mountie knows (give -type)", device)
		}
		return device, fs, nil
	}
	devs, err := disk.List(m.sys)
	if err != nil {
		return "", disk.Filesystem{}, err
	}
	mounted, err := disk.Mounted(m.mountinfo)
	if err != nil {
		return "", disk.Filesystem{}, err
	}
	for _, d := range devs {
		p := filepath.Join(m.dev, d.Name)
		fs, ok, err := disk.ProbePath(p)
		if err != nil {
			m.log.Warn("cannot read device; skipped", "device", p, "err", err)
			continue
		}
		switch {
		case !ok:
			continue
		case label != "" || uuid != "":
			if label != "" && fs.Label == label || uuid != "" && fs.UUID == uuid {
				return p, fs, nil
			}
		case mounted[d.Dev]:
			m.log.Info("already mounted; skipped", "device", p)
		case fs.Type == "swap" || fs.Type == "iso9660":
			continue
		default:
			return p, fs, nil
		}
	}
	switch {
	case label != "":
		return "", disk.Filesystem{}, fmt.Errorf("no filesystem labelled %q", label)
	case uuid != "":
		return "", disk.Filesystem{}, fmt.Errorf("no filesystem with UUID %s", uuid)
	}
	return "", disk.Filesystem{}, errors.New("no unmounted disk with a filesystem found")
}

// mountAt makes the mount point and mounts the device there.
func (m *mounter) mountAt(device, fsType, mountpoint string) error {
	if err := os.MkdirAll(mountpoint, 0o755); err != nil {
		return fmt.Errorf("make mount point: %w", err)
	}
	mount := m.mount
	if mount == nil {
		mount = func(source, target, fsType string) error { return unix.Mount(source, target, fsType, 0, "") }
	}
	if err := mount(device, mountpoint, fsType); err != nil {
		return fmt.Errorf("mount %s (%s) on %s: %w", device, fsType, mountpoint, err)
	}
	return nil
}
