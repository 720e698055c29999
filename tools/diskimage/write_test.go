package diskimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/slots"
	"github.com/minikit/minikit/internal/testenv"
)

// requireTools skips a test when the writers' tools are missing, or fails
// it under MINIKIT_REQUIRE_QEMU=1 as in CI, where they must be there.
func requireTools(t *testing.T, kind Kind, fw Firmware) {
	t.Helper()
	if err := Check(kind, fw); err != nil {
		testenv.Unavailable(t, testenv.RequireQEMUEnv, "%v", err)
	}
}

// fakeBoot writes a kernel and initrd that are not bootable but have the
// sizes of small real ones, with the given modification time.
func fakeBoot(t *testing.T, dir string, mtime time.Time) Boot {
	t.Helper()
	b := Boot{Kernel: filepath.Join(dir, "kernel"), Initrd: filepath.Join(dir, "initrd"), Cmdline: "console=ttyS0 quote='it''s' panic=-1"}
	for i, p := range []string{b.Kernel, b.Initrd} {
		data := bytes.Repeat([]byte{byte('k' + i), 1, 2, 3}, 300<<10)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

type writer func(context.Context, string, Firmware, Boot) error

// diskWriter writes kind with WriteDisk.
func diskWriter(kind Kind) writer {
	return func(ctx context.Context, dest string, fw Firmware, b Boot) error {
		return WriteDisk(ctx, kind, dest, fw, b)
	}
}

var writers = []struct {
	kind  Kind
	fw    Firmware
	write writer
}{
	{ISO, BIOS, WriteISO},
	{ISO, EFI, WriteISO},
	{Raw, BIOS, WriteRaw},
	{Raw, EFI, WriteRaw},
	{QCOW2, BIOS, WriteQCOW2},
	{VHD, BIOS, diskWriter(VHD)},
	{VMDK, BIOS, diskWriter(VMDK)},
	{GCE, BIOS, diskWriter(GCE)},
}

// TestImagesAreReproducible writes each kind of image twice, from inputs
// with other modification times, in other directories, under another
// umask and a second later, and wants the same bytes.
func TestImagesAreReproducible(t *testing.T) {
	for _, w := range writers {
		t.Run(string(w.kind)+"-"+string(w.fw), func(t *testing.T) {
			requireTools(t, w.kind, w.fw)
			var sums [2][32]byte
			for i, umask := range []int{0o022, 0o077} {
				dir := t.TempDir()
				b := fakeBoot(t, dir, time.Now().Add(time.Duration(i)*time.Hour))
				// The zero epoch, which tools take for no time, and whose
				// FAT form does not exist, is the hard case.
				b.Epoch = time.Unix(0, 0)
				old := syscall.Umask(umask)
				out := filepath.Join(dir, "image")
				err := w.write(context.Background(), out, w.fw, b)
				syscall.Umask(old)
				if err != nil {
					t.Fatal(err)
				}
				sums[i] = hashOf(t, out)
				if i == 0 {
					time.Sleep(1100 * time.Millisecond) // a clock that moved on
				}
			}
			if sums[0] != sums[1] {
				t.Errorf("two writes of the same %s-%s image differ: %x and %x", w.kind, w.fw, sums[0], sums[1])
			}
		})
	}
}

// hashOf is the SHA-256 of a file, read as a stream: disks are large.
func hashOf(t *testing.T, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// TestEpochChangesTheImage guards the test above: it must be able to fail,
// so the time given must show in the bytes.
func TestEpochChangesTheImage(t *testing.T) {
	requireTools(t, ISO, BIOS)
	var sums [2][32]byte
	for i, epoch := range []int64{1700000000, 1800000000} {
		dir := t.TempDir()
		b := fakeBoot(t, dir, time.Now())
		b.Epoch = time.Unix(epoch, 0)
		out := filepath.Join(dir, "image.iso")
		if err := WriteISO(context.Background(), out, BIOS, b); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		sums[i] = sha256.Sum256(data)
	}
	if sums[0] == sums[1] {
		t.Error("ISOs stamped with different times are the same")
	}
}

// TestRawDisksHoldTheBootFiles reads a disk back: its boot partition
// with mtools (grub.cfg, the boot state, each slot's boot script with the
// command line, where a user looks for them) and slot A's partition,
// whose kernel and initrd are where A's script tells GRUB to load them.
func TestRawDisksHoldTheBootFiles(t *testing.T) {
	for _, fw := range []Firmware{BIOS, EFI} {
		t.Run(string(fw), func(t *testing.T) {
			requireTools(t, Raw, fw)
			dir := t.TempDir()
			b := fakeBoot(t, dir, time.Now())
			b.Version = "v7"
			out := filepath.Join(dir, "disk.img")
			if err := WriteRaw(context.Background(), out, fw, b); err != nil {
				t.Fatal(err)
			}
			fs := out + "@@" + "1048576" // mtools: the partition at 1 MiB
			scheme := map[Firmware]string{BIOS: "msdos", EFI: "gpt"}[fw]
			if got := mtype(t, fs, grubCfg); !strings.Contains(got, "($minikit_disk,"+scheme+"3)") {
				t.Errorf("grub.cfg does not name slot B's partition as %s3:\n%s", scheme, got)
			}
			if got := mtype(t, fs, slots.EnvPath); !strings.HasPrefix(got, "# GRUB Environment Block\nminikit_good=A\n") || len(got) != slots.EnvSize {
				t.Errorf("the environment block does not start with slot A good, or is not %d bytes:\n%.200s", slots.EnvSize, got)
			}
			a, err := slots.ParseScript([]byte(mtype(t, fs, slots.ScriptPath(slots.A))))
			if err != nil {
				t.Fatal(err)
			}
			if a.Version != "v7" || a.Cmdline != b.Cmdline {
				t.Errorf("slot A's script says version %q, command line %q", a.Version, a.Cmdline)
			}
			if _, err := slots.ParseScript([]byte(mtype(t, fs, slots.ScriptPath(slots.B)))); !errors.Is(err, slots.ErrEmpty) {
				t.Errorf("slot B's script = %v, want an empty slot", err)
			}
			disk, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			starts := partitionStarts(t, disk, fw)
			if len(starts) != 3 {
				t.Fatalf("the disk has %d partitions, want 3 (boot, A, B)", len(starts))
			}
			slotA := disk[starts[1]:]
			for _, part := range []struct {
				file string
				at   slots.Extent
			}{{b.Kernel, a.Layout.Kernel}, {b.Initrd, a.Layout.Initrd}} {
				want, _ := os.ReadFile(part.file)
				first, count := part.at.Sectors()
				got := slotA[first*512 : (first+count)*512]
				if !bytes.Equal(got[:len(want)], want) || !bytes.Equal(got[len(want):], make([]byte, len(got)-len(want))) {
					t.Errorf("sectors %d+%d of slot A are not %s and zeros", first, count, part.file)
				}
			}
			if fw == EFI {
				if efi := mtype(t, fs, "EFI/BOOT/BOOTX64.EFI"); !strings.HasPrefix(efi, "MZ") {
					t.Errorf("EFI/BOOT/BOOTX64.EFI is not a PE binary")
				}
			}
		})
	}
}

// partitionStarts reads the byte offsets of a disk's partitions from its
// MBR, or from its GPT for UEFI.
func partitionStarts(t *testing.T, disk []byte, fw Firmware) []int64 {
	t.Helper()
	var starts []int64
	if fw == BIOS {
		for i := range 4 {
			e := disk[446+16*i:]
			if e[4] != 0 {
				starts = append(starts, int64(binary.LittleEndian.Uint32(e[8:]))*512)
			}
		}
		return starts
	}
	for i := range 128 {
		e := disk[1024+128*i:]
		if first := binary.LittleEndian.Uint64(e[32:]); first != 0 {
			starts = append(starts, int64(first)*512)
		}
	}
	return starts
}

// TestBIOSDiskEmbedsGrub: the MBR's code is boot.img told where core.img
// is, core.img is in the sectors after the MBR, and the partition table
// and disk signature are the disk's own.
func TestBIOSDiskEmbedsGrub(t *testing.T) {
	requireTools(t, Raw, BIOS)
	dir := t.TempDir()
	out := filepath.Join(dir, "disk.img")
	if err := WriteRaw(context.Background(), out, BIOS, fakeBoot(t, dir, time.Now())); err != nil {
		t.Fatal(err)
	}
	disk, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	bootImg, err := os.ReadFile(needGrubBIOS.what)
	if err != nil {
		t.Fatal(err)
	}
	mbr := disk[:512]
	for i := range mbrCodeSize {
		want := bootImg[i]
		switch {
		case i >= bootKernelSector && i < bootKernelSector+8:
			want = []byte{1, 0, 0, 0, 0, 0, 0, 0}[i-bootKernelSector]
		case i == bootDriveCheck || i == bootDriveCheck+1:
			want = 0x90
		}
		if mbr[i] != want {
			t.Errorf("MBR byte %#x is %#x, want %#x", i, mbr[i], want)
		}
	}
	if mbr[446] != 0x80 || mbr[446+4] != 0x0c || mbr[446+16+4] != 0x83 || mbr[446+32+4] != 0x83 || mbr[510] != 0x55 || mbr[511] != 0xaa {
		t.Errorf("the partition table is not an active FAT32 partition and two Linux ones: % x", mbr[446:])
	}
	if binary.LittleEndian.Uint32(mbr[440:]) == 0 {
		t.Error("the disk has no signature")
	}
	diskboot, err := os.ReadFile("/usr/lib/grub/i386-pc/diskboot.img")
	if err != nil {
		t.Fatal(err)
	}
	// core.img starts with diskboot.img, whose block list grub-mkimage
	// fills in at its end: the rest of core.img, from sector 2.
	core := disk[512:1024]
	if !bytes.Equal(core[:0x100], diskboot[:0x100]) {
		t.Error("sector 1 does not start with GRUB's diskboot.img")
	}
	if start := binary.LittleEndian.Uint64(core[512-12:]); start != 2 {
		t.Errorf("core.img's block list starts at sector %d, want 2", start)
	}
	if n := binary.LittleEndian.Uint16(core[512-4:]); n == 0 || 2+int(n) > partitionStart {
		t.Errorf("core.img's block list holds %d sectors, which do not fit before the first partition", n)
	}
}

func TestBIOSBootCodeRefusesWhatIsNoBootSector(t *testing.T) {
	if _, err := biosBootCode(make([]byte, 512), 1); err == nil {
		t.Error("a sector of zeros passes for boot.img")
	}
	if _, err := biosBootCode(make([]byte, 440), 1); err == nil {
		t.Error("440 bytes pass for boot.img")
	}
}

func mtype(t *testing.T, image, name string) string {
	t.Helper()
	cmd := exec.Command("mtype", "-i", image, "::/"+name)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mtype %s: %v", name, err)
	}
	return string(out)
}

func TestGrubQuotesWhatItWouldInterpret(t *testing.T) {
	cfg := grubConfig("console=ttyS0 msg=$HOME a;b it's")
	want := `linux /boot/kernel console=ttyS0 'msg=$HOME' 'a;b' 'it'\''s'`
	if !strings.Contains(cfg, want) {
		t.Errorf("grub.cfg:\n%s\nwant a line %q", cfg, want)
	}
}

func TestMissingToolNamesItsPackage(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := Check(ISO, BIOS)
	var missing *MissingError
	if !errors.As(err, &missing) {
		t.Fatalf("Check with an empty PATH = %v, want a *MissingError", err)
	}
	if !strings.Contains(err.Error(), "xorriso not found: install the Debian package xorriso") {
		t.Errorf("error %q does not say which package to install", err)
	}
	if err := WriteISO(context.Background(), filepath.Join(t.TempDir(), "x.iso"), BIOS, Boot{}); !errors.As(err, &missing) {
		t.Errorf("WriteISO without xorriso = %v, want a *MissingError", err)
	}
}

// TestDetectTellsEveryImageItWrites writes each kind of image and reads
// back its kind and firmware.
func TestDetectTellsEveryImageItWrites(t *testing.T) {
	ctx := context.Background()
	writes := append(writers, struct {
		kind  Kind
		fw    Firmware
		write writer
	}{QCOW2, EFI, WriteQCOW2}, struct {
		kind  Kind
		fw    Firmware
		write writer
	}{VHD, EFI, diskWriter(VHD)})
	for _, w := range writes {
		t.Run(string(w.kind)+"-"+string(w.fw), func(t *testing.T) {
			requireTools(t, w.kind, w.fw)
			dir := t.TempDir()
			out := filepath.Join(dir, "image")
			if err := w.write(ctx, out, w.fw, fakeBoot(t, dir, time.Now())); err != nil {
				t.Fatal(err)
			}
			kind, fw, err := Detect(out)
			if w.kind == GCE {
				// Not bootable as it is: Detect says what to do.
				if err == nil || !strings.Contains(err.Error(), "tar xzf") {
					t.Errorf("Detect on a GCE image = %s, %s, %v; want an error that says to unpack it", kind, fw, err)
				}
				return
			}
			if err != nil || kind != w.kind || fw != w.fw {
				t.Errorf("Detect = %s, %s, %v; want %s, %s", kind, fw, err, w.kind, w.fw)
			}
		})
	}
	for name, size := range map[string]int{"a text file": 1000, "a short text file": 1} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "text")
			os.WriteFile(p, bytes.Repeat([]byte("hello\n"), size), 0o644)
			if _, _, err := Detect(p); err == nil || !strings.Contains(err.Error(), "neither an ISO nor a disk") {
				t.Errorf("Detect = %v, want it to say this is no image", err)
			}
		})
	}
}

