package disk

import (
	"crypto/rand"
	"fmt"
	"io"
	"math"

	"github.com/minikit/minikit/internal/partition"
)

// partitionStart is where the one partition begins: 1 MiB, aligned for
// every disk and SSD erase block, as fdisk and sfdisk do.
const partitionStart = 2048 // sectors of 512 bytes

// WriteMBR writes a DOS partition table holding one Linux partition (type
// 0x83) from 1 MiB to the end of a disk of size bytes, or to 2 TiB, the
// most an MBR can address. The rest of the first sector is zeroed.
func WriteMBR(w io.WriterAt, size int64) error {
	sectors := size / 512
	if sectors <= partitionStart {
		return fmt.Errorf("disk of %d bytes is too small for a partition", size)
	}
	count := min(sectors-partitionStart, math.MaxUint32)
	mbr, err := partition.MBR(nil, 0, []partition.MBRPartition{{Type: partition.TypeLinux, Start: partitionStart, Sectors: uint32(count)}})
	if err != nil {
		return err
	}
	if _, err := w.WriteAt(mbr, 0); err != nil {
		return fmt.Errorf("write partition table: %w", err)
	}
	// Stale signatures of an earlier GPT or filesystem would make the disk
	// look like something else: clear the first MiB after the MBR.
	if _, err := w.WriteAt(make([]byte, partitionStart*512-512), 512); err != nil {
		return fmt.Errorf("clear the start of the disk: %w", err)
	}
	return nil
}

// PartitionOffset is where WriteMBR's partition starts, in bytes.
const PartitionOffset = partitionStart * 512

// gptTail is what a GPT keeps at the end of the disk: the backup entries
// and header (33 sectors), rounded to a MiB as partitioning tools leave it.
const gptTail = 2048 // sectors

// WriteGPT writes a GUID partition table holding one Linux filesystem
// partition from 1 MiB to the last MiB of a disk of size bytes, with the
// GUIDs of the disk and the partition drawn at random. The rest of the
// first MiB is zeroed, as WriteMBR does.
func WriteGPT(w io.WriterAt, size int64) error {
	sectors := uint64(size / 512)
	if sectors <= partitionStart+gptTail {
		return fmt.Errorf("disk of %d bytes is too small for a partition", size)
	}
	var diskGUID, partGUID [16]byte
	if _, err := rand.Read(diskGUID[:]); err != nil {
		return err
	}
	if _, err := rand.Read(partGUID[:]); err != nil {
		return err
	}
	if _, err := w.WriteAt(make([]byte, partitionStart*512), 0); err != nil {
		return fmt.Errorf("clear the start of the disk: %w", err)
	}
	return partition.WriteGPT(w, sectors, partition.UUIDFrom(diskGUID), []partition.GPTPartition{{
		Type:  partition.GPTTypeLinux,
		GUID:  partition.UUIDFrom(partGUID),
		First: partitionStart,
		Last:  sectors - gptTail - 1,
	}})
}

// Partitioning is the kind of partition table format writes, as
// LinuxKit's format's -partition names it.
type Partitioning string

// The partition tables format writes.
const (
	DOS Partitioning = "dos"
	GPT Partitioning = "gpt"
)

// ParsePartitioning reads -partition: dos (also mbr) or gpt.
func ParsePartitioning(s string) (Partitioning, error) {
	switch s {
	case "dos", "mbr":
		return DOS, nil
	case "gpt":
		return GPT, nil
	}
	return "", fmt.Errorf("partition table %q: want dos or gpt", s)
}

// Write writes a table of this kind with one partition on a disk of size
// bytes.
func (p Partitioning) Write(w io.WriterAt, size int64) error {
	if p == GPT {
		return WriteGPT(w, size)
	}
	return WriteMBR(w, size)
}
