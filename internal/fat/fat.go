// Package fat finds a file's bytes on a FAT16 or FAT32 filesystem, so that
// init can read and rewrite, in place and at the same size, the few files
// of a disk's boot partition that carry its boot state (GRUB's
// environment block, each slot's boot script) without mounting it: no
// vfat driver, no directory or allocation table is ever written, and a
// power cut can only leave the rewritten sectors half done.
package fat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode/utf16"
)

// Extent is a run of a file's bytes on the device.
type Extent struct{ Offset, Length int64 }

// File is where a file's bytes are: its extents, in order, cover its size.
type File struct {
	Size    int64
	Extents []Extent
}

// FS is a FAT filesystem read through r, the device (or partition) that
// holds it.
type FS struct {
	r           io.ReaderAt
	bytesPerSec int64
	clusterSize int64
	fatOffset   int64 // of the first allocation table
	dataOffset  int64 // of cluster 2
	clusters    uint32
	fat32       bool
	rootCluster uint32 // FAT32
	rootOffset  int64  // FAT16: the fixed root directory
	rootEntries int64
}

// ErrNotFound says that no file has the path asked for.
var ErrNotFound = errors.New("no such file")

// Open reads the boot sector of the filesystem on r.
func Open(r io.ReaderAt) (*FS, error) {
	bs := make([]byte, 512)
	if _, err := r.ReadAt(bs, 0); err != nil {
		return nil, fmt.Errorf("fat: boot sector: %w", err)
	}
	le := binary.LittleEndian
	if bs[510] != 0x55 || bs[511] != 0xaa {
		return nil, errors.New("fat: no boot sector signature")
	}
	bps := int64(le.Uint16(bs[11:]))
	spc := int64(bs[13])
	reserved := int64(le.Uint16(bs[14:]))
	nfats := int64(bs[16])
	rootEntries := int64(le.Uint16(bs[17:]))
	total := int64(le.Uint16(bs[19:]))
	if total == 0 {
		total = int64(le.Uint32(bs[32:]))
	}
	fatSize := int64(le.Uint16(bs[22:]))
	if fatSize == 0 {
		fatSize = int64(le.Uint32(bs[36:]))
	}
	if bps < 512 || bps > 4096 || bps&(bps-1) != 0 || spc == 0 || spc&(spc-1) != 0 || nfats == 0 || reserved == 0 || fatSize == 0 {
		return nil, errors.New("fat: not a FAT boot sector")
	}
	rootSectors := (rootEntries*32 + bps - 1) / bps
	dataSector := reserved + nfats*fatSize + rootSectors
	if total <= dataSector {
		return nil, errors.New("fat: the filesystem has no data area")
	}
	fs := &FS{
		r:           r,
		bytesPerSec: bps,
		clusterSize: bps * spc,
		fatOffset:   reserved * bps,
		dataOffset:  dataSector * bps,
		clusters:    uint32((total - dataSector) / spc),
	}
	switch {
	case fs.clusters < 4085:
		return nil, errors.New("fat: FAT12 is not supported")
	case fs.clusters < 65525:
		fs.rootOffset = (reserved + nfats*fatSize) * bps
		fs.rootEntries = rootEntries
	default:
		fs.fat32 = true
		fs.rootCluster = le.Uint32(bs[44:])
	}
	return fs, nil
}

// next reads the allocation table entry of cluster c; ok is false at the
// end of the chain.
func (fs *FS) next(c uint32) (n uint32, ok bool, err error) {
	if fs.fat32 {
		b := make([]byte, 4)
		if _, err := fs.r.ReadAt(b, fs.fatOffset+int64(c)*4); err != nil {
			return 0, false, err
		}
		n = binary.LittleEndian.Uint32(b) & 0x0fffffff
		return n, n >= 2 && n < 0x0ffffff7, nil
	}
	b := make([]byte, 2)
	if _, err := fs.r.ReadAt(b, fs.fatOffset+int64(c)*2); err != nil {
		return 0, false, err
	}
	n = uint32(binary.LittleEndian.Uint16(b))
	return n, n >= 2 && n < 0xfff7, nil
}

// chain returns the extents of the cluster chain from first, enough for
// size bytes (every cluster of it when size < 0), merging neighbours.
func (fs *FS) chain(first uint32, size int64) ([]Extent, error) {
	var ext []Extent
	left := size
	seen := map[uint32]bool{}
	for c := first; ; {
		if c < 2 || c >= fs.clusters+2 {
			return nil, fmt.Errorf("fat: a cluster chain leaves the filesystem (cluster %d)", c)
		}
		if seen[c] {
			return nil, fmt.Errorf("fat: a cluster chain loops (cluster %d)", c)
		}
		seen[c] = true
		off := fs.dataOffset + int64(c-2)*fs.clusterSize
		l := fs.clusterSize
		if size >= 0 && left < l {
			l = left
		}
		if k := len(ext) - 1; k >= 0 && ext[k].Offset+ext[k].Length == off {
			ext[k].Length += l
		} else {
			ext = append(ext, Extent{off, l})
		}
		if size >= 0 {
			if left -= l; left == 0 {
				return ext, nil
			}
		}
		next, ok, err := fs.next(c)
		if err != nil {
			return nil, err
		}
		if !ok {
			if size >= 0 {
				return nil, fmt.Errorf("fat: the cluster chain ends %d bytes short of the file's size", left)
			}
			return ext, nil
		}
		c = next
	}
}

