package diskimage

import (
	"context"
	"fmt"
	"path/filepath"
)

// grubModules are built into the EFI binary, so that it needs no module
// directory on the disk: enough to find its files on a GPT or MBR disk, a
// FAT partition or an ISO, read its configuration and boot Linux.
var grubModules = []string{
	"part_gpt", "part_msdos", "fat", "iso9660",
	"search", "search_fs_file", "configfile", "normal", "echo",
	"linux", "serial", "terminal", "efi_gop",
	// the A/B slots' boot state (internal/slots)
	"loadenv", "test", "regexp", "sleep", "reboot",
}

// grubEFI writes a standalone GRUB for x86_64 UEFI (BOOTX64.EFI) whose
// built-in configuration finds the device holding this image's marker and
// reads grub.cfg from there. Searching by marker, not by device name,
// works whether GRUB sits on an ISO's El Torito image and the kernel on
// the ISO's filesystem or both on one partition.
func (im *image) grubEFI(ctx context.Context) (string, error) {
	earlyPath, err := im.writeScratch("grub-early.cfg", im.earlyGrubConfig())
	if err != nil {
		return "", err
	}
	out := filepath.Join(im.scratch, "BOOTX64.EFI")
	args := []string{"-O", "x86_64-efi", "-o", out, "-p", "/boot/grub", "-c", earlyPath}
	if err := run(ctx, im.Epoch, needGrub, append(args, grubModules...)...); err != nil {
		return "", fmt.Errorf("make GRUB for UEFI: %w", err)
	}
	return out, nil
}
