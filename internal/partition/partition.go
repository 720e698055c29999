// Package partition encodes MBR and GPT partition tables, for the disk
// images minikit builds and for the disks its format program prepares.
//
// The tables are written here rather than by sfdisk: a few dozen lines
// give full control of every byte (signatures and GUIDs come from the
// caller, derived from content, never from a random source) and need no
// tool in the image.
package partition

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"unicode/utf16"
)

// SectorSize is the logical sector size of the disks written here.
const SectorSize = 512

// MBRPartition is one primary partition of an MBR partition table.
type MBRPartition struct {
	Bootable bool
	Type     byte // the partition type: TypeLinux, TypeFAT32LBA, …
	Start    uint32
	Sectors  uint32
}

// MBR partition types: a Linux filesystem, FAT32 with LBA addressing, and
// GPT's protective partition.
const (
	TypeLinux      = 0x83
	TypeFAT32LBA   = 0x0c
	TypeProtective = 0xee
)

// MBR returns sector 0 of a disk: bootCode (up to 440 bytes, may be nil),
// the disk signature and up to four primary partitions.
func MBR(bootCode []byte, signature uint32, parts []MBRPartition) ([]byte, error) {
	if len(bootCode) > 440 {
		return nil, fmt.Errorf("MBR boot code is %d bytes, at most 440 fit", len(bootCode))
	}
	if len(parts) > 4 {
		return nil, fmt.Errorf("%d partitions: an MBR holds 4", len(parts))
	}
	s := make([]byte, SectorSize)
	copy(s, bootCode)
	binary.LittleEndian.PutUint32(s[440:], signature)
	for i, p := range parts {
		e := s[446+16*i : 446+16*(i+1)]
		if p.Bootable {
			e[0] = 0x80
		}
		copy(e[1:4], chs(p.Start))
		e[4] = p.Type
		copy(e[5:8], chs(p.Start+p.Sectors-1))
		binary.LittleEndian.PutUint32(e[8:], p.Start)
		binary.LittleEndian.PutUint32(e[12:], p.Sectors)
	}
	s[510], s[511] = 0x55, 0xaa
	return s, nil
}

// chs encodes a sector address in the cylinder/head/sector form of the
// classic BIOS geometry (255 heads, 63 sectors a track), saturating where
// that cannot reach, as partitioning tools do.
func chs(lba uint32) []byte {
	const heads, sectors = 255, 63
	c := lba / (heads * sectors)
	h := (lba / sectors) % heads
	s := lba%sectors + 1
	if c > 1023 {
		c, h, s = 1023, 254, 63
	}
	return []byte{byte(h), byte(s) | byte(c>>8)<<6, byte(c)}
}

// GPTPartition is one entry of a GUID partition table.
type GPTPartition struct {
	Type, GUID  [16]byte
	First, Last uint64 // sectors, inclusive
	Name        string
}

// GPT partition types: the EFI system partition and a Linux filesystem.
var (
	GPTTypeESP   = MustGUID("C12A7328-F81F-11D2-BA4B-00A0C93EC93B")
	GPTTypeLinux = MustGUID("0FC63DAF-8483-4772-8E79-3D69D8477DE4")
)

const (
	gptEntries     = 128
	gptEntrySize   = 128
	gptEntrySector = gptEntries * gptEntrySize / SectorSize // 32
)

// WriteGPT writes a protective MBR, the primary GPT at the start of the
// disk and its backup at the end. The disk is sectors long.
func WriteGPT(w io.WriterAt, sectors uint64, diskGUID [16]byte, parts []GPTPartition) error {
	if len(parts) > gptEntries {
		return fmt.Errorf("%d partitions: the table holds %d", len(parts), gptEntries)
	}
	firstUsable, lastUsable := uint64(2+gptEntrySector), sectors-2-gptEntrySector
	entries := make([]byte, gptEntries*gptEntrySize)
	for i, p := range parts {
		if p.First < firstUsable || p.Last > lastUsable || p.Last < p.First {
			return fmt.Errorf("partition %d (sectors %d-%d) is outside the usable %d-%d", i+1, p.First, p.Last, firstUsable, lastUsable)
		}
		e := entries[i*gptEntrySize:]
		copy(e[0:16], p.Type[:])
		copy(e[16:32], p.GUID[:])
		binary.LittleEndian.PutUint64(e[32:], p.First)
		binary.LittleEndian.PutUint64(e[40:], p.Last)
		for j, u := range utf16.Encode([]rune(p.Name)) {
			if j >= 36 {
				break
			}
			binary.LittleEndian.PutUint16(e[56+2*j:], u)
		}
	}
	entriesCRC := crc32.ChecksumIEEE(entries)

	pmbrSectors := uint32(min(sectors-1, 0xffffffff))
	pmbr, err := MBR(nil, 0, []MBRPartition{{Type: TypeProtective, Start: 1, Sectors: pmbrSectors}})
	if err != nil {
		return err
	}
	header := func(self, other, entriesAt uint64) []byte {
		h := make([]byte, SectorSize)
		copy(h, "EFI PART")
		binary.LittleEndian.PutUint32(h[8:], 0x00010000) // revision 1.0
		binary.LittleEndian.PutUint32(h[12:], 92)        // header size
		binary.LittleEndian.PutUint64(h[24:], self)
		binary.LittleEndian.PutUint64(h[32:], other)
		binary.LittleEndian.PutUint64(h[40:], firstUsable)
		binary.LittleEndian.PutUint64(h[48:], lastUsable)
		copy(h[56:72], diskGUID[:])
		binary.LittleEndian.PutUint64(h[72:], entriesAt)
		binary.LittleEndian.PutUint32(h[80:], gptEntries)
		binary.LittleEndian.PutUint32(h[84:], gptEntrySize)
		binary.LittleEndian.PutUint32(h[88:], entriesCRC)
		binary.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE(h[:92]))
		return h
	}
	last := sectors - 1
	writes := []struct {
		sector uint64
		data   []byte
	}{
		{0, pmbr},
		{1, header(1, last, 2)},
		{2, entries},
		{last - gptEntrySector, entries},
		{last, header(last, 1, last-gptEntrySector)},
	}
	for _, wr := range writes {
		if _, err := w.WriteAt(wr.data, int64(wr.sector)*SectorSize); err != nil {
			return fmt.Errorf("write partition table: %w", err)
		}
	}
	return nil
}

// UUIDFrom makes a version 4 (random-form) GUID out of 16 derived bytes,
// in GPT's on-disk byte order; the bytes are taken as already in that
// order, which matters only for how the GUID prints.
func UUIDFrom(b [16]byte) [16]byte {
	b[7] = b[7]&0x0f | 0x40 // version 4, in the little-endian third group
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return b
}

// MustGUID parses a GUID as written (8-4-4-4-12 hex digits) into GPT's
// mixed-endian byte order: the first three groups little-endian.
func MustGUID(s string) [16]byte {
	raw, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(raw) != 16 {
		panic("bad GUID " + s)
	}
	// The 4-, 2- and 2-byte groups are stored little-endian; the rest
	// stays as written.
	var g [16]byte
	g[0], g[1], g[2], g[3] = raw[3], raw[2], raw[1], raw[0]
	g[4], g[5] = raw[5], raw[4]
	g[6], g[7] = raw[7], raw[6]
	copy(g[8:], raw[8:])
	return g
}
