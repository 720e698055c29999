package diskimage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/minikit/minikit/internal/partition"
)

// Detect tells what the image file at path is and which firmware boots
// it, by reading it: an ISO's El Torito boot catalog, a disk's partition
// table (through qcow2's cluster tables for a qcow2 file, the block table
// of a VHD, the grains of a VMDK). An image that
// boots on both says BIOS, the simpler machine to start.
func Detect(path string) (Kind, Firmware, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	head := make([]byte, 4)
	if _, err := f.ReadAt(head, 0); err != nil {
		return "", "", fmt.Errorf("%s: %w", path, errNotImage)
	}
	switch {
	case bytes.Equal(head, []byte(vmdkMagic)):
		sector0, err := vmdkSector0(f)
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", path, err)
		}
		fw, err := diskFirmware(sector0)
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", path, err)
		}
		return VMDK, fw, nil
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return "", "", fmt.Errorf("%s: %w", path, errCompressed)
	}
	if bytes.Equal(head, []byte("QFI\xfb")) {
		sector0, err := qcow2Sector0(f)
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", path, err)
		}
		fw, err := diskFirmware(sector0)
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", path, err)
		}
		return QCOW2, fw, nil
	}
	if fw, ok, err := isoFirmware(f); err != nil {
		return "", "", fmt.Errorf("%s: %w", path, err)
	} else if ok {
		return ISO, fw, nil
	}
	st, err := f.Stat()
	if err != nil {
		return "", "", err
	}
	if sector0, ok, err := vhdSector0(f, st.Size()); err != nil {
		return "", "", fmt.Errorf("%s: %w", path, err)
	} else if ok {
		fw, err := diskFirmware(sector0)
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", path, err)
		}
		return VHD, fw, nil
	}
	sector0 := make([]byte, partition.SectorSize)
	if _, err := f.ReadAt(sector0, 0); errors.Is(err, io.EOF) {
		return "", "", fmt.Errorf("%s: %w", path, errNotImage)
	} else if err != nil {
		return "", "", fmt.Errorf("%s: %w", path, err)
	}
	fw, err := diskFirmware(sector0)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", path, err)
	}
	return Raw, fw, nil
}

var (
	errNotImage   = errors.New("neither an ISO nor a disk with a partition table")
	errCompressed = errors.New("a compressed file, such as a GCE image (disk.raw in a gzip'd tar): boot the disk inside it (tar xzf FILE disk.raw)")
)

// El Torito's platform ids.
const (
	platformX86 = 0x00
	platformEFI = 0xef
)

// isoFirmware reads an ISO's boot catalog; ok is false for a file that is
// no ISO.
func isoFirmware(r io.ReaderAt) (fw Firmware, ok bool, err error) {
	const block = 2048
	vd := make([]byte, block)
	if _, err := r.ReadAt(vd, 16*block); err != nil || string(vd[1:6]) != "CD001" {
		return "", false, nil
	}
	// The boot record volume descriptor follows the primary one.
	if _, err := r.ReadAt(vd, 17*block); err != nil {
		return "", true, fmt.Errorf("an ISO without a boot record: not bootable")
	}
	if vd[0] != 0 || string(vd[1:6]) != "CD001" || !bytes.HasPrefix(vd[7:], []byte("EL TORITO SPECIFICATION")) {
		return "", true, errors.New("an ISO without an El Torito boot record: not bootable")
	}
	catalog := make([]byte, block)
	if _, err := r.ReadAt(catalog, int64(binary.LittleEndian.Uint32(vd[0x47:]))*block); err != nil {
		return "", true, fmt.Errorf("read the El Torito boot catalog: %w", err)
	}
	// The validation entry names the default entry's platform; section
	// headers (0x90, the last 0x91) name their entries'.
	var bios, efi bool
	platform := catalog[1]
	for i := 32; i+32 <= block; i += 32 {
		e := catalog[i : i+32]
		switch e[0] {
		case 0x88: // a bootable entry
			bios = bios || platform == platformX86
			efi = efi || platform == platformEFI
		case 0x90, 0x91:
			platform = e[1]
		case 0x00:
			if i > 32 {
				i = block // the end of the catalog
			}
		}
	}
	switch {
	case bios:
		return BIOS, true, nil
	case efi:
		return EFI, true, nil
	}
	return "", true, errors.New("the ISO's boot catalog has no entry for BIOS or UEFI")
}

// diskFirmware reads a disk's first sector: a GPT's protective MBR means
// UEFI, an MBR with boot code BIOS.
func diskFirmware(sector0 []byte) (Firmware, error) {
	if len(sector0) < partition.SectorSize || sector0[510] != 0x55 || sector0[511] != 0xaa {
		return "", errNotImage
	}
	if sector0[446+4] == partition.TypeProtective {
		return EFI, nil
	}
	if bytes.Equal(sector0[:440], make([]byte, 440)) {
		return "", errors.New("a disk whose MBR has no boot code and no GPT: not bootable")
	}
	return BIOS, nil
}

// qcow2Sector0 reads the first sector of the disk a qcow2 file holds,
// following its L1 and L2 tables; an unallocated cluster reads as zeros.
func qcow2Sector0(r io.ReaderAt) ([]byte, error) {
	hdr := make([]byte, 48)
	if _, err := r.ReadAt(hdr, 0); err != nil {
		return nil, fmt.Errorf("qcow2 header: %w", err)
	}
	be := binary.BigEndian
	if be.Uint32(hdr[32:]) != 0 {
		return nil, errors.New("an encrypted qcow2 image")
	}
	const offsetMask = 0x00fffffffffffe00
	const compressed = 1 << 62
	l1 := be.Uint64(hdr[40:])
	entry := make([]byte, 8)
	if _, err := r.ReadAt(entry, int64(l1)); err != nil {
		return nil, fmt.Errorf("qcow2 L1 table: %w", err)
	}
	sector0 := make([]byte, partition.SectorSize)
	l2 := be.Uint64(entry) & offsetMask
	if l2 == 0 {
		return sector0, nil
	}
	if _, err := r.ReadAt(entry, int64(l2)); err != nil {
		return nil, fmt.Errorf("qcow2 L2 table: %w", err)
	}
	cluster := be.Uint64(entry)
	if cluster&compressed != 0 {
		return nil, errors.New("a compressed qcow2 image: cannot tell its firmware, say which")
	}
	if cluster&offsetMask == 0 {
		return sector0, nil
	}
	if _, err := r.ReadAt(sector0, int64(cluster&offsetMask)); err != nil {
		return nil, fmt.Errorf("qcow2 data: %w", err)
	}
	return sector0, nil
}
