package tests

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/minikit/minikit/internal/testenv"
	"github.com/minikit/minikit/tests/harness"
)

// buildWith is build with minikit build flags before the specs.
func buildWith(t *testing.T, name string, flags []string, specs ...string) string {
	t.Helper()
	out := t.TempDir()
	args := append(append([]string{"build", "-o", out, "-name", name}, flags...), specs...)
	if msg, err := exec.Command(minikit(t), args...).CombinedOutput(); err != nil {
		testenv.Unavailable(t, testenv.RequireQEMUEnv, "minikit build %v %v failed: %v\n%s", flags, specs, err, msg)
	}
	return filepath.Join(out, name)
}

// storedRootImage finds the root image in an image initrd: the one file
// of the stored (uncompressed) newc archive after the compressed one. It
// returns the offset of the image's first byte in the initrd.
func storedRootImage(t *testing.T, initrd []byte) int {
	t.Helper()
	name := []byte("root.img\x00")
	for at := 0; ; {
		i := bytes.Index(initrd[at:], []byte("070701"))
		if i < 0 {
			t.Fatal("the initrd holds no stored archive with root.img")
		}
		hdr := at + i
		if hdr+110 <= len(initrd) {
			namesize, err := strconv.ParseUint(string(initrd[hdr+94:hdr+102]), 16, 32)
			if err == nil && bytes.Equal(initrd[hdr+110:hdr+110+int(namesize)], name) {
				// newc pads the header and name to 4 bytes.
				return (hdr + 110 + int(namesize) + 3) &^ 3
			}
		}
		at = hdr + 6
	}
}

// squashfsBytesUsed reads the size of a SquashFS image from its superblock.
func squashfsBytesUsed(t *testing.T, img []byte) int {
	t.Helper()
	if string(img[:4]) != "hsqs" {
		t.Fatalf("no SquashFS superblock: %q", img[:4])
	}
	return int(binary.LittleEndian.Uint64(img[40:48]))
}

// TestTamperedRootNeverRuns changes one byte of the root image inside the
// initrd, in the tables SquashFS reads when it mounts (the last byte it
// uses), and boots it: init must name the failed verification on the
// console, run no container and power off.
func TestTamperedRootNeverRuns(t *testing.T) {
	image := build(t, "tampered", "images/smoke.yml")
	initrd, err := os.ReadFile(image + "-initrd.img")
	if err != nil {
		t.Fatal(err)
	}
	start := storedRootImage(t, initrd)
	at := start + squashfsBytesUsed(t, initrd[start:]) - 1
	initrd[at] ^= 0x40
	if err := os.WriteFile(image+"-initrd.img", initrd, 0o644); err != nil {
		t.Fatal(err)
	}

	m := harness.Boot(t, image)
	m.Expect(`boot failed: the root image failed verification`, bootTimeout)
	if exit := m.WaitExit(bootTimeout); !exit.Clean() {
		t.Errorf("the machine did not power off after the failed verification: %v", exit)
	}
	for _, l := range m.Lines() {
		if strings.Contains(l, "000-hello") || strings.Contains(l, "service reader started") {
			t.Errorf("a container ran from the tampered root: %s", l)
		}
	}
}

// TestUnverifiedRootSaysSo boots an image built with -verity=false: it
// runs, and says at boot that nothing checks it.
func TestUnverifiedRootSaysSo(t *testing.T) {
	image := buildWith(t, "unverified", []string{"-verity=false"}, "images/smoke.yml", "images/poweroff.yml")
	cmdline, err := os.ReadFile(image + "-cmdline")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cmdline), "minikit.verity=") {
		t.Errorf("an image built with -verity=false has a root hash on its command line: %s", cmdline)
	}
	m := harness.Boot(t, image)
	warn := m.Expect(`WARN the root image is NOT verified`, bootTimeout)
	m.ExpectAfter(warn, `root image mounted device=/dev/loop\d+ verified=false`, bootTimeout)
	m.Expect(`reader: reader says: written by onboot`, bootTimeout)
	if exit := m.WaitExit(bootTimeout); !exit.Clean() {
		t.Fatalf("the system did not power off cleanly: %v", exit)
	}
}

