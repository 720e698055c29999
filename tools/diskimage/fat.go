package diskimage

import (
	"context"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
)

// fatFile is a file to copy into a FAT filesystem.
type fatFile struct {
	src  string // on the host
	dest string // in the filesystem, slash-separated, relative
}

// fatSpec describes a FAT filesystem made with mtools: no loop device, no
// root.
type fatSpec struct {
	size   int64 // bytes, a multiple of 512
	fat32  bool
	hidden uint32 // sectors before the filesystem on its disk (its partition's start)
	label  string
	serial uint32
	files  []fatFile
}

// fatSize is the size of a FAT filesystem holding files of these sizes:
// the files rounded up to 4 KiB clusters, a tenth more and 2 MiB for the
// tables and directories, in whole MiB, at least min.
func fatSize(sizes []int64, min int64) int64 {
	var total int64
	for _, s := range sizes {
		total += (s + 4095) &^ 4095
	}
	total += total/10 + 2<<20
	total = (total + 1<<20 - 1) &^ (1<<20 - 1)
	return max(total, min)
}

// writeFAT makes the filesystem in a new file at p. Directories are made
// in sorted order and files copied in the order given, so the layout is the
// same every time; mtools stamps everything with SOURCE_DATE_EPOCH.
func (im *image) writeFAT(ctx context.Context, p string, spec fatSpec) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	err = f.Truncate(spec.size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("size FAT image: %w", err)
	}
	epoch := im.Epoch
	args := []string{"-i", p, "-N", fmt.Sprintf("%08x", spec.serial), "-H", strconv.FormatUint(uint64(spec.hidden), 10)}
	if spec.label != "" {
		args = append(args, "-v", spec.label)
	}
	if spec.fat32 {
		args = append(args, "-F")
	}
	if err := run(ctx, epoch, needMformat, append(args, "::")...); err != nil {
		return fmt.Errorf("format FAT: %w", err)
	}
	var dirs []string
	seen := map[string]bool{}
	for _, file := range spec.files {
		for d := path.Dir(file.dest); d != "." && !seen[d]; d = path.Dir(d) {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	slices.Sort(dirs) // parents sort before their children
	for _, d := range dirs {
		if err := run(ctx, epoch, needMmd, "-i", p, "::/"+d); err != nil {
			return fmt.Errorf("FAT directory %s: %w", d, err)
		}
	}
	for _, file := range spec.files {
		if err := run(ctx, epoch, needMcopy, "-i", p, file.src, "::/"+file.dest); err != nil {
			return fmt.Errorf("copy %s into FAT: %w", file.dest, err)
		}
	}
	return nil
}

// fileSizes returns the sizes of files on the host.
func fileSizes(files []fatFile) ([]int64, error) {
	var sizes []int64
	for _, f := range files {
		fi, err := os.Stat(f.src)
		if err != nil {
			return nil, err
		}
		sizes = append(sizes, fi.Size())
	}
	return sizes, nil
}