// entry is one directory entry, with its long name when it has one.
type entry struct {
	short, long string
	dir         bool
	cluster     uint32
	size        int64
}

// readDir lists the directory whose bytes are in ext.
func (fs *FS) readDir(ext []Extent) ([]entry, error) {
	var out []entry
	var lfn []uint16
	for _, e := range ext {
		buf := make([]byte, e.Length)
		if _, err := fs.r.ReadAt(buf, e.Offset); err != nil {
			return nil, err
		}
		for i := 0; i+32 <= len(buf); i += 32 {
			d := buf[i : i+32]
			switch {
			case d[0] == 0:
				return out, nil
			case d[0] == 0xe5:
				lfn = nil
				continue
			case d[11] == 0x0f: // a piece of a long name, last piece first
				if d[0]&0x40 != 0 {
					lfn = nil
				}
				var part []uint16
				for _, at := range []int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30} {
					part = append(part, binary.LittleEndian.Uint16(d[at:]))
				}
				lfn = append(part, lfn...)
				continue
			case d[11]&0x08 != 0: // the volume label
				lfn = nil
				continue
			}
			le := binary.LittleEndian
			ent := entry{
				short:   shortName(d[:11]),
				dir:     d[11]&0x10 != 0,
				cluster: uint32(le.Uint16(d[20:]))<<16 | uint32(le.Uint16(d[26:])),
				size:    int64(le.Uint32(d[28:])),
			}
			if lfn != nil {
				ent.long = longName(lfn)
			}
			lfn = nil
			out = append(out, ent)
		}
	}
	return out, nil
}

func shortName(b []byte) string {
	base := strings.TrimRight(string(b[:8]), " ")
	ext := strings.TrimRight(string(b[8:11]), " ")
	if ext == "" {
		return base
	}
	return base + "." + ext
}

func longName(u []uint16) string {
	for i, c := range u {
		if c == 0 || c == 0xffff {
			u = u[:i]
			break
		}
	}
	return string(utf16.Decode(u))
}

// Stat finds the file at p, a slash-separated path from the root. Names
// match the long name, or the 8.3 name without regard to case.
func (fs *FS) Stat(p string) (*File, error) {
	var dir []Extent
	var err error
	if fs.fat32 {
		if dir, err = fs.chain(fs.rootCluster, -1); err != nil {
			return nil, err
		}
	} else {
		dir = []Extent{{fs.rootOffset, fs.rootEntries * 32}}
	}
	parts := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	for i, name := range parts {
		entries, err := fs.readDir(dir)
		if err != nil {
			return nil, err
		}
		var found *entry
		for k := range entries {
			e := &entries[k]
			if e.long == name || strings.EqualFold(e.short, name) {
				found = e
				break
			}
		}
		if found == nil {
			return nil, fmt.Errorf("fat: %s: %w", p, ErrNotFound)
		}
		last := i == len(parts)-1
		if last && !found.dir {
			f := &File{Size: found.size}
			if found.size > 0 {
				if f.Extents, err = fs.chain(found.cluster, found.size); err != nil {
					return nil, fmt.Errorf("fat: %s: %w", p, err)
				}
			}
			return f, nil
		}
		if !found.dir {
			return nil, fmt.Errorf("fat: %s: %s is not a directory", p, name)
		}
		if last {
			return nil, fmt.Errorf("fat: %s is a directory", p)
		}
		if dir, err = fs.chain(found.cluster, -1); err != nil {
			return nil, fmt.Errorf("fat: %s: %w", p, err)
		}
	}
	return nil, fmt.Errorf("fat: %s: %w", p, ErrNotFound)
}

// ReadFile returns the content of the file at p.
func (fs *FS) ReadFile(p string) ([]byte, error) {
	f, err := fs.Stat(p)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, f.Size)
	for _, e := range f.Extents {
		buf := make([]byte, e.Length)
		if _, err := fs.r.ReadAt(buf, e.Offset); err != nil {
			return nil, fmt.Errorf("fat: read %s: %w", p, err)
		}
		out = append(out, buf...)
	}
	return out, nil
}

// Rewrite writes data over the content of the file at p, through w (the
// same device as the filesystem's reader): in place, so data must be as
// long as the file is. Nothing else of the filesystem changes.
func (fs *FS) Rewrite(w io.WriterAt, p string, data []byte) error {
	f, err := fs.Stat(p)
	if err != nil {
		return err
	}
	if int64(len(data)) != f.Size {
		return fmt.Errorf("fat: %s is %d bytes, and its content can only be replaced by as many (got %d)", p, f.Size, len(data))
	}
	at := int64(0)
	for _, e := range f.Extents {
		if _, err := w.WriteAt(data[at:at+e.Length], e.Offset); err != nil {
			return fmt.Errorf("fat: write %s: %w", p, err)
		}
		at += e.Length
	}
	return nil
}
