package packer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/minikit/minikit/internal/atomicfile"
	"github.com/minikit/minikit/internal/bundle"
	"github.com/minikit/minikit/internal/verity"
	"github.com/minikit/minikit/rootfs/kmod"
	"github.com/minikit/minikit/tools/diskimage"
	"github.com/minikit/minikit/tools/initrd"
	"github.com/u-root/u-root/pkg/cpio"
)

// RootMode is how the built system gets its root filesystem.
type RootMode string

const (
	// RootAuto takes RootImage when the kernel can mount it, RootTmpfs
	// otherwise.
	RootAuto RootMode = ""
	// RootImage: everything but the kernel is one compressed, read-only
	// SquashFS image with a dm-verity hash tree, which init mounts.
	RootImage RootMode = "image"
	// RootTmpfs: the initrd holds the root as files, which init copies
	// into a tmpfs at every boot; for kernels that cannot mount the
	// image.
	RootTmpfs RootMode = "tmpfs"
)

// ParseRootMode reads -root's value.
func ParseRootMode(s string) (RootMode, error) {
	switch m := RootMode(s); m {
	case RootAuto, RootImage, RootTmpfs:
		return m, nil
	case "auto":
		return RootAuto, nil
	}
	return "", fmt.Errorf("unknown root mode %q: want auto, image or tmpfs", s)
}

// rootModules are what init's first stage loads to mount the image: the
// loop device, SquashFS and dm-verity (with dm-mod). Built-in ones need
// nothing.
var rootModules = []string{"loop", "squashfs", "dm-verity"}

// kernelConfigNeeds are the options the image needs beyond its modules:
// SquashFS must read zstd, and a module is useless if its option is off.
var kernelConfigNeeds = []string{"CONFIG_SQUASHFS_ZSTD", "CONFIG_BLK_DEV_LOOP", "CONFIG_SQUASHFS", "CONFIG_DM_VERITY"}

// rootImageSupport says whether the kernel can mount the root image and,
// when it cannot, why. idx is nil for a kernel image without modules;
// config is the kernel's .config, "" when its image carries none.
func rootImageSupport(idx *kmod.Index, config string) (ok bool, why string) {
	if idx == nil {
		return false, "the kernel image has no modules (kernel.tar) to mount it with"
	}
	for _, m := range rootModules {
		if _, err := idx.Resolve([]string{m}); err != nil {
			return false, fmt.Sprintf("the kernel has no %s module: %v", m, err)
		}
	}
	if config == "" {
		return true, ""
	}
	set := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(config))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && strings.HasPrefix(k, "CONFIG_") {
			set[k] = v
		}
	}
	for _, opt := range kernelConfigNeeds {
		if v := set[opt]; v != "y" && v != "m" {
			return false, fmt.Sprintf("the kernel's config does not set %s", opt)
		}
	}
	return true, ""
}

// kernelConfig reads the .config a kernel image carries (LinuxKit's
// layout: /config), or "" when it has none.
func kernelConfig(kernelFile string) string {
	data, err := os.ReadFile(filepath.Join(filepath.Dir(kernelFile), "config"))
	if err != nil {
		return ""
	}
	return string(data)
}

// chooseRoot decides how this build's system gets its root, and says so.
func (b *build) chooseRoot() (RootMode, error) {
	ok, why := rootImageSupport(b.modIndex, kernelConfig(b.kernelFile))
	switch b.Root {
	case RootTmpfs:
		b.Log.Info("root: files in the initrd, copied into a tmpfs at boot (-root tmpfs)")
		return RootTmpfs, nil
	case RootImage:
		if !ok {
			return "", fmt.Errorf("-root image: %s", why)
		}
	case RootAuto:
		if !ok {
			b.Log.Warn("root: files in the initrd, copied into a tmpfs at boot, since the kernel cannot mount a root image: " + why)
			return RootTmpfs, nil
		}
	}
	if b.NoVerity {
		b.Log.Warn("root: a SquashFS image WITHOUT verification (-verity=false); every boot will say so")
	} else {
		b.Log.Info("root: a SquashFS image checked by dm-verity")
	}
	return RootImage, nil
}

// writeRootImage writes the staging tree as the root image, with its
// hash tree unless verity is off, into the work directory.
func (b *build) writeRootImage() error {
	img, err := diskimage.WriteRootImage(b.ctx, b.staging, filepath.Join(b.work, "root.img"), b.epoch, !b.NoVerity)
	if err != nil {
		return fmt.Errorf("root image: %w", err)
	}
	b.rootImage = img
	if img.Verity != nil {
		b.cmdline = strings.TrimSpace(b.cmdline + " " + verity.CmdlineKey + "=" + img.Verity.String())
	}
	b.Log.Info("root image", "bytes", img.DataBytes, "verity bytes", img.HashBytes)
	return nil
}

