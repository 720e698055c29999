package packer

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/minikit/minikit/tools/diskimage"
)

// Format is a kind of output a build writes. The names, and the files
// each writes, are LinuxKit's, so that a script written for linuxkit build
// finds what minikit build wrote.
type Format string

// The formats Build writes. Each bootable one boots the same kernel, initrd
// and command line; several in one build share the assembled root.
const (
	// KernelInitrd is NAME-kernel, NAME-initrd.img and NAME-cmdline, for
	// qemu -kernel, PXE or a bootloader of the user's own.
	KernelInitrd Format = "kernel+initrd"
	// KernelSquashfs is LinuxKit's format of the same name: NAME-kernel,
	// NAME-squashfs.img (the root image), NAME-cmdline, and NAME-initrd.img
	// for init's first stage, which finds the image on a disk.
	KernelSquashfs Format = "kernel+squashfs"
	// Tar is NAME.tar, the root filesystem as the initrd holds it.
	Tar Format = "tar"
	// ISOBIOS is NAME.iso, booting with isolinux (also from a disk).
	ISOBIOS Format = "iso-bios"
	// ISOEFI is NAME-efi.iso, booting with GRUB on UEFI.
	ISOEFI Format = "iso-efi"
	// ISOEFIInitrd is NAME-efi-initrd.iso, booting with GRUB on UEFI a
	// kernel and an initrd that holds the root, as kernel+initrd's does:
	// the system needs no driver for the device it booted from.
	ISOEFIInitrd Format = "iso-efi-initrd"
	// RawBIOS is NAME-bios.img, a disk with an MBR and GRUB.
	RawBIOS Format = "raw-bios"
	// RawEFI is NAME-efi.img, a disk with a GPT and GRUB on its ESP.
	RawEFI Format = "raw-efi"
	// QCOW2BIOS is NAME.qcow2, the raw BIOS disk as qcow2.
	QCOW2BIOS Format = "qcow2-bios"
	// QCOW2EFI is NAME-efi.qcow2, the raw UEFI disk as qcow2.
	QCOW2EFI Format = "qcow2-efi"
	// AWS is NAME.raw, the raw BIOS disk, 1 GiB unless sized, to import
	// as an EBS snapshot for an AMI.
	AWS Format = "aws"
	// GCP is NAME.img.tar.gz, the raw BIOS disk as disk.raw in a gzip'd
	// tar, as Google Compute Engine imports an image; 1 GiB unless sized,
	// always a whole number of GiB.
	GCP Format = "gcp"
	// VHD is NAME.vhd, the raw BIOS disk as a fixed VHD (Hyper-V, Azure);
	// 1 GiB unless sized.
	VHD Format = "vhd"
	// VMDK is NAME.vmdk, the raw BIOS disk as a stream-optimized VMDK
	// (VMware); 1 GiB unless sized.
	VMDK Format = "vmdk"
	// Update is NAME.update, a signed update bundle (internal/update) for
	// a system running from a disk: svcctl update writes it into the slot
	// the system does not run from. It needs Options.SignKey.
	Update Format = "update"
)

// Formats lists every format, in the order a build writes them.
var Formats = []Format{KernelInitrd, KernelSquashfs, Tar, ISOBIOS, ISOEFI, ISOEFIInitrd, RawBIOS, RawEFI, QCOW2BIOS, QCOW2EFI, AWS, GCP, VHD, VMDK, Update}

// imageFormat says how diskimage writes a bootable image format, and to
// which file.
type imageFormat struct {
	kind   diskimage.Kind
	fw     diskimage.Firmware
	suffix string // the file is NAME+suffix, as LinuxKit names it
	// formerly is what minikit called the file before it took LinuxKit's
	// names; a build leaves a symbolic link by that name.
	formerly string
	// initrdRoot: the initrd holds the root, as kernel+initrd's does,
	// rather than the image carrying it beside the kernel.
	initrdRoot bool
	// cloudSize is the size of a disk the build is given none for: what
	// LinuxKit makes for clouds and hypervisors. 0: as small as it can be.
	cloudSize int64
}

// cloudDiskSize is LinuxKit's size for the disks of clouds and hypervisors.
const cloudDiskSize = 1 << 30

