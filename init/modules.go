package main

import (
	"errors"
	"io/fs"
	"log/slog"
	"time"

	"github.com/minikit/minikit/internal/bundle"
	"github.com/minikit/minikit/rootfs/kmod"
)

// loadModules loads the modules the packer listed, each after those it
// needs, the others side by side, then the drivers of the devices present
// (coldplug). A module that fails is logged and boot goes on.
func (in *initSys) loadModules() {
	start := time.Now()
	list, err := kmod.ReadList(bundle.ModulesList)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		slog.Error("cannot read the module list", "err", err)
		return
	}
	l := &kmod.Loader{Logger: slog.Default()}
	loadList := func() {
		failed := l.LoadList(list)
		slog.Info("modules loaded", "count", len(list.Paths)-len(failed), "failed", len(failed),
			"duration", time.Since(start).Round(time.Millisecond))
	}
	d, err := newDrivers(l, bundle.ColdplugList, list.Paths)
	if err != nil {
		slog.Error("coldplug: "+err.Error(), "err", err)
	}
	if d == nil {
		loadList()
		return
	}
	const sysDevices = "/sys/devices"
	// Listen before the walk, so that no device added in between is missed.
	events, err := openUevents()
	if err != nil {
		slog.Warn("hotplug: no uevents, devices added later get no driver: "+err.Error(), "err", err)
		loadList()
		d.coldplug(sysDevices, nil)
		return
	}
	// The walk of /sys/devices takes a CPU as long as several modules
	// take to load, and needs none of them: it runs beside the loading.
	// What the listed modules add meanwhile, the walk may miss, and their
	// events tell.
	walked := make(chan []string, 1)
	in.goSafe("coldplug walk", func() {
		var devices []string
		defer func() { walked <- devices }()
		devices = d.walkDevices(sysDevices)
	})
	loadList()
	d.coldplugFrom(<-walked, sysDevices, events)
	in.goSafe("hotplug", func() { d.hotplug(events) })
}
