package disk

import (
	"github.com/minikit/minikit/internal/bundle"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/testenv"
)

// image is a sparse file of size bytes.
func image(t *testing.T, size int64) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "disk.img"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestABlankDiskIsEmpty(t *testing.T) {
	f := image(t, 8<<20)
	if !Empty(f) {
		t.Error("a zeroed disk is not Empty")
	}
}

func TestWriteMBRMakesOneLinuxPartition(t *testing.T) {
	f := image(t, 64<<20)
	if err := WriteMBR(f, 64<<20); err != nil {
		t.Fatal(err)
	}
	if !HasPartitionTable(f) || Empty(f) {
		t.Fatal("after WriteMBR the disk has no partition table")
	}
	if fs, ok := Probe(f); ok {
		t.Errorf("a partition table probed as filesystem %+v", fs)
	}
	// What sfdisk reads back, when it is here.
	if _, err := exec.LookPath("sfdisk"); err == nil {
		out, err := exec.Command("sfdisk", "--dump", f.Name()).CombinedOutput()
		if err != nil {
			t.Fatalf("sfdisk cannot read the table: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "start=        2048, size=      129024, type=83") {
			t.Errorf("sfdisk reads another table:\n%s", out)
		}
	}
}

func TestWriteMBRRefusesATinyDisk(t *testing.T) {
	f := image(t, 512*1024)
	if err := WriteMBR(f, 512*1024); err == nil {
		t.Fatal("WriteMBR made a partition on a 512 KiB disk")
	}
}

func TestProbeReadsExt4LabelAndUUID(t *testing.T) {
	mkfs, err := exec.LookPath("mkfs.ext4")
	if err != nil {
		testenv.Unavailable(t, testenv.RequireRootEnv, "no mkfs.ext4 on this machine (Debian package e2fsprogs)")
	}
	f := image(t, 16<<20)
	out, err := exec.Command(mkfs, "-q", "-F", "-L", "minikit-data", "-U", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", f.Name()).CombinedOutput()
	if err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	fs, ok := Probe(f)
	want := Filesystem{Type: "ext4", Label: "minikit-data", UUID: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}
	if !ok || fs != want {
		t.Fatalf("Probe = %+v, %v; want %+v", fs, ok, want)
	}
	if Empty(f) || HasPartitionTable(f) {
		t.Error("a filesystem without partition table: Empty or HasPartitionTable is wrong")
	}
}

func TestAFATBootSectorIsNoPartitionTable(t *testing.T) {
	f := image(t, 1<<20)
	sb := make([]byte, 512)
	copy(sb[71:82], "BOOT       ")
	copy(sb[82:90], "FAT32   ")
	sb[510], sb[511] = 0x55, 0xAA
	f.WriteAt(sb, 0)
	fs, ok := Probe(f)
	if !ok || fs.Type != "vfat" || fs.Label != "BOOT" {
		t.Errorf("Probe = %+v, %v; want vfat labelled BOOT", fs, ok)
	}
	if HasPartitionTable(f) {
		t.Error("a FAT boot sector was taken for an MBR")
	}
}

func TestProbeFindsSwap(t *testing.T) {
	f := image(t, 1<<20)
	f.WriteAt([]byte("SWAPSPACE2"), 4096-10)
	if fs, ok := Probe(f); !ok || fs.Type != "swap" {
		t.Errorf("Probe = %+v, %v; want swap", fs, ok)
	}
}

// A root image is no blank disk for format to take.
func TestProbeFindsReadOnlyImages(t *testing.T) {
	sq := image(t, 1<<20)
	sq.WriteAt([]byte("hsqs"), 0)
	if fs, ok := Probe(sq); !ok || fs.Type != "squashfs" {
		t.Errorf("Probe = %+v, %v; want squashfs", fs, ok)
	}
	ero := image(t, 1<<20)
	ero.WriteAt([]byte{0xe2, 0xe1, 0xf5, 0xe0}, 1024)
	if fs, ok := Probe(ero); !ok || fs.Type != "erofs" {
		t.Errorf("Probe = %+v, %v; want erofs", fs, ok)
	}
}

func TestPartitionName(t *testing.T) {
	for disk, want := range map[string]string{"sda": "sda1", "vdb": "vdb1", "nvme0n1": "nvme0n1p1", "mmcblk0": "mmcblk0p1"} {
		if got := PartitionName(disk, 1); got != want {
			t.Errorf("PartitionName(%s, 1) = %s, want %s", disk, got, want)
		}
	}
}

// fakeSys lays out class/block as the kernel does: links into a devices
// tree where a partition's directory is inside its disk's.
func fakeSys(t *testing.T) string {
	t.Helper()
	sys := t.TempDir()
	add := func(dir, dev, size, partition string) {
		p := filepath.Join(sys, "devices", dir)
		os.MkdirAll(p, 0o755)
		os.WriteFile(filepath.Join(p, "dev"), []byte(dev+"\n"), 0o644)
		os.WriteFile(filepath.Join(p, "size"), []byte(size+"\n"), 0o644)
		if partition != "" {
			os.WriteFile(filepath.Join(p, "partition"), []byte(partition+"\n"), 0o644)
		}
		os.MkdirAll(filepath.Join(sys, "class/block"), 0o755)
		os.Symlink(p, filepath.Join(sys, "class/block", filepath.Base(dir)))
	}
	add("vdb", "254:16", "2048", "")
	add("vda", "254:0", "4096", "")
	add("vda/vda2", "254:2", "1024", "2")
	add("vda/vda1", "254:1", "1024", "1")
	add("loop0", "7:0", "0", "")
	add("sr0", "11:0", "0", "")
	// The root's verity device, over vdc1, which it holds.
	add("dm-0", "253:0", "8192", "")
	os.MkdirAll(filepath.Join(sys, "devices/dm-0/dm"), 0o755)
	os.WriteFile(filepath.Join(sys, "devices/dm-0/dm/name"), []byte(bundle.RootDeviceName+"\n"), 0o644)
	add("vdc", "254:32", "8192", "")
	add("vdc/vdc1", "254:33", "8192", "1")
	os.MkdirAll(filepath.Join(sys, "devices/vdc/vdc1/holders/dm-0"), 0o755)
	return sys
}

func TestListOrdersDisksThenTheirPartitions(t *testing.T) {
	devs, err := List(fakeSys(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range devs {
		names = append(names, d.Name)
	}
	want := []string{"vda", "vda1", "vda2", "vdb", "vdc"}
	if len(names) != len(want) {
		t.Fatalf("List = %v, want %v (loop and optical drives, the root's verity device and what it holds left out)", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("List = %v, want %v", names, want)
		}
	}
	if d := devs[1]; !d.Partition || d.Disk != "vda" || d.Number != 1 || d.Dev != "254:1" || d.Size != 1024*512 {
		t.Errorf("vda1 = %+v", d)
	}
}

func TestMountedReadsMajorMinor(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mountinfo")
	os.WriteFile(p, []byte("36 35 254:1 / /var rw,relatime shared:1 - ext4 /dev/vda1 rw\n22 1 0:21 / /proc rw - proc proc rw\n"), 0o644)
	m, err := Mounted(p)
	if err != nil {
		t.Fatal(err)
	}
	if !m["254:1"] || m["254:0"] {
		t.Errorf("Mounted = %v; want 254:1 and not 254:0", m)
	}
}

func TestWriteGPTMakesOneLinuxPartition(t *testing.T) {
	f := image(t, 64<<20)
	if _, err := f.WriteAt([]byte("stale data where the table goes"), 600); err != nil {
		t.Fatal(err)
	}
	if err := GPT.Write(f, 64<<20); err != nil {
		t.Fatal(err)
	}
	if !HasPartitionTable(f) || Empty(f) {
		t.Fatal("after WriteGPT the disk has no partition table")
	}
	testenv.Tools(t, testenv.RequireRootEnv, "sfdisk (apt-get install fdisk)")
	out, err := exec.Command("sfdisk", "--dump", f.Name()).CombinedOutput()
	if err != nil {
		t.Fatalf("sfdisk cannot read the table: %v\n%s", err, out)
	}
	for _, want := range []string{"label: gpt", "start=        2048, size=      126976, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("sfdisk reads another table, without %q:\n%s", want, out)
		}
	}
	if out, err := exec.Command("sfdisk", "--verify", f.Name()).CombinedOutput(); err != nil || strings.Contains(string(out), "corrupt") {
		t.Errorf("sfdisk --verify: %v\n%s", err, out)
	}
	g := image(t, 64<<20)
	if err := GPT.Write(g, 64<<20); err != nil {
		t.Fatal(err)
	}
	a, b := make([]byte, 16), make([]byte, 16)
	f.ReadAt(a, 512+56)
	g.ReadAt(b, 512+56)
	if string(a) == string(b) {
		t.Error("two disks got the same GUID")
	}
}

func TestParsePartitioning(t *testing.T) {
	for in, want := range map[string]Partitioning{"dos": DOS, "mbr": DOS, "gpt": GPT} {
		if got, err := ParsePartitioning(in); err != nil || got != want {
			t.Errorf("ParsePartitioning(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParsePartitioning("apm"); err == nil {
		t.Error("an unknown table was taken")
	}
}

// A disk whose driver init loads at boot appears a little later: WaitFor
// sees it come, and names one that never does.
func TestWaitForADeviceThatComesLate(t *testing.T) {
	dir := t.TempDir()
	late := filepath.Join(dir, "sda")
	go func() {
		time.Sleep(300 * time.Millisecond)
		os.WriteFile(late, nil, 0o644)
	}()
	if err := WaitFor(late, 10*time.Second); err != nil {
		t.Errorf("WaitFor a device made after 300 ms: %v", err)
	}
	err := WaitFor(filepath.Join(dir, "sdb"), 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "sdb did not appear within 200ms") {
		t.Errorf("WaitFor a device that never comes = %v, want an error naming it", err)
	}
}
