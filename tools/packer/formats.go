package packer

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/minikit/minikit/tools/diskimage"
)

// Format is a kind of output a build writes.
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
	// ISOBIOS is NAME-bios.iso, booting with isolinux (also from a disk).
	ISOBIOS Format = "iso-bios"
	// ISOEFI is NAME-efi.iso, booting with GRUB on UEFI.
	ISOEFI Format = "iso-efi"
	// RawBIOS is NAME-bios.img, a disk with an MBR and GRUB.
	RawBIOS Format = "raw-bios"
	// RawEFI is NAME-efi.img, a disk with a GPT and GRUB on its ESP.
	RawEFI Format = "raw-efi"
	// QCOW2BIOS is NAME-bios.qcow2, the raw BIOS disk as qcow2.
	QCOW2BIOS Format = "qcow2-bios"
	// Update is NAME.update, a signed update bundle (internal/update) for
	// a system running from a disk: svcctl update writes it into the slot
	// the system does not run from. It needs Options.SignKey.
	Update Format = "update"
)

// Formats lists every format, in the order a build writes them.
var Formats = []Format{KernelInitrd, KernelSquashfs, Tar, ISOBIOS, ISOEFI, RawBIOS, RawEFI, QCOW2BIOS, Update}

// diskFormats says how diskimage writes each bootable image format.
var diskFormats = map[Format]struct {
	kind   diskimage.Kind
	fw     diskimage.Firmware
	suffix string
}{
	ISOBIOS:   {diskimage.ISO, diskimage.BIOS, "-bios.iso"},
	ISOEFI:    {diskimage.ISO, diskimage.EFI, "-efi.iso"},
	RawBIOS:   {diskimage.Raw, diskimage.BIOS, "-bios.img"},
	RawEFI:    {diskimage.Raw, diskimage.EFI, "-efi.img"},
	QCOW2BIOS: {diskimage.QCOW2, diskimage.BIOS, "-bios.qcow2"},
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
		if !slices.Contains(Formats, f) {
			return nil, fmt.Errorf("unknown format %q: want %s", f, formatNames())
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

func formatNames() string {
	var names []string
	for _, f := range Formats {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}

// FileName is the file a single-file format is written to for a build
// named name; empty for kernel+initrd, which writes three.
func (f Format) FileName(name string) string {
	switch f {
	case Tar:
		return name + ".tar"
	case Update:
		return name + ".update"
	}
	if d, ok := diskFormats[f]; ok {
		return name + d.suffix
	}
	return ""
}

// checkFormats refuses unknown formats and reports, before any work, every
// tool the formats need and this machine lacks.
func checkFormats(formats []Format) error {
	var errs []error
	for _, f := range formats {
		if !slices.Contains(Formats, f) {
			return fmt.Errorf("unknown format %q: want %s", f, formatNames())
		}
		if d, ok := diskFormats[f]; ok {
			if err := diskimage.Check(d.kind, d.fw); err != nil {
				errs = append(errs, fmt.Errorf("format %s: %w", f, err))
			}
		}
	}
	return errors.Join(errs...)
}
