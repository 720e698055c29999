package diskimage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// A fixed VHD is the raw disk followed by a 512-byte footer, which Hyper-V
// and Azure read (Azure wants fixed VHDs of a whole number of MiB, as every
// disk here is). qemu-img writes the footer with the time of the
// conversion and a random unique id; both are replaced by values derived
// from the image, and the checksum made again.

const vhdFooterSize = 512

// Fields of the VHD footer, big-endian.
const (
	vhdCookie    = "conectix"
	vhdOffData   = 16 // uint64: the dynamic header's offset, all ones for a fixed disk
	vhdOffTime   = 24 // uint32: seconds since 2000-01-01 UTC
	vhdOffType   = 60 // uint32: 2 fixed, 3 dynamic, 4 differencing
	vhdOffSum    = 64 // uint32: one's complement of the sum of the other bytes
	vhdOffID     = 68 // 16 bytes: the disk's unique id
	vhdTypeFixed = 2
	vhdTypeDyn   = 3
)

// vhdEpoch is the origin of VHD time stamps.
var vhdEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func (im *image) convertVHD(ctx context.Context, raw, out string) error {
	if err := qemuConvert(ctx, raw, out, "vpc", "subformat=fixed,force_size=on"); err != nil {
		return err
	}
	f, err := os.OpenFile(out, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	footer := make([]byte, vhdFooterSize)
	at := st.Size() - vhdFooterSize
	if _, err := f.ReadAt(footer, at); err != nil {
		return fmt.Errorf("read the VHD footer: %w", err)
	}
	if string(footer[:8]) != vhdCookie {
		return errors.New("qemu-img wrote no VHD footer")
	}
	var stamp uint32
	if im.Epoch.After(vhdEpoch) {
		stamp = uint32(im.Epoch.Sub(vhdEpoch) / time.Second)
	}
	binary.BigEndian.PutUint32(footer[vhdOffTime:], stamp)
	id := im.derive("vhd unique id")
	copy(footer[vhdOffID:vhdOffID+16], id[:])
	binary.BigEndian.PutUint32(footer[vhdOffSum:], vhdChecksum(footer))
	if _, err := f.WriteAt(footer, at); err != nil {
		return fmt.Errorf("write the VHD footer: %w", err)
	}
	return f.Close()
}

// vhdChecksum is the footer's checksum: the one's complement of the sum
// of its bytes, the checksum field left out.
func vhdChecksum(footer []byte) uint32 {
	var sum uint32
	for i, b := range footer[:vhdFooterSize] {
		if i >= vhdOffSum && i < vhdOffSum+4 {
			continue
		}
		sum += uint32(b)
	}
	return ^sum
}

// vhdSector0 reads the first sector of the disk a VHD holds, fixed or
// dynamic; ok is false when r is no VHD (its last sector holds no footer).
func vhdSector0(r io.ReaderAt, size int64) (sector0 []byte, ok bool, err error) {
	if size < vhdFooterSize {
		return nil, false, nil
	}
	footer := make([]byte, vhdFooterSize)
	if _, err := r.ReadAt(footer, size-vhdFooterSize); err != nil || string(footer[:8]) != vhdCookie {
		return nil, false, nil
	}
	sector0 = make([]byte, 512)
	switch t := binary.BigEndian.Uint32(footer[vhdOffType:]); t {
	case vhdTypeFixed:
		_, err = r.ReadAt(sector0, 0)
		return sector0, true, err
	case vhdTypeDyn:
		// The dynamic header names the block allocation table; the first
		// block starts with its sector bitmap.
		hdr := make([]byte, 1024)
		if _, err := r.ReadAt(hdr, int64(binary.BigEndian.Uint64(footer[vhdOffData:]))); err != nil || string(hdr[:8]) != "cxsparse" {
			return nil, true, errors.New("a dynamic VHD without its header")
		}
		bat := int64(binary.BigEndian.Uint64(hdr[16:]))
		blockSize := int64(binary.BigEndian.Uint32(hdr[32:]))
		entry := make([]byte, 4)
		if _, err := r.ReadAt(entry, bat); err != nil {
			return nil, true, fmt.Errorf("VHD block table: %w", err)
		}
		block := binary.BigEndian.Uint32(entry)
		if block == 0xffffffff {
			return sector0, true, nil // not allocated: zeros
		}
		bitmap := (blockSize/512/8 + 511) / 512 * 512
		_, err = r.ReadAt(sector0, int64(block)*512+bitmap)
		return sector0, true, err
	default:
		return nil, true, fmt.Errorf("a VHD of type %d (differencing?): boot its parent", t)
	}
}
