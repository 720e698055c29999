package sbom

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Package is a Debian package installed in an image.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Arch    string `json:"arch,omitempty"`
}

// PackagesLabel is the image label that can list an image's Debian
// packages as a JSON array of {"name","version"[,"arch"]}, for images
// whose tree does not record them.
const PackagesLabel = "org.minikit.debian-packages"

// Where images record their Debian packages: a dpkg database, or one
// control file a package under status.d, as distroless images (and
// minikit's pkgbuild) lay it out without dpkg.
const (
	dpkgStatus  = "var/lib/dpkg/status"
	dpkgStatusD = "var/lib/dpkg/status.d"
)

// DebianPackages reads the Debian packages recorded in the tree at root,
// sorted by name. A tree without records has none.
func DebianPackages(root string) ([]Package, error) {
	var pkgs []Package
	status := filepath.Join(root, dpkgStatus)
	if err := readControl(status, true, &pkgs); err != nil {
		return nil, err
	}
	dir := filepath.Join(root, dpkgStatusD)
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	for _, e := range entries {
		// status.d may also hold NAME.md5sums beside each control file.
		if !e.Type().IsRegular() || strings.HasSuffix(e.Name(), ".md5sums") {
			continue
		}
		if err := readControl(filepath.Join(dir, e.Name()), false, &pkgs); err != nil {
			return nil, err
		}
	}
	return sortPackages(pkgs), nil
}

// readControl adds the packages of a deb822 file: paragraphs of
// "Field: value" lines separated by blank lines. In a dpkg status file
// only installed packages count.
func readControl(path string, isStatus bool, pkgs *[]Package) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fields := map[string]string{}
	flush := func() {
		installed := !isStatus || strings.HasSuffix(fields["Status"], " installed")
		if fields["Package"] != "" && installed {
			*pkgs = append(*pkgs, Package{Name: fields["Package"], Version: fields["Version"], Arch: fields["Architecture"]})
		}
		clear(fields)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case line[0] == ' ' || line[0] == '\t':
			// A continuation of a multi-line field (Description…).
		default:
			k, v, ok := strings.Cut(line, ":")
			if ok {
				fields[k] = strings.TrimSpace(v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	flush()
	return nil
}

// PackagesFromLabels reads PackagesLabel from an image's labels; no label
// means no packages.
func PackagesFromLabels(labels map[string]string) ([]Package, error) {
	v, ok := labels[PackagesLabel]
	if !ok {
		return nil, nil
	}
	var pkgs []Package
	if err := json.Unmarshal([]byte(v), &pkgs); err != nil {
		return nil, fmt.Errorf("label %s: %w", PackagesLabel, err)
	}
	for i, p := range pkgs {
		if p.Name == "" || p.Version == "" {
			return nil, fmt.Errorf("label %s: entry %d has no name or version", PackagesLabel, i)
		}
	}
	return sortPackages(pkgs), nil
}

// MergePackages returns the packages of both lists, each once.
func MergePackages(a, b []Package) []Package {
	return sortPackages(append(slices.Clone(a), b...))
}

func sortPackages(pkgs []Package) []Package {
	slices.SortFunc(pkgs, func(a, b Package) int {
		return strings.Compare(a.Name+"\x00"+a.Version+"\x00"+a.Arch, b.Name+"\x00"+b.Version+"\x00"+b.Arch)
	})
	return slices.Compact(pkgs)
}
