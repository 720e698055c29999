package pkgbuild

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// The steps below change the image tree through an *os.Root, which
// refuses to follow a symlink out of the tree: a package's absolute
// symlink can never make the build write on the build host.

// rel turns an absolute image path into one relative to the tree, moved
// under /usr when the recipe merges /usr.
func (b *builder) rel(p string) string {
	if b.r.UsrMerge {
		p = mergedPath(p)
	}
	return strings.TrimPrefix(p, "/")
}

// usrMergeLinks makes /bin, /sbin, /lib and /lib64 relative symlinks into
// /usr, as on a Debian system, so that /bin/sh and the loader's
// /lib64/ld-linux-x86-64.so.2 are found at run time.
func usrMergeLinks(root *os.Root) error {
	for _, d := range []string{"bin", "sbin", "lib", "lib64"} {
		if err := root.MkdirAll("usr/"+d, 0o755); err != nil {
			return fmt.Errorf("usrmerge: %w", err)
		}
		if err := root.Symlink("usr/"+d, d); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("usrmerge: %w", err)
		}
	}
	return nil
}

// move renames what a package installed.
func (b *builder) move(m Move) error {
	from, to := b.rel(m.From), b.rel(m.To)
	if _, err := b.root.Lstat(from); err != nil {
		return fmt.Errorf("move %s: %w", m.From, err)
	}
	if err := b.root.MkdirAll(path.Dir(to), 0o755); err != nil {
		return fmt.Errorf("move %s to %s: %w", m.From, m.To, err)
	}
	if err := b.root.Rename(from, to); err != nil {
		return fmt.Errorf("move %s to %s: %w", m.From, m.To, err)
	}
	return nil
}

// install writes the file at src into the image at dest with mode,
// replacing whatever is there.
func (b *builder) install(src, dest string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := b.root.MkdirAll(path.Dir(dest), 0o755); err != nil {
		return err
	}
	if err := b.root.RemoveAll(dest); err != nil {
		return err
	}
	out, err := b.root.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("write %s: %w", dest, err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	return b.root.Chmod(dest, mode) // not umask-dependent, setuid kept
}

// copyMode is a copied file's mode when the recipe gives none: 0755 for
// what its owner may execute, else 0644.
func copyMode(fi fs.FileInfo, given os.FileMode) os.FileMode {
	switch {
	case given != 0:
		return given
	case fi.Mode()&0o100 != 0:
		return 0o755
	}
	return 0o644
}

// copyIn copies a recipe file or directory tree into the image.
func (b *builder) copyIn(c Copy) error {
	dest := b.rel(c.Path)
	return filepath.WalkDir(c.Source, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("copy %s: %w", c.Source, err)
		}
		sub, _ := filepath.Rel(c.Source, p)
		target := path.Join(dest, filepath.ToSlash(sub))
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := b.root.MkdirAll(target, 0o755); err != nil {
				return fmt.Errorf("copy %s: %w", p, err)
			}
			return b.root.Chmod(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			b.root.RemoveAll(target)
			return b.root.Symlink(link, target)
		case d.Type().IsRegular():
			if err := b.install(p, target, copyMode(fi, c.Mode)); err != nil {
				return fmt.Errorf("copy %s to %s: %w", p, "/"+target, err)
			}
			return nil
		}
		return fmt.Errorf("copy %s: not a file, directory or symlink", p)
	})
}

// mkdir makes a directory with exactly mode.
func (b *builder) mkdir(d Dir) error {
	p := b.rel(d.Path)
	if err := b.root.MkdirAll(p, 0o755); err != nil {
		return fmt.Errorf("directory %s: %w", d.Path, err)
	}
	return b.root.Chmod(p, d.Mode)
}

// symlink makes a symbolic link, replacing what is there.
func (b *builder) symlink(s Symlink) error {
	p := b.rel(s.Path)
	if err := b.root.MkdirAll(path.Dir(p), 0o755); err != nil {
		return fmt.Errorf("symlink %s: %w", s.Path, err)
	}
	if err := b.root.RemoveAll(p); err != nil {
		return fmt.Errorf("symlink %s: %w", s.Path, err)
	}
	if err := b.root.Symlink(s.Target, p); err != nil {
		return fmt.Errorf("symlink %s: %w", s.Path, err)
	}
	return nil
}

// remove deletes a path and what is under it; a path that is not there is
// no error, since packages change. A path with *, ? or [ is a pattern (as
// path.Match reads it) and each match is deleted.
func (b *builder) remove(p string) error {
	matches := []string{b.rel(p)}
	if strings.ContainsAny(p, "*?[") {
		var err error
		if matches, err = fs.Glob(b.root.FS(), b.rel(p)); err != nil {
			return fmt.Errorf("remove %s: %w", p, err)
		}
	}
	for _, m := range matches {
		if err := b.root.RemoveAll(m); err != nil {
			return fmt.Errorf("remove %s: %w", p, err)
		}
	}
	return nil
}

// trimmedAlways is documentation nothing reads in a running system,
// removed from every image.
var trimmedAlways = []string{"usr/share/man", "usr/share/info", "usr/share/lintian", "usr/share/bug", "usr/share/locale"}

// trimDocs removes trimmedAlways, and from /usr/share/doc everything but
// each package's copyright file, which its licence asks to keep.
func (b *builder) trimDocs() error {
	for _, p := range trimmedAlways {
		if err := b.root.RemoveAll(p); err != nil {
			return fmt.Errorf("trim %s: %w", p, err)
		}
	}
	docs := "usr/share/doc"
	entries, err := fs.ReadDir(b.root.FS(), docs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("trim /%s: %w", docs, err)
	}
	for _, pkg := range entries {
		dir := docs + "/" + pkg.Name()
		if !pkg.IsDir() {
			if err := b.root.RemoveAll(dir); err != nil {
				return err
			}
			continue
		}
		files, err := fs.ReadDir(b.root.FS(), dir)
		if err != nil {
			return fmt.Errorf("trim /%s: %w", dir, err)
		}
		for _, f := range files {
			if f.Name() != "copyright" {
				if err := b.root.RemoveAll(dir + "/" + f.Name()); err != nil {
					return fmt.Errorf("trim /%s: %w", dir, err)
				}
			}
		}
	}
	return nil
}
