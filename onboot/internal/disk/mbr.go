package disk

import (
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
