package images

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// Whiteouts are how a layer deletes: ".wh.NAME" removes NAME from the lower
// layers and ".wh..wh..opq" hides everything the lower layers put in its
// directory. Neither touches what the same layer wrote, in whatever order
// the tar lists them.

const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	opaqueMarker   = ".wh..wh..opq"
)

// whiteout applies a .wh. entry of directory dir.
func (a *layerApplier) whiteout(dir, base string) error {
	if base != opaqueMarker && strings.HasPrefix(base, whiteoutMeta) {
		return nil // other AUFS bookkeeping has no meaning here
	}
	fd, err := a.root.open(dirOrRoot(dir), unix.O_RDONLY|unix.O_DIRECTORY)
	if errors.Is(err, unix.ENOENT) {
		return nil // nothing below to hide
	}
	if err != nil {
		return unsafeIf("whiteout's directory", err)
	}
	d := os.NewFile(uintptr(fd), dir)
	defer d.Close()

	if base == opaqueMarker {
		names, err := d.Readdirnames(-1)
		if err != nil {
			return fmt.Errorf("read directory: %w", err)
		}
		for _, n := range names {
			if a.written[path.Join(dir, n)] {
				continue
			}
			if err := removeAllAt(fd, n); err != nil {
				return fmt.Errorf("hide %s: %w", path.Join(dir, n), err)
			}
		}
		return nil
	}

	hidden := strings.TrimPrefix(base, whiteoutPrefix)
	if hidden == "" || hidden == "." || hidden == ".." {
		return fmt.Errorf("whiteout of %q: %w", hidden, ErrUnsafeEntry)
	}
	if a.written[path.Join(dir, hidden)] {
		return nil // whiteouts only hide lower layers
	}
	if err := removeAllAt(fd, hidden); err != nil {
		return fmt.Errorf("remove %s: %w", path.Join(dir, hidden), err)
	}
	return nil
}
