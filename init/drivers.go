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
	// walk lists the modaliases of the devices under a /sys/devices.
	walk func(sysDevices string) ([]string, error)
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
	d := &drivers{loader: l, rules: rules, tried: map[string]bool{}, walk: kmod.Modaliases}
	for _, p := range loaded {
		d.tried[p] = true
	}
	return d, nil
}

// coldplugRounds bounds the walks of /sys/devices when no events tell of
// the devices new drivers bring: a bus driver's devices (virtio on
// virtio_pci) appear only once it is loaded, and may need drivers of
// their own, but a real chain of buses is short.
const coldplugRounds = 4

// coldplug loads what the devices under sysDevices answer to, then what
// the devices its drivers brought answer to, round after round until a
// round brings none. A driver's probe queues the kernel's event for each
// device it adds before its load returns, so the events queued on events
// tell of them at no cost, where a walk of /sys/devices took 170 ms
// under TCG, three times a boot. With no events (nil), or when a burst
// overflowed their queue, it walks again.
//
// A device that a driver adds later, from a probe of its own pace, is
// hotplug's, as any device added after the boot.
func (d *drivers) coldplug(sysDevices string, events ueventSource) {
	d.coldplugFrom(d.walkDevices(sysDevices), sysDevices, events)
}

// coldplugFrom is coldplug from a walk of sysDevices that found devices,
// made since events began to queue: a device added during or after the
// walk is among the events.
func (d *drivers) coldplugFrom(devices []string, sysDevices string, events ueventSource) {
	walked := true // devices holds a walk made since the last round
	for walks := 1; ; {
		added, missed := addedDevices(events)
		devices = append(devices, added...)
		if missed && !walked {
			if walks == coldplugRounds {
				return
			}
			walks++
			devices = append(devices, d.walkDevices(sysDevices)...)
		}
		if d.load("coldplug", devices) == 0 {
			return
		}
		devices, walked = nil, false
	}
}

func (d *drivers) walkDevices(sysDevices string) []string {
	devices, err := d.walk(sysDevices)
	if err != nil {
		slog.Warn("coldplug: reading devices: "+err.Error(), "err", err)
	}
	return devices
}

// addedDevices returns the modaliases of the devices whose addition
// events has queued, and whether it may have missed some: events lost in
// a burst, or no events at all.
func addedDevices(events ueventSource) (modaliases []string, missed bool) {
	if events == nil {
		return nil, true
	}
	queued, lost, err := events.queued()
	if err != nil {
		slog.Warn("coldplug: reading uevents: "+err.Error(), "err", err)
		lost = true
	}
	for _, ev := range queued {
		if ev["ACTION"] == "add" && ev["MODALIAS"] != "" {
			modaliases = append(modaliases, ev["MODALIAS"])
		}
	}
	return modaliases, lost
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
