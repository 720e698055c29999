package kmod

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/minikit/minikit/internal/atomicfile"
)

// Copy writes the named modules, decompressed, into an image rooted at
// destRoot as lib/modules/VERSION/RELPATH (RELPATH without .gz/.xz/.zst),
// each with mode 0644, and returns their absolute paths inside the image
// in the order given — pass it Resolve's result and that is a load order,
// ready to be written to bundle.ModulesList. A name given twice is copied
// once. Each file is written under a temporary name and renamed, so an
// interrupted copy leaves no truncated module behind.
func (ix *Index) Copy(resolved []string, destRoot string) ([]string, error) {
	seen := map[string]bool{}
	var inImage []string
	for _, name := range resolved {
		name = normalize(name)
		if seen[name] {
			continue
		}
		seen[name] = true
		rel, ok := ix.paths[name]
		if !ok {
			return nil, fmt.Errorf("copy module %s: not in %s", name, ix.dir)
		}
		data, err := readModule(filepath.Join(ix.dir, filepath.FromSlash(rel)))
		if err != nil {
			return nil, fmt.Errorf("copy module %s: %w", name, err)
		}
		outRel := strings.TrimSuffix(rel, compression(rel))
		imagePath := path.Join("/lib/modules", ix.version, outRel)
		dest := filepath.Join(destRoot, filepath.FromSlash(imagePath))
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return nil, fmt.Errorf("copy module %s: %w", name, err)
		}
		if err := atomicfile.Write(dest, data, 0o644); err != nil {
			return nil, fmt.Errorf("copy module %s: %w", name, err)
		}
		inImage = append(inImage, imagePath)
	}
	return inImage, nil
}
