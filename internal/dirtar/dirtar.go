// Package dirtar archives a directory tree as tar, the one way minikit
// does it: for the root filesystem's tarball, for the layers of the images
// it builds from a directory, and for the kernel's modules.
//
// The same tree gives the same bytes on any machine: entries come in
// lexical order (filepath.WalkDir's), every time is the one given, owners
// are numeric and nameless (a name would be the build machine's idea of a
// uid), permission bits keep setuid, setgid and sticky, a file with several
// hard links is stored once and linked to, and extended attributes (file
// capabilities) are kept as PAX records, except an SELinux label, which is
// the build host's doing and not the tree's. Sockets are left out: they
// have no meaning in an image.
package dirtar

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Options say how entries are named and stamped.
type Options struct {
	// ModTime is every entry's time.
	ModTime time.Time
	// Prefix, when set, is prepended to every entry's name, as in
	// "lib/modules" for lib/modules/VERSION/...; the prefix's own
	// directories are not written.
	Prefix string
	// RootOwned writes every entry as owned by 0:0, for trees unpacked by
	// whoever ran the build.
	RootOwned bool
}

// Write appends the tree under dir (dir itself excluded) to tw. It does
// not close tw, so callers can add entries of their own.
func Write(tw *tar.Writer, dir string, o Options) error {
	type inode struct{ dev, ino uint64 }
	linked := map[inode]string{}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		name := path.Join(o.Prefix, filepath.ToSlash(rel))
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		hdr := &tar.Header{
			Name:    name,
			Mode:    int64(st.Mode & 0o7777),
			Uid:     int(st.Uid),
			Gid:     int(st.Gid),
			ModTime: o.ModTime,
		}
		if o.RootOwned {
			hdr.Uid, hdr.Gid = 0, 0
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
		case unix.S_IFREG:
			hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
			if st.Nlink > 1 {
				id := inode{st.Dev, st.Ino}
				if first, ok := linked[id]; ok {
					hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
				} else {
					linked[id] = name
				}
			}
		case unix.S_IFLNK:
			if hdr.Linkname, err = os.Readlink(p); err != nil {
				return err
			}
			hdr.Typeflag = tar.TypeSymlink
		case unix.S_IFCHR, unix.S_IFBLK:
			hdr.Typeflag = tar.TypeChar
			if st.Mode&unix.S_IFMT == unix.S_IFBLK {
				hdr.Typeflag = tar.TypeBlock
			}
			hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		case unix.S_IFIFO:
			hdr.Typeflag = tar.TypeFifo
		default:
			return nil
		}
		if err := addXattrs(hdr, p); err != nil {
			return err
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("archive %s: %w", p, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		return copyFile(tw, p, st.Size)
	})
}

// copyFile copies exactly size bytes: a file that grows while it is read
// must not corrupt the stream, and one that shrinks is an error.
func copyFile(w io.Writer, p string, size int64) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyN(w, f, size); err != nil {
		return fmt.Errorf("read %s: %w", p, err)
	}
	return nil
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
