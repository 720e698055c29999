package diskimage

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
)

// isoVolumeID is the ISO's volume name, as a desktop shows it.
const isoVolumeID = "MINIKIT"

// WriteISO writes an ISO 9660 image at dest that boots b on fw.
//
// For BIOS it boots isolinux from El Torito and carries an isohybrid MBR,
// so the same file also boots when written to a USB stick or attached as a
// disk. For UEFI its El Torito EFI image is a small FAT holding GRUB, and
// the kernel and initrd sit on the ISO's own filesystem; a hybrid GPT
// makes it bootable as a disk too.
//
// dest is written under a temporary name and renamed when complete.
func WriteISO(ctx context.Context, dest string, fw Firmware, b Boot) error {
	return writeImage(ISO, dest, fw, b, func(im *image, tmp string) error {
		return im.writeISO(ctx, tmp, fw)
	})
}

func (im *image) writeISO(ctx context.Context, out string, fw Firmware) error {
	// Graft points put the host's files into the ISO without copying them.
	grafts := map[string]string{
		kernelPath: im.Kernel,
		initrdPath: im.Initrd,
	}
	if im.Root != "" {
		grafts[rootPath] = im.Root
	}
	var boot []string
	switch fw {
	case BIOS:
		cfg, err := im.writeScratch("isolinux.cfg", syslinuxConfig(im.Cmdline))
		if err != nil {
			return err
		}
		// xorriso patches a boot-info table into its copy of
		// isolinux.bin, never into the source file.
		grafts["isolinux/isolinux.bin"] = needIsolinuxBin.what
		grafts["isolinux/ldlinux.c32"] = needLdlinux.what
		grafts["isolinux/isolinux.cfg"] = cfg
		boot = []string{
			"-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat",
			"-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
			"-isohybrid-mbr", needIsohybrid.what,
		}
	case EFI:
		esp, err := im.espImage(ctx)
		if err != nil {
			return err
		}
		files, err := im.grubFiles()
		if err != nil {
			return err
		}
		maps.Copy(grafts, files)
		grafts["boot/efiboot.img"] = esp
		boot = []string{"-e", "boot/efiboot.img", "-no-emul-boot", "-isohybrid-gpt-basdat"}
	default:
		return fmt.Errorf("unknown firmware %q", fw)
	}
	date := im.Epoch.Format("2006010215040500")
	args := []string{
		"-as", "mkisofs", "-o", out,
		"-V", isoVolumeID,
		"-r", "-J", // Rock Ridge with owners root and modes made uniform, and Joliet
		// The dates of the volume and of every file, and the GUID of the
		// hybrid GPT: fixed, so the bytes do not depend on when or from
		// which files the ISO was made.
		"--modification-date=" + date,
		"--set_all_file_dates", date,
		"--gpt_disk_guid", "modification-date",
	}
	args = append(args, boot...)
	args = append(args, "-graft-points")
	for _, inISO := range slices.Sorted(maps.Keys(grafts)) {
		args = append(args, inISO+"="+grafts[inISO])
	}
	if err := run(ctx, im.Epoch, needXorriso, args...); err != nil {
		return fmt.Errorf("make ISO: %w", err)
	}
	return nil
}

// espImage makes the FAT image that the firmware starts GRUB from: just
// EFI/BOOT/BOOTX64.EFI, the path UEFI boots from removable media.
func (im *image) espImage(ctx context.Context) (string, error) {
	grub, err := im.grubEFI(ctx)
	if err != nil {
		return "", err
	}
	files := []fatFile{{src: grub, dest: "EFI/BOOT/BOOTX64.EFI"}}
	sizes, err := fileSizes(files)
	if err != nil {
		return "", err
	}
	p := filepath.Join(im.scratch, "efiboot.img")
	err = im.writeFAT(ctx, p, fatSpec{
		size:   fatSize(sizes, 0),
		label:  "EFIBOOT",
		serial: im.serial("efiboot serial"),
		files:  files,
	})
	return p, err
}

// rename moves a finished image into place, readable by all: the umask
// must not decide who may boot it.
func rename(tmp, dest string) error {
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, dest); err != nil {
		return fmt.Errorf("move image into place: %w", err)
	}
	return nil
}
