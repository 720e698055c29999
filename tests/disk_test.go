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
