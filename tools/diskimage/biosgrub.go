package diskimage

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"github.com/minikit/minikit/internal/partition"
)

// A BIOS disk boots GRUB for i386-pc, embedded as grub-bios-setup would
// embed it, without it (it insists on probing the host's devices, which
// a disk image being written is not one of): the MBR's boot code is
// GRUB's boot.img, which loads core.img from the sectors between the MBR
// and the first partition. GRUB, unlike syslinux, reads and writes an
// environment block, which is where the boot state of the A/B slots
// lives (internal/slots).

// grubBIOSModules are built into core.img, so that it needs no module
// directory on the disk: enough to read an MBR or GPT disk and a FAT
// partition, find the image's files by its marker, keep the boot state
// in the environment block and boot Linux.
var grubBIOSModules = []string{
	"biosdisk", "part_msdos", "part_gpt", "fat",
	"search", "search_fs_file", "configfile", "normal", "echo", "test", "regexp",
	"loadenv", "linux", "serial", "terminal", "sleep", "reboot",
}

// Offsets in boot.img that grub-bios-setup fills in (grub's
// include/grub/i386/pc/boot.h).
const (
	// bootKernelSector is where core.img's first sector is on the disk,
	// a little-endian uint64.
	bootKernelSector = 0x5c
	// bootDriveCheck is a jump that works around BIOSes passing a wrong
	// drive number when booting from a floppy; on a hard disk
	// grub-bios-setup replaces it with two NOPs.
	bootDriveCheck = 0x66
	// mbrCodeSize is the part of the MBR that is boot code: the disk
	// signature and the partition table come after it.
	mbrCodeSize = 440
)

// coreSector is where core.img is written: right after the MBR, in the
// gap before the first partition. diskboot.img, core.img's first sector,
// loads the rest from the sector after its own unless told otherwise,
// which is exactly where it is.
const coreSector = 1

// grubBIOS writes GRUB's core.img for i386-pc whose built-in
// configuration finds the partition holding this image's marker and
// reads grub.cfg from there, as the EFI GRUB does.
func (im *image) grubBIOS(ctx context.Context) ([]byte, error) {
	early, err := im.writeScratch("grub-bios-early.cfg", im.earlyGrubConfig())
	if err != nil {
		return nil, err
	}
	out := filepath.Join(im.scratch, "core.img")
	args := []string{"-O", "i386-pc", "-o", out, "-p", "/boot/grub", "-c", early}
	if err := run(ctx, im.Epoch, needGrub, append(args, grubBIOSModules...)...); err != nil {
		return nil, fmt.Errorf("make GRUB for BIOS: %w", err)
	}
	core, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	if room := (partitionStart - coreSector) * partition.SectorSize; len(core) > room {
		return nil, fmt.Errorf("GRUB's core.img is %d bytes, more than the %d before the first partition", len(core), room)
	}
	return core, nil
}

// biosBootCode is the MBR's boot code: boot.img set up to load core.img
// from sector coreSector of the disk it was booted from.
func biosBootCode(bootImg []byte, coreSector uint64) ([]byte, error) {
	if len(bootImg) != partition.SectorSize || bootImg[510] != 0x55 || bootImg[511] != 0xaa {
		return nil, fmt.Errorf("GRUB's boot.img is not a 512-byte boot sector")
	}
	code := append([]byte(nil), bootImg[:mbrCodeSize]...)
	binary.LittleEndian.PutUint64(code[bootKernelSector:], coreSector)
	code[bootDriveCheck], code[bootDriveCheck+1] = 0x90, 0x90
	return code, nil
}

// earlyGrubConfig is the configuration built into GRUB: find the
// partition that holds this image's marker, and read grub.cfg there.
// Searching by marker, not by device name, works whatever the firmware
// calls the disk, and for the EFI GRUB on an ISO, whose own image is not
// where the kernel is.
func (im *image) earlyGrubConfig() string {
	return fmt.Sprintf("search --no-floppy --file --set=root /%s\nset prefix=($root)/boot/grub\nconfigfile ($root)/%s\n",
		im.marker(), grubCfg)
}