var imageFormats = map[Format]imageFormat{
	ISOBIOS:      {kind: diskimage.ISO, fw: diskimage.BIOS, suffix: ".iso", formerly: "-bios.iso"},
	ISOEFI:       {kind: diskimage.ISO, fw: diskimage.EFI, suffix: "-efi.iso"},
	ISOEFIInitrd: {kind: diskimage.ISO, fw: diskimage.EFI, suffix: "-efi-initrd.iso", initrdRoot: true},
	RawBIOS:      {kind: diskimage.Raw, fw: diskimage.BIOS, suffix: "-bios.img"},
	RawEFI:       {kind: diskimage.Raw, fw: diskimage.EFI, suffix: "-efi.img"},
	QCOW2BIOS:    {kind: diskimage.QCOW2, fw: diskimage.BIOS, suffix: ".qcow2", formerly: "-bios.qcow2"},
	QCOW2EFI:     {kind: diskimage.QCOW2, fw: diskimage.EFI, suffix: "-efi.qcow2"},
	AWS:          {kind: diskimage.Raw, fw: diskimage.BIOS, suffix: ".raw", cloudSize: cloudDiskSize},
	GCP:          {kind: diskimage.GCE, fw: diskimage.BIOS, suffix: ".img.tar.gz", cloudSize: cloudDiskSize},
	VHD:          {kind: diskimage.VHD, fw: diskimage.BIOS, suffix: ".vhd", cloudSize: cloudDiskSize},
	VMDK:         {kind: diskimage.VMDK, fw: diskimage.BIOS, suffix: ".vmdk", cloudSize: cloudDiskSize},
}

// ParseFormats reads a comma-separated list of formats, as -format takes
// it. Each format counts once.
func ParseFormats(s string) ([]Format, error) {
	var out []Format
	for _, word := range strings.Split(s, ",") {
		f := Format(strings.TrimSpace(word))
		if f == "" {
			continue
		}
		if err := f.check(); err != nil {
			return nil, err
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no format given: want %s", formatNames())
	}
	return out, nil
}

// notMade are LinuxKit's formats minikit does not write, and why.
var notMade = map[Format]string{
	"kernel+erofs":      "minikit's root image is SquashFS, which Debian 12's erofs-utils would make two thirds larger (lz4 only, no deduplication); kernel+squashfs writes the same kernel, initrd and root image, as NAME-squashfs.img",
	"kernel+iso":        "use kernel+squashfs, whose root image is a disk as kernel+iso's ISO is",
	"tar-kernel-initrd": "use kernel+initrd and tar the three files",
	"dynamic-vhd":       "use vhd, a fixed VHD, which Azure requires and Hyper-V reads",
	"rpi3":              "minikit builds for amd64 only",
	"docker":            "minikit does not load images into Docker; use tar and docker import",
}

// check refuses a format minikit does not know, saying why when it is
// one of LinuxKit's.
func (f Format) check() error {
	if slices.Contains(Formats, f) {
		return nil
	}
	if why, ok := notMade[f]; ok {
		return fmt.Errorf("format %s is LinuxKit's, which minikit does not write: %s", f, why)
	}
	return fmt.Errorf("unknown format %q: want %s", f, formatNames())
}

func formatNames() string {
	var names []string
	for _, f := range Formats {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}

// FileName is the file a single-file format is written to for a build
// named name; empty for kernel+initrd and kernel+squashfs, which write
// several.
func (f Format) FileName(name string) string {
	switch f {
	case Tar:
		return name + ".tar"
	case Update:
		return name + ".update"
	}
	if d, ok := imageFormats[f]; ok {
		return name + d.suffix
	}
	return ""
}

// FormerName is the name minikit gave the file of f before it took
// LinuxKit's, which a build leaves as a symbolic link; "" when the name is
// unchanged.
func (f Format) FormerName(name string) string {
	if d, ok := imageFormats[f]; ok && d.formerly != "" {
		return name + d.formerly
	}
	return ""
}

// IsDisk says whether f writes a disk image, whose size Options.DiskSize
// sets.
func (f Format) IsDisk() bool {
	d, ok := imageFormats[f]
	return ok && d.kind.IsDisk()
}

// checkFormats refuses unknown formats and reports, before any work, every
// tool the formats need and this machine lacks.
func checkFormats(formats []Format) error {
	var errs []error
	for _, f := range formats {
		if err := f.check(); err != nil {
			return err
		}
		if d, ok := imageFormats[f]; ok {
			if err := diskimage.Check(d.kind, d.fw); err != nil {
				errs = append(errs, fmt.Errorf("format %s: %w", f, err))
			}
		}
	}
	return errors.Join(errs...)
}
