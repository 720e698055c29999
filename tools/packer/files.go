package packer

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/minikit/minikit/internal/atomicfile"
)

// files adds the spec's `files` entries to the root.
func (b *build) files() error {
	for _, f := range b.Spec.Files {
		dest := filepath.Join(b.staging, filepath.Clean("/"+f.Path))
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return fmt.Errorf("files: %s: %w", f.Path, err)
		}
		var err error
		switch {
		case f.Directory:
			err = os.MkdirAll(dest, f.FileMode())
		case f.Symlink != "":
			_ = os.Remove(dest)
			err = os.Symlink(f.Symlink, dest)
		case f.Contents != nil:
			err = writeFile(dest, []byte(*f.Contents), f.FileMode())
		case f.Metadata != "":
			var data []byte
			if data, err = yaml.Marshal(b.Spec); err == nil {
				err = writeFile(dest, data, f.FileMode())
			}
		case f.Source != "":
			src := f.Source
			if strings.HasPrefix(src, "~/") {
				home, _ := os.UserHomeDir()
				src = filepath.Join(home, src[2:])
			}
			if _, serr := os.Stat(src); os.IsNotExist(serr) && f.Optional {
				continue
			}
			err = copyFile(src, dest, f.FileMode())
		}
		if err == nil && f.Symlink == "" {
			err = os.Chmod(dest, f.FileMode())
		}
		if err == nil && (f.UID != nil || f.GID != nil) {
			err = os.Lchown(dest, idOf(b, f.UID), idOf(b, f.GID))
		}
		if err != nil {
			return fmt.Errorf("files: %s: %w", f.Path, err)
		}
		rel, _ := filepath.Rel(b.staging, dest)
		b.owners.files[filepath.ToSlash(rel)] = true
	}
	return nil
}

func writeFile(path string, data []byte, mode os.FileMode) error {
	_ = os.Remove(path)
	return os.WriteFile(path, data, mode)
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	_ = os.Remove(dst)
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyFileAtomic copies src to dst through a temporary file.
func copyFileAtomic(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return atomicfile.WriteFunc(dst, 0o644, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}
