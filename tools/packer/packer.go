// Package packer turns a parsed spec into a bootable system: it resolves
// and unpacks the images, writes each container as an OCI bundle under
// /containers, adds the kernel modules and files, and writes the kernel,
// initrd and command line.
//
// Everything is assembled in a staging tree next to the outputs and moved
// into place only when complete, so a failed build leaves no half-written
// output behind.
package packer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	imagespec "github.com/minikit/minikit/image-spec"
	"github.com/minikit/minikit/tools/images"
	"github.com/minikit/minikit/tools/initrd"
	"github.com/u-root/u-root/pkg/cpio"
)

// Options say what to build and where.
type Options struct {
	Spec   *imagespec.Spec
	Name   string // outputs are OutDir/NAME-kernel, -initrd.img, -cmdline
	OutDir string
	Store  *images.Store
	// CacheDir keeps work that depends only on an image digest (the
	// unpacked kernel modules tree) between builds.
	CacheDir    string
	Compression string // initrd compression: gzip (default) or zstd
	Log         *slog.Logger
}

// Result names the files a build wrote.
type Result struct {
	Kernel, Initrd, Cmdline string
	Modules                 []string // in load order, as paths inside the image
}

type build struct {
	Options
	ctx     context.Context
	staging string // the root filesystem being assembled
	work    string // scratch space, removed at the end
	ids     map[string]uint32
}

// Build assembles the system described by opts.Spec.
func Build(ctx context.Context, opts Options) (*Result, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Spec.Kernel.Image == "" {
		return nil, errors.New("the spec has no kernel.image")
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(opts.OutDir, ".build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	b := &build{Options: opts, ctx: ctx, staging: filepath.Join(work, "root"), work: work, ids: opts.Spec.IDs()}
	if err := os.Mkdir(b.staging, 0o755); err != nil {
		return nil, err
	}

	kernelPath, modulesTree, err := b.kernel()
	if err != nil {
		return nil, err
	}
	for _, ref := range opts.Spec.Init {
		if err := b.unpackInto(ref, b.staging); err != nil {
			return nil, fmt.Errorf("init image %s: %w", ref, err)
		}
	}
	res := &Result{}
	if modulesTree != "" {
		if res.Modules, err = b.modules(modulesTree); err != nil {
			return nil, err
		}
	} else if len(opts.Spec.Kernel.Modules) > 0 {
		return nil, errors.New("kernel.modules is set but the kernel image has no modules (kernel.tar)")
	}
	if err := b.containers(); err != nil {
		return nil, err
	}
	if err := b.files(); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(filepath.Join(b.staging, "sbin/init")); err != nil {
		return nil, errors.New("no /sbin/init in the image: list an init image (such as minikit/init) under init")
	}
	if _, err := os.Lstat(filepath.Join(b.staging, "init")); os.IsNotExist(err) {
		if err := os.Symlink("/sbin/init", filepath.Join(b.staging, "init")); err != nil {
			return nil, err
		}
	}

	prefix := filepath.Join(opts.OutDir, opts.Name)
	res.Kernel, res.Initrd, res.Cmdline = prefix+"-kernel", prefix+"-initrd.img", prefix+"-cmdline"
	if err := b.writeInitrd(res.Initrd); err != nil {
		return nil, err
	}
	if err := copyFileAtomic(kernelPath, res.Kernel); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(res.Cmdline, []byte(opts.Spec.Kernel.Cmdline+"\n"), 0o644); err != nil {
		return nil, err
	}
	return res, nil
}

func (b *build) writeInitrd(dest string) error {
	tmp := dest + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	opts := initrd.Options{Compression: b.Compression, Extra: []cpio.Record{initrd.ConsoleDevice()}}
	if err := initrd.Write(f, b.staging, opts); err != nil {
		f.Close()
		return fmt.Errorf("write initrd %s: %w", dest, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dest)
}

// unpackInto resolves ref and applies its layers onto dest.
func (b *build) unpackInto(ref, dest string) error {
	img, err := b.Store.Resolve(b.ctx, ref)
	if err != nil {
		return err
	}
	return images.Unpack(img, dest, images.UnpackOptions{})
}
