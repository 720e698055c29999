package diskimage

import (
	"context"
	"fmt"
	"path/filepath"
)

// WriteQCOW2 writes a qcow2 disk image at dest that boots b on fw: the raw
// disk of WriteRaw, converted by qemu-img. The conversion stores no time
// or random value, so it is as reproducible as the raw disk.
func WriteQCOW2(ctx context.Context, dest string, fw Firmware, b Boot) error {
	return writeImage(QCOW2, dest, fw, b, func(im *image, tmp string) error {
		raw := filepath.Join(im.scratch, "disk.img")
		if err := im.writeRaw(ctx, raw, fw); err != nil {
			return err
		}
		return ConvertQCOW2(ctx, raw, tmp)
	})
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
	tmp := filepath.Join(im.scratch, "image."+string(kind))
	if err := fill(im, tmp); err != nil {
		return fmt.Errorf("write %s: %w", dest, err)
	}
	return rename(tmp, dest)
}

// ConvertQCOW2 converts the raw disk image at raw into a qcow2 image at
// dest, for a caller that already wrote the raw disk.
func ConvertQCOW2(ctx context.Context, raw, dest string) error {
	if err := run(ctx, minEpoch, needQemuImg, "convert", "-f", "raw", "-O", "qcow2", raw, dest); err != nil {
		return fmt.Errorf("convert to qcow2: %w", err)
	}
	return nil
}
