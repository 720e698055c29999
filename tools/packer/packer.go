// Package packer turns a parsed spec into a bootable system: it resolves
// and unpacks the images, writes each container as an OCI bundle under
// /containers, adds the kernel modules and files, and writes the outputs:
// a kernel, initrd and command line, and on request a root tarball,
// bootable ISOs and disk images, an SBOM and a size report.
//
// Everything is assembled in a staging tree next to the outputs and moved
// into place only when complete, so a failed build leaves no half-written
// output behind. Outputs are reproducible: the same spec and image
// digests give the same bytes (times come from SOURCE_DATE_EPOCH, or the
// Unix epoch).
package packer

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/u-root/u-root/pkg/cpio"
	"golang.org/x/sys/unix"

	imagespec "github.com/minikit/minikit/image-spec"
	"github.com/minikit/minikit/internal/atomicfile"
	"github.com/minikit/minikit/internal/sourcedate"
	"github.com/minikit/minikit/rootfs/kmod"
	"github.com/minikit/minikit/tools/diskimage"
	"github.com/minikit/minikit/tools/images"
	"github.com/minikit/minikit/tools/initrd"
)

// Options say what to build and where.
type Options struct {
	Spec   *imagespec.Spec
	Name   string // outputs are OutDir/NAME-kernel, -initrd.img, -cmdline, NAME.tar…
	OutDir string
	Store  *images.Store
	// CacheDir keeps work that depends only on an image digest (the
	// unpacked kernel modules tree) between builds.
	CacheDir    string
	Compression string // initrd compression: gzip (default) or zstd
	// Formats are the outputs to write; none means KernelInitrd alone.
	Formats []Format
	// SBOM writes OutDir/NAME-sbom.cdx.json, a CycloneDX SBOM of the images,
	// their Debian packages and the Go modules of their programs.
	SBOM bool
	// SizeReport measures the root filesystem into Result.Sizes.
	SizeReport bool
	// MaxUnpackBytes caps the file contents each image unpacked may add to
	// the root, so that a hostile image cannot fill the build host's disk;
	// 0 means images.DefaultMaxBytes.
	MaxUnpackBytes int64
	// Root is how the system gets its root filesystem: RootAuto (a
	// verified image when the kernel can mount one), RootImage or
	// RootTmpfs.
	Root RootMode
	// NoVerity writes the root image without its dm-verity hash tree, for
	// debugging; the system says so at every boot.
	NoVerity bool
	// SignKey signs the update bundle (format update) and puts its public
	// half into the image, which then takes the updates it signs; nil for
	// a system that refuses every update.
	SignKey ed25519.PrivateKey
	// DiskSize is the size in bytes of the disks of the disk formats, the
	// space past their partitions left unpartitioned. 0 makes raw and
	// qcow2 disks as small as their contents allow, and aws, gcp, vhd and
	// vmdk disks 1 GiB, as LinuxKit does. A gcp disk is rounded up to a
	// whole GiB, as GCE wants.
	DiskSize int64
	Log      *slog.Logger
}

// Result names the files a build wrote.
type Result struct {
	// Kernel, Initrd and Cmdline are set when KernelInitrd was written.
	Kernel, Initrd, Cmdline string
	// Root is how the system gets its root: RootImage or RootTmpfs; ""
	// when only a tar was written.
	Root    RootMode
	Modules []string // in load order, as paths inside the image
	// Images maps each single-file format written to its file.
	Images map[Format]string
	// SBOM is the SBOM's file, when one was written.
	SBOM string
	// Files lists every file written, in the order of the formats.
	Files []string
	// Sizes is the size report, when one was asked for.
	Sizes *SizeReport
}

type build struct {
	Options
	ctx     context.Context
	staging string // the root filesystem being assembled
	work    string // scratch space, removed at the end
	ids     map[string]uint32
	epoch   time.Time

	kernelFile string      // the kernel binary, in the cache
	modIndex   *kmod.Index // the kernel's modules; nil when it has none
	initrdFile string      // the initrd written, in the outputs or the work directory
	rootImage  *diskimage.RootImage
	cmdline    string // the kernel command line, with what init needs to check the root
	// raws are the raw disks written so far, by firmware and size, which
	// the other disk formats of the same firmware and size convert.
	raws      map[rawDisk]string
	inventory inventory
	owners    sizeOwners
}

