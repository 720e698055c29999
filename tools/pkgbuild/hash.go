package pkgbuild

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// hashVersion changes whenever the builder lays images out differently, so
// that images made by an older builder are rebuilt.
const hashVersion = "minikit-pkgbuild 1"

// recipeHasher accumulates everything an image is made from. Each field is
// length-prefixed so that no two different inputs give the same stream.
type recipeHasher struct{ h hash.Hash }

func newRecipeHasher() *recipeHasher {
	rh := &recipeHasher{h: sha256.New()}
	rh.field(hashVersion)
	return rh
}

func (rh *recipeHasher) field(parts ...string) {
	for _, s := range parts {
		fmt.Fprintf(rh.h, "%d:%s", len(s), s)
	}
	rh.h.Write([]byte{'\n'})
}

// file adds a file's content by its SHA-256.
func (rh *recipeHasher) file(label, p string) error {
	sum, err := fileSHA256(p)
	if err != nil {
		return err
	}
	rh.field(label, sum)
	return nil
}

// tree adds a copied file or directory: each entry's relative path, the
// mode it will have in the image, and its content or link target.
func (rh *recipeHasher) tree(c Copy) error {
	return filepath.WalkDir(c.Source, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("hash %s: %w", c.Source, err)
		}
		rel, _ := filepath.Rel(c.Source, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			rh.field("dir", c.Path, rel)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			rh.field("symlink", c.Path, rel, target)
		default:
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("hash %s: %w", p, err)
			}
			rh.field("file", c.Path, rel, copyMode(fi, c.Mode).String(), hex.EncodeToString(h.Sum(nil)))
		}
		return nil
	})
}

// sum is the recipe hash, "sha256:…".
func (rh *recipeHasher) sum() string {
	return "sha256:" + hex.EncodeToString(rh.h.Sum(nil))
}
