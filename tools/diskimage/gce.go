package diskimage

import (
	"archive/tar"
	"fmt"
	"os"

	"github.com/klauspost/compress/gzip"
)

// gceDiskName is the one file of a GCE image tarball.
const gceDiskName = "disk.raw"

// writeGCE writes the raw disk at raw as Google Compute Engine imports a
// disk: the only file of a tar in GNU's format, named disk.raw, gzip'd.
// The disk is a whole number of GiB, as GCE wants. The gzip header has no
// name or time, and the tar entry the image's time, so the bytes depend
// on the disk alone. Most of the disk is zeros, and the rest compressed
// already: the fastest level compresses it as well as the best.
func (im *image) writeGCE(raw, out string) error {
	in, err := os.Open(raw)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	zw, err := gzip.NewWriterLevel(f, gzip.BestSpeed)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     gceDiskName,
		Mode:     0o644,
		Size:     st.Size(),
		ModTime:  im.Epoch,
		Format:   tar.FormatGNU,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if err := copyExtents(tw, in, st.Size()); err != nil {
		return fmt.Errorf("tar %s: %w", gceDiskName, err)
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}
