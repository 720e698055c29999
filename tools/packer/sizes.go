package packer

import (
	"cmp"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// SizeReport tells what an image costs and who is to blame. The root
// filesystem lives in a tmpfs at run time, so its uncompressed size is
// memory the system spends for as long as it runs.
type SizeReport struct {
	Root    int64      // bytes of file data in the root filesystem
	Kernel  int64      // bytes of the kernel
	Initrd  int64      // bytes of the compressed initrd; 0 when none was written
	Parts   []SizePart // who put the bytes there, largest first
	Largest []SizeFile // the largest files, largest first
}

// SizePart is the share of one contributor: an init image, a container,
// the kernel modules one spec entry pulls in, the spec's files.
type SizePart struct {
	Name  string
	Bytes int64
	Files int
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
	fmt.Fprintf(&b, "root filesystem: %s in RAM at run time", human(r.Root))
	if r.Initrd > 0 {
		fmt.Fprintf(&b, ", %s compressed in the initrd", human(r.Initrd))
	}
	fmt.Fprintf(&b, "; kernel %s\n\n", human(r.Kernel))
	fmt.Fprintf(&b, "%10s %6s %6s  %s\n", "SIZE", "SHARE", "FILES", "CONTRIBUTOR")
	for _, p := range r.Parts {
		fmt.Fprintf(&b, "%10s %5.1f%% %6d  %s\n", human(p.Bytes), pct(p.Bytes), p.Files, p.Name)
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
