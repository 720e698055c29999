package rootfs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// A Mount is one step of the boot-time mount table.
type Mount struct {
	Source string
	Target string
	FSType string
	Flags  uintptr
	Data   string
	Mode   os.FileMode // of the mount point, created when missing
	// Optional mounts log a failure instead of stopping boot (cgroup2 on an
	// old kernel, say).
	Optional bool
}

func (m Mount) String() string {
	return fmt.Sprintf("mount %s on %s type %s (%s)", m.Source, m.Target, m.FSType, m.Data)
}

const (
	nosuid = unix.MS_NOSUID
	nodev  = unix.MS_NODEV
	noexec = unix.MS_NOEXEC
)

// EarlyMounts are the pseudo filesystems every system needs, in the order
// they must be mounted. /run, /tmp and /var are the only writable places
// once the root is read-only.
var EarlyMounts = []Mount{
	{Source: "proc", Target: "/proc", FSType: "proc", Flags: nosuid | nodev | noexec, Mode: 0o555},
	{Source: "sysfs", Target: "/sys", FSType: "sysfs", Flags: nosuid | nodev | noexec, Mode: 0o555},
	{Source: "devtmpfs", Target: "/dev", FSType: "devtmpfs", Flags: nosuid, Data: "mode=0755", Mode: 0o755},
	{Source: "devpts", Target: "/dev/pts", FSType: "devpts", Flags: nosuid | noexec, Data: "newinstance,ptmxmode=0666,mode=0620,gid=5", Mode: 0o755},
	{Source: "shm", Target: "/dev/shm", FSType: "tmpfs", Flags: nosuid | nodev, Data: "mode=1777", Mode: 0o1777},
	{Source: "mqueue", Target: "/dev/mqueue", FSType: "mqueue", Flags: nosuid | nodev | noexec, Mode: 0o755, Optional: true},
	{Source: "tmpfs", Target: "/run", FSType: "tmpfs", Flags: nosuid | nodev, Data: "mode=0755", Mode: 0o755},
	{Source: "tmpfs", Target: "/tmp", FSType: "tmpfs", Flags: nosuid | nodev, Data: "mode=1777", Mode: 0o1777},
	{Source: "tmpfs", Target: "/var", FSType: "tmpfs", Flags: nosuid | nodev, Data: "mode=0755", Mode: 0o755},
	{Source: "cgroup2", Target: "/sys/fs/cgroup", FSType: "cgroup2", Flags: nosuid | nodev | noexec, Data: "nsdelegate", Mode: 0o555},
}

// ModuleMounts are filesystems that Debian's kernel has as modules and
// LinuxKit's init mounts: once the spec's modules are loaded, those the
// kernel then knows (KnownFilesystems) are mounted. binfmt_misc is where
// LinuxKit's binfmt package and its users look for the registrations.
var ModuleMounts = []Mount{
	{Source: "binfmt_misc", Target: "/proc/sys/fs/binfmt_misc", FSType: "binfmt_misc", Flags: nosuid | nodev | noexec, Mode: 0o755, Optional: true},
}

// KnownFilesystems returns the filesystem types listed in r, the format
// of /proc/filesystems ("nodev\tsysfs", "\text4").
func KnownFilesystems(r io.Reader) (map[string]bool, error) {
	known := map[string]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 0 {
			known[fields[len(fields)-1]] = true
		}
	}
	return known, sc.Err()
}

// Mounter performs mounts; tests replace it.
type Mounter interface {
	Mount(m Mount) error
}

// SyscallMounter mounts for real.
type SyscallMounter struct{}

// Mount creates the mount point if needed and mounts. A target that is
// already a mount of the same type (devtmpfs mounted by the kernel, say)
// counts as done.
func (SyscallMounter) Mount(m Mount) error {
	if err := os.MkdirAll(m.Target, m.Mode); err != nil && !errors.Is(err, unix.EROFS) {
		return err
	}
	err := unix.Mount(m.Source, m.Target, m.FSType, m.Flags, m.Data)
	if errors.Is(err, unix.EBUSY) {
		return nil
	}
	return err
}

// MountAll mounts each entry in order. It stops at the first failure of a
// required mount and returns the failures of optional ones alongside.
func MountAll(mounter Mounter, table []Mount) (optionalErrs []error, err error) {
	for _, m := range table {
		if e := mounter.Mount(m); e != nil {
			e = fmt.Errorf("%s: %w", m, e)
			if m.Optional {
				optionalErrs = append(optionalErrs, e)
				continue
			}
			return optionalErrs, e
		}
	}
	return optionalErrs, nil
}

// RemountReadOnly makes the root filesystem read-only. The mounts below it
// (/run, /tmp, /var, …) are their own filesystems and stay writable.
func RemountReadOnly() error {
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("remount / read-only: %w", err)
	}
	return nil
}
