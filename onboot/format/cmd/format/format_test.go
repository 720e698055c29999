package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/onboot/internal/disk"
)

// machine is a fake /sys and /dev with two disks: vda holding a partition
// table already, vdb blank; files stand in for the device nodes.
type machine struct {
	sys, dev string
	made     []string // mkfs calls: "TYPE LABEL DEVICE"
}

func newMachine(t *testing.T) *machine {
	t.Helper()
	m := &machine{sys: t.TempDir(), dev: t.TempDir()}
	for i, name := range []string{"vda", "vdb"} {
		p := filepath.Join(m.sys, "class/block", name)
		os.MkdirAll(p, 0o755)
		os.WriteFile(filepath.Join(p, "dev"), []byte{'2', '5', '4', ':', byte('0' + i)}, 0o644)
		os.WriteFile(filepath.Join(p, "size"), []byte("131072\n"), 0o644) // 64 MiB
		f, _ := os.Create(filepath.Join(m.dev, name))
		f.Truncate(64 << 20)
		if name == "vda" {
			disk.WriteMBR(f, 64<<20)
		}
		f.Close()
	}
	return m
}

func (m *machine) formatter() *formatter {
	return &formatter{
		sys: m.sys, dev: m.dev, mountinfo: filepath.Join(m.sys, "no-mountinfo"),
		fsType: "ext4", label: "data",
		log:     slog.New(slog.DiscardHandler),
		waitFor: time.Second,
		// The kernel would make the partition's node: do as it does.
		rereadPartitions: func(d *os.File) error {
			return os.WriteFile(d.Name()+"1", nil, 0o644)
		},
		mkfs: func(fsType, label, device string) error {
			m.made = append(m.made, fsType+" "+label+" "+device)
			return nil
		},
	}
}

func read(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b[:4096]
}

func TestFormatTakesTheFirstEmptyDisk(t *testing.T) {
	m := newMachine(t)
	vdaBefore := read(t, filepath.Join(m.dev, "vda"))
	if err := m.formatter().formatFirstEmpty(); err != nil {
		t.Fatal(err)
	}
	want := "ext4 data " + filepath.Join(m.dev, "vdb1")
	if len(m.made) != 1 || m.made[0] != want {
		t.Fatalf("mkfs calls = %q, want [%q]", m.made, want)
	}
	vdb, _ := os.Open(filepath.Join(m.dev, "vdb"))
	defer vdb.Close()
	if !disk.HasPartitionTable(vdb) {
		t.Error("vdb has no partition table after format")
	}
	if !bytes.Equal(read(t, filepath.Join(m.dev, "vda")), vdaBefore) {
		t.Error("vda, which held a partition table, was written to")
	}
}

func TestFormatWithoutAnEmptyDiskFails(t *testing.T) {
	m := newMachine(t)
	f := m.formatter()
	if err := f.formatFirstEmpty(); err != nil {
		t.Fatal(err)
	}
	if err := f.formatFirstEmpty(); err == nil {
		t.Fatal("a second format found an empty disk; both disks now hold tables")
	}
}

// addExt4Partition lists partition 1 of the disk name in the fake sysfs,
// as the kernel does once the disk has a table, with an ext4 superblock
// labelled label on its node.
func (m *machine) addExt4Partition(t *testing.T, name, label string) {
	t.Helper()
	part := name + "1"
	real := filepath.Join(m.sys, "devices", name, part) // sysfs nests a partition in its disk
	if err := os.MkdirAll(real, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(real, "partition"), []byte("1\n"), 0o644)
	os.WriteFile(filepath.Join(real, "dev"), []byte("254:17\n"), 0o644)
	os.WriteFile(filepath.Join(real, "size"), []byte("129024\n"), 0o644)
	if err := os.Symlink(real, filepath.Join(m.sys, "class/block", part)); err != nil {
		t.Fatal(err)
	}
	sb := make([]byte, 2048)
	sb[1024+0x38], sb[1024+0x39] = 0x53, 0xEF // the ext2/3/4 magic
	copy(sb[1024+0x78:], label)
	if err := os.WriteFile(filepath.Join(m.dev, part), sb, 0o644); err != nil {
		t.Fatal(err)
	}
}

// At a later boot, the disk format prepared is no longer empty: format
// recognises its filesystem and succeeds without touching a disk, but
// only for the filesystem it would have made.
func TestFormatRecognisesTheDiskItPreparedBefore(t *testing.T) {
	for _, tt := range []struct {
		name, label string
		ok          bool
	}{
		{"the same label", "data", true},
		{"another label", "other", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := newMachine(t)
			if err := m.formatter().formatFirstEmpty(); err != nil {
				t.Fatal(err)
			}
			m.addExt4Partition(t, "vdb", tt.label)
			m.made = nil
			err := m.formatter().formatFirstEmpty()
			if (err == nil) != tt.ok {
				t.Errorf("second format: %v, want success %v", err, tt.ok)
			}
			if len(m.made) != 0 {
				t.Errorf("second format made a filesystem: %q", m.made)
			}
			if !tt.ok && err != nil && !strings.Contains(err.Error(), `labelled "data"`) {
				t.Errorf("error %q does not say what it looked for", err)
			}
		})
	}
}

func TestFormatDeviceKeepsDataUnlessForced(t *testing.T) {
	m := newMachine(t)
	f := m.formatter()
	vda := filepath.Join(m.dev, "vda")
	if err := f.formatDevice(vda, false); err != nil {
		t.Fatal(err)
	}
	if len(m.made) != 0 {
		t.Fatalf("format /dev/vda without -force made a filesystem: %q", m.made)
	}
	if err := f.formatDevice(vda, true); err != nil {
		t.Fatal(err)
	}
	if len(m.made) != 1 {
		t.Fatalf("format -force /dev/vda made no filesystem")
	}
}

// -partition gpt gives the disk a GUID partition table, as LinuxKit's
// format does, and the filesystem goes on its first partition all the
// same.
func TestFormatWritesAGPTWhenAsked(t *testing.T) {
	m := newMachine(t)
	f := m.formatter()
	f.table = disk.GPT
	if err := f.formatDevice(filepath.Join(m.dev, "vdb"), false); err != nil {
		t.Fatal(err)
	}
	if want := "ext4 data " + filepath.Join(m.dev, "vdb1"); len(m.made) != 1 || m.made[0] != want {
		t.Fatalf("mkfs calls = %q, want [%q]", m.made, want)
	}
	if sector1 := read(t, filepath.Join(m.dev, "vdb"))[512:520]; string(sector1) != "EFI PART" {
		t.Errorf("vdb's second sector starts %q, want a GPT header", sector1)
	}
}
