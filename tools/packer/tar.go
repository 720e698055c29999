package packer

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// writeRootTar writes the tree at root as a tar archive: the root
// filesystem exactly as the initrd carries it, /dev/console included.
//
// Entries are sorted by path; every time is mtime; owners are numeric and
// without names (a name would be the build machine's idea of the uid);
// hard links are written as links; extended attributes (file
// capabilities) are kept as PAX records.
func writeRootTar(w io.Writer, root string, mtime time.Time) error {
	var paths []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("walk %s: %w", root, err)
	}
	slices.Sort(paths)
	bw := bufio.NewWriterSize(w, 1<<20)
	tw := tar.NewWriter(bw)
	type inode struct{ dev, ino uint64 }
	linked := map[inode]string{}
	for _, p := range paths {
		rel, _ := filepath.Rel(root, p)
		name := filepath.ToSlash(rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no owner information", p)
		}
		hdr := &tar.Header{
			Name:    name,
			Mode:    tarMode(fi.Mode()),
			Uid:     int(st.Uid),
			Gid:     int(st.Gid),
			ModTime: mtime,
		}
		if err := addXattrs(hdr, p); err != nil {
			return err
		}
		var content bool
		switch m := fi.Mode(); {
		case m.IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
		case m&fs.ModeSymlink != 0:
			hdr.Typeflag = tar.TypeSymlink
			if hdr.Linkname, err = os.Readlink(p); err != nil {
				return err
			}
		case m.IsRegular():
			key := inode{uint64(st.Dev), st.Ino}
			if first, ok := linked[key]; ok && st.Nlink > 1 {
				hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
				break
			}
			linked[key] = name
			hdr.Typeflag, hdr.Size, content = tar.TypeReg, fi.Size(), true
		case m&fs.ModeDevice != 0:
			hdr.Typeflag = tar.TypeBlock
			if m&fs.ModeCharDevice != 0 {
				hdr.Typeflag = tar.TypeChar
			}
			hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		case m&fs.ModeNamedPipe != 0:
			hdr.Typeflag = tar.TypeFifo
		default:
			continue // sockets have no place in an image
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("archive %s: %w", name, err)
		}
		if content {
			if err := copyInto(tw, p); err != nil {
				return fmt.Errorf("archive %s: %w", name, err)
			}
		}
	}
	// The kernel opens /dev/console before anything mounts /dev; the
	// initrd carries it and so does its tarball.
	console := &tar.Header{Name: "dev/console", Typeflag: tar.TypeChar, Mode: 0o600, Devmajor: 5, Devminor: 1, ModTime: mtime}
	if err := tw.WriteHeader(console); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// tarMode turns a file mode into tar's mode bits.
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

// addXattrs records a file's extended attributes as SCHILY.xattr PAX
// records, which GNU tar and container runtimes restore; tar.Writer sorts
// them.
func addXattrs(hdr *tar.Header, p string) error {
	size, err := unix.Llistxattr(p, nil)
	if errors.Is(err, unix.ENOTSUP) || size == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list xattrs of %s: %w", p, err)
	}
	buf := make([]byte, size)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		return fmt.Errorf("list xattrs of %s: %w", p, err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		// An SELinux label is the build host's doing, not the image's.
		if name == "" || name == "security.selinux" {
			continue
		}
		vsize, err := unix.Lgetxattr(p, name, nil)
		if err != nil {
			return fmt.Errorf("read xattr %s of %s: %w", name, p, err)
		}
		value := make([]byte, vsize)
		if _, err := unix.Lgetxattr(p, name, value); err != nil {
			return fmt.Errorf("read xattr %s of %s: %w", name, p, err)
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+name] = string(value)
	}
	return nil
}

func copyInto(w io.Writer, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
