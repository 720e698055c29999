package images

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sys/unix"

	"github.com/minikit/minikit/internal/sourcedate"
)

// FromDir makes a single-layer linux/amd64 image of the tree under dir,
// with cfg as its runtime configuration.
//
// The layer holds directories, regular files, symlinks, device nodes and
// FIFOs with their permission bits (setuid, setgid and sticky included) and
// the numeric owner and group they have on disk; a file with several hard
// links is stored once and linked to. Sockets are left out, and so are
// extended attributes. Entries are sorted by path and every timestamp, in
// the layer and in the config, is $SOURCE_DATE_EPOCH (or 0 when unset), so
// the same tree always gives the same digest whatever its mtimes and
// whatever the caller's umask. Modes are taken as they are on disk: a tree
// checked out under another umask is a different tree.
//
// The compressed layer is kept in memory; FromDir is meant for the small
// trees minikit builds its own images from.
func FromDir(dir string, cfg v1.Config) (v1.Image, error) {
	epoch, err := sourcedate.Epoch()
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("image from %s: %w", dir, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("image from %s: not a directory", dir)
	}
	var compressed bytes.Buffer
	zw := gzip.NewWriter(&compressed)
	if err := writeTree(zw, dir, epoch); err != nil {
		return nil, fmt.Errorf("image from %s: %w", dir, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("image from %s: compress: %w", dir, err)
	}
	blob := compressed.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(blob)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("image from %s: layer: %w", dir, err)
	}

	created := v1.Time{Time: epoch}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: targetPlatform.Architecture,
		OS:           targetPlatform.OS,
		Created:      created,
		Config:       cfg,
		RootFS:       v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, fmt.Errorf("image from %s: %w", dir, err)
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: created, CreatedBy: "minikit image-import"},
	})
	if err != nil {
		return nil, fmt.Errorf("image from %s: %w", dir, err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	return img, nil
}

// writeTree writes dir's tree as a tar stream to w. filepath.WalkDir visits
// entries in lexical order, which is what makes the stream reproducible.
func writeTree(w io.Writer, dir string, mtime time.Time) error {
	tw := tar.NewWriter(w)
	type inode struct{ dev, ino uint64 }
	linked := map[inode]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return fmt.Errorf("stat %s: %w", path, err)
		}
		hdr := &tar.Header{
			Name:    rel,
			Mode:    int64(st.Mode & 0o7777),
			Uid:     int(st.Uid),
			Gid:     int(st.Gid),
			ModTime: mtime,
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			hdr.Typeflag, hdr.Name = tar.TypeDir, rel+"/"
		case unix.S_IFREG:
			hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
			if st.Nlink > 1 {
				id := inode{st.Dev, st.Ino}
				if first, ok := linked[id]; ok {
					hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
				} else {
					linked[id] = rel
				}
			}
		case unix.S_IFLNK:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
		case unix.S_IFCHR, unix.S_IFBLK:
			hdr.Typeflag = tar.TypeChar
			if st.Mode&unix.S_IFMT == unix.S_IFBLK {
				hdr.Typeflag = tar.TypeBlock
			}
			hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		case unix.S_IFIFO:
			hdr.Typeflag = tar.TypeFifo
		default:
			return nil // sockets have no meaning in an image
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		// Copy exactly the size in the header: a file that grows while we
		// read it must not corrupt the stream.
		if _, err := io.CopyN(tw, f, st.Size); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
