package images

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// UnpackOptions says how far an unpack may go beyond plain files.
type UnpackOptions struct {
	// AllowDevices creates character and block device nodes; without it
	// they are skipped (and logged at debug level), since a device node in
	// a staging tree gives whoever can read it the device.
	AllowDevices bool
	// IgnoreOwners leaves every entry owned by the caller instead of giving
	// it the layer's uid and gid, which needs root (CAP_CHOWN).
	IgnoreOwners bool
	// MaxBytes caps the content of the regular files one Unpack (all its
	// layers together) or UnpackTar writes, counted at their logical size,
	// holes included: a file that would pass it fails the unpack with an
	// error wrapping ErrTooLarge, before any of it is written. Zero means
	// DefaultMaxBytes.
	MaxBytes int64
}

// DefaultMaxBytes is the cap on one unpack when UnpackOptions.MaxBytes is
// zero. A minikit root travels as an initramfs, which the machine holds in
// memory and copies once more onto a tmpfs at boot, so an image several
// times this size could not boot anyway, while no image minikit builds
// comes near it (the kernel's modules, the largest, are under 500 MiB).
const DefaultMaxBytes int64 = 4 << 30

// Unpack applies img's layers in order into dest, which must be an existing
// directory, the way a container runtime would stack them: whiteouts
// (.wh.NAME) delete what lower layers put there, an opaque marker
// (.wh..wh..opq) hides a directory's lower contents, and an entry replaces
// whatever was at its path unless both are directories.
//
// Files keep their mode, owner (see IgnoreOwners), extended attributes and
// modification time, and their holes: whole blocks of zeros, from a sparse
// entry or not, are left unwritten. Device nodes are made only with
// AllowDevices.
//
// What one unpack writes is capped (see UnpackOptions.MaxBytes): a file
// that would pass the cap fails the unpack with an error wrapping
// ErrTooLarge that names the layer digest and the entry.
//
// No entry is ever written outside dest: an entry whose path or hard-link
// target is absolute or climbs out with "..", or whose parent resolves
// outside dest through a symlink (one already in dest or one an earlier
// entry made, absolute symlinks included), fails the unpack with an error
// wrapping ErrUnsafeEntry that names the layer digest and the entry.
// Symlinks themselves may point anywhere; they are never followed outwards.
//
// On error dest may hold a partial tree; callers unpack into a staging
// directory they remove on failure.
func Unpack(img v1.Image, dest string, opts UnpackOptions) error {
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("unpack into %s: %w", dest, err)
	}
	root, err := openBeneathRoot(dest)
	if err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	defer root.close()
	budget := newBudget(opts.MaxBytes)
	for _, l := range layers {
		digest, err := l.Digest()
		if err != nil {
			return fmt.Errorf("unpack into %s: %w", dest, err)
		}
		source := "layer " + digest.String()
		rc, err := l.Uncompressed()
		if err != nil {
			return fmt.Errorf("unpack %s: %w", source, err)
		}
		err = applyLayer(root, rc, source, opts, budget)
		if cerr := rc.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("unpack %s: %w", source, cerr)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// UnpackTar applies one tar stream into dest, exactly as Unpack applies a
// layer. The stream may be gzip- or zstd-compressed; that is detected.
func UnpackTar(r io.Reader, dest string, opts UnpackOptions) error {
	tr, err := decompress(r)
	if err != nil {
		return fmt.Errorf("unpack tar stream: %w", err)
	}
	defer tr.Close()
	root, err := openBeneathRoot(dest)
	if err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	defer root.close()
	return applyLayer(root, tr, "tar stream", opts, newBudget(opts.MaxBytes))
}

// decompress returns r, decompressed when it starts with a gzip or zstd
// magic number.
func decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return gzip.NewReader(br)
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, err
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

// layerApplier applies one layer's entries.
type layerApplier struct {
	root   *beneathRoot
	opts   UnpackOptions
	source string // "layer sha256:…", for errors
	budget *budget
	buf    []byte // for file contents, made on first use

	// written holds the paths this layer has made, with their ancestors:
	// whiteouts and opaque markers only hide what lower layers made.
	written map[string]bool
	// dirs get their mode and times once the layer is done, since adding
	// entries to a directory changes its mtime and a read-only mode would
	// stop an unprivileged unpack from adding them.
	dirs []dirMeta
}

type dirMeta struct {
	path         string
	mode         uint32
	atime, mtime time.Time
}

func applyLayer(root *beneathRoot, r io.Reader, source string, opts UnpackOptions, budget *budget) error {
	a := &layerApplier{root: root, opts: opts, source: source, budget: budget, written: map[string]bool{}}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("unpack %s: read tar: %w", source, err)
		}
		if err := a.entry(hdr, tr); err != nil {
			return fmt.Errorf("unpack %s: entry %q: %w", source, hdr.Name, err)
		}
	}
	// Read to the end so that a digest-verifying reader gets to verify.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("unpack %s: %w", source, err)
	}
	return a.finishDirs()
}

