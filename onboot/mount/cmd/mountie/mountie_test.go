package main

import (
	"encoding/binary"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/minikit/minikit/onboot/internal/disk"
)

// machine: vda holds a partition table and vda1 an ext4 filesystem
// labelled "data"; vdb is blank. Files stand in for device nodes.
func machine(t *testing.T, mountinfo string) *mounter {
	t.Helper()
	sys, dev := t.TempDir(), t.TempDir()
	add := func(dir, num, partition string) {
		p := filepath.Join(sys, "devices", dir)
		os.MkdirAll(p, 0o755)
		os.WriteFile(filepath.Join(p, "dev"), []byte("254:"+num), 0o644)
		os.WriteFile(filepath.Join(p, "size"), []byte("131072"), 0o644)
		if partition != "" {
			os.WriteFile(filepath.Join(p, "partition"), []byte(partition), 0o644)
		}
		os.MkdirAll(filepath.Join(sys, "class/block"), 0o755)
		os.Symlink(p, filepath.Join(sys, "class/block", filepath.Base(dir)))
		f, _ := os.Create(filepath.Join(dev, filepath.Base(dir)))
		f.Truncate(8 << 20)
		f.Close()
	}
	add("vda", "0", "")
	add("vda/vda1", "1", "1")
	add("vdb", "16", "")
	vda, _ := os.OpenFile(filepath.Join(dev, "vda"), os.O_RDWR, 0)
	disk.WriteMBR(vda, 64<<20)
	vda.Close()
	// An ext4 superblock, as much of it as Probe reads.
	sb := make([]byte, 1024)
	binary.LittleEndian.PutUint16(sb[0x38:], 0xEF53)
	copy(sb[0x78:], "data")
	vda1, _ := os.OpenFile(filepath.Join(dev, "vda1"), os.O_RDWR, 0)
	vda1.WriteAt(sb, 1024)
	vda1.Close()
	mi := filepath.Join(sys, "mountinfo")
	os.WriteFile(mi, []byte(mountinfo), 0o644)
	return &mounter{sys: sys, dev: dev, mountinfo: mi, log: slog.New(slog.DiscardHandler)}
}

func TestMountieFindsTheFirstPartitionWithAFilesystem(t *testing.T) {
	m := machine(t, "")
	dev, fs, err := m.find("", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(dev) != "vda1" || fs.Type != "ext4" {
		t.Errorf("find = %s (%s), want vda1 (ext4)", dev, fs.Type)
	}
}

func TestMountieSkipsWhatIsMounted(t *testing.T) {
	m := machine(t, "36 35 254:1 / /var/lib rw - ext4 /dev/vda1 rw\n")
	if dev, _, err := m.find("", "", ""); err == nil {
		t.Fatalf("find = %s, want no disk: vda1 is mounted", dev)
	}
}

func TestMountieByLabel(t *testing.T) {
	m := machine(t, "")
	if dev, _, err := m.find("", "data", ""); err != nil || filepath.Base(dev) != "vda1" {
		t.Errorf("find -label data = %s, %v; want vda1", dev, err)
	}
	if _, _, err := m.find("", "other", ""); err == nil {
		t.Error("find -label other found a device")
	}
}

func TestMountieNamedDeviceWithoutFilesystemFails(t *testing.T) {
	m := machine(t, "")
	if _, _, err := m.find(filepath.Join(m.dev, "vdb"), "", ""); err == nil {
		t.Fatal("mountie /dev/vdb accepted a blank disk")
	}
}

func TestMountAtMakesTheMountPoint(t *testing.T) {
	m := machine(t, "")
	var got []string
	m.mount = func(source, target, fsType string) error {
		got = []string{source, target, fsType}
		return nil
	}
	target := filepath.Join(t.TempDir(), "var/lib/docker")
	if err := m.mountAt("/dev/vda1", "ext4", target); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(target); err != nil || !fi.IsDir() {
		t.Errorf("mount point %s not made: %v", target, err)
	}
	if len(got) != 3 || got[0] != "/dev/vda1" || got[1] != target || got[2] != "ext4" {
		t.Errorf("mount(%q)", got)
	}
}
