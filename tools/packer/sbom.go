package packer

import (
	"bytes"
	"fmt"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/minikit/minikit/internal/atomicfile"
	"github.com/minikit/minikit/internal/sourcedate"
	"github.com/minikit/minikit/tools/sbom"
)

// inventory is what the build learnt about its images for the SBOM.
type inventory struct {
	images map[string]*sbom.Image // by ref and digest
	// Seen in the staging root so far, to attribute what each init image
	// adds to it: init images are unpacked on top of one another.
	rootPackages map[sbom.Package]bool
	rootBinaries map[string]bool
}

// record notes that the spec uses img (named ref) as use. When root is
// not empty it is the tree the image was unpacked into, searched for
// Debian packages and Go programs; with fromRoot only what is new since
// the last call with fromRoot counts, for images stacked in one tree.
func (b *build) record(use, ref string, img v1.Image, root string, fromRoot bool) error {
	if !b.SBOM {
		return nil
	}
	digest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("image %s: %w", ref, err)
	}
	inv := &b.inventory
	if inv.images == nil {
		inv.images = map[string]*sbom.Image{}
		inv.rootPackages = map[sbom.Package]bool{}
		inv.rootBinaries = map[string]bool{}
	}
	key := ref + "@" + digest.String()
	entry, seen := inv.images[key]
	if !seen {
		entry = &sbom.Image{Ref: ref, Digest: digest.String()}
		inv.images[key] = entry
		cfg, err := img.ConfigFile()
		if err != nil {
			return fmt.Errorf("image %s: read config: %w", ref, err)
		}
		// A label the SBOM cannot read costs the SBOM those packages, not
		// the build: the image itself is fine.
		if entry.Packages, err = sbom.PackagesFromLabels(cfg.Config.Labels); err != nil {
			b.Log.Warn("SBOM: packages label unreadable, left out", "image", ref, "err", err)
		}
	}
	entry.Uses = append(entry.Uses, use)
	if root == "" || (seen && !fromRoot) {
		return nil
	}
	pkgs, err := sbom.DebianPackages(root)
	if err != nil {
		return fmt.Errorf("image %s: %w", ref, err)
	}
	bins, err := sbom.GoBinaries(root)
	if err != nil {
		return fmt.Errorf("image %s: %w", ref, err)
	}
	if fromRoot {
		pkgs = slices.DeleteFunc(pkgs, func(p sbom.Package) bool { return inv.rootPackages[p] })
		bins = slices.DeleteFunc(bins, func(g sbom.GoBinary) bool { return inv.rootBinaries[g.Path] })
		for _, p := range pkgs {
			inv.rootPackages[p] = true
		}
		for _, g := range bins {
			inv.rootBinaries[g.Path] = true
		}
	}
	entry.Packages = sbom.MergePackages(entry.Packages, pkgs)
	for _, g := range bins {
		if !slices.ContainsFunc(entry.Binaries, func(x sbom.GoBinary) bool { return x.Path == g.Path }) {
			entry.Binaries = append(entry.Binaries, g)
		}
	}
	return nil
}

// writeSBOM writes the inventory as CycloneDX JSON to path.
func (b *build) writeSBOM(path string) error {
	sys := sbom.System{Name: b.Name, Tool: "minikit"}
	if sourcedate.Given() {
		sys.Timestamp = b.epoch
	}
	for _, img := range b.inventory.images {
		sys.Images = append(sys.Images, *img)
	}
	var buf bytes.Buffer
	if err := sbom.Write(&buf, sys); err != nil {
		return err
	}
	if err := atomicfile.Write(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write SBOM %s: %w", path, err)
	}
	return nil
}
