package images

import (
	"bytes"
	"errors"
	"io"
	"os"
)

const (
	// holeBlock is the granularity at which zeros become holes: the block
	// size of the filesystems a staging tree lives on, and so the smallest
	// hole they can keep.
	holeBlock = 4096
	// copyBufSize is how much of a file is read, then written, at a time.
	copyBufSize = 64 * holeBlock
)

var zeroBlock [holeBlock]byte

// copyKeepingHoles copies r into the new, empty file f, leaving every
// whole block of zeros unwritten so that it stays a hole. Go's tar reader
// hands a sparse file over with its holes expanded into zeros, and a plain
// file of zeros costs the same disk once written; not writing them keeps
// both as small on the build host as in the tar.
func copyKeepingHoles(f *os.File, r io.Reader, buf []byte) error {
	var off int64
	for {
		n, rerr := fill(r, buf)
		if err := writeData(f, buf[:n], off); err != nil {
			return err
		}
		off += int64(n)
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	// A file that ends in a hole gets its size from here.
	return f.Truncate(off)
}

// fill reads into buf until it is full or r fails; io.EOF means r ended.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// writeData writes b at off, one write per run of blocks that are not all
// zeros, skipping the blocks that are.
func writeData(f *os.File, b []byte, off int64) error {
	for len(b) > 0 {
		end := min(holeBlock, len(b))
		if bytes.Equal(b[:end], zeroBlock[:end]) {
			b, off = b[end:], off+int64(end)
			continue
		}
		for end < len(b) {
			next := min(end+holeBlock, len(b))
			if bytes.Equal(b[end:next], zeroBlock[:next-end]) {
				break
			}
			end = next
		}
		if _, err := f.WriteAt(b[:end], off); err != nil {
			return err
		}
		b, off = b[end:], off+int64(end)
	}
	return nil
}
