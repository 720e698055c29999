package main

import (
	"archive/tar"
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/minikit/minikit/internal/atomicfile"
)

// epoch is every entry's time: the modules' own times say only when
// Debian built them, and would make equal trees give different bytes.
var epoch = time.Unix(0, 0)

// writeModulesTar writes dir/version as lib/modules/version/... into
// file, through a temporary file so that a failure leaves nothing behind.
func writeModulesTar(file, dir, version string) error {
	return atomicfile.WriteFunc(file, 0o644, func(w io.Writer) error {
		buf := bufio.NewWriterSize(w, 1<<20)
		tw := tar.NewWriter(buf)
		for _, d := range []string{"lib", "lib/modules"} {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
				return err
			}
		}
		// WalkDir visits in lexical order, which makes the order of entries fixed.
		err := filepath.WalkDir(filepath.Join(dir, version), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			return addEntry(tw, p, path.Join("lib/modules", filepath.ToSlash(rel)), d)
		})
		if err != nil {
			return fmt.Errorf("pack the modules of %s: %w", version, err)
		}
		if err := tw.Close(); err != nil {
			return err
		}
		return buf.Flush()
	})
}

func addEntry(tw *tar.Writer, p, name string, d fs.DirEntry) error {
	fi, err := d.Info()
	if err != nil {
		return err
	}
	h := &tar.Header{Name: name, Mode: int64(fi.Mode().Perm()), ModTime: epoch, Format: tar.FormatPAX}
	switch {
	case d.IsDir():
		h.Typeflag, h.Name = tar.TypeDir, name+"/"
	case d.Type()&fs.ModeSymlink != 0:
		if h.Linkname, err = os.Readlink(p); err != nil {
			return err
		}
		h.Typeflag = tar.TypeSymlink
	case d.Type().IsRegular():
		h.Typeflag, h.Size = tar.TypeReg, fi.Size()
	default:
		return fmt.Errorf("%s: %s is neither file, directory nor symlink", p, fi.Mode().Type())
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if h.Typeflag != tar.TypeReg {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}