// TestDiskSize: a disk is as large as asked, its partition table covering
// the disk's real size; without a size it is as small as its partitions
// allow (the boot partition and two slots), in whole MiB: a MiB less is
// refused; a size too small is refused, saying what is needed.
func TestDiskSize(t *testing.T) {
	ctx := context.Background()
	for _, fw := range []Firmware{BIOS, EFI} {
		t.Run(string(fw), func(t *testing.T) {
			requireTools(t, Raw, fw)
			dir := t.TempDir()
			b := fakeBoot(t, dir, time.Now())
			small := filepath.Join(dir, "small.img")
			if err := WriteRaw(ctx, small, fw, b); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(small)
			if err != nil {
				t.Fatal(err)
			}
			if st.Size()%(1<<20) != 0 {
				t.Errorf("a disk of no given size has %d bytes, want a whole number of MiB", st.Size())
			}
			b.DiskSize = st.Size() - 1<<20
			if err := WriteRaw(ctx, filepath.Join(dir, "less.img"), fw, b); err == nil || !strings.Contains(err.Error(), "too small") {
				t.Errorf("a disk a MiB smaller than one of no given size gave %v, want it refused as too small", err)
			}

			b.DiskSize = 3 << 30
			big := filepath.Join(dir, "big.img")
			if err := WriteRaw(ctx, big, fw, b); err != nil {
				t.Fatal(err)
			}
			if st, err := os.Stat(big); err != nil || st.Size() != 3<<30 {
				t.Errorf("a disk of 3 GiB has %v bytes (%v)", st.Size(), err)
			}
			if fw == EFI {
				// sfdisk reads the backup GPT from the end of the disk: it
				// must be where the disk ends.
				out, err := exec.Command("sfdisk", "--verify", big).CombinedOutput()
				if err != nil || strings.Contains(string(out), "corrupt") {
					t.Errorf("sfdisk --verify: %v\n%s", err, out)
				}
			}

			b.DiskSize = 8 << 20
			err = WriteRaw(ctx, filepath.Join(dir, "tiny.img"), fw, b)
			if err == nil || !strings.Contains(err.Error(), "8 MiB is too small") || !strings.Contains(err.Error(), "need") {
				t.Errorf("a disk of 8 MiB gave %v, want an error saying it is too small and what it needs", err)
			}
		})
	}
}

