package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/minikit/minikit/internal/bundle"
	"golang.org/x/sys/unix"
)

// mountVolumes mounts every volume of the image on its merged directory,
// before any container can bind it: an overlay of its content whose upper
// layer lives under upperRoot (on /run), since the image's root is
// read-only, or none for a read-only volume. A volume
// that fails is logged and left unmounted; the containers that bind it
// see its empty mount point and boot goes on.
func mountVolumes(root, upperRoot string) {
	dir := filepath.Join(root, bundle.VolumesDir)
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		slog.Error("volumes: "+err.Error(), "err", err)
		return
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if err := mountVolume(root, e.Name(), filepath.Join(upperRoot, e.Name())); err != nil {
			slog.Error("volume "+e.Name()+": "+err.Error(), "volume", e.Name(), "err", err)
			continue
		}
		slog.Debug("volume mounted", "volume", e.Name())
	}
}

func mountVolume(root, name, upperDir string) error {
	lower, merged := bundle.VolumePaths(root, name)
	var cfg bundle.VolumeConfig
	file := filepath.Join(filepath.Dir(lower), bundle.VolumeFile)
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	var opts string
	if cfg.Readonly {
		// An overlay without an upper layer is read-only in its
		// superblock, so no bind of it can be made writable, as a bind's
		// own read-only flag could. It needs a second lower layer: an
		// empty one.
		empty := filepath.Join(upperDir, "empty")
		if err := os.MkdirAll(empty, 0o755); err != nil {
			return err
		}
		opts = fmt.Sprintf("lowerdir=%s:%s", lower, empty)
	} else {
		upper, work := filepath.Join(upperDir, "upper"), filepath.Join(upperDir, "work")
		for _, d := range []string{upper, work} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		opts = fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work)
	}
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return fmt.Errorf("overlay on %s: %w (is the overlay module loaded?)", merged, err)
	}
	return nil
}
