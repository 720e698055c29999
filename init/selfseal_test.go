package main

import (
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// The sealed copy is PID 1's binary, byte for byte, into a memfd, however
// the kernel splits the copy.
func TestCopyInKernelCopiesEveryByte(t *testing.T) {
	want := make([]byte, 5<<20+123)
	rand.Read(want)
	src := filepath.Join(t.TempDir(), "init")
	if err := os.WriteFile(src, want, 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	fd, err := unix.MemfdCreate("init", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	out := os.NewFile(uintptr(fd), "memfd")
	defer out.Close()
	if err := copyInKernel(out, in); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(io.NewSectionReader(out, 0, int64(len(want))+1))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the copy has %d bytes, differing from the %d of its source", len(got), len(want))
	}
}
