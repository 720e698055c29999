package rootfs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minikit/minikit/internal/testenv"
	"github.com/minikit/minikit/tools/diskimage"
)

// A root image written by the packer mounts read-only through a loop
// device, and the device lets go of the image once it is unmounted. (The
// verity device needs device-mapper, which the qemu tests have and a
// build host may not: they cover it.)
func TestMountImageThroughALoopDevice(t *testing.T) {
	testenv.Root(t, "mksquashfs (apt-get install squashfs-tools)")
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		testenv.Unavailable(t, testenv.RequireRootEnv, "no loop devices: %v", err)
	}
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(filepath.Join(tree, "sbin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "sbin/init"), []byte("the init"), 0o755); err != nil {
		t.Fatal(err)
	}
	img, err := diskimage.WriteRootImage(context.Background(), tree, filepath.Join(dir, "root.img"), time.Unix(0, 0), false)
	if err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "newroot")
	_, statErr := os.Stat(fmt.Sprintf("/sys/block/loop%d/loop/backing_file", rootLoop))
	rootLoopFree := statErr != nil
	m, err := MountImage(img.Path, nil, target)
	if err != nil {
		t.Fatal(err)
	}
	mounted := true
	defer func() {
		if mounted {
			_ = unix.Unmount(target, unix.MNT_DETACH)
		}
	}()
	// Out of the way of the loop devices specs name from 0.
	if want := fmt.Sprintf("/dev/loop%d", rootLoop); rootLoopFree && m.Device != want {
		t.Errorf("the image is on %s, want %s", m.Device, want)
	}
	if m.Verified {
		t.Error("an image mounted without verity parameters says it is verified")
	}
	got, err := os.ReadFile(filepath.Join(target, "sbin/init"))
	if err != nil || string(got) != "the init" {
		t.Errorf("read %q, %v from the mounted image", got, err)
	}
	if err := os.WriteFile(filepath.Join(target, "new"), nil, 0o644); err == nil {
		t.Error("the mounted root image can be written to")
	}
	if err := unix.Unmount(target, 0); err != nil {
		t.Fatal(err)
	}
	mounted = false
	// Autoclear: with the mount gone, the device is free again.
	backing, err := os.ReadFile("/sys/block/" + filepath.Base(m.Device) + "/loop/backing_file")
	if err == nil && len(backing) > 0 {
		t.Errorf("%s still holds %s after the unmount", m.Device, backing)
	}
}
