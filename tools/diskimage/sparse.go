package diskimage

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// A disk image is mostly holes: a 1 GiB cloud disk holds a few dozen MiB.
// Reading a hole costs as much as reading data, so copies go by the data
// extents the filesystem reports (SEEK_DATA, SEEK_HOLE).

// extent is a run of data in a file, in bytes.
type extent struct{ off, len int64 }

// dataExtents lists the data of f, a file of size bytes. A filesystem that
// cannot tell holes reports it all as data.
func dataExtents(f *os.File, size int64) ([]extent, error) {
	var out []extent
	for off := int64(0); off < size; {
		start, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // a hole to the end
		}
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
			return []extent{{off, size - off}}, nil
		}
		if err != nil {
			return nil, err
		}
		end, err := unix.Seek(int(f.Fd()), start, unix.SEEK_HOLE)
		if err != nil {
			return nil, err
		}
		end = min(end, size)
		out = append(out, extent{start, end - start})
		off = end
	}
	return out, nil
}

// copyExtents writes the size bytes of f to w, reading only its data and
// writing zeros for its holes.
func copyExtents(w io.Writer, f *os.File, size int64) error {
	extents, err := dataExtents(f, size)
	if err != nil {
		return err
	}
	zeros := make([]byte, 1<<20)
	writeZeros := func(n int64) error {
		for n > 0 {
			k := min(n, int64(len(zeros)))
			if _, err := w.Write(zeros[:k]); err != nil {
				return err
			}
			n -= k
		}
		return nil
	}
	pos := int64(0)
	for _, e := range extents {
		if err := writeZeros(e.off - pos); err != nil {
			return err
		}
		if _, err := io.Copy(w, io.NewSectionReader(f, e.off, e.len)); err != nil {
			return err
		}
		pos = e.off + e.len
	}
	return writeZeros(size - pos)
}