// TestGCEImageIsATarOfDiskRaw reads a GCE image back as GCE does: a
// gzip'd tar whose only file is disk.raw, in GNU's format, a whole number
// of GiB, holding the raw disk.
func TestGCEImageIsATarOfDiskRaw(t *testing.T) {
	requireTools(t, GCE, BIOS)
	dir := t.TempDir()
	out := filepath.Join(dir, "image.img.tar.gz")
	b := fakeBoot(t, dir, time.Now())
	if err := WriteDisk(context.Background(), GCE, out, BIOS, b); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	hdr, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if hdr.Name != "disk.raw" || hdr.Format != tar.FormatGNU || hdr.Size != 1<<30 {
		t.Errorf("the tarball holds %q (%v, %d bytes), want disk.raw in GNU format, 1 GiB", hdr.Name, hdr.Format, hdr.Size)
	}
	sector0 := make([]byte, 512)
	if _, err := io.ReadFull(tr, sector0); err != nil {
		t.Fatal(err)
	}
	if fw, err := diskFirmware(sector0); err != nil || fw != BIOS {
		t.Errorf("disk.raw starts with no BIOS boot sector: %v, %v", fw, err)
	}
	if _, err := io.Copy(io.Discard, tr); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Errorf("the tarball holds more than disk.raw (%v)", err)
	}
}

