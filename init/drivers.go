package main

import (
	"errors"
	"io/fs"
	"log/slog"
	"path/filepath"

	"github.com/minikit/minikit/rootfs/kmod"
)

// drivers loads the modules of the coldplug table for the devices present
// at boot and for those added later. Only one goroutine uses it at a time:
// the boot, then the hotplug watcher.
type drivers struct {
	loader *kmod.Loader
	rules  []kmod.ColdplugRule
	tried  map[string]bool // module paths loaded, or that failed: never tried again
}

// newDrivers reads the coldplug table; it returns nil when the image has
// none. loaded lists the modules loaded already.
func newDrivers(l *kmod.Loader, table string, loaded []string) (*drivers, error) {
	rules, err := kmod.ReadColdplug(table)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	d := &drivers{loader: l, rules: rules, tried: map[string]bool{}}
	for _, p := range loaded {
		d.tried[p] = true
	}
	return d, nil
}

// coldplugRounds bounds the rescans: a bus driver's devices (virtio on
// virtio_pci) appear only once it is loaded, and may need drivers of
// their own, but a real chain of buses is short.
const coldplugRounds = 4

// coldplug loads what the devices under sysDevices answer to, scanning
// again after each round for the devices the new drivers brought.
func (d *drivers) coldplug(sysDevices string) {
	for range coldplugRounds {
		devices, err := kmod.Modaliases(sysDevices)
		if err != nil {
			slog.Warn("coldplug: reading devices: "+err.Error(), "err", err)
		}
		if d.load("coldplug", devices) == 0 {
			return
		}
	}
}

// hotplug loads, for each device the kernel adds from now on, what it
// answers to. A driver's own devices (virtio under virtio_pci) come as
// events of their own.
func (d *drivers) hotplug(events ueventSource) {
	for {
		ev, err := events.next()
		if err != nil {
			slog.Error("hotplug: reading uevents stopped: "+err.Error(), "err", err)
			return
		}
		if ev["ACTION"] == "add" && ev["MODALIAS"] != "" {
			d.load("hotplug", []string{ev["MODALIAS"]})
		}
	}
}

// load loads the modules the devices need that were not tried before,
// and returns how many it tried.
func (d *drivers) load(why string, devices []string) int {
	paths, reasons := kmod.Match(d.rules, devices, d.tried)
	for _, p := range paths {
		d.tried[p] = true
		slog.Info(why+": "+filepath.Base(p)+" for "+reasons[p], "module", p, "device", reasons[p])
	}
	if len(paths) > 0 {
		d.loader.Load(paths)
	}
	return len(paths)
}
