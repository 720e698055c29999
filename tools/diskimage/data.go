package diskimage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// DataISO writes an ISO 9660 image holding data as the file "config" at
// its root and again as "user-data": what minikit/metadata (and
// LinuxKit's metadata package, and cloud-init's NoCloud) read from a
// CD-ROM. The image is written whole or not at all.
func DataISO(ctx context.Context, out string, data []byte, epoch time.Time) error {
	dir, err := os.MkdirTemp(filepath.Dir(out), ".data-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		return err
	}
	for _, name := range []string{"config", "user-data"} {
		if err := os.WriteFile(filepath.Join(root, name), data, 0o644); err != nil {
			return err
		}
	}
	tmp := filepath.Join(dir, "data.iso")
	date := epoch.UTC().Format("2006010215040500")
	// The dates fixed, as for the bootable ISOs, so the same data gives
	// the same image.
	if err := run(ctx, epoch, needXorriso, "-as", "mkisofs", "-o", tmp, "-V", "cidata", "-r", "-J",
		"--modification-date="+date, "--set_all_file_dates", date, root); err != nil {
		return fmt.Errorf("make data ISO: %w", err)
	}
	return os.Rename(tmp, out)
}
