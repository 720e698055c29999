package packer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	imagespec "github.com/minikit/minikit/image-spec"
	"github.com/minikit/minikit/internal/bundle"
	"github.com/minikit/minikit/tools/images"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// containers writes every onboot, onshutdown and service entry as an OCI
// bundle where init looks for it.
func (b *build) containers() error {
	phases := []struct {
		kind, dir string
		list      []*imagespec.Container
		numbered  bool
	}{
		{"onboot", bundle.OnbootDir, b.Spec.Onboot, true},
		{"onshutdown", bundle.OnshutdownDir, b.Spec.Onshutdown, true},
		{"service", bundle.ServicesDir, b.Spec.Services, false},
	}
	for _, p := range phases {
		for i, c := range p.list {
			name := c.Name
			if p.numbered {
				name = bundle.EntryName(i, c.Name)
			}
			dir := filepath.Join(b.staging, p.dir, name)
			use := p.kind + " " + name
			b.owners.containers[strings.TrimPrefix(p.dir, "/")+"/"+name] = use + " (" + c.Image + ")"
			if err := b.bundle(c, p.kind, use, dir); err != nil {
				return fmt.Errorf("%s %s (%s): %w", p.kind, c.Name, c.Image, err)
			}
		}
	}
	return nil
}

func (b *build) bundle(c *imagespec.Container, kind, use, dir string) error {
	img, err := b.Store.Resolve(b.ctx, c.Image)
	if err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("read image config: %w", err)
	}
	rootfs := filepath.Join(dir, bundle.RootfsDir)
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return err
	}
	if err := images.Unpack(img, rootfs, b.unpackOptions()); err != nil {
		return err
	}
	if err := b.record(use, c.Image, img, rootfs, false); err != nil {
		return err
	}
	// Unpacked first: an image user given by name is looked up in the
	// image's own /etc/passwd.
	spec, rt, err := imagespec.Translate(c, cfg.Config, kind, imagespec.Options{IDs: b.ids, Rootfs: os.DirFS(rootfs)})
	if err != nil {
		return err
	}
	spec.Root.Path = bundle.RootfsDir
	if rt.Namespace != "" {
		b.Log.Info("runtime.namespace is LinuxKit's containerd namespace of a service; minikit's init runs services itself, so there is none to choose, and this one runs as any other",
			"container", c.Name, "namespace", rt.Namespace)
	}
	if err := b.mountpoints(rootfs, spec); err != nil {
		return err
	}
	data, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, bundle.ConfigFile), append(data, '\n'), 0o644); err != nil {
		return err
	}
	if !rt.IsZero() {
		data, err := json.MarshalIndent(rt, "", "\t")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, bundle.RuntimeFile), append(data, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// mountpoints creates, inside a container's root, every mount point its
// spec needs. At run time the image's root is read-only and runc could not
// create them. A bind of a file needs a file to mount on: the source is
// looked up in the image being built, and a source that is not there (on
// a tmpfs at run time, say) is taken to be a directory unless the spec
// marks the mount as a file.
func (b *build) mountpoints(rootfs string, spec *specs.Spec) error {
	for _, m := range spec.Mounts {
		target := filepath.Join(rootfs, filepath.Clean("/"+m.Destination))
		if _, err := os.Lstat(target); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return fmt.Errorf("mount point %s: %w", m.Destination, err)
		}
		if isFileBind(b.staging, m) {
			if err := os.WriteFile(target, nil, 0o644); err != nil {
				return fmt.Errorf("mount point %s: %w", m.Destination, err)
			}
			continue
		}
		if err := os.Mkdir(target, 0o755); err != nil {
			return fmt.Errorf("mount point %s: %w", m.Destination, err)
		}
	}
	return nil
}

func isFileBind(root string, m specs.Mount) bool {
	if m.Type != "bind" && !hasOption(m.Options, "bind") && !hasOption(m.Options, "rbind") {
		return false
	}
	if fi, err := os.Stat(filepath.Join(root, filepath.Clean("/"+m.Source))); err == nil {
		return !fi.IsDir()
	}
	// Sources created at run time: guess from the usual suspects.
	base := filepath.Base(m.Source)
	return strings.HasSuffix(base, ".sock") || strings.HasSuffix(base, ".conf") ||
		base == "resolv.conf" || base == "hosts" || base == "hostname"
}

func hasOption(opts []string, o string) bool {
	for _, x := range opts {
		if x == o {
			return true
		}
	}
	return false
}

// idOf returns a file's numeric owner: a number as written, or the id the
// spec gives the container of that name.
func idOf(b *build, id *imagespec.ID) int {
	if id == nil {
		return 0
	}
	if id.Name != "" {
		return int(b.ids[id.Name])
	}
	return int(id.Num)
}
