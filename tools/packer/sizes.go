package packer

import (
	"cmp"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/klauspost/compress/zstd"
)

// SizeReport tells what an image costs and who is to blame: the files of
// the root, and the compressed image they make (which, in the initrd
// formats, stays in RAM for as long as the system runs; a root copied
// into a tmpfs costs its whole uncompressed size there instead).
type SizeReport struct {
	Root   int64 // bytes of file data in the root filesystem
	Kernel int64 // bytes of the kernel
	Initrd int64 // bytes of the initrd; 0 when none was written
	// Image and Verity are the bytes of the SquashFS root image and of
	// its dm-verity hash tree; 0 when the root is not an image.
	Image, Verity int64
	Parts         []SizePart // who put the bytes there, largest first
	Largest       []SizeFile // the largest files, largest first
}

// SizePart is the share of one contributor: an init image, a container,
// the kernel modules one spec entry pulls in, the spec's files.
type SizePart struct {
	Name  string
	Bytes int64
	Files int
	// Image is the contributor's share of the compressed root image,
	// estimated: its files compressed as SquashFS compresses them, a
	// file that an earlier contributor already holds costing nothing
	// (the image stores identical files once), scaled so that the shares
	// add up to the image. 0 when the root is not an image.
	Image int64
}

// SizeFile is one file of the root filesystem.
type SizeFile struct {
	Path  string // inside the image
	Bytes int64
	Part  string // the SizePart it counts towards
}

// largestFiles is how many files a report lists.
const largestFiles = 10

// sizeOwners says which contributor each part of the root belongs to.
type sizeOwners struct {
	containers map[string]string // "containers/onboot/000-x" -> "onboot 000-x (image)"
	modules    map[string]string // "lib/modules/…/x.ko" -> "kernel modules: x (+N dependencies)"
	files      map[string]bool   // paths written from the spec's files section
	init       string            // everything else
}

func (o *sizeOwners) owner(rel string) string {
	if o.files[rel] {
		return "files from the spec"
	}
	if strings.HasPrefix(rel, "containers/") {
		parts := strings.SplitN(rel, "/", 4)
		if len(parts) >= 3 {
			if name, ok := o.containers[strings.Join(parts[:3], "/")]; ok {
				return name
			}
		}
	}
	if strings.HasPrefix(rel, "lib/modules/") {
		if name, ok := o.modules[rel]; ok {
			return name
		}
		return "kernel modules (index files)"
	}
	return o.init
}

// sizes measures the staging root. A file with several hard links counts
// once, towards the part of the first path.
func (b *build) sizes() (*SizeReport, error) {
	r := &SizeReport{}
	parts := map[string]*SizePart{}
	type inode struct{ dev, ino uint64 }
	counted := map[inode]bool{}
	var files []SizeFile
	err := filepath.WalkDir(b.staging, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			key := inode{uint64(st.Dev), st.Ino}
			if counted[key] {
				return nil
			}
			counted[key] = true
		}
		rel, _ := filepath.Rel(b.staging, p)
		rel = filepath.ToSlash(rel)
		name := b.owners.owner(rel)
		part := parts[name]
		if part == nil {
			part = &SizePart{Name: name}
			parts[name] = part
		}
		part.Bytes += fi.Size()
		part.Files++
		r.Root += fi.Size()
		files = append(files, SizeFile{Path: "/" + rel, Bytes: fi.Size(), Part: name})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("size report: %w", err)
	}
	if b.rootImage != nil {
		r.Image, r.Verity = b.rootImage.DataBytes, b.rootImage.HashBytes
		if err := imageShares(b.staging, files, parts, r.Image); err != nil {
			return nil, fmt.Errorf("size report: %w", err)
		}
	}
	for _, p := range parts {
		r.Parts = append(r.Parts, *p)
	}
	slices.SortFunc(r.Parts, func(a, b SizePart) int {
		return cmp.Or(cmp.Compare(b.Bytes, a.Bytes), strings.Compare(a.Name, b.Name))
	})
	slices.SortFunc(files, func(a, b SizeFile) int {
		return cmp.Or(cmp.Compare(b.Bytes, a.Bytes), strings.Compare(a.Path, b.Path))
	})
	r.Largest = files[:min(len(files), largestFiles)]
	return r, nil
}

