package main

import (
	"archive/tar"
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/minikit/minikit/internal/atomicfile"
	"github.com/minikit/minikit/internal/dirtar"
)

// epoch is every entry's time: the modules' own times say only when
// Debian built them, and would make equal trees give different bytes.
var epoch = time.Unix(0, 0)

// writeModulesTar writes dir/version as lib/modules/version/... into
// file, through a temporary file so that a failure leaves nothing behind.
func writeModulesTar(file, dir, version string) error {
	return atomicfile.WriteFunc(file, 0o644, func(w io.Writer) error {
		buf := bufio.NewWriterSize(w, 1<<20)
		tw := tar.NewWriter(buf)
		for _, d := range []string{"lib", "lib/modules", "lib/modules/" + version} {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch}); err != nil {
				return err
			}
		}
		// The modules are Debian's files, owned by root whoever unpacked them.
		o := dirtar.Options{ModTime: epoch, Prefix: "lib/modules/" + version, RootOwned: true}
		if err := dirtar.Write(tw, filepath.Join(dir, version), o); err != nil {
			return fmt.Errorf("pack the modules of %s: %w", version, err)
		}
		if err := tw.Close(); err != nil {
			return err
		}
		return buf.Flush()
	})
}
