package diskimage

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/minikit/minikit/internal/partition"
	"github.com/minikit/minikit/internal/slots"
)

// Layout of the raw disks: one partition from 1 MiB, where every
// partitioning tool has put the first partition for years (aligned for any
// flash erase block), and for GPT 1 MiB at the end for the backup table.
const (
	partitionStart = 1 << 20 / partition.SectorSize // sectors
	gptTail        = 1 << 20 / partition.SectorSize
	// minFAT32 keeps the boot partition comfortably above FAT32's
	// smallest size (65525 clusters); the unused part of a raw image is a
	// hole in the file and of a qcow2 image not stored at all.
	minFAT32 = 64 << 20
)

// WriteRaw writes a raw disk image at dest that boots b on fw.
//
// The disk has a boot partition (FAT32) and two slots, A and B, each able
// to hold a whole system (internal/slots): A holds b, B is empty until an
// update writes it. For BIOS the partition table is an MBR whose boot
// code is GRUB's, with GRUB's core in the gap before the first
// partition; for UEFI it is a GPT, and the boot partition is the EFI
// system partition with GRUB as EFI/BOOT/BOOTX64.EFI. Either way GRUB
// reads grub.cfg, its environment block (the boot state) and each slot's
// boot script, with the kernel command line, from the boot partition,
// where a user can change them.
//
// The file is sparse; dest is written under a temporary name and renamed
// when complete.
func WriteRaw(ctx context.Context, dest string, fw Firmware, b Boot) error {
	return writeImage(Raw, dest, fw, b, func(im *image, tmp string) error {
		return im.writeRaw(ctx, tmp, fw)
	})
}

func (im *image) writeRaw(ctx context.Context, out string, fw Firmware) error {
	files, err := im.slotBootFiles(fw)
	if err != nil {
		return err
	}
	var core []byte
	switch fw {
	case BIOS:
		if core, err = im.grubBIOS(ctx); err != nil {
			return err
		}
	case EFI:
		grub, err := im.grubEFI(ctx)
		if err != nil {
			return err
		}
		files = append([]fatFile{{src: grub, dest: "EFI/BOOT/BOOTX64.EFI"}}, files...)
	default:
		return fmt.Errorf("unknown firmware %q", fw)
	}
	sizes, err := fileSizes(files)
	if err != nil {
		return err
	}
	fat := filepath.Join(im.scratch, "boot.fat")
	spec := fatSpec{
		size:   fatSize(sizes, minFAT32),
		fat32:  true,
		hidden: partitionStart,
		label:  "MINIKIT",
		serial: im.serial("fat serial"),
		files:  files,
	}
	if err := im.writeFAT(ctx, fat, spec); err != nil {
		return err
	}
	fatSectors := uint64(spec.size / partition.SectorSize)
	// Each slot has a partition of its own after the boot partition, each
	// from a MiB boundary.
	slotSectors := uint64(im.slotBytes() / partition.SectorSize)
	slotStart := map[string]uint64{slots.A: alignMiB(partitionStart + fatSectors)}
	slotStart[slots.B] = alignMiB(slotStart[slots.A] + slotSectors)
	end := slotStart[slots.B] + slotSectors

	f, err := os.OpenFile(out, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	switch fw {
	case BIOS:
		bootImg, err := os.ReadFile(needGrubBIOS.what)
		if err != nil {
			return err
		}
		code, err := biosBootCode(bootImg, coreSector)
		if err != nil {
			return err
		}
		parts := []partition.MBRPartition{{
			Bootable: true, Type: partition.TypeFAT32LBA, Start: partitionStart, Sectors: uint32(fatSectors),
		}}
		for _, s := range slots.Names {
			parts = append(parts, partition.MBRPartition{Type: partition.TypeLinux, Start: uint32(slotStart[s]), Sectors: uint32(slotSectors)})
		}
		sector0, err := partition.MBR(code, im.serial("disk signature"), parts)
		if err != nil {
			return err
		}
		if err := f.Truncate(int64(end) * partition.SectorSize); err != nil {
			return err
		}
		if _, err := f.WriteAt(sector0, 0); err != nil {
			return err
		}
		if _, err := f.WriteAt(core, coreSector*partition.SectorSize); err != nil {
			return err
		}
	case EFI:
		total := end + gptTail
		if err := f.Truncate(int64(total) * partition.SectorSize); err != nil {
			return err
		}
		parts := []partition.GPTPartition{{
			Type:  partition.GPTTypeESP,
			GUID:  partition.UUIDFrom(im.derive("esp guid")),
			First: partitionStart,
			Last:  partitionStart + fatSectors - 1,
			Name:  "EFI system partition",
		}}
		for _, s := range slots.Names {
			parts = append(parts, partition.GPTPartition{
				Type:  partition.GPTTypeLinux,
				GUID:  partition.UUIDFrom(im.derive("slot " + s + " guid")),
				First: slotStart[s],
				Last:  slotStart[s] + slotSectors - 1,
				Name:  "minikit slot " + s,
			})
		}
		if err := partition.WriteGPT(f, total, partition.UUIDFrom(im.derive("disk guid")), parts); err != nil {
			return err
		}
	}
	if err := copySparse(f, fat, partitionStart*partition.SectorSize); err != nil {
		return fmt.Errorf("copy the boot partition into the disk: %w", err)
	}
	if err := im.writeSlot(f, int64(slotStart[slots.A])*partition.SectorSize); err != nil {
		return fmt.Errorf("write slot A: %w", err)
	}
	return f.Close()
}

// alignMiB rounds a sector number up to the next MiB.
func alignMiB(sector uint64) uint64 {
	const perMiB = 1 << 20 / partition.SectorSize
	return (sector + perMiB - 1) / perMiB * perMiB
}

// copySparse copies the file at src into w at offset, skipping blocks of
// zeros: w is a fresh sparse file that reads zeros there already, and an
// image mostly empty stays mostly a hole.
func copySparse(w io.WriterAt, src string, offset int64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	buf := make([]byte, 64<<10)
	zero := make([]byte, len(buf))
	for pos := int64(0); ; {
		n, err := io.ReadFull(in, buf)
		if n > 0 && !bytes.Equal(buf[:n], zero[:n]) {
			if _, werr := w.WriteAt(buf[:n], offset+pos); werr != nil {
				return werr
			}
		}
		pos += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
