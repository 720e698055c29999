package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPersistBootsADiskInPlace(t *testing.T) {
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk.img")
	mbr := make([]byte, 4096)
	mbr[0], mbr[510], mbr[511] = 0xeb, 0x55, 0xaa // boot code and a partition table: a BIOS disk
	if err := os.WriteFile(disk, mbr, 0o644); err != nil {
		t.Fatal(err)
	}
	opts, err := machineOptions(disk, runFlags{accel: "tcg", firmware: "auto", persist: true})
	if err != nil {
		t.Fatal(err)
	}
	if opts.BootDisk == nil || !opts.WriteBootDisk || !opts.AllowReboot {
		t.Errorf("-persist: boot disk %+v, written in place %v, reboots %v", opts.BootDisk, opts.WriteBootDisk, opts.AllowReboot)
	}
	if opts, _ := machineOptions(disk, runFlags{accel: "tcg", firmware: "auto"}); opts.WriteBootDisk || opts.AllowReboot {
		t.Error("without -persist the disk is written in place or reboots stay inside")
	}
	os.WriteFile(filepath.Join(dir, "sys-cmdline"), []byte("console=ttyS0"), 0o644)
	if _, err := machineOptions(filepath.Join(dir, "sys"), runFlags{accel: "tcg", firmware: "auto", persist: true}); err == nil || !strings.Contains(err.Error(), "no disk image") {
		t.Errorf("-persist with a kernel build: %v", err)
	}
}
