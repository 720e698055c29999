package diskimage

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
)

// A stream-optimized VMDK is what VMware imports (and LinuxKit's vmdk
// format writes): a sparse extent whose grains are compressed, with its
// descriptor inside. qemu-img gives the descriptor a random content id
// (CID); it is replaced by one derived from the image. The descriptor also
// names the file itself, which is why images are written under their
// final name.

// Fields of the sparse extent header, little-endian.
const (
	vmdkMagic        = "KDMV"
	vmdkOffFlags     = 8  // uint32
	vmdkOffDescStart = 28 // uint64, sectors
	vmdkOffDescSize  = 36 // uint64, sectors
	vmdkOffGD        = 56 // uint64, sectors
	vmdkOffOverhead  = 64 // uint64, sectors
	vmdkFlagMarkers  = 1 << 17
	vmdkFlagCompress = 1 << 16
	vmdkGDAtEnd      = ^uint64(0)
)

// vmdkCID is the descriptor's content id, which qemu-img writes in hex
// without leading zeros.
var vmdkCID = regexp.MustCompile(`(?m)^CID=[0-9a-f]{1,8}$`)

func (im *image) convertVMDK(ctx context.Context, raw, out string) error {
	if err := qemuConvert(ctx, raw, out, "vmdk", "adapter_type=lsilogic,subformat=streamOptimized,compat6=on"); err != nil {
		return err
	}
	f, err := os.OpenFile(out, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	hdr := make([]byte, 512)
	if _, err := f.ReadAt(hdr, 0); err != nil || string(hdr[:4]) != vmdkMagic {
		return errors.New("qemu-img wrote no VMDK header")
	}
	start := int64(binary.LittleEndian.Uint64(hdr[vmdkOffDescStart:])) * 512
	desc := make([]byte, binary.LittleEndian.Uint64(hdr[vmdkOffDescSize:])*512)
	if _, err := f.ReadAt(desc, start); err != nil {
		return fmt.Errorf("read the VMDK descriptor: %w", err)
	}
	if !vmdkCID.Match(desc) {
		return errors.New("the VMDK descriptor has no CID")
	}
	// The descriptor's sectors end in zeros, which give room for the
	// digits qemu-img left out.
	text := vmdkCID.ReplaceAll(bytes.TrimRight(desc, "\x00"), fmt.Appendf(nil, "CID=%08x", im.serial("vmdk cid")))
	if len(text) > len(desc) {
		return errors.New("the VMDK descriptor has no room for its CID")
	}
	clear(desc)
	copy(desc, text)
	if _, err := f.WriteAt(desc, start); err != nil {
		return fmt.Errorf("write the VMDK descriptor: %w", err)
	}
	return f.Close()
}

// vmdkSector0 reads the first sector of the disk a sparse VMDK extent
// holds: in a stream-optimized one, from the first grain if it is grain
// 0; otherwise through the grain directory.
func vmdkSector0(r io.ReaderAt) ([]byte, error) {
	hdr := make([]byte, 512)
	if _, err := r.ReadAt(hdr, 0); err != nil {
		return nil, fmt.Errorf("VMDK header: %w", err)
	}
	le := binary.LittleEndian
	sector0 := make([]byte, 512)
	flags := le.Uint32(hdr[vmdkOffFlags:])
	if flags&vmdkFlagMarkers != 0 && flags&vmdkFlagCompress != 0 {
		// Grains follow the metadata in the order of their sectors, each
		// behind a marker: its sector and compressed size.
		at := int64(le.Uint64(hdr[vmdkOffOverhead:])) * 512
		for range 1 << 16 {
			marker := make([]byte, 16)
			if _, err := r.ReadAt(marker, at); err != nil {
				return nil, fmt.Errorf("VMDK stream: %w", err)
			}
			lba, size := le.Uint64(marker), le.Uint32(marker[8:])
			if size == 0 {
				// A metadata marker: its sectors follow; 0 ends the stream.
				if le.Uint32(marker[12:]) == 0 {
					return sector0, nil
				}
				at += (1 + int64(lba)) * 512
				continue
			}
			if lba != 0 {
				return sector0, nil // grain 0 was all zeros
			}
			data := make([]byte, size)
			if _, err := r.ReadAt(data, at+12); err != nil {
				return nil, fmt.Errorf("VMDK grain: %w", err)
			}
			zr, err := zlib.NewReader(bytes.NewReader(data))
			if err != nil {
				return nil, fmt.Errorf("VMDK grain: %w", err)
			}
			if _, err := io.ReadFull(zr, sector0); err != nil {
				return nil, fmt.Errorf("VMDK grain: %w", err)
			}
			return sector0, nil
		}
		return nil, errors.New("VMDK stream: no data grain in the first 65536 markers")
	}
	if flags&vmdkFlagCompress != 0 {
		return nil, errors.New("a compressed VMDK that is not stream-optimized")
	}
	gd := le.Uint64(hdr[vmdkOffGD:])
	if gd == vmdkGDAtEnd {
		return nil, errors.New("a VMDK whose grain directory is at its end")
	}
	entry := make([]byte, 4)
	if _, err := r.ReadAt(entry, int64(gd)*512); err != nil {
		return nil, fmt.Errorf("VMDK grain directory: %w", err)
	}
	if gt := le.Uint32(entry); gt == 0 {
		return sector0, nil
	} else if _, err := r.ReadAt(entry, int64(gt)*512); err != nil {
		return nil, fmt.Errorf("VMDK grain table: %w", err)
	}
	if grain := le.Uint32(entry); grain > 1 { // 0 and 1: unallocated, zeros
		if _, err := r.ReadAt(sector0, int64(grain)*512); err != nil {
			return nil, fmt.Errorf("VMDK grain: %w", err)
		}
	}
	return sector0, nil
}
