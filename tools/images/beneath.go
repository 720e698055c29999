package images

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// This file holds the only code that turns a path from a layer into a file
// descriptor. Everything is resolved by openat2(2) with RESOLVE_BENEATH from
// a descriptor of the destination root: the kernel refuses any resolution
// that would leave the root through "..", an absolute symlink or a magic
// link, whether the symlink was in the tree before or was made by an earlier
// entry, and does so without the check-then-use races of resolving in user
// space. RESOLVE_IN_ROOT would instead clamp such paths inside the root; that
// keeps writes inside too, but silently, and a layer that tries to escape is
// one we want to reject, not quietly repair. The final path component is
// never resolved through: entries are created, replaced and changed with
// *at calls relative to their parent's descriptor, with AT_SYMLINK_NOFOLLOW
// or O_NOFOLLOW.

// beneathRoot is a directory that paths are resolved beneath.
type beneathRoot struct {
	fd int
}

func openBeneathRoot(dir string) (*beneathRoot, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return &beneathRoot{fd: fd}, nil
}

func (r *beneathRoot) close() { unix.Close(r.fd) }

// errEscapes is returned when the kernel refuses a resolution that would
// leave the root.
var errEscapes = errors.New("resolves outside the destination")

// open opens rel, a clean relative path ("." for the root itself), beneath
// the root. errEscapes means the kernel refused to leave the root.
func (r *beneathRoot) open(rel string, flags uint64) (int, error) {
	how := unix.OpenHow{
		Flags:   flags | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		fd, err := unix.Openat2(r.fd, rel, &how)
		switch {
		case err == nil:
			return fd, nil
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.EAGAIN):
			continue // openat2 asks for a retry when a rename raced the lookup
		case errors.Is(err, unix.EXDEV):
			return -1, errEscapes
		case errors.Is(err, unix.ENOSYS):
			return -1, fmt.Errorf("openat2 is not available (Linux 5.6 or later is needed to unpack safely): %w", err)
		default:
			return -1, err
		}
	}
}

// openDir opens the directory rel beneath the root for use as the parent of
// *at calls.
func (r *beneathRoot) openDir(rel string) (int, error) {
	return r.open(dirOrRoot(rel), unix.O_PATH|unix.O_DIRECTORY)
}

// mkdirAll opens the directory rel beneath the root, creating missing
// directories on the way with mode 0755.
func (r *beneathRoot) mkdirAll(rel string) (int, error) {
	fd, err := r.openDir(rel)
	if rel == "" || !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	// Resolve every prefix from the root, not from the previous prefix, so
	// that a symlink along the way is judged against the root.
	parts := strings.Split(rel, "/")
	for i := range parts {
		prefix := path.Join(parts[:i+1]...)
		fd, err = r.openDir(prefix)
		if !errors.Is(err, unix.ENOENT) {
			if err != nil {
				return -1, err
			}
			if i < len(parts)-1 {
				unix.Close(fd)
			}
			continue
		}
		parent, err := r.openDir(path.Join(parts[:i]...))
		if err != nil {
			return -1, err
		}
		err = unix.Mkdirat(parent, parts[i], 0o755)
		unix.Close(parent)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, &os.PathError{Op: "mkdir", Path: prefix, Err: err}
		}
		if fd, err = r.openDir(prefix); err != nil {
			return -1, err
		}
		if i < len(parts)-1 {
			unix.Close(fd)
		}
	}
	return fd, nil
}

// dirOrRoot turns the empty path of the root into the "." openat2 wants.
func dirOrRoot(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}

// removeAllAt removes name in the directory dirfd and, if it is a
// directory, everything beneath it, never following a symlink.
func removeAllAt(dirfd int, name string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
		return err
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	dir := os.NewFile(uintptr(fd), name)
	names, err := dir.Readdirnames(-1)
	if err == nil {
		for _, n := range names {
			if err = removeAllAt(fd, n); err != nil {
				break
			}
		}
	}
	dir.Close()
	if err != nil {
		return err
	}
	return unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
}

// lstatAt stats name in dirfd without following it; ok is false when there
// is nothing there.
func lstatAt(dirfd int, name string) (st unix.Stat_t, ok bool, err error) {
	err = unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return st, false, nil
	}
	return st, err == nil, err
}

// futimens sets the times of the file open as fd. x/sys has no wrapper for
// utimensat(2) with a NULL path, the form that works on any open descriptor.
func futimens(fd int, atime, mtime time.Time) error {
	ts := [2]unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	_, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// lutimesAt sets the times of name in dirfd without following a symlink.
func lutimesAt(dirfd int, name string, atime, mtime time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	return unix.UtimesNanoAt(dirfd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
}
