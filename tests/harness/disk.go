package harness

import (
	"os"
	"testing"

	"github.com/minikit/minikit/tools/diskimage"
	"github.com/minikit/minikit/tools/qemu"
)

// BootDisk starts a disk image as minikit build writes it (raw-bios,
// raw-efi, qcow2-bios), with the firmware the image says, as a real
// machine boots its disk: the file is written in place, not through a
// snapshot, so what the guest writes (an update) is there when the same
// file boots again, and a reboot restarts the guest inside the same
// machine instead of ending it. It skips as Boot does.
func BootDisk(t testing.TB, image string, opts ...Option) *Machine {
	t.Helper()
	if testing.Short() {
		unavailable(t, "booting %s in qemu is not a short test", image)
	}
	if _, err := qemu.LookPath(""); err != nil {
		unavailable(t, "%v", err)
	}
	if _, err := os.Stat(image); err != nil {
		unavailable(t, "disk image %s is not built: %v", image, err)
	}
	kind, fw, err := diskimage.Detect(image)
	if err != nil {
		t.Fatalf("boot %s: %v", image, err)
	}
	if kind == diskimage.ISO {
		t.Fatalf("boot %s: an ISO is no disk", image)
	}
	var c config
	for _, o := range opts {
		o(&c)
	}
	c.qemu.BootDisk = &qemu.Disk{Path: image, Format: string(kind)}
	c.qemu.Firmware = qemu.Firmware(fw)
	c.qemu.WriteBootDisk = true
	c.qemu.AllowReboot = true
	return start(t, image, c)
}
