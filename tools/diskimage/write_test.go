package diskimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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
				data, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				sums[i] = sha256.Sum256(data)
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

// TestRawDisksHoldTheBootFiles reads the boot partition back with mtools:
// the kernel, the initrd and the bootloader's configuration with the
// command line are where a user looks for them.
func TestRawDisksHoldTheBootFiles(t *testing.T) {
	for _, fw := range []Firmware{BIOS, EFI} {
		t.Run(string(fw), func(t *testing.T) {
			requireTools(t, Raw, fw)
			dir := t.TempDir()
			b := fakeBoot(t, dir, time.Now())
			out := filepath.Join(dir, "disk.img")
			if err := WriteRaw(context.Background(), out, fw, b); err != nil {
				t.Fatal(err)
			}
			fs := out + "@@" + "1048576" // mtools: the partition at 1 MiB
			kernel := mtype(t, fs, kernelPath)
			want, _ := os.ReadFile(b.Kernel)
			if !bytes.Equal([]byte(kernel), want) {
				t.Errorf("/%s on the disk differs from the kernel given", kernelPath)
			}
			cfg := map[Firmware]string{BIOS: "boot/syslinux/syslinux.cfg", EFI: grubCfg}[fw]
			if got := mtype(t, fs, cfg); !strings.Contains(got, "console=ttyS0") || !strings.Contains(got, "panic=-1") {
				t.Errorf("/%s does not carry the command line:\n%s", cfg, got)
			}
			if fw == EFI {
				if efi := mtype(t, fs, "EFI/BOOT/BOOTX64.EFI"); !strings.HasPrefix(efi, "MZ") {
					t.Errorf("EFI/BOOT/BOOTX64.EFI is not a PE binary")
				}
			}
		})
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
	}{QCOW2, EFI, WriteQCOW2})
	for _, w := range writes {
		t.Run(string(w.kind)+"-"+string(w.fw), func(t *testing.T) {
			requireTools(t, w.kind, w.fw)
			dir := t.TempDir()
			out := filepath.Join(dir, "image")
			if err := w.write(ctx, out, w.fw, fakeBoot(t, dir, time.Now())); err != nil {
				t.Fatal(err)
			}
			kind, fw, err := Detect(out)
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