// Build assembles the system described by opts.Spec and writes the
// outputs opts.Formats asks for; the root is assembled once for all of
// them.
//
// Build sets the process umask to 022 while it runs: the directories it
// creates in the staging tree go into the image, whose modes must not
// depend on the umask of whoever builds it.
func Build(ctx context.Context, opts Options) (*Result, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Spec.Kernel.Image == "" {
		return nil, errors.New("the spec has no kernel.image")
	}
	opts.Spec = substituteLinuxKit(opts.Spec, opts.Log)
	if len(opts.Formats) == 0 {
		opts.Formats = []Format{KernelInitrd}
	}
	if err := checkFormats(opts.Formats); err != nil {
		return nil, err
	}
	if err := checkUpdate(opts); err != nil {
		return nil, err
	}
	defer unix.Umask(unix.Umask(0o022))
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(opts.OutDir, ".build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	epoch, err := sourcedate.Epoch()
	if err != nil {
		return nil, err
	}
	b := &build{Options: opts, ctx: ctx, staging: filepath.Join(work, "root"), work: work, ids: opts.Spec.IDs(), epoch: epoch}
	if err := os.Mkdir(b.staging, 0o755); err != nil {
		return nil, err
	}
	b.owners = sizeOwners{containers: map[string]string{}, modules: map[string]string{}, files: map[string]bool{}}

	kernelPath, modulesTree, err := b.kernel()
	if err != nil {
		return nil, err
	}
	b.kernelFile = kernelPath
	for _, ref := range opts.Spec.Init {
		if err := b.unpackInit(ref); err != nil {
			return nil, fmt.Errorf("init image %s: %w", ref, err)
		}
	}
	b.owners.init = "init images (" + strings.Join(opts.Spec.Init, ", ") + ")"
	res := &Result{Images: map[Format]string{}}
	if modulesTree != "" {
		if res.Modules, err = b.modules(modulesTree); err != nil {
			return nil, err
		}
	} else if len(opts.Spec.Kernel.Modules) > 0 || len(opts.Spec.Kernel.Coldplug) > 0 {
		return nil, errors.New("kernel.modules or kernel.coldplug is set but the kernel image has no modules (kernel.tar)")
	}
	if err := b.containers(); err != nil {
		return nil, err
	}
	if err := b.volumes(); err != nil {
		return nil, err
	}
	if err := b.files(); err != nil {
		return nil, err
	}
	if err := b.writeUpdateFiles(); err != nil {
		return nil, err
	}
	if err := b.observe(); err != nil {
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
	if err := b.ensureMountPoints(); err != nil {
		return nil, err
	}

	if err := b.writeOutputs(res); err != nil {
		return nil, err
	}
	if opts.SBOM {
		res.SBOM = filepath.Join(opts.OutDir, opts.Name+"-sbom.cdx.json")
		if err := b.writeSBOM(res.SBOM); err != nil {
			return nil, err
		}
		res.Files = append(res.Files, res.SBOM)
	}
	if opts.SizeReport {
		if res.Sizes, err = b.sizes(); err != nil {
			return nil, err
		}
		res.Sizes.Kernel = fileSize(kernelPath)
		res.Sizes.Initrd = fileSize(b.initrdFile)
	}
	return res, nil
}

// writeOutputs writes every format asked for. The root is written once,
// as an image or as the files of an initrd, and shared by the formats:
// kernel+initrd and iso-efi-initrd carry it inside their initrd;
// kernel+squashfs, the other ISOs and the disks carry the image beside the
// kernel and a small initrd.
func (b *build) writeOutputs(res *Result) error {
	prefix := filepath.Join(b.OutDir, b.Name)
	b.cmdline = b.Spec.Kernel.Cmdline
	var bt boots
	if slices.ContainsFunc(b.Formats, func(f Format) bool { return f != Tar }) {
		mode, err := b.chooseRoot()
		if err != nil {
			return err
		}
		res.Root = mode
		if bt, err = b.writeBoot(mode, prefix); err != nil {
			return err
		}
	}
	for _, f := range b.Formats {
		b.Log.Info("writing output", "format", f)
		switch f {
		case KernelInitrd, KernelSquashfs:
			res.Kernel, res.Initrd, res.Cmdline = prefix+"-kernel", prefix+"-initrd.img", prefix+"-cmdline"
			if err := copyFileAtomic(b.kernelFile, res.Kernel); err != nil {
				return err
			}
			if err := atomicfile.Write(res.Cmdline, []byte(b.cmdline+"\n"), 0o644); err != nil {
				return err
			}
			res.Files = append(res.Files, res.Kernel, res.Initrd, res.Cmdline)
			if f == KernelSquashfs {
				img := prefix + "-squashfs.img"
				if err := copyFileAtomic(b.rootImage.Path, img); err != nil {
					return err
				}
				res.Images[f] = img
				res.Files = append(res.Files, img)
			}
			continue
		case Tar:
			if err := b.writeTar(prefix + ".tar"); err != nil {
				return err
			}
		case Update:
			if err := b.writeUpdate(filepath.Join(b.OutDir, f.FileName(b.Name)), bt.disk.Initrd); err != nil {
				return err
			}
		default:
			d := imageFormats[f]
			dest := filepath.Join(b.OutDir, f.FileName(b.Name))
			boot := bt.disk
			if d.initrdRoot {
				boot = bt.full
			}
			var err error
			if d.kind == diskimage.ISO {
				err = diskimage.WriteISO(b.ctx, dest, d.fw, boot)
			} else {
				err = b.writeDisk(f, d, dest, boot)
			}
			if err != nil {
				return fmt.Errorf("format %s: %w", f, err)
			}
		}
		res.Images[f] = filepath.Join(b.OutDir, f.FileName(b.Name))
		res.Files = append(res.Files, res.Images[f])
		if former := f.FormerName(b.Name); former != "" {
			link := filepath.Join(b.OutDir, former)
			if err := symlinkAtomic(f.FileName(b.Name), link); err != nil {
				return err
			}
			res.Files = append(res.Files, link)
		}
	}
	return nil
}

// boots are what the ISOs and disks boot: the same kernel and command
// line, and an initrd that finds the root image on the disk that carries
// it, or one that holds the root.
type boots struct {
	disk, full diskimage.Boot
}

// writeBoot writes the root in the given mode and the initrds the formats
// need, and returns what the ISOs and disks boot. NAME-initrd.img, when a
// format writes it, holds the root image if kernel+initrd is asked for,
// and finds it on a disk otherwise (kernel+squashfs alone).
func (b *build) writeBoot(mode RootMode, prefix string) (boots, error) {
	has := func(f Format) bool { return slices.Contains(b.Formats, f) }
	base := diskimage.Boot{Kernel: b.kernelFile, Cmdline: b.cmdline, Epoch: b.epoch,
		Version: b.Spec.Update.VersionOrNone(), SlotBytes: b.Spec.Update.SlotBytes()}
	var err error
	if base.Spec, err = b.specDigest(); err != nil {
		return boots{}, err
	}
	outInitrd := ""
	if has(KernelInitrd) || has(KernelSquashfs) {
		outInitrd = prefix + "-initrd.img"
	}
	if mode == RootTmpfs {
		if has(KernelSquashfs) {
			return boots{}, fmt.Errorf("format %s needs a root image, and this build's root is files in the initrd (-root tmpfs, or a kernel that cannot mount an image)", KernelSquashfs)
		}
		base.Initrd = cmp.Or(outInitrd, filepath.Join(b.work, "initrd.img"))
		b.initrdFile = base.Initrd
		return boots{disk: base, full: base}, b.writeInitrd(base.Initrd)
	}
	if err := b.writeRootImage(); err != nil {
		return boots{}, err
	}
	base.Cmdline = b.cmdline // with the root hash now
	bt := boots{disk: base, full: base}
	bt.disk.Root = b.rootImage.Path
	rootInInitrd := func(f Format) bool { return f == KernelInitrd || imageFormats[f].initrdRoot }
	needsDiskInitrd := slices.ContainsFunc(b.Formats, func(f Format) bool {
		return f != Tar && !rootInInitrd(f) && (f != KernelSquashfs || !has(KernelInitrd))
	})
	if needsDiskInitrd {
		bt.disk.Initrd = filepath.Join(b.work, "disk-initrd.img")
		if has(KernelSquashfs) && !has(KernelInitrd) {
			bt.disk.Initrd = outInitrd
		}
		if err := b.writeImageInitrd(bt.disk.Initrd, false); err != nil {
			return bt, err
		}
		b.initrdFile = bt.disk.Initrd
	}
	if slices.ContainsFunc(b.Formats, rootInInitrd) {
		bt.full.Initrd = filepath.Join(b.work, "full-initrd.img")
		if has(KernelInitrd) {
			bt.full.Initrd = outInitrd
		}
		if err := b.writeImageInitrd(bt.full.Initrd, true); err != nil {
			return bt, err
		}
		b.initrdFile = bt.full.Initrd
	}
	return bt, nil
}

// rawDisk names a raw disk by what tells two apart in one build.
type rawDisk struct {
	fw   diskimage.Firmware
	size int64
}

// writeDisk writes the disk format f at dest. A raw disk of each firmware
// and size is written once: the first format that needs it writes it (as
// its output, or in the work directory), and the others copy or convert
// it.
func (b *build) writeDisk(f Format, d imageFormat, dest string, boot diskimage.Boot) error {
	size := cmp.Or(b.DiskSize, d.cloudSize)
	if d.kind == diskimage.GCE && size%(1<<30) != 0 {
		size = (size + 1<<30 - 1) &^ (1<<30 - 1)
		b.Log.Info("disk size rounded up to a whole GiB, as GCE wants", "format", f, "bytes", size)
	}
	boot.DiskSize = size
	key := rawDisk{d.fw, size}
	raw, ok := b.raws[key]
	if !ok {
		raw = filepath.Join(b.work, fmt.Sprintf("disk-%s-%d.raw", d.fw, size))
		if d.kind == diskimage.Raw {
			raw = dest
		}
		if err := diskimage.WriteRaw(b.ctx, raw, d.fw, boot); err != nil {
			return err
		}
		if b.raws == nil {
			b.raws = map[rawDisk]string{}
		}
		b.raws[key] = raw
		if raw == dest {
			return nil
		}
	}
	if d.kind == diskimage.Raw {
		return diskimage.CopyDisk(raw, dest)
	}
	return diskimage.ConvertDisk(b.ctx, d.kind, raw, dest, boot)
}

// symlinkAtomic makes link a symbolic link to target, replacing whatever
// is there.
func symlinkAtomic(target, link string) error {
	tmp := link + ".tmp"
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, link)
}

func (b *build) writeInitrd(dest string) error {
	opts := initrd.Options{Compression: b.Compression, MTime: b.epoch, Extra: []cpio.Record{initrd.ConsoleDevice()}}
	return atomicfile.WriteFunc(dest, 0o644, func(w io.Writer) error {
		return initrd.Write(w, b.staging, opts)
	})
}

func (b *build) writeTar(dest string) error {
	return atomicfile.WriteFunc(dest, 0o644, func(w io.Writer) error {
		return writeRootTar(w, b.staging, b.epoch)
	})
}

// unpackInit resolves an init image and applies its layers onto the root.
func (b *build) unpackOptions() images.UnpackOptions {
	return images.UnpackOptions{MaxBytes: b.MaxUnpackBytes}
}

func (b *build) unpackInit(ref string) error {
	img, err := b.Store.Resolve(b.ctx, ref)
	if err != nil {
		return err
	}
	if err := images.Unpack(img, b.staging, b.unpackOptions()); err != nil {
		return err
	}
	return b.record("init", ref, img, b.staging, true)
}
