package disk

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/sys/mountinfo"

	"github.com/minikit/minikit/internal/bundle"
)

// Device is a block device as sysfs lists it.
type Device struct {
	Name      string // sda, sda1, nvme0n1p1
	Dev       string // "major:minor"
	Partition bool
	Disk      string // for a partition, the disk it is on
	Number    int    // for a partition, its number
	Size      int64  // bytes
}

// Path is the device node, /dev/NAME.
func (d Device) Path() string { return "/dev/" + d.Name }

// ignored are devices that are never a persistent disk: loop, RAM, network
// block devices, optical and floppy drives.
var ignored = []string{"loop", "ram", "zram", "nbd", "sr", "fd"}

// List reads sysfs (normally /sys) and returns the machine's disks and
// partitions, sorted: each disk followed by its partitions in number order.
func List(sys string) ([]Device, error) {
	dir := filepath.Join(sys, "class/block")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list block devices: %w", err)
	}
	var devs []Device
	for _, e := range entries {
		name := e.Name()
		if slices.ContainsFunc(ignored, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		d := Device{Name: name}
		base := filepath.Join(dir, name)
		if inUse(base) {
			continue
		}
		d.Dev = readTrim(filepath.Join(base, "dev"))
		if sectors, err := strconv.ParseInt(readTrim(filepath.Join(base, "size")), 10, 64); err == nil {
			d.Size = sectors * 512 // sysfs counts 512-byte sectors whatever the device's
		}
		if n := readTrim(filepath.Join(base, "partition")); n != "" {
			d.Partition = true
			d.Number, _ = strconv.Atoi(n)
			// The partition's directory sits inside its disk's.
			if real, err := filepath.EvalSymlinks(base); err == nil {
				d.Disk = filepath.Base(filepath.Dir(real))
			}
		}
		devs = append(devs, d)
	}
	slices.SortFunc(devs, func(a, b Device) int {
		ka, kb := a.Name, b.Name
		if a.Partition {
			ka = a.Disk
		}
		if b.Partition {
			kb = b.Disk
		}
		if c := cmp.Compare(ka, kb); c != 0 {
			return c
		}
		if a.Partition != b.Partition {
			if a.Partition {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.Number, b.Number)
	})
	return devs, nil
}

// inUse reports whether the device at sysfs path base belongs to the
// system already: the root's verity device, or a device another one is
// built on (holders: the partition or loop device under it).
func inUse(base string) bool {
	if readTrim(filepath.Join(base, "dm/name")) == bundle.RootDeviceName {
		return true
	}
	holders, _ := os.ReadDir(filepath.Join(base, "holders"))
	return len(holders) > 0
}

func readTrim(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// PartitionName is the name of partition n of disk: sda → sda1, but
// nvme0n1 → nvme0n1p1, since a disk name ending in a digit takes a "p".
func PartitionName(disk string, n int) string {
	if disk != "" && disk[len(disk)-1] >= '0' && disk[len(disk)-1] <= '9' {
		return fmt.Sprintf("%sp%d", disk, n)
	}
	return fmt.Sprintf("%s%d", disk, n)
}

// Mounted returns the "major:minor" of every device mounted somewhere,
// read from a mountinfo file (/proc/self/mountinfo).
func Mounted(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	mounts, err := mountinfo.GetMountsFromReader(f, nil)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	mounted := map[string]bool{}
	for _, m := range mounts {
		mounted[fmt.Sprintf("%d:%d", m.Major, m.Minor)] = true
	}
	return mounted, nil
}

// DeviceWait is how long a program given a device by name waits for it to
// appear: Debian's kernel has its disk drivers as modules, which init
// loads for the devices present, and a SCSI or SATA disk shows up only
// once its controller has been scanned, which may be after onboot
// begins (LinuxKit's kernels build the drivers in).
const DeviceWait = 10 * time.Second

// WaitFor waits up to timeout for the device node at p to exist, and
// says which device never appeared.
func WaitFor(p string, timeout time.Duration) error {
	for deadline := time.Now().Add(timeout); ; time.Sleep(100 * time.Millisecond) {
		_, err := os.Stat(p)
		if err == nil {
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not appear within %s: is its disk attached, and its driver in kernel.modules or kernel.coldplug?", p, timeout)
		}
	}
}
