package images

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// allocated is the disk space path takes, as du counts it.
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	return lstat(t, path).Blocks * 512
}

// TestUnpackKeepsHoles unpacks a 3 GiB sparse file from a 3 KiB tar, and
// a file of zeros stored as plain data: neither may take more than a few
// blocks of the build host's disk.
func TestUnpackKeepsHoles(t *testing.T) {
	tests := []struct {
		name   string
		stream []byte
		size   int64
	}{
		{"a GNU sparse file", sparseTar(t, "disk.img", 3<<30, "end"), 3 << 30},
		{"a file of zeros", tarBytes(t, fileEntry("disk.img", 0o644), strings.Repeat("\x00", 8<<20)+"end"), 8<<20 + 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest := t.TempDir()
			if err := UnpackTar(bytes.NewReader(tt.stream), dest, UnpackOptions{IgnoreOwners: true}); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dest, "disk.img")
			if st := lstat(t, p); st.Size != tt.size || st.Mode&unix.S_IFMT != unix.S_IFREG {
				t.Fatalf("disk.img is %d bytes, mode %o; want a %d-byte file", st.Size, st.Mode, tt.size)
			}
			if got := allocated(t, p); got > 1<<20 {
				t.Errorf("disk.img takes %d bytes of disk for %d bytes of data, want its holes kept", got, len("end"))
			}
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			tail := make([]byte, 3)
			if _, err := f.ReadAt(tail, tt.size-3); err != nil && err != io.EOF {
				t.Fatal(err)
			}
			if string(tail) != "end" {
				t.Errorf("disk.img ends in %q, want the data after the hole", tail)
			}
		})
	}
}
