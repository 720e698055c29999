package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/minikit/minikit/onboot/internal/disk"
	"golang.org/x/sys/unix"
)

// The files a metadata CD-ROM holds: LinuxKit's (config), and cloud-init's
// NoCloud user data, so the same ISO serves both.
var cdromFiles = []string{"config", "user-data"}

// cdromProvider reads user data from the first block device under sysBlock
// that holds an ISO 9660 filesystem with one of cdromFiles at its root.
func cdromProvider(devDir, sysBlock string) provider {
	return provider{name: "cdrom", fetch: func(ctx context.Context) (*metadata, error) {
		entries, err := os.ReadDir(sysBlock)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errAbsent, err)
		}
		for _, e := range entries {
			dev := filepath.Join(devDir, e.Name())
			if !isISO9660(dev) {
				continue
			}
			data, err := readFromISO(dev)
			if err != nil {
				return nil, err
			}
			if data != nil {
				return &metadata{userdata: data}, nil
			}
		}
		return nil, fmt.Errorf("%w: no ISO 9660 device with %v", errAbsent, cdromFiles)
	}}
}

// isISO9660 reports whether dev holds an ISO 9660 filesystem, by the
// signature disk.Probe knows.
func isISO9660(dev string) bool {
	fs, ok, _ := disk.ProbePath(dev)
	return ok && fs.Type == "iso9660"
}

// readFromISO mounts dev read-only and reads the first of cdromFiles it
// has; nil when it has none.
func readFromISO(dev string) ([]byte, error) {
	mnt, err := os.MkdirTemp("", "cdrom-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(mnt)
	if err := unix.Mount(dev, mnt, "iso9660", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return nil, fmt.Errorf("mount %s: %w (is the isofs module loaded?)", dev, err)
	}
	defer unix.Unmount(mnt, 0)
	return readFirst(mnt, dev)
}

// maxCDROMFile bounds a file read from the CD-ROM. It is user data that
// someone chose to attach, with no provider's limit, so the cap is
// higher than a metadata server's; still the file is held in memory and
// its tree written to /run's tmpfs, and 8 MiB is far more than any
// configuration needs.
const maxCDROMFile = 8 << 20

// readFirst reads the first of cdromFiles that the filesystem mounted at
// mnt (from dev) holds; nil when it has none. It reads through an
// os.Root, so that a link on the CD-ROM cannot lead the read out of it
// (to a disk under /dev, say), and only regular files, since opening a
// FIFO would wait forever.
func readFirst(mnt, dev string) ([]byte, error) {
	root, err := os.OpenRoot(mnt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dev, err)
	}
	defer root.Close()
	for _, name := range cdromFiles {
		data, err := readRegular(root, name)
		if err == nil {
			return data, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s on %s: %w", name, dev, err)
		}
	}
	return nil, nil
}

func readRegular(root *os.Root, name string) ([]byte, error) {
	f, err := root.OpenFile(name, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%v)", fi.Mode().Type())
	}
	return readCapped(f, maxCDROMFile)
}
