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
	if fw == EFI {
		end += gptTail
	}
	total, err := im.diskSectors(end)
	if err != nil {
		return err
	}

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
		if err := f.Truncate(int64(total) * partition.SectorSize); err != nil {
			return err
		}
		if _, err := f.WriteAt(sector0, 0); err != nil {
			return err
		}
		if _, err := f.WriteAt(core, coreSector*partition.SectorSize); err != nil {
			return err
		}
	case EFI:
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
	return alignTo(sector, sectorsPerMiB)
}

const (
	sectorsPerMiB = 1 << 20 / partition.SectorSize
	sectorsPerGiB = 1 << 30 / partition.SectorSize
)

// alignTo rounds a sector number up to a multiple of unit sectors.
func alignTo(sector, unit uint64) uint64 {
	return (sector + unit - 1) / unit * unit
}

// diskSectors is the size of a disk whose partitions and tables take need
// sectors: DiskSize, or need rounded up to the image's unit (a MiB, or a
// GiB for GCE).
func (im *image) diskSectors(need uint64) (uint64, error) {
	unit := im.unit
	if unit == 0 {
		unit = sectorsPerMiB
	}
	if im.DiskSize == 0 {
		return alignTo(need, unit), nil
	}
	if im.DiskSize < 0 || im.DiskSize%partition.SectorSize != 0 {
		return 0, fmt.Errorf("disk size %d: want a positive whole number of %d-byte sectors", im.DiskSize, partition.SectorSize)
	}
	total := uint64(im.DiskSize) / partition.SectorSize
	if total%unit != 0 {
		return 0, fmt.Errorf("disk size %s: want a whole number of %s", humanSize(im.DiskSize), humanSize(int64(unit)*partition.SectorSize))
	}
	if total < need {
		return 0, fmt.Errorf("disk size %s is too small: its partitions need %s", humanSize(im.DiskSize), humanSize(int64(alignMiB(need))*partition.SectorSize))
	}
	return total, nil
}

// humanSize writes a byte count in the largest of GiB, MiB or KiB that
// divides it, else in bytes.
func humanSize(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	if n > 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
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

// CopyDisk copies the disk image at src to dest, keeping its holes, under
// a temporary name renamed when complete.
func CopyDisk(src, dest string) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	tmp := dest + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	defer f.Close()
	if err := f.Truncate(st.Size()); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	extents, err := dataExtents(in, st.Size())
	if err != nil {
		return err
	}
	for _, e := range extents {
		if _, err := io.Copy(io.NewOffsetWriter(f, e.off), io.NewSectionReader(in, e.off, e.len)); err != nil {
			return fmt.Errorf("copy %s: %w", src, err)
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	return rename(tmp, dest)
}
