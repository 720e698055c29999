package tests

import (
	"testing"

	"github.com/minikit/minikit/tests/harness"
	"github.com/minikit/minikit/tools/qemu"
)

// TestColdplug boots on an e1000 an image that carries several drivers
// under kernel.coldplug: init loads those the devices present answer to
// (e1000, and virtio_pci for qemu's virtio rng), and no other.
func TestColdplug(t *testing.T) {
	image := build(t, "coldplug", "images/coldplug.yml", "images/poweroff.yml")
	m := harness.Boot(t, image, harness.WithQEMU(func(o *qemu.Options) { o.NIC = "e1000" }))
	m.Expect(`coldplug: e1000.ko for pci:v00008086d0000100E`, bootTimeout)
	m.Expect(`lsmod: module virtio_pci: loaded`, bootTimeout)
	m.Expect(`lsmod: module e1000: loaded`, bootTimeout)
	m.Expect(`lsmod: module virtio_net: absent`, bootTimeout)
	m.Expect(`lsmod: module virtio_blk: absent`, bootTimeout)
	m.Expect(`lsmod: interfaces: eth0 lo`, bootTimeout)
	if exit := m.WaitExit(bootTimeout); !exit.Clean() {
		t.Fatalf("the system did not power off cleanly: %v", exit)
	}
}

// TestHotplug plugs an e1000 into a running system that booted on virtio:
// init loads the driver the kernel's uevent asks for, and the card works.
func TestHotplug(t *testing.T) {
	image := build(t, "hotplug", "images/coldplug.yml", "images/hotplug.yml")
	m := harness.Boot(t, image, harness.WithQEMU(func(o *qemu.Options) { o.HotplugSlots = 1 }))
	m.Expect(`coldplug: virtio_net.ko for virtio:d00000001v`, bootTimeout)
	m.Expect(`lsmod: module e1000: absent`, bootTimeout)
	m.Expect(`watcher: watching for eth1`, bootTimeout)
	if err := m.VM().HotplugNIC("nic1", "e1000", 0); err != nil {
		t.Fatalf("plug in an e1000: %v", err)
	}
	m.Expect(`hotplug: e1000.ko for pci:v00008086d0000100E`, bootTimeout)
	m.Expect(`watcher: eth1 appeared, driven by e1000`, bootTimeout)
	m.Shutdown(bootTimeout)
}
