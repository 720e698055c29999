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