// TestTmpfsRootStillBoots boots the fallback for kernels that cannot
// mount a root image: the files in the initrd, copied into a tmpfs.
func TestTmpfsRootStillBoots(t *testing.T) {
	image := buildWith(t, "tmpfsroot", []string{"-root", "tmpfs"}, "images/smoke.yml", "images/poweroff.yml")
	m := harness.Boot(t, image)
	m.Expect(`000-hello: check: / is read-only`, bootTimeout)
	m.Expect(`reader: reader says: written by onboot`, bootTimeout)
	for _, l := range m.Lines() {
		if strings.Contains(l, "root image mounted") {
			t.Errorf("a -root tmpfs image mounted a root image: %s", l)
		}
	}
	if exit := m.WaitExit(bootTimeout); !exit.Clean() {
		t.Fatalf("the system did not power off cleanly: %v", exit)
	}
}

// TestKernelSquashfsFindsItsRootOnADisk boots LinuxKit's kernel+squashfs
// format alone: the initrd holds only init's first stage, which finds the
// root image on the disk NAME-squashfs.img is attached as.
func TestKernelSquashfsFindsItsRootOnADisk(t *testing.T) {
	image := buildWith(t, "squashfs", []string{"-format", "kernel+squashfs"}, "images/smoke.yml", "images/poweroff.yml")
	initrd, err := os.ReadFile(image + "-initrd.img")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(initrd, []byte("root.img\x00")) {
		t.Error("the kernel+squashfs initrd carries the root image itself")
	}
	m := harness.Boot(t, image)
	look := m.Expect(`looking for the disk that holds the root image`, bootTimeout)
	m.ExpectAfter(look, `root image mounted device=/dev/mapper/minikit-root verified=true`, bootTimeout)
	m.Expect(`reader: reader says: written by onboot`, bootTimeout)
	if exit := m.WaitExit(bootTimeout); !exit.Clean() {
		t.Fatalf("the system did not power off cleanly: %v", exit)
	}
}

// TestTamperedDiskNeverRuns flips one byte of the root partition of a raw
// disk image, where SquashFS reads it at mount, and boots the disk: the
// console names the failed verification and no container runs.
func TestTamperedDiskNeverRuns(t *testing.T) {
	requireQEMU(t)
	dir := t.TempDir()
	if out, stderr, status := runMinikit(t, "build", "-o", dir, "-name", "tampered", "-format", "raw-bios", "images/smoke.yml"); status != 0 {
		testenv.Unavailable(t, testenv.RequireQEMUEnv, "minikit build failed: %s%s", out, stderr)
	}
	disk := filepath.Join(dir, "tampered-bios.img")
	f, err := os.OpenFile(disk, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mbr := make([]byte, 512)
	if _, err := f.ReadAt(mbr, 0); err != nil {
		t.Fatal(err)
	}
	// The second MBR entry is the root image's partition.
	entry := mbr[446+16 : 446+32]
	if entry[4] != 0x83 {
		t.Fatalf("the second partition has type %#x, want a Linux one (0x83)", entry[4])
	}
	start := int64(binary.LittleEndian.Uint32(entry[8:12])) * 512
	super := make([]byte, 96)
	if _, err := f.ReadAt(super, start); err != nil {
		t.Fatal(err)
	}
	at := start + int64(squashfsBytesUsed(t, super)) - 1
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
	f.Close()

	console, _ := bootToEnd(t, disk)
	if !strings.Contains(console, "boot failed: the root image failed verification") {
		t.Errorf("the console does not name the failed verification:\n%s", tail(console, 30))
	}
	for _, l := range strings.Split(console, "\n") {
		if strings.Contains(l, "000-hello") || strings.Contains(l, "service reader started") {
			t.Errorf("a container ran from the tampered disk: %s", l)
		}
	}
}

// bootToEnd runs minikit run on image until the machine stops by itself
// (or the run's timeout ends it) and returns the console and the status.
func bootToEnd(t *testing.T, image string) (string, int) {
	t.Helper()
	out, stderr, status := runMinikit(t, "run", "-timeout", "4m", image)
	if status != 0 {
		t.Logf("minikit run %s exited %d: %s", image, status, tail(stderr, 10))
	}
	return out, status
}