// entryPath cleans a path from a tar header, refusing one that is absolute
// or leaves the root lexically. The root itself is ".".
func entryPath(name string) (string, error) {
	if path.IsAbs(name) {
		return "", fmt.Errorf("absolute path: %w", ErrUnsafeEntry)
	}
	clean := path.Clean(name)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("path climbs out with \"..\": %w", ErrUnsafeEntry)
	}
	return clean, nil
}

// unsafeIf turns the kernel's refusal to resolve beneath the root into
// ErrUnsafeEntry, keeping other errors as they are.
func unsafeIf(what string, err error) error {
	if errors.Is(err, errEscapes) {
		return fmt.Errorf("%s resolves outside the destination through a symlink or \"..\": %w", what, ErrUnsafeEntry)
	}
	return err
}

func (a *layerApplier) entry(hdr *tar.Header, content io.Reader) error {
	name, err := entryPath(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		return nil // the destination's own mode and owner are the caller's
	}
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if strings.HasPrefix(base, whiteoutPrefix) {
		return a.whiteout(dir, base)
	}
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil
	case tar.TypeChar, tar.TypeBlock:
		if !a.opts.AllowDevices {
			slog.Debug("skip device node", "layer", a.source, "path", name)
			return nil
		}
	case tar.TypeReg, tar.TypeGNUSparse:
		// Charged before anything is made or replaced, so that a refused
		// file leaves no trace.
		if err := a.budget.take(hdr.Size); err != nil {
			return err
		}
	}

	parent, err := a.root.mkdirAll(dir)
	if err != nil {
		return unsafeIf("parent directory", err)
	}
	defer unix.Close(parent)
	a.markWritten(name)

	existing, exists, err := lstatAt(parent, base)
	if err != nil {
		return err
	}
	keepDir := exists && hdr.Typeflag == tar.TypeDir && existing.Mode&unix.S_IFMT == unix.S_IFDIR
	if exists && !keepDir {
		if err := removeAllAt(parent, base); err != nil {
			return fmt.Errorf("replace existing entry: %w", err)
		}
	}

	mode := uint32(hdr.Mode) & 0o7777
	switch hdr.Typeflag {
	case tar.TypeDir:
		if !keepDir {
			if err := unix.Mkdirat(parent, base, 0o700); err != nil {
				return fmt.Errorf("mkdir: %w", err)
			}
		}
		if err := a.withOpen(parent, base, unix.O_RDONLY|unix.O_DIRECTORY, hdr, func(int) error { return nil }); err != nil {
			return err
		}
		a.dirs = append(a.dirs, dirMeta{path: name, mode: mode, atime: accessTime(hdr), mtime: hdr.ModTime})
		return nil

	case tar.TypeReg, tar.TypeGNUSparse:
		return a.writeFile(parent, base, hdr, content)

	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, parent, base); err != nil {
			return fmt.Errorf("symlink to %q: %w", hdr.Linkname, err)
		}
		if err := a.chownAt(parent, base, hdr); err != nil {
			return err
		}
		return lutimesAt(parent, base, accessTime(hdr), hdr.ModTime)

	case tar.TypeLink:
		return a.hardLink(parent, base, hdr)

	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknodat(parent, base, kind|0o600, int(dev)); err != nil {
			return fmt.Errorf("mknod: %w", err)
		}
		if err := a.chownAt(parent, base, hdr); err != nil {
			return err
		}
		// The node was just made by us and is no symlink, so following is
		// harmless; Linux has no fchmodat that refuses to follow.
		if err := unix.Fchmodat(parent, base, mode, 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
		return lutimesAt(parent, base, accessTime(hdr), hdr.ModTime)
	}
	return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
}

