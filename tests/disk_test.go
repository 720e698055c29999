package tests

import (
	"path/filepath"
	"regexp"
	"strings"
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
	second.Expect(`onboot 000-fsck exited 0`, bootTimeout)   // e2fsck -fn: clean
	second.Expect(`onboot 001-format exited 0`, bootTimeout) // the disk it prepared: nothing to do, no error
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

// LinuxKit's tests name their disks /dev/sdX, which is how LinuxKit's
// qemu runner attaches them; minikit's are virtio, /dev/vdX. minikit run
// -disk FILE,bus=scsi (or sata) attaches a disk on a virtio SCSI (or
// AHCI) controller, where the same spec finds /dev/sda, its drivers
// loaded by coldplug.
func TestRunAttachesADiskWhereLinuxKitsSpecsLookForIt(t *testing.T) {
	requireQEMU(t)
	image := build(t, "sda", "images/sda.yml", "images/poweroff.yml")
	for _, tt := range []struct {
		bus, controller, driver string
	}{
		{"scsi", `/virtio\d+/host\d+/`, `coldplug: virtio_scsi\.ko for virtio:d00000008v`},
		{"sata", `/ata\d+/host\d+/`, `coldplug: ahci\.ko for pci:v00008086d00002922`},
	} {
		t.Run(tt.bus, func(t *testing.T) {
			disk := filepath.Join(t.TempDir(), "disk.img")
			console, stderr, status := runMinikit(t, "run", "-timeout", "5m", "-disk", "file="+disk+",size=256M,bus="+tt.bus, image)
			if status != 0 {
				t.Errorf("minikit run exited %d, want a clean poweroff:\n%s", status, stderr)
			}
			console = strings.ReplaceAll(console, "\r", "") // the serial line's CRLF
			for _, want := range []string{
				tt.driver,
				`plug: sd_mod\.ko for scsi:t-0x00`,
				`check: sda is /sys/devices/pci[^ ]*` + tt.controller + `[^ ]*/block/sda$`,
				`check: vda is absent$`,
				`onboot 000-format exited 0`,
				`check: wrote to /var/external$`,
			} {
				if !regexp.MustCompile(`(?m)` + want).MatchString(console) {
					t.Errorf("bus=%s: no console line matches %q", tt.bus, want)
				}
			}
			if t.Failed() {
				t.Logf("console:\n%s", tail(console, 60))
			}
		})
	}
}
