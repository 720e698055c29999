package packer

import (
	"log/slog"
	"slices"
	"strings"

	imagespec "github.com/minikit/minikit/image-spec"
	"github.com/minikit/minikit/tools/substitute"
)

// linuxkitKernelModules and linuxkitColdplug stand in for the drivers
// LinuxKit's kernels build in and Debian's kernel ships as modules: a
// LinuxKit spec lists none, yet expects disks, network, entropy and the
// power button to work in a VM or on a cloud instance. What has no device
// (the filesystem, the power button's input handler) is loaded always;
// the device drivers of common hypervisors and clouds are carried and
// loaded for the devices present. The modules the spec's replaced
// packages need (loop for losetup, dm_crypt for dm-crypt) are added to
// these.
var (
	linuxkitKernelModules = []string{"button", "evdev", "ext4"}
	linuxkitColdplug      = []string{
		"virtio_pci", "virtio_net", "virtio_blk", "virtio_scsi", "virtio_rng", "virtio_console",
		"vmw_vsock_virtio_transport", "e1000", "e1000e", "igb", "vmxnet3", "ena", "gve",
		"nvme", "ahci", "sd_mod",
	}
)

// substituteLinuxKit returns a copy of spec in which LinuxKit's own
// package images are replaced by the minikit images that stand in for
// them, logging each replacement so users see what they will boot.
func substituteLinuxKit(spec *imagespec.Spec, log *slog.Logger) *imagespec.Spec {
	s := *spec
	if ref, note, ok := substitute.Substitute(s.Kernel.Image); ok {
		log.Info("substituted", "image", s.Kernel.Image, "with", ref, "note", note)
		s.Kernel.Image = ref
		if len(s.Kernel.Modules) == 0 && len(s.Kernel.Coldplug) == 0 {
			modules := slices.Clone(linuxkitKernelModules)
			for _, list := range [][]*imagespec.Container{spec.Onboot, spec.Services, spec.Onshutdown} {
				for _, c := range list {
					for _, m := range append(substitute.Modules(c.Image), formatModules(c)...) {
						if !slices.Contains(modules, m) {
							modules = append(modules, m)
						}
					}
				}
			}
			s.Kernel.Modules, s.Kernel.Coldplug = modules, linuxkitColdplug
			log.Info("kernel modules added for LinuxKit's built-in drivers",
				"modules", modules, "coldplug", linuxkitColdplug)
		}
	}
	s.Init = nil
	for _, ref := range spec.Init {
		newRef, note, ok := substitute.SubstituteInit(ref)
		switch {
		case !ok:
			s.Init = append(s.Init, ref)
		case newRef == "":
			log.Info("dropped", "image", ref, "note", note)
		default:
			log.Info("substituted", "image", ref, "with", newRef, "note", note)
			s.Init = append(s.Init, newRef)
		}
	}
	s.Onboot = substituteEntries(spec.Onboot, log)
	s.Onshutdown = substituteEntries(spec.Onshutdown, log)
	s.Services = substituteEntries(spec.Services, log)
	return &s
}

// formatModules are the modules of the filesystem a LinuxKit format
// entry makes with -type xfs or -type btrfs, which LinuxKit's kernels
// build in and Debian's has as modules.
func formatModules(c *imagespec.Container) []string {
	ref, _, ok := substitute.Substitute(c.Image)
	if !ok || !strings.HasPrefix(ref, "minikit/format:") {
		return nil
	}
	for i, arg := range c.Command {
		value, found := "", false
		for _, flag := range []string{"-type", "--type"} {
			if arg == flag && i+1 < len(c.Command) {
				value, found = c.Command[i+1], true
			} else if v, ok := strings.CutPrefix(arg, flag+"="); ok {
				value, found = v, true
			}
		}
		if found && (value == "xfs" || value == "btrfs") {
			return []string{value}
		}
	}
	return nil
}

func substituteEntries(list []*imagespec.Container, log *slog.Logger) []*imagespec.Container {
	out := make([]*imagespec.Container, len(list))
	for i, c := range list {
		out[i] = c
		if ref, note, ok := substitute.Substitute(c.Image); ok {
			log.Info("substituted", "entry", c.Name, "image", c.Image, "with", ref, "note", note)
			copied := *c
			copied.Image = ref
			out[i] = &copied
		}
	}
	return out
}
