package tests

import (
	"path/filepath"
	"testing"

	"github.com/minikit/minikit/tests/harness"
)

// What a service wrote to a persistent disk just before a clean poweroff
// is there at the next boot, and the filesystem checks clean.
func TestPersistentDiskSurvivesPoweroff(t *testing.T) {
	image := build(t, "disk", "images/disk.yml")
	disk := filepath.Join(t.TempDir(), "data.img")

	first := harness.Boot(t, image, harness.WithDisk(disk, 256<<20))
	first.Expect(`onboot 001-format exited 0`, bootTimeout)
	first.Expect(`onboot 002-mount exited 0`, bootTimeout)
	wrote := first.Expect(`writer: wrote marker (boot-[0-9a-f-]+)`, bootTimeout)
	first.Shutdown(bootTimeout) // at once: the marker is not synced by the writer

	second := harness.Boot(t, image, harness.WithDisk(disk, 256<<20))
	second.Expect(`onboot 000-fsck exited 0`, bootTimeout) // e2fsck -fn: clean
	found := second.Expect(`writer: found marker (boot-[0-9a-f-]+)`, bootTimeout)
	if found.Groups[1] != wrote.Groups[1] {
		t.Errorf("second boot found marker %s, want %s from the first boot", found.Groups[1], wrote.Groups[1])
	}
	second.Shutdown(bootTimeout)
}

// LinuxKit's format makes a GPT with -partition gpt, and xfs and btrfs
// with -type; LinuxKit's mount mounts them; both images carry sh, which a
// spec's checks run in, and mount sees the system's root at /hostroot,
// its /run masked. The services start after, with the system's /run
// whole, and write to both disks.
func TestFormatAndMountAsLinuxKits(t *testing.T) {
	image := build(t, "filesystems", "images/filesystems.yml", "images/poweroff.yml")
	dir := t.TempDir()
	m := harness.Boot(t, image,
		harness.WithDisk(filepath.Join(dir, "xfs.img"), 512<<20),
		harness.WithDisk(filepath.Join(dir, "btrfs.img"), 512<<20))
	for _, want := range []string{
		`formatcheck: check: vda's table: EFI PART$`,
		`formatcheck: check: vda1: label = "XDATA"$`,
		`formatcheck: check: vdb1: BDATA$`,
		`mountcheck: check: /var/xfs is xfs$`,
		`mountcheck: check: /var/btrfs is btrfs$`,
		`mountcheck: check: /hostroot is the system's root$`,
		`mountcheck: check: /hostroot/run holds 0 entries$`,
		`writer: wrote /xfs/file: data$`,
		`writer: wrote /btrfs/file: data$`,
	} {
		m.Expect(want, bootTimeout)
	}
	if exit := m.WaitExit(bootTimeout); !exit.Clean() {
		t.Fatalf("the system did not power off cleanly: %v", exit)
	}
}
