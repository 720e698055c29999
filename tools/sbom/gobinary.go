package sbom

import (
	"bytes"
	"debug/buildinfo"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
)

// GoBinary is a Go program found in an image.
type GoBinary struct {
	Path      string // inside the image, absolute
	GoVersion string // the toolchain that built it
	Main      Module
	Deps      []Module // sorted by path
}

// Module is a Go module compiled into a program.
type Module struct {
	Path    string
	Version string // "(devel)" for a main module built from a checkout
	Sum     string // the go.sum hash, "h1:…", when known
}

// GoBinaries finds the Go programs in the tree at root: executable ELF
// files carrying Go build information. Symlinks are not followed. The
// result is sorted by path.
func GoBinaries(root string) ([]GoBinary, error) {
	var bins []GoBinary
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode()&0o111 == 0 || info.Size() < 4 {
			return nil
		}
		bi, err := readBuildInfo(p)
		if err != nil || bi == nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		bins = append(bins, goBinary("/"+filepath.ToSlash(rel), bi))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find Go programs in %s: %w", root, err)
	}
	return bins, nil
}

// readBuildInfo returns the build information of a Go ELF program, or nil
// for any other file.
func readBuildInfo(path string) (*debug.BuildInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := io.ReadFull(f, magic); err != nil || !bytes.Equal(magic, []byte("\x7fELF")) {
		return nil, nil
	}
	bi, err := buildinfo.Read(f)
	if err != nil {
		return nil, nil // an ELF file, but not Go's
	}
	return bi, nil
}

func goBinary(path string, bi *debug.BuildInfo) GoBinary {
	b := GoBinary{Path: path, GoVersion: bi.GoVersion, Main: module(&bi.Main)}
	for _, m := range bi.Deps {
		b.Deps = append(b.Deps, module(m))
	}
	slices.SortFunc(b.Deps, func(x, y Module) int {
		return strings.Compare(x.Path+"@"+x.Version, y.Path+"@"+y.Version)
	})
	return b
}

// module is the module a program was built with, after any replace
// directive: that is the code it holds.
func module(m *debug.Module) Module {
	if m.Replace != nil {
		m = m.Replace
	}
	return Module{Path: m.Path, Version: m.Version, Sum: m.Sum}
}
