package diskimage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// WriteQCOW2 writes a qcow2 disk image at dest that boots b on fw: the raw
// disk of WriteRaw, converted by qemu-img. The conversion stores no time
// or random value, so it is as reproducible as the raw disk.
func WriteQCOW2(ctx context.Context, dest string, fw Firmware, b Boot) error {
	return WriteDisk(ctx, QCOW2, dest, fw, b)
}

// WriteDisk writes a disk image of kind (Raw, QCOW2, VHD, VMDK or GCE) at
// dest that boots b on fw: the raw disk of WriteRaw, converted when kind
// is not Raw.
func WriteDisk(ctx context.Context, kind Kind, dest string, fw Firmware, b Boot) error {
	if !kind.IsDisk() {
		return fmt.Errorf("write %s: %s is not a disk", dest, kind)
	}
	return writeImage(kind, dest, fw, b, func(im *image, tmp string) error {
		if kind == GCE {
			im.unit = sectorsPerGiB
		}
		if kind == Raw {
			return im.writeRaw(ctx, tmp, fw)
		}
		raw := filepath.Join(im.scratch, "disk.raw")
		if err := im.writeRaw(ctx, raw, fw); err != nil {
			return err
		}
		return im.convert(ctx, kind, raw, tmp)
	})
}

// ConvertDisk converts the raw disk at raw, which WriteRaw or WriteDisk
// wrote for b, into a disk of kind at dest, for a caller that has written
// the raw disk already. A GCE disk must be a whole number of GiB.
func ConvertDisk(ctx context.Context, kind Kind, raw, dest string, b Boot) error {
	if !kind.IsDisk() || kind == Raw {
		return fmt.Errorf("convert %s: cannot convert a raw disk into %s", raw, kind)
	}
	for _, n := range convertNeeds(kind) {
		if _, err := n.find(); err != nil {
			return err
		}
	}
	if kind == GCE {
		st, err := os.Stat(raw)
		if err != nil {
			return err
		}
		if st.Size()%(1<<30) != 0 {
			return fmt.Errorf("convert %s: a GCE disk must be a whole number of GiB, not %s", raw, humanSize(st.Size()))
		}
	}
	im, err := newImage(b, dest)
	if err != nil {
		return err
	}
	defer im.close()
	tmp, err := im.outputPath(dest)
	if err != nil {
		return err
	}
	if err := im.convert(ctx, kind, raw, tmp); err != nil {
		return fmt.Errorf("write %s: %w", dest, err)
	}
	return rename(tmp, dest)
}

// convert writes the raw disk at raw as kind at out.
func (im *image) convert(ctx context.Context, kind Kind, raw, out string) error {
	switch kind {
	case QCOW2:
		return qemuConvert(ctx, raw, out, "qcow2")
	case VHD:
		return im.convertVHD(ctx, raw, out)
	case VMDK:
		return im.convertVMDK(ctx, raw, out)
	case GCE:
		return im.writeGCE(raw, out)
	}
	return fmt.Errorf("cannot convert a raw disk into %s", kind)
}

// writeImage checks that kind can boot on fw, has fill write the image
// at a temporary path in scratch space, and renames it to dest only once
// it is complete.
func writeImage(kind Kind, dest string, fw Firmware, b Boot, fill func(im *image, tmp string) error) error {
	if err := Check(kind, fw); err != nil {
		return err
	}
	im, err := newImage(b, dest)
	if err != nil {
		return err
	}
	defer im.close()
	tmp, err := im.outputPath(dest)
	if err != nil {
		return err
	}
	if err := fill(im, tmp); err != nil {
		return fmt.Errorf("write %s: %w", dest, err)
	}
	return rename(tmp, dest)
}

// outputPath is where an image for dest is written before it is renamed
// into place: under dest's own name, which a VMDK records inside itself,
// in a directory of the scratch space of its own.
func (im *image) outputPath(dest string) (string, error) {
	dir := filepath.Join(im.scratch, "out")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.Base(dest)), nil
}

// qemuConvert converts the raw disk at raw into format at dest with
// qemu-img; opts are its -o options.
func qemuConvert(ctx context.Context, raw, dest, format string, opts ...string) error {
	args := []string{"convert", "-f", "raw", "-O", format}
	for _, o := range opts {
		args = append(args, "-o", o)
	}
	if err := run(ctx, minEpoch, needQemuImg, append(args, raw, dest)...); err != nil {
		return fmt.Errorf("convert to %s: %w", format, err)
	}
	return nil
}
