package kmod

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// moduleSuffixes are the file names a module may have; depmod and
// modprobe accept the same set.
var moduleSuffixes = []string{".ko", ".ko.gz", ".ko.xz", ".ko.zst"}

// isModule reports whether a file name is a kernel module's.
func isModule(name string) bool {
	for _, s := range moduleSuffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// compression returns the compression suffix of a module file name
// (".gz", ".xz", ".zst"), or "" for a plain .ko.
func compression(name string) string {
	for _, s := range []string{".gz", ".xz", ".zst"} {
		if strings.HasSuffix(name, ".ko"+s) {
			return s
		}
	}
	return ""
}

// elfMagic starts every ELF file; checked after decompression so a damaged
// or mislabelled module fails here, at build time, not in the kernel.
var elfMagic = []byte("\x7fELF")

// readModule returns the ELF image of the module at path, decompressed.
//
// Debian 12's kernel ships plain .ko files; zstd and gzip are handled
// because they cost nothing (klauspost/compress is already a dependency,
// gzip is in the standard library). xz, which later Debian kernels use,
// would need a new module and is refused with a clear error until then.
func readModule(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read module %s: %w", path, err)
	}
	defer f.Close()

	var r io.Reader
	switch compression(path) {
	case "":
		r = f
	case ".gz":
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("read module %s: gzip: %w", path, err)
		}
		defer zr.Close()
		r = zr
	case ".zst":
		zr, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("read module %s: zstd: %w", path, err)
		}
		defer zr.Close()
		r = zr
	case ".xz":
		return nil, fmt.Errorf("read module %s: xz-compressed modules are not supported; unpack them with unxz or use a kernel with .ko or .ko.zst modules", path)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read module %s: %w", path, err)
	}
	if !bytes.HasPrefix(data, elfMagic) {
		return nil, fmt.Errorf("read module %s: not an ELF file", path)
	}
	return data, nil
}
