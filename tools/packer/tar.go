package packer

import (
	"archive/tar"
	"bufio"
	"fmt"
	"io"
	"time"

	"github.com/minikit/minikit/internal/dirtar"
)

// writeRootTar writes the tree at root as a tar archive: the root
// filesystem exactly as the initrd carries it, /dev/console included.
func writeRootTar(w io.Writer, root string, mtime time.Time) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	tw := tar.NewWriter(bw)
	if err := dirtar.Write(tw, root, dirtar.Options{ModTime: mtime}); err != nil {
		return fmt.Errorf("archive %s: %w", root, err)
	}
	// The kernel opens /dev/console before anything mounts /dev; the
	// initrd carries it and so does its tarball.
	console := &tar.Header{Name: "dev/console", Typeflag: tar.TypeChar, Mode: 0o600, Devmajor: 5, Devminor: 1, ModTime: mtime}
	if err := tw.WriteHeader(console); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}
