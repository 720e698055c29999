package qemu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStartExplainsThatQEMUIsMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Start(context.Background(), Options{Kernel: "k"})
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Start error = %v, want ErrNotInstalled", err)
	}
	if !strings.Contains(err.Error(), "install the Debian package qemu-system-x86") {
		t.Errorf("error %q does not say which package to install", err)
	}
}

func TestStartNamesAMissingBootFile(t *testing.T) {
	fake := fakeQEMU(t, "exit 0")
	missing := filepath.Join(t.TempDir(), "no-kernel")
	_, err := Start(context.Background(), Options{Binary: fake, Kernel: missing, Accel: AccelTCG})
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Start error = %v, want it to name %s", err, missing)
	}
}

// A qemu that dies at once must make Start fail with qemu's own message and
// the command line to reproduce it, not hang waiting for QMP.
func TestStartReportsWhatQEMUSaidWhenItDies(t *testing.T) {
	fake := fakeQEMU(t, `echo "qemu-system-x86_64: -machine q35: unsupported machine type" >&2; exit 1`)
	kernel := filepath.Join(t.TempDir(), "kernel")
	if err := os.WriteFile(kernel, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), Options{Binary: fake, Kernel: kernel, Accel: AccelTCG})
	if err == nil {
		t.Fatal("Start succeeded with a qemu that exits at once")
	}
	for _, want := range []string{"unsupported machine type", "-kernel " + kernel} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Start error does not contain %q:\n%v", want, err)
		}
	}
}

// fakeQEMU writes a shell script that stands in for qemu.
func fakeQEMU(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fake-qemu")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestStartExplainsThatOVMFIsMissing(t *testing.T) {
	saved := ovmfPairs
	ovmfPairs = [][2]string{{filepath.Join(t.TempDir(), "CODE.fd"), filepath.Join(t.TempDir(), "VARS.fd")}}
	t.Cleanup(func() { ovmfPairs = saved })
	iso := filepath.Join(t.TempDir(), "a.iso")
	if err := os.WriteFile(iso, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), Options{Binary: fakeQEMU(t, "exit 0"), ISO: iso, Firmware: FirmwareEFI, Accel: AccelTCG})
	if !errors.Is(err, ErrNoOVMF) || !strings.Contains(err.Error(), "install the Debian package ovmf") {
		t.Errorf("Start error = %v, want ErrNoOVMF naming the ovmf package", err)
	}
}
