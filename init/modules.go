package main

import (
	"errors"
	"io/fs"
	"log/slog"
	"time"

	"github.com/minikit/minikit/internal/bundle"
	"github.com/minikit/minikit/rootfs/kmod"
)

// loadModules loads the modules the packer listed, in its order. A module
// that fails is logged and boot goes on.
func (in *initSys) loadModules() {
	start := time.Now()
	paths, err := kmod.ReadList(bundle.ModulesList)
	if errors.Is(err, fs.ErrNotExist) {
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
	d, err := newDrivers(l, bundle.ColdplugList, paths)
	if err != nil {
		slog.Error("coldplug: "+err.Error(), "err", err)
		return
	}
	if d == nil {
		return
	}
	// Listen before the scan, so that no device added in between is missed.
	events, err := openUevents()
	if err != nil {
		slog.Warn("hotplug: no uevents, devices added later get no driver: "+err.Error(), "err", err)
		d.coldplug("/sys/devices", nil)
		return
	}
	d.coldplug("/sys/devices", events)
	in.goSafe("hotplug", func() { d.hotplug(events) })
}