// TestVHDAndVMDKAreWhatQemuReads: qemu-img reads each as its format with
// the raw disk's size, and the VHD footer's checksum holds after the
// footer was made reproducible.
func TestVHDAndVMDKAreWhatQemuReads(t *testing.T) {
	for _, kind := range []Kind{VHD, VMDK} {
		t.Run(string(kind), func(t *testing.T) {
			requireTools(t, kind, BIOS)
			dir := t.TempDir()
			b := fakeBoot(t, dir, time.Now())
			b.DiskSize = 128 << 20
			b.SlotBytes = 16 << 20 // two slots and the boot partition within the 128 MiB
			out := filepath.Join(dir, "disk."+string(kind))
			if err := WriteDisk(context.Background(), kind, out, BIOS, b); err != nil {
				t.Fatal(err)
			}
			// A fixed VHD has no header for qemu to recognise: say what it is.
			format := map[Kind]string{VHD: "vpc", VMDK: "vmdk"}[kind]
			info, err := exec.Command("qemu-img", "info", "-f", format, "--output=json", out).Output()
			if err != nil {
				t.Fatalf("qemu-img info: %v", err)
			}
			if !strings.Contains(string(info), `"format": "`+format+`"`) || !strings.Contains(string(info), `"virtual-size": 134217728`) {
				t.Errorf("qemu-img info says:\n%s\nwant %s of 128 MiB", info, format)
			}
			if kind == VHD {
				data, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				footer := data[len(data)-vhdFooterSize:]
				if got := binary.BigEndian.Uint32(footer[vhdOffSum:]); got != vhdChecksum(footer) {
					t.Errorf("the VHD footer's checksum is %08x, its bytes sum to %08x", got, vhdChecksum(footer))
				}
			}
		})
	}
}

// TestCopyDiskKeepsHoles: a copy of a mostly empty disk has its bytes and
// takes no more room than its data.
func TestCopyDiskKeepsHoles(t *testing.T) {
	dir := t.TempDir()
	src, dest := filepath.Join(dir, "src.img"), filepath.Join(dir, "dest.img")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(1 << 30)
	f.WriteAt(bytes.Repeat([]byte("data"), 1<<18), 5<<20) // 1 MiB
	f.WriteAt([]byte("the end"), 1<<30-7)
	f.Close()
	if err := CopyDisk(src, dest); err != nil {
		t.Fatal(err)
	}
	if hashOf(t, src) != hashOf(t, dest) {
		t.Error("the copy differs")
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dest, &st); err != nil {
		t.Fatal(err)
	}
	if used := st.Blocks * 512; used > 8<<20 {
		t.Errorf("the copy of 1 MiB of data in 1 GiB takes %d bytes", used)
	}
}