// imageShares estimates each part's share of the compressed image: every
// file compressed in SquashFS's 128 KiB blocks (a block that does not
// shrink is stored as it is), a file whose content an earlier one holds
// costing nothing, the whole scaled to the image's size, which also holds
// the metadata.
func imageShares(root string, files []SizeFile, parts map[string]*SizePart, image int64) error {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression))
	if err != nil {
		return err
	}
	defer enc.Close()
	seen := map[[sha256.Size]byte]bool{}
	estimate := map[string]int64{}
	var total int64
	block := make([]byte, 128<<10)
	var out []byte
	// In path order, as mksquashfs adds them: the first copy counts.
	slices.SortFunc(files, func(a, b SizeFile) int { return strings.Compare(a.Path, b.Path) })
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, f.Path))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		if seen[sum] {
			continue
		}
		seen[sum] = true
		var n int64
		for len(data) > 0 {
			chunk := data[:min(len(data), len(block))]
			data = data[len(chunk):]
			out = enc.EncodeAll(chunk, out[:0])
			n += int64(min(len(out), len(chunk)))
		}
		estimate[f.Part] += n
		total += n
	}
	if total == 0 {
		return nil
	}
	for name, p := range parts {
		p.Image = estimate[name] * image / total
	}
	return nil
}

// fileSize is the size of the file at p, or 0 when there is none.
func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// WriteText prints the report as a table for people.
func (r *SizeReport) WriteText(w io.Writer) error {
	pct := func(n int64) float64 {
		if r.Root == 0 {
			return 0
		}
		return 100 * float64(n) / float64(r.Root)
	}
	var b strings.Builder
	if r.Image > 0 {
		fmt.Fprintf(&b, "root filesystem: %s of files in a %s SquashFS image, with a %s dm-verity hash tree (%.1f%%)",
			human(r.Root), human(r.Image), human(r.Verity), 100*float64(r.Verity)/float64(r.Image))
		if r.Initrd > 0 {
			fmt.Fprintf(&b, "; initrd %s", human(r.Initrd))
		}
	} else {
		fmt.Fprintf(&b, "root filesystem: %s in RAM at run time", human(r.Root))
		if r.Initrd > 0 {
			fmt.Fprintf(&b, ", %s compressed in the initrd", human(r.Initrd))
		}
	}
	fmt.Fprintf(&b, "; kernel %s\n\n", human(r.Kernel))
	if r.Image > 0 {
		// IMAGE is each contributor's estimated share of the compressed
		// image: files another contributor already holds cost nothing.
		fmt.Fprintf(&b, "%10s %6s %10s %6s  %s\n", "SIZE", "SHARE", "IMAGE", "FILES", "CONTRIBUTOR")
		for _, p := range r.Parts {
			fmt.Fprintf(&b, "%10s %5.1f%% %10s %6d  %s\n", human(p.Bytes), pct(p.Bytes), "≈"+human(p.Image), p.Files, p.Name)
		}
	} else {
		fmt.Fprintf(&b, "%10s %6s %6s  %s\n", "SIZE", "SHARE", "FILES", "CONTRIBUTOR")
		for _, p := range r.Parts {
			fmt.Fprintf(&b, "%10s %5.1f%% %6d  %s\n", human(p.Bytes), pct(p.Bytes), p.Files, p.Name)
		}
	}
	fmt.Fprintf(&b, "\n%10s %6s  %s\n", "SIZE", "SHARE", "LARGEST FILES")
	for _, f := range r.Largest {
		fmt.Fprintf(&b, "%10s %5.1f%%  %s  (%s)\n", human(f.Bytes), pct(f.Bytes), f.Path, f.Part)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// human prints a byte count in binary units.
func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