func (a *layerApplier) writeFile(parent int, base string, hdr *tar.Header, content io.Reader) error {
	// O_EXCL|O_NOFOLLOW: whatever was here was removed above, so this can
	// neither write through a symlink nor into another name's hard link.
	fd, err := unix.Openat(parent, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	f := os.NewFile(uintptr(fd), hdr.Name)
	defer f.Close()
	if a.buf == nil {
		a.buf = make([]byte, copyBufSize)
	}
	if err := copyKeepingHoles(f, content, a.buf); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := a.applyMeta(fd, hdr); err != nil {
		return err
	}
	if err := unix.Fchmod(fd, uint32(hdr.Mode)&0o7777); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	if err := futimens(fd, accessTime(hdr), hdr.ModTime); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return f.Close()
}

func (a *layerApplier) hardLink(parent int, base string, hdr *tar.Header) error {
	target, err := entryPath(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hard link target %q: %w", hdr.Linkname, err)
	}
	if target == "." {
		return fmt.Errorf("hard link to the root directory")
	}
	tdir, tbase := path.Split(target)
	tparent, err := a.root.openDir(strings.TrimSuffix(tdir, "/"))
	if err != nil {
		return fmt.Errorf("hard link target %q: %w", hdr.Linkname, unsafeIf("target", err))
	}
	defer unix.Close(tparent)
	// Flags 0: a target that is a symlink is linked as the symlink itself,
	// never followed.
	if err := unix.Linkat(tparent, tbase, parent, base, 0); err != nil {
		return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
	}
	return nil
}

// withOpen opens base in parent without following a symlink, gives it the
// header's owner and extended attributes, and runs fn on it.
func (a *layerApplier) withOpen(parent int, base string, flags int, hdr *tar.Header, fn func(fd int) error) error {
	fd, err := unix.Openat(parent, base, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer unix.Close(fd)
	if err := a.applyMeta(fd, hdr); err != nil {
		return err
	}
	return fn(fd)
}

// applyMeta gives an open entry its owner and extended attributes. Owner
// comes first: chown clears setuid and setgid bits, so callers chmod after.
func (a *layerApplier) applyMeta(fd int, hdr *tar.Header) error {
	if !a.opts.IgnoreOwners {
		if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("chown to %d:%d (needs root; set IgnoreOwners to skip): %w", hdr.Uid, hdr.Gid, err)
		}
	}
	for _, key := range slices.Sorted(func(yield func(string) bool) {
		for k := range hdr.PAXRecords {
			if !yield(k) {
				return
			}
		}
	}) {
		attr, ok := strings.CutPrefix(key, "SCHILY.xattr.")
		if !ok {
			continue
		}
		err := unix.Fsetxattr(fd, attr, []byte(hdr.PAXRecords[key]), 0)
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) {
			// The staging filesystem or our privileges cannot hold it, and
			// an initramfs cannot carry xattrs anyway: worth a warning,
			// not a failed build.
			slog.Warn("extended attribute not kept", "layer", a.source, "path", hdr.Name, "xattr", attr, "err", err)
			continue
		}
		if err != nil {
			return fmt.Errorf("set xattr %s: %w", attr, err)
		}
	}
	return nil
}

func (a *layerApplier) chownAt(parent int, base string, hdr *tar.Header) error {
	if a.opts.IgnoreOwners {
		return nil
	}
	if err := unix.Fchownat(parent, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown to %d:%d (needs root; set IgnoreOwners to skip): %w", hdr.Uid, hdr.Gid, err)
	}
	return nil
}

func (a *layerApplier) markWritten(name string) {
	for p := name; p != "." && !a.written[p]; p = path.Dir(p) {
		a.written[p] = true
	}
}

// finishDirs gives the layer's directories their modes and times, deepest
// last-made first. A directory since replaced by a non-directory is skipped.
func (a *layerApplier) finishDirs() error {
	for _, d := range slices.Backward(a.dirs) {
		fd, err := a.root.open(d.path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) || errors.Is(err, errEscapes) {
			continue // replaced later in the layer; nothing of it is left to finish
		}
		if err != nil {
			return fmt.Errorf("unpack %s: entry %q: %w", a.source, d.path, err)
		}
		err = unix.Fchmod(fd, d.mode)
		if err == nil {
			err = futimens(fd, d.atime, d.mtime)
		}
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("unpack %s: entry %q: set mode and times: %w", a.source, d.path, err)
		}
	}
	return nil
}

// accessTime is the header's access time, or its modification time when
// the archive records none.
func accessTime(hdr *tar.Header) time.Time {
	if hdr.AccessTime.IsZero() {
		return hdr.ModTime
	}
	return hdr.AccessTime
}
