package disk

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"
)

// Filesystem is what a device's signature says it holds.
type Filesystem struct {
	Type  string // as mount(2) takes it: ext4, xfs, btrfs, vfat, iso9660; swap
	Label string
	UUID  string
}

// Probe recognises the filesystem on r by its superblock: ext2/3/4 (all
// mounted as ext4), XFS, btrfs, FAT, ISO 9660, SquashFS, EROFS and swap
// space. ok is false
// when none is there.
func Probe(r io.ReaderAt) (fs Filesystem, ok bool) {
	read := func(off int64, n int) []byte {
		b := make([]byte, n)
		if _, err := r.ReadAt(b, off); err != nil {
			return nil
		}
		return b
	}
	if sb := read(1024, 1024); sb != nil && binary.LittleEndian.Uint16(sb[0x38:]) == 0xEF53 {
		return Filesystem{Type: "ext4", UUID: uuid(sb[0x68:0x78]), Label: cstring(sb[0x78:0x88])}, true
	}
	if sb := read(0, 512); sb != nil {
		switch {
		case bytes.Equal(sb[0:4], []byte("XFSB")):
			return Filesystem{Type: "xfs", UUID: uuid(sb[32:48]), Label: cstring(sb[108:120])}, true
		case isFAT(sb):
			label := sb[43:54]
			if bytes.Equal(sb[82:87], []byte("FAT32")) {
				label = sb[71:82]
			}
			return Filesystem{Type: "vfat", Label: strings.TrimSpace(cstring(label))}, true
		}
	}
	if sb := read(0x10000, 0x1000); sb != nil && bytes.Equal(sb[0x40:0x48], []byte("_BHRfS_M")) {
		return Filesystem{Type: "btrfs", UUID: uuid(sb[0x20:0x30]), Label: cstring(sb[0x12b:0x22b])}, true
	}
	if sb := read(0x8001, 5); sb != nil && bytes.Equal(sb, []byte("CD001")) {
		return Filesystem{Type: "iso9660"}, true
	}
	// A read-only image (a root image, a LinuxKit squashfs disk) is not
	// blank either.
	if sb := read(0, 4); sb != nil && bytes.Equal(sb, []byte("hsqs")) {
		return Filesystem{Type: "squashfs"}, true
	}
	if sb := read(1024, 4); sb != nil && binary.LittleEndian.Uint32(sb) == 0xE0F5E1E2 {
		return Filesystem{Type: "erofs"}, true
	}
	if sb := read(4096-10, 10); sb != nil && (bytes.Equal(sb, []byte("SWAPSPACE2")) || bytes.Equal(sb, []byte("SWAP-SPACE"))) {
		return Filesystem{Type: "swap"}, true
	}
	return Filesystem{}, false
}

// ProbePath is Probe of the device (or file) at p; ok is false when it
// holds no filesystem Probe knows, err is set when it cannot be read.
func ProbePath(p string) (fs Filesystem, ok bool, err error) {
	f, err := os.Open(p)
	if err != nil {
		return Filesystem{}, false, err
	}
	defer f.Close()
	fs, ok = Probe(f)
	return fs, ok, nil
}

// isFAT recognises a FAT boot sector, which ends in 0x55AA like an MBR.
func isFAT(sb []byte) bool {
	if sb[510] != 0x55 || sb[511] != 0xAA {
		return false
	}
	return bytes.HasPrefix(sb[54:62], []byte("FAT1")) || bytes.HasPrefix(sb[82:90], []byte("FAT32"))
}

// HasPartitionTable reports whether r starts with a GPT or an MBR that
// lists at least one partition.
func HasPartitionTable(r io.ReaderAt) bool {
	b := make([]byte, 4096+8)
	n, _ := r.ReadAt(b, 0)
	b = b[:n]
	if len(b) >= 520 && bytes.Equal(b[512:520], []byte("EFI PART")) {
		return true
	}
	if len(b) >= 4104 && bytes.Equal(b[4096:4104], []byte("EFI PART")) { // 4K sectors
		return true
	}
	if len(b) < 512 || b[510] != 0x55 || b[511] != 0xAA || isFAT(b[:512]) {
		return false
	}
	for i := range 4 {
		e := b[446+16*i : 446+16*(i+1)]
		if e[4] != 0 && binary.LittleEndian.Uint32(e[12:]) != 0 {
			return true
		}
	}
	return false
}

// Empty reports whether r holds neither a partition table nor a
// filesystem: a disk format may take.
func Empty(r io.ReaderAt) bool {
	_, hasFS := Probe(r)
	return !hasFS && !HasPartitionTable(r)
}

func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func uuid(b []byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
