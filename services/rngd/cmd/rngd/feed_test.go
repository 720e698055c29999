package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func TestFeedOnceWithoutHardwareRNGIsNoError(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "hwrng")
	if err := feedOnce(missing, "/dev/null", 16, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("feedOnce without a device: %v", err)
	}
}

func TestFeedOnceFailsWhenTheKernelRefuses(t *testing.T) {
	// /dev/null is no random device: RNDADDENTROPY must fail, and say so.
	src := filepath.Join(t.TempDir(), "hwrng")
	os.WriteFile(src, make([]byte, 64), 0o644)
	if err := feedOnce(src, "/dev/null", 16, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("feedOnce into /dev/null succeeded")
	}
}

func TestHaveSourceReadsRDRANDFromCPUInfo(t *testing.T) {
	dir := t.TempDir()
	with := filepath.Join(dir, "with")
	without := filepath.Join(dir, "without")
	os.WriteFile(with, []byte("processor\t: 0\nflags\t\t: fpu vme rdrand hypervisor\n"), 0o644)
	os.WriteFile(without, []byte("processor\t: 0\nflags\t\t: fpu vme rdseed_x\n"), 0o644)
	nohw := filepath.Join(dir, "hwrng")
	if !haveSource(nohw, with) {
		t.Error("haveSource = false with rdrand in the flags")
	}
	if haveSource(nohw, without) {
		t.Error("haveSource = true without rdrand and without a hardware RNG")
	}
}
