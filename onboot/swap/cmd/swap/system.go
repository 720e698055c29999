package main

import (
	"errors"
	"os"
	"unsafe"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// allocate gives f size bytes of allocated blocks reading as zeros.
func allocate(f *os.File, size int64) error {
	err := unix.Fallocate(int(f.Fd()), 0, 0, size)
	if !errors.Is(err, unix.EOPNOTSUPP) {
		return err
	}
	buf := make([]byte, 1<<20)
	for size > 0 {
		n := min(size, int64(len(buf)))
		if _, err := f.Write(buf[:n]); err != nil {
			return err
		}
		size -= n
	}
	return nil
}

// realSystem is the running machine.
type realSystem struct{}

func (realSystem) IsMountPoint(path string) (bool, error) { return mountinfo.Mounted(path) }

func (realSystem) FilesystemSize(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return int64(st.Blocks) * st.Bsize, nil
}

// MapEncrypted maps file as /dev/mapper/swapfile with cryptsetup, with
// LinuxKit's plain mode and cipher and a key read from /dev/urandom.
// cryptsetup attaches the file to a loop device itself.
func (realSystem) MapEncrypted(file string) (string, error) {
	if err := os.MkdirAll("/run/cryptsetup", 0o700); err != nil { // its locks; /run is a tmpfs
		return "", err
	}
	err := cryptsetup("open", "--type", "plain", "--key-file", "/dev/urandom", "--key-size", "256",
		"--cipher", "aes-cbc-essiv:sha256", "--offset", "0", file, encryptedName)
	return "/dev/mapper/" + encryptedName, err
}

func (realSystem) Swapon(device string) error {
	p, err := unix.BytePtrFromString(device)
	if err != nil {
		return err
	}
	if _, _, errno := unix.Syscall(unix.SYS_SWAPON, uintptr(unsafe.Pointer(p)), 0, 0); errno != 0 {
		return errno
	}
	return nil
}