// writeImageInitrd writes the initrd of a system whose root is an image:
// an archive with init and the modules that mount the image, compressed,
// and with withImage a second archive holding the image, stored, since it
// is compressed already (the kernel unpacks archives one after the
// other, compressed or not). Without the image, the first stage finds it
// on a disk, and the initrd carries the drivers to reach one.
func (b *build) writeImageInitrd(dest string, withImage bool) error {
	stage, err := b.stageOne(!withImage)
	if err != nil {
		return err
	}
	imageDir := filepath.Join(b.work, "initrd-image")
	if withImage {
		if err := os.MkdirAll(imageDir, 0o755); err != nil {
			return err
		}
		if err := copyFile(b.rootImage.Path, filepath.Join(imageDir, strings.TrimPrefix(bundle.RootImage, "/")), 0o644); err != nil {
			return fmt.Errorf("initrd: %w", err)
		}
	}
	opts := initrd.Options{Compression: b.Compression, MTime: b.epoch, Extra: []cpio.Record{initrd.ConsoleDevice()}}
	return atomicfile.WriteFunc(dest, 0o644, func(w io.Writer) error {
		cw := &countingWriter{w: w}
		if err := initrd.Write(cw, stage, opts); err != nil {
			return err
		}
		if !withImage {
			return nil
		}
		// An uncompressed archive must start 4-byte aligned; the kernel
		// skips the zeros before it.
		if pad := (4 - cw.n%4) % 4; pad > 0 {
			if _, err := cw.Write(make([]byte, pad)); err != nil {
				return err
			}
		}
		return initrd.Write(cw, imageDir, initrd.Options{Compression: initrd.Stored, MTime: b.epoch})
	})
}

// diskDrivers are the drivers a first stage may need to reach the disk
// that holds the root image, loaded only for the devices present:
// virtio, SATA and IDE (disks and CD-ROMs), NVMe (AWS's disks), USB
// storage, and the SCSI controllers of the hypervisors a vhd or vmdk
// image is made for: Hyper-V's and Azure's (hv_storvsc, on the VMBus of
// hv_vmbus) and VMware's (PVSCSI, and LSI Logic, which the vmdk names).
// Those the kernel lacks are left out.
var diskDrivers = []string{
	"virtio_pci", "virtio_blk", "virtio_scsi",
	"ahci", "ata_piix", "sd_mod", "sr_mod",
	"nvme",
	"xhci_pci", "ehci_pci", "usb_storage", "uas",
	"hv_vmbus", "hv_storvsc", "vmw_pvscsi", "mptspi",
}

// diskModules are loaded by every first stage that looks for a disk: an ISO
// carries the image as a file on ISO 9660.
var diskModules = []string{"isofs"}

// stageOne lays out the first archive of an image initrd: init as /init,
// the modules that mount the image and their load order, and with disks
// the drivers of the disks the image may be on, as a coldplug table.
func (b *build) stageOne(disks bool) (string, error) {
	dir := filepath.Join(b.work, "initrd-stage1")
	if disks {
		dir += "-disks"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := copyFile(filepath.Join(b.staging, "sbin/init"), filepath.Join(dir, "init"), 0o755); err != nil {
		return "", fmt.Errorf("initrd: copy init: %w", err)
	}
	names := rootModules
	var drivers []string
	if disks {
		names = append(slices.Clone(rootModules), b.available(diskModules)...)
		drivers = b.available(diskDrivers)
	}
	always, err := b.modIndex.Resolve(names)
	if err != nil {
		return "", fmt.Errorf("initrd: %w", err)
	}
	coldplug, err := b.modIndex.Resolve(drivers)
	if err != nil {
		return "", fmt.Errorf("initrd: %w", err)
	}
	resolved := append(slices.Clone(always), coldplug...)
	paths, err := b.modIndex.Copy(resolved, dir)
	if err != nil {
		return "", fmt.Errorf("initrd: %w", err)
	}
	pathOf := map[string]string{}
	for _, m := range resolved {
		if _, seen := pathOf[m]; !seen {
			pathOf[m] = paths[len(pathOf)]
		}
	}
	list, err := b.modIndex.ListFile(always, pathOf)
	if err != nil {
		return "", fmt.Errorf("initrd: %w", err)
	}
	if err := writeUnder(dir, bundle.RootModulesList, list); err != nil {
		return "", err
	}
	if len(drivers) > 0 {
		rules, err := b.modIndex.ColdplugRules(drivers, pathOf)
		if err != nil {
			return "", fmt.Errorf("initrd: %w", err)
		}
		if err := writeUnder(dir, bundle.RootColdplugList, kmod.FormatColdplug(rules)); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// available keeps the modules of names that the kernel has (as modules or
// built in).
func (b *build) available(names []string) []string {
	var out []string
	for _, n := range names {
		if _, err := b.modIndex.Resolve([]string{n}); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// writeUnder writes a file at the absolute path file under dir.
func writeUnder(dir, file string, data []byte) error {
	dest := filepath.Join(dir, strings.TrimPrefix(file, "/"))
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dest, data, 0o644)
}

// ensureMountPoints makes the directories init mounts on: a root image is
// read-only, so they must be in it.
func (b *build) ensureMountPoints() error {
	for _, d := range []string{"proc", "sys", "dev", "run", "tmp", "var"} {
		p := filepath.Join(b.staging, d)
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, os.ErrNotExist):
			// Only a mount point: what is mounted there sets the mode.
			if err := os.Mkdir(p, 0o755); err != nil {
				return err
			}
		case err != nil:
			return err
		case !fi.IsDir():
			return fmt.Errorf("/%s in the image is not a directory: init mounts a filesystem there", d)
		}
	}
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
