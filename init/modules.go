package main

import (
	"errors"
	"io/fs"
	"log/slog"
	"path/filepath"
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
	coldplug(l, bundle.ColdplugList, "/sys/devices", paths)
}

// coldplugRounds bounds the rescans: a bus driver's devices (virtio on
// virtio_pci) appear only once it is loaded, and may need drivers of
// their own, but a real chain of buses is short.
const coldplugRounds = 4

// coldplug loads the modules of the coldplug table that the devices under
// sysDevices answer to, scanning again after each round for the devices
// the new drivers brought. loaded lists what is loaded already. Devices
// that appear later (hotplug) are not watched.
func coldplug(l *kmod.Loader, table, sysDevices string, loaded []string) {
	rules, err := kmod.ReadColdplug(table)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		slog.Error("coldplug: "+err.Error(), "err", err)
		return
	}
	tried := map[string]bool{}
	for _, p := range loaded {
		tried[p] = true
	}
	for range coldplugRounds {
		devices, err := kmod.Modaliases(sysDevices)
		if err != nil {
			slog.Warn("coldplug: reading devices: "+err.Error(), "err", err)
		}
		paths, why := kmod.Match(rules, devices, tried)
		if len(paths) == 0 {
			return
		}
		for _, p := range paths {
			tried[p] = true
			slog.Info("coldplug: "+filepath.Base(p)+" for "+why[p], "module", p, "device", why[p])
		}
		l.Load(paths)
	}
}
