package main

import (
	"log/slog"
	"os"
	"time"

	"github.com/minikit/minikit/internal/bundle"
	"github.com/minikit/minikit/rootfs/kmod"
)

// loadModules loads the modules the packer listed, in its order. A module
// that fails is logged and boot goes on.
func (in *initSys) loadModules() {
	start := time.Now()
	paths, err := kmod.ReadList(bundle.ModulesList)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		slog.Error("cannot read the module list", "err", err)
		return
	}
	l := &kmod.Loader{Logger: slog.Default()}
	failed := l.Load(paths)
	slog.Info("modules loaded", "count", len(paths)-len(failed), "failed", len(failed),
		"duration", time.Since(start).Round(time.Millisecond))
}
