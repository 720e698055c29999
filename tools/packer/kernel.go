package packer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/minikit/minikit/internal/bundle"
	"github.com/minikit/minikit/rootfs/kmod"
	"github.com/minikit/minikit/tools/images"
)

// kernel resolves the kernel image and returns the kernel binary and the
// modules tree (lib/modules/VERSION; "" when the image has none). Both are
// unpacked once per image digest into the cache, since the modules tarball
// is large and never changes for a given digest.
func (b *build) kernel() (kernel, modules string, err error) {
	ref := b.Spec.Kernel.Image
	img, err := b.Store.Resolve(b.ctx, ref)
	if err != nil {
		return "", "", fmt.Errorf("kernel image %s: %w", ref, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return "", "", fmt.Errorf("kernel image %s: %w", ref, err)
	}
	if err := b.record("kernel", ref, img, "", false); err != nil {
		return "", "", err
	}
	tarName := b.Spec.Kernel.TarName()
	dir := filepath.Join(b.CacheDir, "kernels", digest.Hex+"-"+strings.ReplaceAll(tarName, "/", "_"))
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		b.Log.Info("unpacking kernel image", "image", ref)
		if err := unpackKernel(img, tarName, dir, b.unpackOptions()); err != nil {
			return "", "", fmt.Errorf("kernel image %s: %w", ref, err)
		}
	}
	kernel = filepath.Join(dir, "image", b.Spec.Kernel.BinaryName())
	if _, err := os.Stat(kernel); err != nil {
		return "", "", fmt.Errorf("kernel image %s has no %s (set kernel.binary)", ref, b.Spec.Kernel.BinaryName())
	}
	versions, _ := filepath.Glob(filepath.Join(dir, "modules/lib/modules/*"))
	switch len(versions) {
	case 0:
		return kernel, "", nil
	case 1:
		return kernel, versions[0], nil
	}
	return "", "", fmt.Errorf("kernel image %s: %s holds modules of several kernels", ref, tarName)
}

func unpackKernel(img v1.Image, tarName, dir string, opts images.UnpackOptions) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".unpack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, d := range []string{"image", "modules"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
			return err
		}
	}
	if err := images.Unpack(img, filepath.Join(tmp, "image"), opts); err != nil {
		return err
	}
	if tarName != "" {
		f, err := os.Open(filepath.Join(tmp, "image", tarName))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err == nil {
			err = images.UnpackTar(f, filepath.Join(tmp, "modules"), opts)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", tarName, err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		return err
	}
	_ = os.RemoveAll(dir) // an incomplete earlier attempt
	return os.Rename(tmp, dir)
}

// alwaysModules are loaded whenever the kernel has them: overlay gives
// containers without a read-only root their writable layer.
var alwaysModules = []string{"overlay"}

// modules copies the modules the spec lists, loaded always or only for
// devices present (coldplug), with their dependencies, into the root, and
// writes for init the load order and the coldplug table.
func (b *build) modules(tree string) ([]string, error) {
	idx, err := kmod.NewIndex(tree)
	if err != nil {
		return nil, err
	}
	b.modIndex = idx
	names := append([]string{}, b.Spec.Kernel.Modules...)
	for _, m := range alwaysModules {
		if _, err := idx.Resolve([]string{m}); err == nil {
			names = append(names, m)
		}
	}
	always, err := idx.Resolve(names)
	if err != nil {
		return nil, fmt.Errorf("kernel.modules: %w", err)
	}
	coldplug, err := idx.Resolve(b.Spec.Kernel.Coldplug)
	if err != nil {
		return nil, fmt.Errorf("kernel.coldplug: %w", err)
	}
	resolved := append(slices.Clone(always), coldplug...)
	paths, err := idx.Copy(resolved, b.staging)
	if err != nil {
		return nil, err
	}
	// Copy writes each module once, in the order of its first mention.
	pathOf := map[string]string{}
	for _, m := range resolved {
		if _, seen := pathOf[m]; !seen {
			pathOf[m] = paths[len(pathOf)]
		}
	}
	rules, err := idx.ColdplugRules(b.Spec.Kernel.Coldplug, pathOf)
	if err != nil {
		return nil, fmt.Errorf("kernel.coldplug: %w", err)
	}
	b.moduleSets(idx, append(names, b.Spec.Kernel.Coldplug...), pathOf)
	list, err := idx.ListFile(always, pathOf)
	if err != nil {
		return nil, fmt.Errorf("kernel.modules: %w", err)
	}
	if err := b.writeImageFile(bundle.ModulesList, list); err != nil {
		return nil, err
	}
	if len(rules) > 0 {
		if err := b.writeImageFile(bundle.ColdplugList, kmod.FormatColdplug(rules)); err != nil {
			return nil, err
		}
	}
	b.Log.Info("kernel modules", "count", len(paths), "coldplug rules", len(rules), "version", idx.Version())
	return paths, nil
}

// moduleSets tells the size report which modules each name pulled in: a
// module counts towards the first name that needs it. pathOf maps module
// names to their paths in the image.
func (b *build) moduleSets(idx *kmod.Index, names []string, pathOf map[string]string) {
	for _, name := range names {
		closure, err := idx.Resolve([]string{name})
		if err != nil {
			continue
		}
		var mine []string
		for _, m := range closure {
			if p, ok := pathOf[m]; ok && b.owners.modules[strings.TrimPrefix(p, "/")] == "" {
				mine = append(mine, strings.TrimPrefix(p, "/"))
			}
		}
		label := "kernel modules: " + name
		switch len(mine) {
		case 0:
			continue
		case 1:
		case 2:
			label += " (+1 dependency)"
		default:
			label += fmt.Sprintf(" (+%d dependencies)", len(mine)-1)
		}
		for _, p := range mine {
			b.owners.modules[p] = label
		}
	}
}

// writeImageFile writes a file of the image, at the absolute path file.
func (b *build) writeImageFile(file string, data []byte) error {
	dest := filepath.Join(b.staging, file)
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dest, data, 0o644)
}
