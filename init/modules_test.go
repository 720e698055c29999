package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/minikit/minikit/rootfs/kmod"
)

// Coldplug loads the drivers of the devices present, then those of the
// devices the new drivers brought (virtio devices appear once virtio_pci
// is loaded), and nothing for devices that are not there.
func TestColdplugFollowsTheDevicesDriversBring(t *testing.T) {
	dir := t.TempDir()
	sys := filepath.Join(dir, "sys")
	addDevice := func(rel, alias string) {
		p := filepath.Join(sys, rel, "modalias")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(alias+"\n"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	addDevice("pci0000:00/0000:00:03.0", "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00")
	table := filepath.Join(dir, "coldplug")
	rules := []kmod.ColdplugRule{
		{Pattern: "pci:v00001AF4d*sv*sd*bc*sc*i*", Paths: []string{"/virtio_pci.ko"}},
		{Pattern: "virtio:d00000001v*", Paths: []string{"/failover.ko", "/virtio_net.ko"}},
		{Pattern: "pci:v00008086d0000100Esv*sd*bc*sc*i*", Paths: []string{"/e1000.ko"}},
	}
	if err := os.WriteFile(table, kmod.FormatColdplug(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	modules := filepath.Join(dir, "modules")
	for _, m := range []string{"virtio_pci", "failover", "virtio_net", "e1000"} {
		os.MkdirAll(modules, 0o755)
		os.WriteFile(filepath.Join(modules, m+".ko"), nil, 0o644)
	}
	var inserted []string
	l := &kmod.Loader{Root: modules, Insert: func(f *os.File) error {
		inserted = append(inserted, filepath.Base(f.Name()))
		if filepath.Base(f.Name()) == "virtio_pci.ko" {
			addDevice("pci0000:00/0000:00:03.0/virtio0", "virtio:d00000001v00001AF4")
		}
		return nil
	}}
	coldplug(l, table, sys, []string{"/failover.ko"})
	if want := []string{"virtio_pci.ko", "virtio_net.ko"}; !slices.Equal(inserted, want) {
		t.Errorf("coldplug loaded %v, want %v", inserted, want)
	}

	inserted = nil
	coldplug(l, filepath.Join(dir, "no-table"), sys, nil)
	if len(inserted) > 0 {
		t.Errorf("without a table, coldplug loaded %v", inserted)
	}
}
